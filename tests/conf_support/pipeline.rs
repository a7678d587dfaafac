//! The index-time and search-time processing of one event, driven by the app's real conf files.
//!
//! Index time, with the props of the sourcetype the data ARRIVES with (splunkd breaks lines and
//! stamps time before any TRANSFORMS- rewrite the sourcetype): LINE_BREAKER with
//! SHOULD_LINEMERGE = false, TRUNCATE, DATETIME_CONFIG, then the TRANSFORMS- classes in ASCII
//! order, each list left to right (REGEX + DEST_KEY = MetaData:Sourcetype, or INGEST_EVAL).
//! Search time, with the props of the final sourcetype: KV_MODE = json, EXTRACT-, FIELDALIAS-,
//! EVAL- (each reading the fields as they were before any EVAL-, as calculated fields do),
//! eventtypes and their tags. Automatic lookups are left out: they need lookup data, and the
//! tests check their definitions instead.

use std::collections::BTreeSet;

use super::eval::{Event, Expression, Value};
use super::json_fields::{self, Fields};
use super::pcre;
use super::search::Search;
use crate::support::conf::{Conf, Stanza};

/// splunkd's defaults (props.conf.spec).
pub const DEFAULT_LINE_BREAKER: &str = r"([\r\n]+)";
pub const DEFAULT_TRUNCATE: usize = 10_000;

/// The app's conf files.
pub struct App {
    pub props: Conf,
    pub transforms: Conf,
    pub eventtypes: Conf,
    pub tags: Conf,
}

/// An event as indexed.
#[derive(Debug, Clone)]
pub struct Indexed {
    pub raw: String,
    pub sourcetype: String,
    pub time: f64,
    pub truncated: bool,
}

/// An event as a search sees it.
#[derive(Debug, Clone)]
pub struct Searched {
    pub fields: Fields,
    pub eventtypes: Vec<String>,
    pub tags: BTreeSet<String>,
}

impl Searched {
    /// The values of a field (empty when the field is absent).
    pub fn values(&self, field: &str) -> Vec<&str> {
        self.fields
            .get(field)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// Splits a request body the way LINE_BREAKER does: the start of the first capturing group
/// ends one event, its end starts the next, its text is dropped. Whitespace-only pieces are
/// not events.
pub fn break_events<'a>(body: &'a str, line_breaker: &str) -> Vec<&'a str> {
    let regex = pcre(line_breaker);
    let mut events = Vec::new();
    let mut start = 0;
    for caps in regex.captures_iter(body.as_bytes()) {
        let caps = caps.unwrap_or_else(|e| panic!("PCRE error on {line_breaker:?}: {e}"));
        let group = caps
            .get(1)
            .unwrap_or_else(|| panic!("LINE_BREAKER {line_breaker:?} needs a capturing group"));
        events.push(&body[start..group.start()]);
        start = group.end();
    }
    events.push(&body[start..]);
    events.retain(|e| !e.trim().is_empty());
    events
}

impl App {
    pub fn load() -> App {
        App {
            props: Conf::load("default/props.conf"),
            transforms: Conf::load("default/transforms.conf"),
            eventtypes: Conf::load("default/eventtypes.conf"),
            tags: Conf::load("default/tags.conf"),
        }
    }

    /// Indexes one HEC /raw request body (or one modular-input write) that arrives with
    /// `sourcetype`. `receipt_time` is when it reached the parsing instance; `input_time` is a
    /// time set by the input itself (the modular input's `<time>`).
    pub fn index(
        &self,
        body: &str,
        sourcetype: &str,
        receipt_time: f64,
        input_time: Option<f64>,
    ) -> Vec<Indexed> {
        let props = self.props.stanza(sourcetype);
        for unmodelled in [
            "TIME_PREFIX",
            "TIME_FORMAT",
            "MAX_TIMESTAMP_LOOKAHEAD",
            "TZ",
            "INDEXED_EXTRACTIONS",
        ] {
            assert!(
                props.get(unmodelled).is_none(),
                "[{sourcetype}] {unmodelled} is not modelled"
            );
        }
        assert_eq!(
            props.get("SHOULD_LINEMERGE"),
            Some("false"),
            "[{sourcetype}] line merging is not modelled"
        );
        let breaker = props.get("LINE_BREAKER").unwrap_or(DEFAULT_LINE_BREAKER);
        let truncate = props.get("TRUNCATE").map_or(DEFAULT_TRUNCATE, |t| {
            t.parse().expect("TRUNCATE is a number")
        });
        let time = match props.get("DATETIME_CONFIG") {
            Some("CURRENT") => receipt_time,
            Some("NONE") => {
                input_time.expect("DATETIME_CONFIG = NONE keeps the input's time: give one")
            }
            other => {
                panic!("[{sourcetype}] timestamping with DATETIME_CONFIG {other:?} is not modelled")
            }
        };
        break_events(body, breaker)
            .into_iter()
            .map(|piece| {
                let mut cut = piece.len().min(truncate);
                while !piece.is_char_boundary(cut) {
                    cut -= 1;
                }
                let mut event = Indexed {
                    raw: piece[..cut].to_string(),
                    sourcetype: sourcetype.to_string(),
                    time,
                    truncated: cut < piece.len(),
                };
                for (_, list) in props.classes("TRANSFORMS-") {
                    for name in list.split(',').map(str::trim) {
                        self.apply_transform(self.transforms.stanza(name), &mut event);
                    }
                }
                event
            })
            .collect()
    }

    fn apply_transform(&self, transform: &Stanza, event: &mut Indexed) {
        for (key, _) in &transform.entries {
            assert!(
                ["REGEX", "DEST_KEY", "FORMAT", "INGEST_EVAL"].contains(&key.as_str()),
                "[{}] {key} is not modelled",
                transform.name
            );
        }
        if let Some(assignment) = transform.get("INGEST_EVAL") {
            let (field, expression) = Expression::parse_assignment(assignment)
                .unwrap_or_else(|e| panic!("[{}] INGEST_EVAL: {e}", transform.name));
            assert_eq!(
                field, "_time",
                "[{}] only INGEST_EVAL of _time is modelled",
                transform.name
            );
            let no_fields = Fields::new();
            match expression.eval(&Event {
                raw: &event.raw,
                time: event.time,
                fields: &no_fields,
            }) {
                Value::Num(time) => event.time = time,
                other => panic!("[{}] INGEST_EVAL gave _time {other:?}", transform.name),
            }
            return;
        }
        let regex = transform
            .get("REGEX")
            .unwrap_or_else(|| panic!("[{}] has no REGEX", transform.name));
        assert_eq!(
            transform.get("DEST_KEY"),
            Some("MetaData:Sourcetype"),
            "[{}] only sourcetype rewrites are modelled",
            transform.name
        );
        let format = transform.get("FORMAT").unwrap_or_default();
        let sourcetype = format
            .strip_prefix("sourcetype::")
            .unwrap_or_else(|| panic!("[{}] FORMAT must be sourcetype::<name>", transform.name));
        if pcre(regex)
            .is_match(event.raw.as_bytes())
            .expect("PCRE match")
        {
            event.sourcetype = sourcetype.to_string();
        }
    }

    /// What a search sees of an indexed event.
    pub fn search(&self, event: &Indexed) -> Searched {
        let props = self.props.stanza(&event.sourcetype);
        assert_eq!(
            props.get("KV_MODE"),
            Some("json"),
            "[{}] only KV_MODE = json is modelled",
            event.sourcetype
        );
        let mut fields = json_fields::extract(&event.raw).unwrap_or_default();
        fields.insert("sourcetype".into(), vec![event.sourcetype.clone()]);
        for (class, regex) in props.classes("EXTRACT-") {
            let regex = pcre(regex);
            if let Some(caps) = regex.captures(event.raw.as_bytes()).expect("PCRE match") {
                for name in regex.capture_names().iter().flatten() {
                    let value = caps.name(name).unwrap_or_else(|| {
                        panic!("EXTRACT-{class}: group {name} did not take part")
                    });
                    fields.insert(
                        name.clone(),
                        vec![String::from_utf8(value.as_bytes().to_vec()).unwrap()],
                    );
                }
            }
        }
        for (class, spec) in props.classes("FIELDALIAS-") {
            let words: Vec<&str> = spec.split_whitespace().collect();
            assert!(
                words.len().is_multiple_of(3),
                "FIELDALIAS-{class}: not a list of <field> AS|ASNEW <field>"
            );
            for alias in words.chunks(3) {
                let (from, how, to) = (alias[0], alias[1], alias[2]);
                let Some(values) = fields.get(from).cloned() else {
                    continue;
                };
                match how {
                    "AS" => {
                        fields.insert(to.to_string(), values);
                    }
                    "ASNEW" => {
                        fields.entry(to.to_string()).or_insert(values);
                    }
                    other => panic!("FIELDALIAS-{class}: {other:?} is neither AS nor ASNEW"),
                }
            }
        }
        let before_eval = fields.clone();
        for (field, expression) in props.classes("EVAL-") {
            let expression =
                Expression::parse(expression).unwrap_or_else(|e| panic!("EVAL-{field}: {e}"));
            match expression.eval(&Event {
                raw: &event.raw,
                time: event.time,
                fields: &before_eval,
            }) {
                Value::Null => {
                    fields.remove(field);
                }
                Value::Str(s) => {
                    fields.insert(field.to_string(), vec![s]);
                }
                Value::Num(n) => {
                    fields.insert(field.to_string(), vec![n.to_string()]);
                }
                Value::Multi(values) => {
                    fields.insert(field.to_string(), values);
                }
                Value::Bool(_) => panic!("EVAL-{field} gives a boolean"),
            }
        }
        let eventtypes: Vec<String> = self
            .eventtypes
            .stanzas
            .iter()
            .filter(|stanza| {
                let search = stanza
                    .get("search")
                    .unwrap_or_else(|| panic!("eventtype {} has no search", stanza.name));
                Search::parse(search)
                    .unwrap_or_else(|e| panic!("eventtype {}: {e}", stanza.name))
                    .matches(&fields)
            })
            .map(|stanza| stanza.name.clone())
            .collect();
        let mut tags = BTreeSet::new();
        for eventtype in &eventtypes {
            if let Some(stanza) = self.tags.find(&format!("eventtype={eventtype}")) {
                for (tag, state) in &stanza.entries {
                    assert!(
                        state == "enabled" || state == "disabled",
                        "tag {tag} = {state}"
                    );
                    if state == "enabled" {
                        tags.insert(tag.clone());
                    }
                }
            }
        }
        Searched {
            fields,
            eventtypes,
            tags,
        }
    }
}
