//! The XML event stream a run writes on stdout (`streaming_mode` xml).

use std::io::{self, Write};

/// An event time: epoch milliseconds, written as seconds with three decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTime(pub i64);

impl std::fmt::Display for EventTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:03}", abs / 1000, abs % 1000)
    }
}

/// One event. Fields left `None` take the input's settings in splunkd.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    /// The full stanza name, `incode://<name>`.
    pub stanza: &'a str,
    /// `_time`; without it the sourcetype's timestamp rules apply.
    pub time: Option<EventTime>,
    /// `source`.
    pub source: Option<&'a str>,
    /// `sourcetype`.
    pub sourcetype: Option<&'a str>,
    /// `index`.
    pub index: Option<&'a str>,
    /// `host`.
    pub host: Option<&'a str>,
    /// The event text.
    pub data: &'a str,
}

/// Writes `<stream>`, events, and `</stream>`.
///
/// Each event is flushed as it is written, so splunkd has it before the checkpoint that covers it
/// is committed. The stream is always closed: by [`EventWriter::finish`], or on drop (an early
/// return or an unwinding panic), so splunkd never sees a half document.
pub struct EventWriter<W: Write> {
    out: W,
    /// The event being written, kept between events so its memory is reused.
    buf: String,
    opened: bool,
    closed: bool,
}

impl<W: Write> EventWriter<W> {
    /// A writer that has written nothing yet.
    pub fn new(out: W) -> Self {
        EventWriter {
            out,
            buf: String::new(),
            opened: false,
            closed: false,
        }
    }

    /// Writes one event and flushes it; opens the stream first if needed.
    pub fn write_event(&mut self, event: &Event<'_>) -> io::Result<()> {
        self.open()?;
        let buf = &mut self.buf;
        buf.clear();
        buf.push_str("<event stanza=\"");
        push_escaped(buf, event.stanza, true);
        buf.push_str("\" unbroken=\"1\">");
        if let Some(time) = event.time {
            use std::fmt::Write as _;
            let _ = write!(buf, "<time>{time}</time>");
        }
        for (tag, value) in [
            ("source", event.source),
            ("sourcetype", event.sourcetype),
            ("index", event.index),
            ("host", event.host),
            ("data", Some(event.data)),
        ] {
            if let Some(value) = value {
                buf.push('<');
                buf.push_str(tag);
                buf.push('>');
                push_escaped(buf, value, false);
                buf.push_str("</");
                buf.push_str(tag);
                buf.push('>');
            }
        }
        buf.push_str("<done/></event>");
        self.out.write_all(buf.as_bytes())?;
        self.out.flush()
    }

    /// Closes the stream, opening it first when no event was written, so stdout always holds one
    /// well-formed document.
    pub fn finish(mut self) -> io::Result<()> {
        self.close()
    }

    fn open(&mut self) -> io::Result<()> {
        if !self.opened {
            self.out.write_all(b"<stream>")?;
            self.opened = true;
        }
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.open()?;
        self.out.write_all(b"</stream>\n")?;
        self.out.flush()
    }
}

impl<W: Write> Drop for EventWriter<W> {
    fn drop(&mut self) {
        // Best effort: the error, if any, was already reported by the write that failed.
        let _ = self.close();
    }
}

/// `text` escaped for element content (`attribute` false) or a double-quoted attribute value.
pub fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text, attribute);
    out
}

/// Appends `text` to `out`, escaped: `<`, `>`, `&` (and `"` in an attribute) as entities; a
/// carriage return as a character reference, because XML parsers turn a literal `\r\n` into
/// `\n` and event data would not arrive unchanged (in an attribute, tab and line feed too, which
/// attribute-value normalisation turns into spaces); and without the characters XML 1.0 cannot
/// carry at all (C0 controls other than tab and line feed, U+FFFE, U+FFFF), one of which would
/// make splunkd reject the whole stream. Event data is JSON, whose quotes need no escaping in
/// element content, so most events are copied as they are.
pub fn push_escaped(out: &mut String, text: &str, attribute: bool) {
    // Events are kilobytes of JSON in which nothing needs escaping: clean 32-byte blocks are
    // skipped with a test the compiler vectorises, and single bytes are looked at only in others.
    const BLOCK: usize = 32;
    let bytes = text.as_bytes();
    // Outside attributes a quote needs nothing: test for `<` twice instead.
    let quote = if attribute { b'"' } else { b'<' };
    let (mut copied, mut i) = (0, 0);
    // Bytes before this are looked at one by one: a block that failed the test is gone through
    // whole before the next test, so text rich in special bytes costs no more than without it.
    let mut singly_until = 0;
    while i < bytes.len() {
        if i >= singly_until {
            match bytes.get(i..i + BLOCK) {
                Some(block) if !block.iter().fold(false, |any, &b| any | special(b, quote)) => {
                    i += BLOCK;
                    continue;
                }
                _ => singly_until = i + BLOCK,
            }
        }
        let (replacement, skip) = match bytes[i] {
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'&' => ("&amp;", 1),
            b'"' if attribute => ("&quot;", 1),
            b'\r' => ("&#13;", 1),
            b'\t' if attribute => ("&#9;", 1),
            b'\n' if attribute => ("&#10;", 1),
            0..=0x1F if !matches!(bytes[i], b'\t' | b'\n') => ("", 1),
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
            0xEF if matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => ("", 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&text[copied..i]);
        out.push_str(replacement);
        i += skip;
        copied = i;
    }
    out.push_str(&text[copied..]);
}

/// Whether `b` may need escaping or dropping: markup, a control character, the lead byte of
/// U+FFFE or U+FFFF, or `quote`. Without short-circuits, so that a block's test vectorises.
fn special(b: u8, quote: u8) -> bool {
    (b < 0x20) | (b == b'<') | (b == b'>') | (b == b'&') | (b == 0xEF) | (b == quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(events: &[Event<'_>]) -> String {
        let mut out = Vec::new();
        let mut w = EventWriter::new(&mut out);
        for e in events {
            w.write_event(e).unwrap();
        }
        w.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn times_have_millisecond_precision() {
        assert_eq!(EventTime(1_372_274_622_493).to_string(), "1372274622.493");
        assert_eq!(EventTime(1_372_187_084_000).to_string(), "1372187084.000");
        assert_eq!(EventTime(5).to_string(), "0.005");
        assert_eq!(EventTime(-1_500).to_string(), "-1.500");
    }

    #[test]
    fn an_empty_run_still_writes_a_whole_document() {
        assert_eq!(written(&[]), "<stream></stream>\n");
    }

    #[test]
    fn dropping_the_writer_closes_the_stream() {
        let mut out = Vec::new();
        {
            let mut w = EventWriter::new(&mut out);
            w.write_event(&Event {
                stanza: "s",
                data: "d",
                ..Event::default()
            })
            .unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<stream><event stanza=\"s\" unbroken=\"1\"><data>d</data><done/></event></stream>\n"
        );
    }

    #[test]
    fn each_event_is_flushed_as_written() {
        struct Counting<'a>(&'a mut Vec<u8>, &'a mut usize);
        impl Write for Counting<'_> {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.write(b)
            }
            fn flush(&mut self) -> io::Result<()> {
                *self.1 += 1;
                Ok(())
            }
        }
        let (mut out, mut flushes) = (Vec::new(), 0);
        let mut w = EventWriter::new(Counting(&mut out, &mut flushes));
        let e = Event {
            stanza: "s",
            data: "d",
            ..Event::default()
        };
        w.write_event(&e).unwrap();
        w.write_event(&e).unwrap();
        w.finish().unwrap();
        assert_eq!(flushes, 3);
    }

    #[test]
    fn markup_is_escaped_and_forbidden_characters_dropped() {
        assert_eq!(escape("a<b>&\"c'", true), "a&lt;b&gt;&amp;&quot;c'");
        assert_eq!(escape("{\"a\":\"<b>\"}", false), "{\"a\":\"&lt;b&gt;\"}");
        assert_eq!(
            escape("x\u{1}y\u{0}z\u{FFFF}\u{FFFE}\t\n\r", false),
            "xyz\t\n&#13;"
        );
        assert_eq!(
            escape("é 😀 \u{FFFD} \u{EFBF}", false),
            "é 😀 \u{FFFD} \u{EFBF}"
        );
        assert_eq!(escape("\u{FFFF}", true), "");
        assert_eq!(escape("a\tb\nc\r", true), "a&#9;b&#10;c&#13;");
    }

    /// Clean blocks are skipped whole: a character to escape or drop is found wherever it falls,
    /// before, inside, across or after a block.
    #[test]
    fn escaping_does_not_depend_on_where_a_character_falls() {
        let specials = [
            "<", ">", "&", "\"", "\r", "\t", "\n", "\u{1}", "\u{FFFE}", "\u{FFFF}", "\u{FFFD}",
            "\u{FEFF}", "é", "Ａ",
        ];
        for attribute in [false, true] {
            for special in specials {
                let once = (0..70).map(|n| format!("{}{special}{}", "a".repeat(n), "b".repeat(40)));
                let every_few = (0..40).map(|n| format!("{special}{}", "a".repeat(n)).repeat(9));
                for text in once.chain(every_few) {
                    let one_by_one: String = text
                        .chars()
                        .map(|c| escape(c.encode_utf8(&mut [0; 4]), attribute))
                        .collect();
                    assert_eq!(escape(&text, attribute), one_by_one, "{text:?}");
                }
            }
        }
    }

    /// Found by the `event_stream` fuzz target (minimised input `0d 0a 0a 0d`): a line feed in
    /// the stanza came back as a space, as XML attribute-value normalisation requires of a
    /// literal tab or line feed.
    #[test]
    fn whitespace_in_the_stanza_parses_back() {
        for stanza in ["\n", "incode://a\tb\r\nc"] {
            let xml = written(&[Event {
                stanza,
                data: "\t\n",
                ..Event::default()
            }]);
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let event = doc.root_element().first_element_child().unwrap();
            assert_eq!(event.attribute("stanza"), Some(stanza), "{xml}");
            let data = event.children().find(|n| n.has_tag_name("data")).unwrap();
            assert_eq!(data.text(), Some("\t\n"), "{xml}");
        }
    }
}
