//! The app's parsing and CIM configuration, run for real: the shipped default/props.conf,
//! transforms.conf, eventtypes.conf and tags.conf are read and applied with PCRE semantics to a
//! corpus of Incode webhook bodies (tests/webhooks/) and incode:score events, through the
//! small Splunk model in tests/conf_support/.

mod conf_support;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use conf_support::eval::{self, Event, Expression, Value};
use conf_support::json_fields::{self, Fields};
use conf_support::pipeline::{App, DEFAULT_LINE_BREAKER, Indexed, Searched, break_events};
use conf_support::repo_path;
use conf_support::search::{Search, wildcard_match};
use conf_support::time::{strptime, utc};
use support::conf::Conf;

/// When the parsing instance received the request: far from every timestamp in the corpus, so
/// an event stamped with receipt time cannot be mistaken for one stamped from its payload.
const RECEIPT: f64 = 1_800_000_000.0;

/// The `<time>` the modular input gives a score event (the triggering webhook's time).
const INPUT_TIME: f64 = 1_714_567_000.125;

/// The flat score fields of the contract (§2), which the score lookup carries to the webhooks.
const SCORE_FIELDS: [&str; 14] = [
    "overall_status",
    "overall_score",
    "id_validation_status",
    "id_validation_score",
    "liveness_status",
    "liveness_score",
    "face_recognition_status",
    "face_recognition_score",
    "government_validation_status",
    "government_validation_score",
    "failed_checks",
    "reasonMsg",
    "enriched_at",
    "enrichment_status",
];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Onboarding,
    Session,
}

impl Kind {
    fn sourcetype(self) -> &'static str {
        match self {
            Kind::Onboarding => "incode:onboarding",
            Kind::Session => "incode:session",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Kind::Onboarding => "onboarding",
            Kind::Session => "session",
        }
    }
}

/// What one webhook payload must become.
struct Expect {
    /// Its interviewId (for DELETED, the first of its interviewIds): how the tests find it.
    key: &'static str,
    kind: Kind,
    /// None: receipt time; Some: the UTC time its "timestamp" names, as `YYYY-mm-ddTHH:MM:SS.mmm`.
    utc: Option<&'static str>,
    eventtype: &'static str,
    tag: Option<&'static str>,
    /// Search-time fields to check; an empty list means the field must be absent.
    fields: &'static [(&'static str, &'static [&'static str])],
}

const NONE: &[&str] = &[];

const EXPECTED: &[Expect] = &[
    Expect {
        key: "66b1a0000000000000000001",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_onboarding_progress",
        tag: None,
        fields: &[
            ("signature", &["ID_VALIDATION_FINISHED"]),
            ("action", NONE),
            ("user", &["cust-000101"]),
            ("dest", &["acme-bank"]),
            ("vendor_account", &["acme-bank"]),
            ("session_id", &["66b1a0000000000000000001"]),
        ],
    },
    Expect {
        key: "66b1a0000000000000000002",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_onboarding_progress",
        tag: None,
        fields: &[
            ("signature", &["ID_VALIDATION_SECOND_ID_FINISHED"]),
            ("action", NONE),
        ],
    },
    Expect {
        key: "66b1a0000000000000000003",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_onboarding_progress",
        tag: None,
        fields: &[
            ("signature", &["POST_PROCESSING_FINISHED"]),
            ("action", NONE),
        ],
    },
    Expect {
        key: "66b1a0000000000000000004",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_onboarding_progress",
        tag: None,
        fields: &[
            ("signature", &["FACE_VALIDATION_FINISHED"]),
            ("action", NONE),
        ],
    },
    Expect {
        key: "66b1a0000000000000000005",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_onboarding_progress",
        tag: None,
        fields: &[
            ("signature", &["GOVERNMENT_VALIDATION_FINISHED"]),
            ("action", NONE),
        ],
    },
    Expect {
        key: "66b1a0000000000000000006",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_onboarding_progress",
        tag: None,
        // Incode's own sample payload: no external id and no identityId, so no user.
        fields: &[
            ("signature", &["ONBOARDING_FINISHED"]),
            ("action", NONE),
            ("user", NONE),
            ("dest", &["acme-bank"]),
        ],
    },
    Expect {
        key: "66b1a0000000000000000007",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_verification",
        tag: Some("authentication"),
        fields: &[
            ("action", &["success"]),
            ("signature", &["MANUAL_REVIEW_APPROVED"]),
            ("user", &["cust-000107"]),
            ("app", &["incode"]),
            ("vendor", &["Incode"]),
            ("vendor_product", &["Incode Omni"]),
            ("authentication_method", &["identity_verification"]),
            ("authentication_service", &["Incode"]),
            ("session_id", &["66b1a0000000000000000007"]),
            ("status", NONE),
            ("object_id", NONE),
        ],
    },
    Expect {
        key: "66b1a0000000000000000008",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_verification",
        tag: Some("authentication"),
        // The legacy "externalId" key is the user when "externalCustomerId" is absent.
        fields: &[
            ("action", &["failure"]),
            ("signature", &["MANUAL_REVIEW_REJECTED"]),
            ("user", &["legacy-000108"]),
        ],
    },
    Expect {
        key: "66b1a0000000000000000009",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_onboarding_progress",
        tag: None,
        fields: &[("signature", &["EXPIRED"]), ("action", NONE)],
    },
    Expect {
        key: "66b1a0000000000000000010",
        kind: Kind::Onboarding,
        utc: None,
        eventtype: "incode_session_deleted",
        tag: Some("change"),
        fields: &[
            ("action", &["deleted"]),
            ("status", &["success"]),
            (
                "object",
                &[
                    "66b1a0000000000000000010",
                    "66b1a0000000000000000011",
                    "66b1a0000000000000000012",
                ],
            ),
            (
                "object_id",
                &[
                    "66b1a0000000000000000010",
                    "66b1a0000000000000000011",
                    "66b1a0000000000000000012",
                ],
            ),
            ("object_category", &["identity_verification_session"]),
            ("change_type", &["AAA"]),
            ("command", &["DELETED"]),
            ("dvc", &["incode"]),
            ("signature", &["DELETED"]),
            ("dest", &["acme-bank"]),
            ("session_id", NONE),
        ],
    },
    Expect {
        key: "66b1a0000000000000000013",
        kind: Kind::Onboarding,
        utc: None,
        // A status this add-on does not know: still progress, never a decision.
        eventtype: "incode_onboarding_progress",
        tag: None,
        fields: &[
            ("signature", &["LIVENESS_CHECK_FINISHED"]),
            ("action", NONE),
        ],
    },
    Expect {
        key: "66b1b0000000000000000021",
        kind: Kind::Session,
        utc: Some("2024-05-01T12:34:56.789"),
        eventtype: "incode_onboarding_progress",
        tag: None,
        fields: &[
            ("signature", &["SESSION_STARTED"]),
            ("action", NONE),
            ("src", &["203.0.113.21"]),
            ("user", &["cust-000221"]),
            ("user_id", &["67c2b0000000000000000021"]),
        ],
    },
    // The session webhooks tell the verdict of the score event again: searchable under an
    // eventtype of their own, not tagged (one verdict per verification in CIM Authentication).
    Expect {
        key: "66b1b0000000000000000022",
        kind: Kind::Session,
        utc: Some("2024-05-01T12:40:00.000"),
        eventtype: "incode_session_outcome",
        tag: None,
        fields: &[
            ("action", &["success"]),
            ("signature", &["SESSION_SUCCEEDED"]),
            ("src", &["203.0.113.22"]),
            ("dest", &["acme-bank"]),
            ("user", &["cust-000222"]),
            ("user_id", &["67c2b0000000000000000022"]),
            ("session_id", &["66b1b0000000000000000022"]),
            ("app", &["incode"]),
            ("vendor_product", &["Incode Omni"]),
        ],
    },
    Expect {
        key: "66b1b0000000000000000023",
        kind: Kind::Session,
        utc: Some("2024-05-01T12:45:01.250"),
        eventtype: "incode_session_outcome",
        tag: None,
        fields: &[("action", &["failure"]), ("signature", &["SESSION_FAILED"])],
    },
    Expect {
        key: "66b1b0000000000000000024",
        kind: Kind::Session,
        utc: Some("2024-05-01T12:50:02.000"),
        eventtype: "incode_session_outcome",
        tag: None,
        fields: &[
            ("action", &["pending"]),
            ("signature", &["SESSION_PENDING_REVIEW"]),
            ("src", &["2001:db8::24"]),
        ],
    },
    Expect {
        key: "66b1b0000000000000000025",
        kind: Kind::Session,
        utc: Some("2024-05-01T12:55:03.123"),
        eventtype: "incode_session_outcome",
        tag: None,
        // "eventType" instead of "event_type"; no external id, so the identity is the user.
        fields: &[
            ("event_type", &["SESSION_SUCCEEDED"]),
            ("action", &["success"]),
            ("signature", &["SESSION_SUCCEEDED"]),
            ("user", &["67c2b0000000000000000025"]),
        ],
    },
];

/// The multi-payload request bodies of the corpus and the payloads they hold, in order.
const BODIES: &[(&str, &[&str])] = &[
    (
        "mixed_compact_lines.txt",
        &[
            "66b1b0000000000000000021",
            "66b1a0000000000000000001",
            "66b1b0000000000000000022",
            "66b1a0000000000000000006",
            "66b1a0000000000000000010",
        ],
    ),
    (
        "glued_compact.txt",
        &[
            "66b1a0000000000000000003",
            "66b1b0000000000000000023",
            "66b1a0000000000000000009",
        ],
    ),
    (
        "pretty_crlf_batch.txt",
        &[
            "66b1b0000000000000000024",
            "66b1a0000000000000000007",
            "66b1a0000000000000000008",
        ],
    ),
    (
        "pretty4_space_separated.txt",
        &[
            "66b1a0000000000000000004",
            "66b1b0000000000000000025",
            "66b1a0000000000000000005",
        ],
    ),
];

fn read(relative: &str) -> String {
    let path = repo_path(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Files of a corpus folder, sorted.
fn corpus(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = fs::read_dir(repo_path(&format!("tests/webhooks/{dir}")))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with('.'))
        .collect();
    files.sort();
    files
}

fn utc_text(text: &str) -> f64 {
    strptime(&format!("{text}+0000"), "%Y-%m-%dT%H:%M:%S.%3N%z")
        .unwrap_or_else(|| panic!("bad UTC time {text}"))
}

/// The key of an event: its interviewId, or the first of its interviewIds.
fn key_of(event: &Indexed) -> String {
    let fields = json_fields::extract(&event.raw)
        .unwrap_or_else(|| panic!("not one JSON object: {:?}", event.raw));
    let key = fields
        .get("interviewId")
        .or_else(|| fields.get("interviewIds{}"));
    key.and_then(|v| v.first())
        .unwrap_or_else(|| panic!("no interviewId in {:?}", event.raw))
        .clone()
}

fn expectation(key: &str) -> &'static Expect {
    EXPECTED
        .iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no expectation for payload {key}"))
}

/// Checks one indexed webhook event against its expectation and returns what search sees.
fn check_event(app: &App, event: &Indexed, context: &str) -> Searched {
    let key = key_of(event);
    let expect = expectation(&key);
    let at = format!("{context}: payload {key}");
    assert!(!event.truncated, "{at}: truncated");
    assert_eq!(
        event.sourcetype,
        expect.kind.sourcetype(),
        "{at}: sourcetype"
    );
    let time = expect.utc.map_or(RECEIPT, utc_text);
    assert!(
        (event.time - time).abs() < 1e-6,
        "{at}: _time {} instead of {time}",
        event.time
    );
    let searched = app.search(event);
    assert_eq!(
        searched.eventtypes,
        vec![expect.eventtype.to_string()],
        "{at}: eventtypes"
    );
    let tags: BTreeSet<String> = expect.tag.iter().map(|t| t.to_string()).collect();
    assert_eq!(searched.tags, tags, "{at}: tags");
    for (field, values) in expect.fields {
        assert_eq!(
            searched.values(field),
            values.to_vec(),
            "{at}: field {field}"
        );
    }
    searched
}

fn single_payload_files() -> Vec<(Kind, String)> {
    let mut files = Vec::new();
    for kind in [Kind::Onboarding, Kind::Session] {
        for name in corpus(kind.dir()) {
            files.push((kind, format!("tests/webhooks/{}/{name}", kind.dir())));
        }
    }
    files
}

// ----------------------------------------------------------------------------------------------
// The conf files themselves
// ----------------------------------------------------------------------------------------------

#[test]
fn every_conf_file_reads_cleanly_without_duplicate_stanzas_or_keys() {
    let mut names: Vec<String> = fs::read_dir(repo_path("default"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".conf"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        Conf::load(&format!("default/{name}"));
    }
}

#[test]
fn webhook_sourcetypes_share_their_index_time_settings() {
    // The three ways a webhook can arrive must break and stamp it the same way.
    let props = Conf::load("default/props.conf");
    for key in [
        "SHOULD_LINEMERGE",
        "LINE_BREAKER",
        "TRUNCATE",
        "DATETIME_CONFIG",
    ] {
        let landing = props.stanza("incode:webhook").get(key);
        assert!(landing.is_some(), "[incode:webhook] {key} must be explicit");
        for sourcetype in ["incode:onboarding", "incode:session"] {
            assert_eq!(
                props.stanza(sourcetype).get(key),
                landing,
                "[{sourcetype}] {key}"
            );
        }
    }
    assert_eq!(
        props.stanza("incode:webhook").get("DATETIME_CONFIG"),
        Some("CURRENT")
    );
}

#[test]
fn cim_stanzas_share_their_common_search_time_settings() {
    let props = Conf::load("default/props.conf");
    let common = [
        "KV_MODE",
        "EVAL-vendor",
        "EVAL-vendor_product",
        "EVAL-app",
        "EVAL-authentication_method",
        "EVAL-authentication_service",
        "FIELDALIAS-incode_ids",
        "EVAL-user",
    ];
    for key in common {
        let score = props.stanza("incode:score").get(key);
        assert!(score.is_some(), "[incode:score] {key}");
        for sourcetype in ["incode:onboarding", "incode:session"] {
            assert_eq!(
                props.stanza(sourcetype).get(key),
                score,
                "[{sourcetype}] {key}"
            );
        }
    }
}

#[test]
fn no_indexed_extractions_and_json_at_search_time_everywhere() {
    let props = Conf::load("default/props.conf");
    for stanza in &props.stanzas {
        assert_eq!(stanza.get("KV_MODE"), Some("json"), "[{}]", stanza.name);
        assert_eq!(stanza.get("INDEXED_EXTRACTIONS"), None, "[{}]", stanza.name);
    }
    let names: Vec<&str> = props.stanzas.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "incode:webhook",
            "incode:onboarding",
            "incode:session",
            "incode:score"
        ]
    );
}

#[test]
fn eventtypes_tags_and_macro_use() {
    let eventtypes = Conf::load("default/eventtypes.conf");
    let names: Vec<&str> = eventtypes.stanzas.iter().map(|s| s.name.as_str()).collect();
    for required in [
        "incode_verification",
        "incode_session_outcome",
        "incode_score_no_verdict",
        "incode_session_deleted",
        "incode_onboarding_progress",
    ] {
        assert!(names.contains(&required), "eventtype {required} missing");
    }
    for stanza in &eventtypes.stanzas {
        let search = stanza.get("search").unwrap();
        assert!(
            !search.to_lowercase().contains("index"),
            "eventtype {} names an index: {search}",
            stanza.name
        );
        Search::parse(search).unwrap();
    }
    let tags = Conf::load("default/tags.conf");
    let mut tagged = BTreeMap::new();
    for stanza in &tags.stanzas {
        let eventtype = stanza
            .name
            .strip_prefix("eventtype=")
            .expect("tags only on eventtypes");
        assert!(
            names.contains(&eventtype),
            "tags for unknown eventtype {eventtype}"
        );
        tagged.insert(eventtype.to_string(), stanza.entries.clone());
    }
    let expected = BTreeMap::from([
        (
            "incode_session_deleted".to_string(),
            vec![("change".to_string(), "enabled".to_string())],
        ),
        (
            "incode_verification".to_string(),
            vec![("authentication".to_string(), "enabled".to_string())],
        ),
    ]);
    assert_eq!(tagged, expected);
    // Every shipped search reaches the data through the index macro, or (the add-on's health)
    // through the macro of its own log lines, or reads no events (the lookup's prune).
    let saved = Conf::load("default/savedsearches.conf");
    for stanza in &saved.stanzas {
        let search = stanza.get("search").unwrap();
        assert!(
            search.contains("`incode_index`")
                || search.contains("`incode_modinput_logs`")
                || (search.starts_with("| inputlookup ") && !search.contains("index")),
            "[{}]",
            stanza.name
        );
    }
    Conf::load("default/macros.conf").stanza("incode_index");
}

// ----------------------------------------------------------------------------------------------
// Webhooks: line breaking, routing, time, eventtypes, tags, CIM fields
// ----------------------------------------------------------------------------------------------

#[test]
fn the_corpus_and_the_expectations_match_one_to_one() {
    let app = App::load();
    let mut seen = BTreeSet::new();
    for (kind, file) in single_payload_files() {
        let events = app.index(&read(&file), kind.sourcetype(), RECEIPT, None);
        assert_eq!(events.len(), 1, "{file}");
        let key = key_of(&events[0]);
        assert_eq!(
            expectation(&key).kind,
            kind,
            "{file} is in the wrong folder"
        );
        assert!(
            seen.insert(key.clone()),
            "{file}: payload {key} appears twice"
        );
    }
    let all: BTreeSet<String> = EXPECTED.iter().map(|e| e.key.to_string()).collect();
    assert_eq!(
        seen, all,
        "expectations without a corpus file, or the reverse"
    );
}

#[test]
fn every_payload_arriving_on_the_landing_sourcetype() {
    let app = App::load();
    for (_, file) in single_payload_files() {
        let events = app.index(&read(&file), "incode:webhook", RECEIPT, None);
        assert_eq!(events.len(), 1, "{file}: {events:#?}");
        check_event(&app, &events[0], &file);
    }
}

#[test]
fn every_payload_arriving_on_its_own_sourcetype() {
    let app = App::load();
    for (kind, file) in single_payload_files() {
        let events = app.index(&read(&file), kind.sourcetype(), RECEIPT, None);
        assert_eq!(events.len(), 1, "{file}");
        check_event(&app, &events[0], &file);
    }
}

/// Every payload in every layout Incode or a proxy could produce.
fn layouts(payload: &serde_json::Value) -> Vec<(String, String)> {
    let compact = serde_json::to_string(payload).unwrap();
    let pretty = |indent: &[u8]| {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(indent);
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        serde::Serialize::serialize(payload, &mut serializer).unwrap();
        String::from_utf8(out).unwrap()
    };
    let mut out = Vec::new();
    for (name, text) in [
        ("compact", compact),
        ("2-space", pretty(b"  ")),
        ("4-space", pretty(b"    ")),
        ("tab", pretty(b"\t")),
    ] {
        out.push((format!("{name} LF"), format!("{text}\n")));
        out.push((
            format!("{name} CRLF"),
            format!("{text}\n").replace('\n', "\r\n"),
        ));
        out.push((format!("{name} no final newline"), text.clone()));
        out.push((format!("{name} leading blank line"), format!("\r\n{text}")));
    }
    out
}

#[test]
fn every_payload_in_every_layout_alone_and_batched() {
    let app = App::load();
    let payloads: Vec<(Kind, serde_json::Value)> = single_payload_files()
        .into_iter()
        .map(|(kind, file)| (kind, serde_json::from_str(&read(&file)).unwrap()))
        .collect();
    for (kind, payload) in &payloads {
        for (layout, body) in layouts(payload) {
            for sourcetype in ["incode:webhook", kind.sourcetype()] {
                let events = app.index(&body, sourcetype, RECEIPT, None);
                assert_eq!(events.len(), 1, "{layout} on {sourcetype}: {body:?}");
                check_event(&app, &events[0], &format!("{layout} on {sourcetype}"));
            }
        }
    }
    // All payloads in one request body, whatever separates them.
    for separator in ["", "\n", "\r\n", " ", "\n\n", "\r\n  \r\n", "\t"] {
        for layout in 0..layouts(&payloads[0].1).len() {
            let bodies: Vec<String> = payloads
                .iter()
                .map(|(_, p)| layouts(p)[layout].1.clone())
                .collect();
            let body = bodies.join(separator);
            let events = app.index(&body, "incode:webhook", RECEIPT, None);
            let context = format!(
                "batch, layout {}, separator {separator:?}",
                layouts(&payloads[0].1)[layout].0
            );
            assert_eq!(events.len(), payloads.len(), "{context}");
            for (event, (kind, payload)) in events.iter().zip(&payloads) {
                assert_eq!(
                    &serde_json::from_str::<serde_json::Value>(&event.raw).unwrap(),
                    payload,
                    "{context}: order"
                );
                assert_eq!(event.sourcetype, kind.sourcetype(), "{context}");
                check_event(&app, event, &context);
            }
        }
    }
}

#[test]
fn multi_payload_bodies_of_the_corpus() {
    let app = App::load();
    assert_eq!(
        corpus("bodies").len(),
        BODIES.len(),
        "a body in tests/webhooks/bodies without expectations"
    );
    for (file, keys) in BODIES {
        let body = read(&format!("tests/webhooks/bodies/{file}"));
        let events = app.index(&body, "incode:webhook", RECEIPT, None);
        let found: Vec<String> = events.iter().map(key_of).collect();
        assert_eq!(found, keys.to_vec(), "{file}: events and their order");
        for event in &events {
            check_event(&app, event, file);
        }
    }
}

#[test]
fn an_onboarding_event_never_takes_the_time_of_the_session_event_before_it() {
    let app = App::load();
    for (file, keys) in BODIES {
        let body = read(&format!("tests/webhooks/bodies/{file}"));
        let events = app.index(&body, "incode:webhook", RECEIPT, None);
        for (event, key) in events.iter().zip(keys.iter()) {
            if expectation(key).kind == Kind::Onboarding {
                assert_eq!(event.time, RECEIPT, "{file}: {key}");
            }
        }
    }
    // The mixed body starts with a session event right before an onboarding event.
    assert_eq!(expectation(BODIES[0].1[0]).kind, Kind::Session);
    assert_eq!(expectation(BODIES[0].1[1]).kind, Kind::Onboarding);
}

#[test]
fn session_timestamps_in_every_iso_8601_form() {
    let app = App::load();
    let cases = [
        ("2024-05-01T12:34:56Z", Some("2024-05-01T12:34:56.000")),
        ("2024-05-01T12:34:56.7Z", None), // a 1-digit fraction: receipt time (Java and JS never send one)
        ("2024-05-01T12:34:56.789Z", Some("2024-05-01T12:34:56.789")),
        (
            "2024-05-01T12:34:56.789123Z",
            Some("2024-05-01T12:34:56.789"),
        ),
        (
            "2024-05-01T12:34:56.789123456Z",
            Some("2024-05-01T12:34:56.789"),
        ),
        ("2024-05-01T12:34:56+00:00", Some("2024-05-01T12:34:56.000")),
        ("2024-05-01T14:34:56+02:00", Some("2024-05-01T12:34:56.000")),
        (
            "2024-05-01T18:04:56.001+05:30",
            Some("2024-05-01T12:34:56.001"),
        ),
        (
            "2024-04-30T23:34:56.999-13:00",
            Some("2024-05-01T12:34:56.999"),
        ),
        ("2024-05-01T07:34:56-0500", Some("2024-05-01T12:34:56.000")),
        ("2024-12-31T23:59:59.999Z", Some("2024-12-31T23:59:59.999")),
        ("2024-02-29T00:00:00Z", Some("2024-02-29T00:00:00.000")),
        ("yesterday", None),
        ("", None),
        ("2024-05-01 12:34:56", None), // no zone: never guess the server's time zone
    ];
    for (timestamp, expected) in cases {
        for sourcetype in ["incode:webhook", "incode:session"] {
            for pretty in [false, true] {
                let payload = serde_json::json!({
                    "event_type": "SESSION_SUCCEEDED", "interviewId": "66b1b0000000000000000099",
                    "clientId": "acme-bank", "timestamp": timestamp,
                });
                let body = if pretty {
                    serde_json::to_string_pretty(&payload)
                } else {
                    serde_json::to_string(&payload)
                };
                let events = app.index(&body.unwrap(), sourcetype, RECEIPT, None);
                assert_eq!(events.len(), 1);
                let want = expected.map_or(RECEIPT, utc_text);
                assert!(
                    (events[0].time - want).abs() < 1e-6,
                    "{timestamp:?} on {sourcetype}: {} != {want}",
                    events[0].time
                );
            }
        }
    }
    // No "timestamp" at all: receipt time too.
    let events = app.index(
        r#"{"event_type":"SESSION_STARTED","interviewId":"x"}"#,
        "incode:session",
        RECEIPT,
        None,
    );
    assert_eq!(events[0].time, RECEIPT);
}

#[test]
fn a_body_that_is_not_an_incode_payload_stays_on_the_landing_sourcetype() {
    let app = App::load();
    let events = app.index(
        r#"{"hello":"world","timestamp":"2024-05-01T12:34:56Z"}"#,
        "incode:webhook",
        RECEIPT,
        None,
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].sourcetype, "incode:webhook");
    assert!(app.search(&events[0]).eventtypes.is_empty());
}

#[test]
fn splunk_defaults_would_break_this_data_which_is_why_the_settings_exist() {
    // Splunk's default LINE_BREAKER cuts a pretty-printed payload into one event per line.
    let pretty = read("tests/webhooks/onboarding/face_validation_finished.json");
    assert!(break_events(&pretty, DEFAULT_LINE_BREAKER).len() > 5);
    // ... and leaves glued payloads together.
    let glued = read("tests/webhooks/bodies/glued_compact.txt");
    assert_eq!(break_events(&glued, DEFAULT_LINE_BREAKER).len(), 1);
    // Routing with the session rule first would send session webhooks that also carry an
    // onboardingStatus to incode:onboarding.
    let mut app = App::load();
    let session_started = read("tests/webhooks/session/session_started.json");
    assert_eq!(
        app.index(&session_started, "incode:webhook", RECEIPT, None)[0].sourcetype,
        "incode:session"
    );
    let stanza = app
        .props
        .stanzas
        .iter_mut()
        .find(|s| s.name == "incode:webhook")
        .unwrap();
    let route = stanza
        .entries
        .iter_mut()
        .find(|(k, _)| k == "TRANSFORMS-incode_route")
        .unwrap();
    route.1 = route.1.replace(
        "incode_route_onboarding, incode_route_session",
        "incode_route_session, incode_route_onboarding",
    );
    assert_eq!(
        app.index(&session_started, "incode:webhook", RECEIPT, None)[0].sourcetype,
        "incode:onboarding"
    );
}

// ----------------------------------------------------------------------------------------------
// incode:score events
// ----------------------------------------------------------------------------------------------

struct ScoreExpect {
    file: &'static str,
    eventtype: &'static str,
    /// Tagged authentication: the event of record of Incode's verdict (the score fetched on
    /// ONBOARDING_FINISHED with an overall status).
    tagged: bool,
    action: Option<&'static str>,
    signature: Option<&'static str>,
    failed_checks: &'static [&'static str],
}

const MRZ_AND_NAME: &[&str] = &[
    "faceRecognition.nameMatch",
    "idValidation.idSpecific.mrzLineFormatCheck",
];

const SCORES: &[ScoreExpect] = &[
    ScoreExpect {
        file: "enrichment_error.json",
        eventtype: "incode_score_no_verdict",
        tagged: false,
        action: None,
        signature: None,
        failed_checks: &[],
    },
    ScoreExpect {
        file: "face_authentication_ok.json",
        eventtype: "incode_verification",
        tagged: true,
        action: Some("success"),
        signature: Some("ONBOARDING_SCORE_OK"),
        failed_checks: &[],
    },
    ScoreExpect {
        file: "footprint_ok_failed_checks.json",
        eventtype: "incode_verification",
        tagged: true,
        action: Some("success"),
        signature: Some("ONBOARDING_SCORE_OK"),
        failed_checks: &[
            "idValidation.customFields.firstNameMatch",
            "idValidation.customFields.lastNameMatch",
            "idValidation.idSpecific.expirationDateValidity",
        ],
    },
    // Incode's overall status can be "" although every module passed: no verdict, no CIM event.
    ScoreExpect {
        file: "sonio_no_overall_status.json",
        eventtype: "incode_score_no_verdict",
        tagged: false,
        action: None,
        signature: None,
        failed_checks: MRZ_AND_NAME,
    },
    // Fetched again after a reviewer's rejection: the decision's record is the MANUAL_REVIEW_*
    // webhook, so this score is not counted a second time.
    ScoreExpect {
        file: "synthetic_fail_after_review.json",
        eventtype: "incode_score_no_verdict",
        tagged: false,
        action: Some("failure"),
        signature: Some("ONBOARDING_SCORE_FAIL"),
        failed_checks: MRZ_AND_NAME,
    },
    ScoreExpect {
        file: "synthetic_large_full_flow.json",
        eventtype: "incode_verification",
        tagged: true,
        action: Some("success"),
        signature: Some("ONBOARDING_SCORE_OK"),
        failed_checks: MRZ_AND_NAME,
    },
    ScoreExpect {
        file: "synthetic_warn.json",
        eventtype: "incode_verification",
        tagged: true,
        action: Some("pending"),
        signature: Some("ONBOARDING_SCORE_WARN"),
        failed_checks: MRZ_AND_NAME,
    },
];

#[test]
fn score_events_one_by_one_and_as_a_stream() {
    let app = App::load();
    let names: Vec<String> = SCORES.iter().map(|s| s.file.to_string()).collect();
    assert_eq!(
        corpus("score"),
        names,
        "score corpus and expectations differ"
    );
    let mut stream = String::new();
    for expect in SCORES {
        let text = read(&format!("tests/webhooks/score/{}", expect.file));
        stream.push_str(&text);
        let events = app.index(&text, "incode:score", RECEIPT, Some(INPUT_TIME));
        assert_eq!(events.len(), 1, "{}", expect.file);
        let event = &events[0];
        assert!(!event.truncated, "{}", expect.file);
        assert_eq!(event.sourcetype, "incode:score");
        assert_eq!(event.time, INPUT_TIME, "{}: the input's time", expect.file);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let searched = app.search(event);
        let at = expect.file;
        assert_eq!(searched.eventtypes, [expect.eventtype], "{at}");
        let tags: BTreeSet<String> = expect
            .tagged
            .then(|| "authentication".to_string())
            .into_iter()
            .collect();
        assert_eq!(searched.tags, tags, "{at}");
        assert_eq!(
            searched.values("action"),
            expect.action.into_iter().collect::<Vec<_>>(),
            "{at}: action"
        );
        assert_eq!(
            searched.values("signature"),
            expect.signature.into_iter().collect::<Vec<_>>(),
            "{at}: signature"
        );
        assert_eq!(
            searched.values("failed_checks"),
            expect.failed_checks.to_vec(),
            "{at}: failed_checks"
        );
        assert_eq!(
            searched.values("session_id"),
            [json["interviewId"].as_str().unwrap()],
            "{at}: session_id"
        );
        assert_eq!(searched.values("dest"), ["acme-bank"], "{at}: dest");
        assert_eq!(
            searched.values("user"),
            [json["externalCustomerId"].as_str().unwrap()],
            "{at}: user"
        );
        assert_eq!(searched.values("app"), ["incode"], "{at}: app");
        assert_eq!(
            searched.values("reason"),
            json["reasonMsg"].as_str().into_iter().collect::<Vec<_>>(),
            "{at}: reason"
        );
        assert_eq!(
            searched.values("enriched_at"),
            [json["enriched_at"].as_str().unwrap()],
            "{at}: enriched_at"
        );
    }
    let events = app.index(&stream, "incode:score", RECEIPT, Some(INPUT_TIME));
    assert_eq!(events.len(), SCORES.len(), "one score event per line");
}

#[test]
fn score_fields_lie_within_automatic_json_extraction() {
    // limits.conf [spath] extraction_cutoff = 5000: automatic JSON extraction reads only the
    // first 5000 bytes, so every field the app and the score lookup need must lie there; only
    // the raw score, last, may run past it.
    let mut beyond = 0;
    for expect in SCORES {
        let text = read(&format!("tests/webhooks/score/{}", expect.file));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        for field in [
            "interviewId",
            "clientId",
            "externalCustomerId",
            "trigger",
            "error",
            "reasonMsg",
        ]
        .iter()
        .chain(SCORE_FIELDS.iter())
        {
            if json.get(field).is_none() {
                continue;
            }
            let at = text.find(&format!("\"{field}\":")).unwrap();
            assert!(at < 5000, "{}: {field} at byte {at}", expect.file);
        }
        if text.trim_end().len() > 5000 {
            beyond += 1;
        }
    }
    assert!(
        beyond > 0,
        "the corpus needs a score event longer than 5000 bytes"
    );
}

#[test]
fn score_events_in_the_corpus_are_what_the_modular_input_writes() {
    use ta_incode::score::{Trigger, error_event, score_event};
    for expect in SCORES {
        let text = read(&format!("tests/webhooks/score/{}", expect.file));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let field = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let trigger = Trigger {
            interview_id: field("interviewId").unwrap(),
            status: field("trigger").unwrap(),
            time_ms: 0,
            client_id: field("clientId"),
            flow_id: field("flowId"),
            external_customer_id: field("externalCustomerId"),
        };
        let enriched_at = field("enriched_at").unwrap();
        #[derive(serde::Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            score: Option<&'a serde_json::value::RawValue>,
        }
        let raw: Raw = serde_json::from_str(&text).unwrap();
        let written = match raw.score {
            Some(raw) => score_event(
                &trigger,
                raw.get(),
                &serde_json::from_str(raw.get()).unwrap(),
                &enriched_at,
            ),
            None => error_event(&trigger, &field("error").unwrap(), &enriched_at),
        };
        if std::env::var_os("TA_INCODE_BLESS").is_some() {
            // Regenerates the corpus after a deliberate change of the event layout.
            let path = format!(
                "{}/tests/webhooks/score/{}",
                env!("CARGO_MANIFEST_DIR"),
                expect.file
            );
            std::fs::write(path, written + "\n").unwrap();
            continue;
        }
        assert_eq!(
            text.trim_end(),
            written,
            "{} (TA_INCODE_BLESS=1 regenerates it)",
            expect.file
        );
    }
}

#[test]
fn truncate_leaves_room_for_every_payload() {
    let props = Conf::load("default/props.conf");
    let mut largest = BTreeMap::new();
    for (kind, file) in single_payload_files() {
        let size = read(&file).len();
        let entry = largest.entry(kind.sourcetype()).or_insert(0);
        *entry = (*entry).max(size);
    }
    for expect in SCORES {
        let size = read(&format!("tests/webhooks/score/{}", expect.file)).len();
        let entry = largest.entry("incode:score").or_insert(0);
        *entry = (*entry).max(size);
    }
    for (sourcetype, size) in largest {
        let truncate: usize = props
            .stanza(sourcetype)
            .get("TRUNCATE")
            .unwrap()
            .parse()
            .unwrap();
        // Room for ten times the largest payload seen, for flows with more modules.
        assert!(
            size * 10 <= truncate,
            "{sourcetype}: largest {size} bytes, TRUNCATE {truncate}"
        );
    }
    // And TRUNCATE does cut.
    let app = App::load();
    let huge = format!(
        "{{\"interviewId\":\"x\",\"onboardingStatus\":\"EXPIRED\",\"pad\":\"{}\"}}",
        "a".repeat(200_000)
    );
    assert!(app.index(&huge, "incode:onboarding", RECEIPT, None)[0].truncated);
}

// ----------------------------------------------------------------------------------------------
// Lookups and the saved search that keeps the score lookup current
// ----------------------------------------------------------------------------------------------

/// `LOOKUP-x = <table> <match field> [AS <event field>] OUTPUT <field> [AS <name>] ...`
fn lookup_outputs(spec: &str) -> (String, Vec<String>) {
    let (input, output) = spec.split_once(" OUTPUT ").expect("OUTPUT");
    let table = input.split_whitespace().next().unwrap().to_string();
    let words: Vec<&str> = output.split_whitespace().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if words.get(i + 1) == Some(&"AS") {
            names.push(words[i + 2].to_string());
            i += 3;
        } else {
            names.push(words[i].to_string());
            i += 1;
        }
    }
    (table, names)
}

#[test]
fn the_score_lookup_carries_the_contract_fields_to_every_webhook_event() {
    let props = Conf::load("default/props.conf");
    let transforms = Conf::load("default/transforms.conf");
    let collections = Conf::load("default/collections.conf");
    let contract: Vec<String> = SCORE_FIELDS.iter().map(|f| f.to_string()).collect();
    for sourcetype in ["incode:onboarding", "incode:session"] {
        let spec = props
            .stanza(sourcetype)
            .get("LOOKUP-incode_scores")
            .unwrap_or_else(|| panic!("[{sourcetype}]"));
        assert!(
            spec.starts_with("incode_scores interviewId OUTPUT "),
            "{spec}"
        );
        let (table, outputs) = lookup_outputs(spec);
        assert_eq!(table, "incode_scores");
        assert_eq!(outputs, contract, "[{sourcetype}] outputs");
    }
    let lookup = transforms.stanza("incode_scores");
    assert_eq!(lookup.get("external_type"), Some("kvstore"));
    let collection = collections.stanza(lookup.get("collection").unwrap());
    // Automatic lookups run on the indexers in a distributed search.
    assert_eq!(collection.get("replicate"), Some("true"));
    let fields: Vec<&str> = lookup
        .get("fields_list")
        .unwrap()
        .split(',')
        .map(str::trim)
        .collect();
    // The score time and the deletion time are the lookup's own: what the retention counts from.
    let mut expected = vec!["_key", "interviewId", "score_time", "deleted_at"];
    expected.extend(SCORE_FIELDS);
    assert_eq!(fields, expected);
    for (key, _) in &collection.entries {
        if let Some(field) = key.strip_prefix("field.") {
            assert!(
                fields.contains(&field),
                "collections.conf types unknown field {field}"
            );
        }
    }
    // The saved search writes exactly those fields, keyed by interviewId, into that lookup: its
    // rows come from the `incode_score_rows` macro, which it shares with the documented rebuild.
    let saved = Conf::load("default/savedsearches.conf");
    let search = saved.stanza("Incode - Update score lookup");
    assert_eq!(search.get("enableSched"), Some("1"));
    assert!(search.get("cron_schedule").is_some());
    let spl = search.get("search").unwrap();
    assert!(spl.contains(r#"sourcetype="incode:score""#), "{spl}");
    assert!(spl.contains("| `incode_score_rows`"), "{spl}");
    let macros = Conf::load("default/macros.conf");
    let rows = macros
        .stanza("incode_score_rows")
        .get("definition")
        .unwrap();
    let table = rows
        .lines()
        .find(|l| l.starts_with("| table "))
        .expect("a table command");
    let written: Vec<&str> = table
        .trim_start_matches("| table ")
        .trim_end_matches(" \\")
        .split_whitespace()
        .collect();
    assert_eq!(written, &fields[1..], "fields written by the saved search");
    assert!(
        spl.trim_end()
            .ends_with("| outputlookup append=true key_field=interviewId incode_scores"),
        "{spl}"
    );
}

#[test]
fn the_status_lookup_describes_every_status_and_event_type() {
    let props = Conf::load("default/props.conf");
    let transforms = Conf::load("default/transforms.conf");
    let filename = transforms.stanza("incode_status").get("filename").unwrap();
    let csv = read(&format!("splunk_app/lookups/{filename}"));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("status,description,family,is_final,may_contain_pii")
    );
    let mut rows = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(
            cells.len(),
            5,
            "one comma per column, none in descriptions: {line}"
        );
        assert!(
            ["progress", "completion", "decision", "expiry", "deletion"].contains(&cells[2]),
            "{line}"
        );
        assert!(
            ["true", "false"].contains(&cells[3]) && ["true", "false"].contains(&cells[4]),
            "{line}"
        );
        assert!(
            rows.insert(cells[0].to_string(), cells[1..].to_vec())
                .is_none(),
            "duplicate {line}"
        );
    }
    // Every status and event type in the corpus, but the deliberately unknown one.
    let app = App::load();
    for (kind, file) in single_payload_files() {
        let event = &app.index(&read(&file), kind.sourcetype(), RECEIPT, None)[0];
        let fields = app.search(event).fields;
        let status = match kind {
            Kind::Onboarding => &fields["onboardingStatus"][0],
            Kind::Session => &fields["event_type"][0],
        };
        assert!(
            rows.contains_key(status) || status == "LIVENESS_CHECK_FINISHED",
            "{file}: {status} not in {filename}"
        );
    }
    // Session webhooks carry ip and geolocation; the decisions are final.
    assert_eq!(rows["SESSION_SUCCEEDED"][3], "true");
    assert_eq!(rows["MANUAL_REVIEW_REJECTED"][2], "true");
    assert_eq!(rows["DELETED"][1], "deletion");
    for (sourcetype, key) in [
        ("incode:onboarding", "onboardingStatus"),
        ("incode:session", "event_type"),
    ] {
        let spec = props
            .stanza(sourcetype)
            .get("LOOKUP-incode_status")
            .unwrap();
        assert!(
            spec.starts_with(&format!("incode_status status AS {key} OUTPUT ")),
            "[{sourcetype}] {spec}"
        );
        let (_, outputs) = lookup_outputs(spec);
        assert_eq!(
            outputs,
            [
                "status_description",
                "status_family",
                "status_is_final",
                "status_may_contain_pii"
            ]
        );
    }
}

// ----------------------------------------------------------------------------------------------
// The model itself
// ----------------------------------------------------------------------------------------------

#[test]
fn model_conf_reader() {
    let conf = Conf::parse(
        "t",
        "# c\n[a]\nk = v = w\r\nsearch = x \\\n| y\n\n[b]\n  # indented comment\nk=1\n",
    )
    .unwrap();
    assert_eq!(conf.stanza("a").get("k"), Some("v = w"));
    assert_eq!(conf.stanza("a").get("search"), Some("x \n| y"));
    assert_eq!(conf.stanza("b").get("k"), Some("1"));
    assert!(
        Conf::parse("t", "[a]\nk = 1\nk = 2\n")
            .unwrap_err()
            .contains("duplicate key")
    );
    assert!(
        Conf::parse("t", "[a]\n[a]\n")
            .unwrap_err()
            .contains("duplicate stanza")
    );
    assert!(Conf::parse("t", "k = 1\n").is_err());
    assert!(Conf::parse("t", "[a]\nnot a setting\n").is_err());
    let classes = Conf::parse("t", "[a]\nEVAL-b = 2\nEVAL-a = 1\nX = 3\n").unwrap();
    assert_eq!(
        classes.stanza("a").classes("EVAL-"),
        [("a", "1"), ("b", "2")]
    );
}

#[test]
fn model_line_breaker() {
    // The first group's text is dropped; what precedes it ends an event, what follows starts one.
    assert_eq!(break_events("a1b22c", r"(\d+)"), ["a", "b", "c"]);
    assert_eq!(break_events("ab", r"(\d+)"), ["ab"]);
    // A zero-width group splits without dropping anything; whitespace-only pieces are not events.
    assert_eq!(break_events("}{", r"\}()\{"), ["}", "{"]);
    assert_eq!(break_events("\n\nx\n\n", DEFAULT_LINE_BREAKER), ["x"]);
}

#[test]
fn model_search() {
    let fields: Fields = BTreeMap::from([
        ("sourcetype".to_string(), vec!["incode:session".to_string()]),
        ("event_type".to_string(), vec!["SESSION_FAILED".to_string()]),
        ("ids{}".to_string(), vec!["a".to_string(), "b".to_string()]),
        ("empty".to_string(), vec![String::new()]),
    ]);
    let yes = |s: &str| assert!(Search::parse(s).unwrap().matches(&fields), "{s}");
    let no = |s: &str| assert!(!Search::parse(s).unwrap().matches(&fields), "{s}");
    yes(r#"sourcetype="incode:session""#);
    yes("event_type=session_failed"); // values match case-insensitively
    no("EVENT_TYPE=SESSION_FAILED"); // field names do not
    yes(r#"event_type IN ("SESSION_SUCCEEDED", "SESSION_FAILED")"#);
    no(r#"event_type IN ("SESSION_SUCCEEDED")"#);
    yes("event_type=SESSION_*");
    no("event_type=*_SUCCEEDED");
    yes("ids{}=b"); // any value of a multivalue field
    yes("event_type=*");
    no("empty=*");
    no("missing=*");
    yes("NOT missing=x");
    yes(r#"NOT event_type IN ("A", "B")"#);
    no("NOT event_type=SESSION_FAILED");
    yes("sourcetype=x OR event_type=SESSION_FAILED");
    no("sourcetype=incode:session event_type=x"); // implicit AND
    no("sourcetype=incode:session AND event_type=x");
    yes("(sourcetype=x OR sourcetype=incode:session) (event_type=x OR ids{}=a)");
    no("(sourcetype=x OR sourcetype=incode:session) (event_type=x OR ids{}=c)");
    assert!(Search::parse("index=main | stats count").is_err());
    assert!(Search::parse("freetext").is_err());
    assert!(Search::parse("a!=b").is_err());
    assert!(wildcard_match("a*b*c", "aXXbYYc") && !wildcard_match("a*a", "a"));
}

#[test]
fn model_eval() {
    let fields: Fields = BTreeMap::from([
        ("s".to_string(), vec!["DELETED".to_string()]),
        ("e".to_string(), vec![String::new()]),
        ("m".to_string(), vec!["x".to_string(), "y".to_string()]),
    ]);
    let event = Event {
        raw: r#"{"timestamp": "2024-05-01T12:34:56Z"}"#,
        time: 7.0,
        fields: &fields,
    };
    let eval = |s: &str| Expression::parse(s).unwrap().eval(&event);
    let text = |s: &str| Value::Str(s.to_string());
    assert_eq!(eval(r#"if(s=="DELETED", "yes", "no")"#), text("yes"));
    assert_eq!(eval(r#"if(missing=="DELETED", "yes", "no")"#), text("no")); // null condition: false
    assert_eq!(eval(r#"case(s=="A", 1, s=="DELETED", "b")"#), text("b"));
    assert_eq!(eval(r#"case(s=="A", 1)"#), Value::Null);
    assert_eq!(eval("coalesce(missing, null(), s)"), text("DELETED"));
    assert_eq!(eval("coalesce(missing)"), Value::Null);
    assert_eq!(eval(r#""P_" . s"#), text("P_DELETED"));
    assert_eq!(eval(r#""P_" . missing"#), Value::Null); // null spreads through concatenation
    assert_eq!(eval(r#"if(e!="", "set", "empty")"#), text("empty"));
    assert_eq!(eval("'m'"), Value::Multi(vec!["x".into(), "y".into()]));
    assert_eq!(eval(r#""a\"b\\c\d""#), text(r#"a"b\c\d"#));
    assert_eq!(
        eval(r#"replace("a1b22", "(\d+)", "<\1>")"#),
        text("a<1>b<22>")
    );
    assert_eq!(eval(r#"replace("ab", "(x)?b", "[\1]")"#), text("a[]"));
    assert_eq!(eval("_time"), Value::Num(7.0));
    assert_eq!(
        eval(r#"strptime("2024-05-01T12:34:56.500+0130", "%Y-%m-%dT%H:%M:%S.%3N%z")"#),
        Value::Num(utc(2024, 5, 1, 11, 4, 56, 500))
    );
    assert_eq!(
        eval(r#"strptime("2024-05-01T12:34:56.500", "%Y-%m-%dT%H:%M:%S.%3N%z")"#),
        Value::Null
    );
    assert!(Expression::parse("a + b").is_err());
    assert_eq!(
        Expression::parse_assignment("_time=coalesce(_time)")
            .unwrap()
            .0,
        "_time"
    );
    assert_eq!(eval::replace("x", "y", "z"), "x");
}

#[test]
fn model_time() {
    assert_eq!(utc(1970, 1, 1, 0, 0, 0, 0), 0.0);
    assert_eq!(utc(2000, 3, 1, 0, 0, 0, 0), 951_868_800.0);
    assert_eq!(utc(2024, 5, 1, 12, 34, 56, 789), 1_714_566_896.789);
    assert_eq!(
        strptime("2024-05-01T12:34:56.789-0100", "%Y-%m-%dT%H:%M:%S.%3N%z"),
        Some(1_714_570_496.789)
    );
    assert_eq!(
        strptime("2024-13-01T12:34:56.789+0000", "%Y-%m-%dT%H:%M:%S.%3N%z"),
        None
    );
    assert_eq!(
        strptime("2024-05-01T12:34:56.789+0000 ", "%Y-%m-%dT%H:%M:%S.%3N%z"),
        None
    );
    assert_eq!(
        strptime("2024-05-01T12:34:56.78+0000", "%Y-%m-%dT%H:%M:%S.%3N%z"),
        None
    );
}
