//! The XML event stream with any stanza and field strings: always a document an XML parser
//! accepts, each value parsing back unchanged but for the characters XML 1.0 forbids (C0
//! controls other than tab, line feed and carriage return; U+FFFE, U+FFFF), which the writer
//! drops.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ta_incode::modinput::{Event, EventTime, EventWriter};

#[derive(Arbitrary, Debug)]
struct Input {
    events: Vec<FuzzEvent>,
}

#[derive(Arbitrary, Debug)]
struct FuzzEvent {
    stanza: String,
    time: Option<i64>,
    source: Option<String>,
    sourcetype: Option<String>,
    index: Option<String>,
    host: Option<String>,
    data: String,
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn expected(text: &str) -> String {
    text.chars().filter(|&c| xml_char(c)).collect()
}

/// The text of an element: every text node under it, concatenated (empty when there is none).
fn text(node: roxmltree::Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fuzz_target!(|input: Input| {
    let mut out = Vec::new();
    let mut writer = EventWriter::new(&mut out);
    for e in &input.events {
        writer
            .write_event(&Event {
                stanza: &e.stanza,
                time: e.time.map(EventTime),
                source: e.source.as_deref(),
                sourcetype: e.sourcetype.as_deref(),
                index: e.index.as_deref(),
                host: e.host.as_deref(),
                data: &e.data,
            })
            .unwrap();
    }
    writer.finish().unwrap();

    let xml = String::from_utf8(out).expect("the stream is UTF-8");
    let doc =
        roxmltree::Document::parse(&xml).unwrap_or_else(|err| panic!("not XML ({err}): {xml:?}"));
    let stream = doc.root_element();
    assert_eq!(stream.tag_name().name(), "stream");
    let events: Vec<_> = stream.children().filter(|n| n.is_element()).collect();
    assert_eq!(events.len(), input.events.len(), "{xml:?}");
    for (node, e) in events.iter().zip(&input.events) {
        assert_eq!(node.tag_name().name(), "event");
        assert_eq!(
            node.attribute("stanza"),
            Some(expected(&e.stanza).as_str()),
            "stanza of {e:?} in {xml:?}"
        );
        assert_eq!(node.attribute("unbroken"), Some("1"));
        let child = |tag: &str| node.children().find(|n| n.has_tag_name(tag)).map(text);
        assert_eq!(
            child("time"),
            e.time.map(|t| EventTime(t).to_string()),
            "{xml:?}"
        );
        for (tag, value) in [
            ("source", &e.source),
            ("sourcetype", &e.sourcetype),
            ("index", &e.index),
            ("host", &e.host),
        ] {
            assert_eq!(
                child(tag),
                value.as_deref().map(expected),
                "{tag} in {xml:?}"
            );
        }
        assert_eq!(
            child("data"),
            Some(expected(&e.data)),
            "data of {e:?} in {xml:?}"
        );
        assert!(node.children().any(|n| n.has_tag_name("done")));
    }
});
