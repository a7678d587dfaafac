//! Any string written as event data, or as the stanza attribute, parses back unchanged from the
//! XML stream, except for the characters XML 1.0 cannot carry (which the writer drops).

use proptest::prelude::*;
use ta_incode::modinput::{Event, EventTime, EventWriter};

/// XML 1.0's `Char` production (a Rust `char` is never a surrogate).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn without_forbidden(text: &str) -> String {
    text.chars().filter(|&c| xml_char(c)).collect()
}

/// Any characters, with markup, whitespace that parsers normalise, and forbidden characters
/// drawn far more often than chance would.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(
        "<>&\"']#; \t\n\r\0\u{1}\u{8}\u{B}\u{1F}\u{7F}\u{85}\u{2028}\u{D7FF}\u{E000}\u{FEFF}\u{FFFD}\
         \u{FFFE}\u{FFFF}\u{10000}\u{10FFFF}"
            .chars()
            .collect::<Vec<_>>(),
    );
    prop::collection::vec(prop_oneof![3 => any::<char>(), 2 => special], 0..48)
        .prop_map(|chars| chars.into_iter().collect())
}

/// The text of an element: its text nodes concatenated (empty when there is none).
fn text_of(node: roxmltree::Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn event_data_and_stanza_parse_back(
        events in prop::collection::vec((text(), text(), any::<Option<i64>>()), 1..4),
    ) {
        let mut out = Vec::new();
        let mut writer = EventWriter::new(&mut out);
        for (stanza, data, time) in &events {
            writer
                .write_event(&Event {
                    stanza,
                    time: time.map(EventTime),
                    sourcetype: Some("incode:score"),
                    data,
                    ..Event::default()
                })
                .unwrap();
        }
        writer.finish().unwrap();
        let xml = String::from_utf8(out).unwrap();

        let doc = roxmltree::Document::parse(&xml)
            .map_err(|e| TestCaseError::fail(format!("not XML ({e}): {xml:?}")))?;
        let parsed: Vec<_> = doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("event"))
            .collect();
        prop_assert_eq!(parsed.len(), events.len());
        for (node, (stanza, data, _)) in parsed.iter().zip(&events) {
            let expected = without_forbidden(stanza);
            prop_assert_eq!(
                node.attribute("stanza"),
                Some(expected.as_str()),
                "stanza in {:?}", xml
            );
            let data_node = node.children().find(|n| n.has_tag_name("data"));
            prop_assert_eq!(
                data_node.map(text_of),
                Some(without_forbidden(data)),
                "data in {:?}", xml
            );
        }
    }
}
