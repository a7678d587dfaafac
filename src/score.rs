//! The `incode:score` event: Incode's score response read leniently (every block optional, every
//! value a string or null) and laid out as the contract's table, flat fields first and the raw
//! score last, because Splunk's automatic JSON extraction reads only the first few thousand
//! bytes of an event.

use serde_json::Value;
/// Incode's score, parsed without copying its strings (`serde_json::Value` would allocate one for
/// every key and value of a response of several kilobytes, for every session).
pub use serde_json_borrow::Value as Score;

/// The triggering webhook event an enrichment belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// Incode's session id.
    pub interview_id: String,
    /// The `onboardingStatus` that caused the fetch.
    pub status: String,
    /// The webhook event's `_time`, in epoch milliseconds.
    pub time_ms: i64,
    /// `clientId`, when the webhook had one.
    pub client_id: Option<String>,
    /// `flowId`, when the webhook had one.
    pub flow_id: Option<String>,
    /// `externalCustomerId` (or the legacy `externalId`), when the webhook had one.
    pub external_customer_id: Option<String>,
}

/// The statuses that cause a score fetch.
pub const TRIGGERS: [&str; 3] = [
    "ONBOARDING_FINISHED",
    "MANUAL_REVIEW_APPROVED",
    "MANUAL_REVIEW_REJECTED",
];

/// The modules summarised in flat fields: (response key, status field, score field).
const MODULES: [(&str, &str, &str); 4] = [
    (
        "idValidation",
        "id_validation_status",
        "id_validation_score",
    ),
    ("liveness", "liveness_status", "liveness_score"),
    (
        "faceRecognition",
        "face_recognition_status",
        "face_recognition_score",
    ),
    (
        "governmentValidation",
        "government_validation_status",
        "government_validation_score",
    ),
];

/// The event for a fetched score. `raw` is the response as received (valid JSON), `score` the
/// same parsed. Where a key appears twice in an object, the first counts.
pub fn score_event(trigger: &Trigger, raw: &str, score: &Score<'_>, enriched_at: &str) -> String {
    let mut event = head(trigger, "ok", raw.len());
    let (status, value) = overall(score.get("overall"));
    event.field("overall_status", &status);
    event.field("overall_score", &value);
    for (key, status_field, score_field) in MODULES {
        let module = score.get(key);
        if module.is_object() {
            let (status, value) = overall(module.get("overall"));
            event.field(status_field, &status);
            event.field(score_field, &value);
        }
    }
    event.field("failed_checks", &failed_checks(score));
    let reason = score.get("reasonMsg");
    if !reason.is_null() {
        event.field("reasonMsg", reason);
    }
    event.field("enriched_at", enriched_at);
    event.raw("score", &compact(raw));
    event.finish()
}

/// The event that says an interview was given up.
pub fn error_event(trigger: &Trigger, error: &str, enriched_at: &str) -> String {
    let mut event = head(trigger, "error", 0);
    event.field("error", error);
    event.field("enriched_at", enriched_at);
    event.finish()
}

fn head(trigger: &Trigger, status: &str, extra: usize) -> Object {
    let mut event = Object::with_capacity(512 + extra);
    event.field("interviewId", &trigger.interview_id);
    for (key, value) in [
        ("clientId", &trigger.client_id),
        ("flowId", &trigger.flow_id),
        ("externalCustomerId", &trigger.external_customer_id),
    ] {
        if let Some(v) = value {
            event.field(key, v);
        }
    }
    event.field("trigger", &trigger.status);
    event.field("enrichment_status", status);
    event
}

/// A JSON object written field by field, in the order given (serde_json's map would sort the
/// keys or need a hashed map).
struct Object(String);

impl Object {
    fn with_capacity(capacity: usize) -> Object {
        let mut text = String::with_capacity(capacity);
        text.push('{');
        Object(text)
    }

    fn key(&mut self, key: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0
            .push_str(&serde_json::to_string(key).expect("a string serialises"));
        self.0.push(':');
    }

    fn field<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        self.key(key);
        self.0
            .push_str(&serde_json::to_string(value).expect("a JSON value serialises"));
    }

    /// A value that is already JSON text.
    fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.0.push_str(json);
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// JSON text without the line breaks (and other whitespace) a pretty-printed answer has between
/// tokens, so the event stays on one line; strings and the order of keys are untouched.
fn compact(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.contains(['\n', '\r']) {
        return std::borrow::Cow::Borrowed(json);
    }
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let (mut i, mut start) = (0, 0);
    // Every byte that matters here is ASCII, so slicing at them keeps UTF-8 whole.
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Jump to the closing quote: strings are most of a score's bytes.
                i += 1;
                while let Some(at) = bytes
                    .get(i..)
                    .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                {
                    i += at + 1;
                    if bytes[i - 1] == b'"' {
                        break;
                    }
                    i += 1; // the escaped character
                }
                continue;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.push_str(&json[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&json[start..]);
    std::borrow::Cow::Owned(out)
}

/// `(status, score)` of an `overall` block: an empty or missing status is `null` (Incode sends
/// `{"value": null, "status": ""}` even for sessions whose modules all passed, so empty is not a
/// failure); the score is a number, or `null` when absent, empty or not numeric.
fn overall(block: &Score<'_>) -> (Value, Value) {
    let status = block
        .get("status")
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or(Value::Null, |s| s.into());
    let score = number(block.get("value")).map_or(Value::Null, Value::from);
    (status, score)
}

fn number(value: &Score<'_>) -> Option<f64> {
    match value {
        Score::Number(_) => value.as_f64(),
        Score::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Dotted paths of every check whose `status` is `FAIL`: `module.list.key` for list entries,
/// `module.name` for named checks; `overall` blocks are summarised elsewhere and skipped. Objects
/// are walked in key order (lists in their own order), so the result does not depend on how
/// Incode ordered its keys; of a key that appears twice in an object, the first counts.
pub fn failed_checks(score: &Score<'_>) -> Vec<String> {
    let mut failed = Vec::new();
    if let Some(modules) = score.as_object() {
        let mut path = String::with_capacity(128);
        for (name, module) in sorted(modules) {
            path.clear();
            path.push_str(name);
            walk(module, &mut path, 0, &mut failed);
        }
    }
    failed
}

/// The fields of an object but `overall`, in key order, each key once (its first value).
fn sorted<'a, 'ctx>(
    object: &'a serde_json_borrow::ObjectAsVec<'ctx>,
) -> Vec<(&'a str, &'a Score<'ctx>)> {
    let mut fields: Vec<_> = object
        .iter()
        .filter(|(name, _)| *name != "overall")
        .collect();
    // Stable: of equal keys, the first stays first, and dedup keeps it.
    fields.sort_by(|a, b| a.0.cmp(b.0));
    fields.dedup_by(|later, first| later.0 == first.0);
    fields
}

/// `path` is the dotted path of `value`; `depth` how many names follow the module's.
fn walk(value: &Score<'_>, path: &mut String, depth: usize, failed: &mut Vec<String>) {
    if depth > 0 && value.get("status").as_str() == Some("FAIL") {
        failed.push(path.clone());
    }
    let mut child = |path: &mut String, name: &str, value: &Score<'_>| {
        let len = path.len();
        path.push('.');
        path.push_str(name);
        walk(value, path, depth + 1, failed);
        path.truncate(len);
    };
    match value {
        Score::Object(fields) => {
            for (name, value) in sorted(fields) {
                if value.is_object() || value.is_array() {
                    child(path, name, value);
                }
            }
        }
        Score::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item.get("key").as_str() {
                    Some(key) => child(path, key, item),
                    None => child(path, &i.to_string(), item),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_text(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/incode/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).unwrap()
    }

    fn failed_checks_of(raw: &str) -> Vec<String> {
        failed_checks(&serde_json::from_str(raw).unwrap())
    }

    /// The top-level keys of a JSON object, in the order written.
    fn keys(json: &str) -> Vec<String> {
        struct Keys(Vec<String>);
        impl<'de> serde::Deserialize<'de> for Keys {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = Keys;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Keys, A::Error> {
                        let mut keys = Vec::new();
                        while let Some((k, _)) =
                            map.next_entry::<String, serde::de::IgnoredAny>()?
                        {
                            keys.push(k);
                        }
                        Ok(Keys(keys))
                    }
                }
                d.deserialize_map(Visitor)
            }
        }
        serde_json::from_str::<Keys>(json).unwrap().0
    }

    fn trigger() -> Trigger {
        Trigger {
            interview_id: "6651d5b7e0d4b0a5c1a0f001".into(),
            status: "ONBOARDING_FINISHED".into(),
            time_ms: 1_700_000_000_123,
            client_id: Some("acme".into()),
            flow_id: None,
            external_customer_id: Some("cust-42".into()),
        }
    }

    /// The event of the score `raw`, parsed.
    fn event(raw: &str) -> Value {
        serde_json::from_str(&score_event(
            &trigger(),
            raw,
            &serde_json::from_str(raw).unwrap(),
            "2026-11-26T10:00:00.000Z",
        ))
        .unwrap()
    }

    #[test]
    fn failed_checks_of_the_samples() {
        // Sorted by module and name: the same score gives the same list, whatever the order
        // of Incode's keys.
        assert_eq!(
            failed_checks_of(&fixture_text("score_response_footprint_test_literal.json")),
            [
                "idValidation.customFields.firstNameMatch",
                "idValidation.customFields.lastNameMatch",
                "idValidation.idSpecific.expirationDateValidity"
            ]
        );
        assert_eq!(
            failed_checks_of(&fixture_text("score_response_onboarding_via_sonio.json")),
            [
                "faceRecognition.nameMatch",
                "idValidation.idSpecific.mrzLineFormatCheck"
            ]
        );
        assert!(
            failed_checks_of(&fixture_text("score_response_face_authentication.json")).is_empty()
        );
    }

    #[test]
    fn fields_come_in_the_contracts_order_with_the_raw_score_last() {
        let raw = fixture_text("score_response_onboarding_via_sonio.json");
        let text = score_event(
            &trigger(),
            &raw,
            &serde_json::from_str(&raw).unwrap(),
            "2026-11-26T10:00:00.000Z",
        );
        assert_eq!(
            keys(&text),
            [
                "interviewId",
                "clientId",
                "externalCustomerId",
                "trigger",
                "enrichment_status",
                "overall_status",
                "overall_score",
                "id_validation_status",
                "id_validation_score",
                "liveness_status",
                "liveness_score",
                "face_recognition_status",
                "face_recognition_score",
                "failed_checks",
                "reasonMsg",
                "enriched_at",
                "score"
            ]
        );
        let e: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            e["score"],
            serde_json::from_str::<Value>(&raw).unwrap(),
            "the raw score is kept as received"
        );
        // Its keys keep Incode's order; only the pretty-printing whitespace is gone.
        let embedded = &text[text.find("\"score\":").unwrap() + 8..text.len() - 1];
        assert_eq!(keys(embedded), keys(&raw));
        assert!(!embedded.contains('\n'));
        assert!(embedded.contains("\"reasonMsg\":\"This session passed because it passed all of Incode's tests: ID Verification, Face Recognition, Liveness Detection\""));
    }

    #[test]
    fn an_empty_overall_is_null_not_a_failure() {
        let e = event(&fixture_text("score_response_onboarding_via_sonio.json"));
        assert_eq!(e["overall_status"], Value::Null);
        assert_eq!(e["overall_score"], Value::Null);
        assert_eq!(e["id_validation_status"], "OK");
        assert_eq!(e["enrichment_status"], "ok");
    }

    #[test]
    fn numbers_come_from_strings_and_absent_modules_are_omitted() {
        let e = event(&fixture_text("score_response_footprint_test_literal.json"));
        assert_eq!(e["overall_status"], "OK");
        assert_eq!(e["overall_score"], 100.0);
        // liveness and faceRecognition are null in this sample: no fields for them.
        let obj = e.as_object().unwrap();
        assert!(
            !obj.contains_key("liveness_status") && !obj.contains_key("face_recognition_score")
        );
        assert!(!obj.contains_key("reasonMsg"));

        let e = event(&fixture_text("score_response_face_authentication.json"));
        assert_eq!(
            (e["overall_status"].clone(), e["overall_score"].clone()),
            ("OK".into(), 94.6.into())
        );
        assert_eq!(e["liveness_score"], 100.0);
        assert_eq!(
            e["reasonMsg"],
            "This session passed because it passed all of Incode's tests: Liveness Detection"
        );
    }

    #[test]
    fn odd_values_are_tolerated() {
        let score: Value = serde_json::json!({
            "overall": {"value": " 12.5 ", "status": " WARN "},
            "idValidation": {"overall": {"value": "n/a", "status": ""}},
            "liveness": {"overall": {"value": 88}},
            "faceRecognition": {},
            "governmentValidation": "unexpected",
            "deviceRisk": [{"key": null, "status": "FAIL"}, {"status": "OK"}]
        });
        let e = event(&score.to_string());
        assert_eq!(e["overall_status"], "WARN");
        assert_eq!(e["overall_score"], 12.5);
        assert_eq!(e["id_validation_score"], Value::Null);
        assert_eq!(e["id_validation_status"], Value::Null);
        assert_eq!(e["liveness_score"], 88.0);
        assert_eq!(e["face_recognition_status"], Value::Null);
        assert!(e.get("government_validation_status").is_none());
        assert_eq!(e["failed_checks"], serde_json::json!(["deviceRisk.0"]));
        let not_an_object = event("null");
        assert_eq!(not_an_object["overall_status"], Value::Null);
        assert_eq!(not_an_object["failed_checks"], serde_json::json!([]));
    }

    #[test]
    fn keys_are_walked_in_order_and_a_repeated_key_counts_once() {
        let raw = r#"{"overall": {"status": "OK"}, "overall": {"status": "FAIL"},
            "b": {"x": {"status": "FAIL"}, "overall": {"status": "FAIL"}},
            "a": {"y": {"status": "FAIL"}, "y": {"status": "FAIL"}, "w": [{"status": "FAIL"}]}}"#;
        assert_eq!(failed_checks_of(raw), ["a.w.0", "a.y", "b.x"]);
        assert_eq!(event(raw)["overall_status"], "OK");
    }

    #[test]
    fn error_events_say_why_and_carry_no_score() {
        let text = error_event(
            &trigger(),
            "HTTP 404 for 6 attempts over 1h",
            "2026-11-26T10:00:00.000Z",
        );
        let e: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            keys(&text),
            [
                "interviewId",
                "clientId",
                "externalCustomerId",
                "trigger",
                "enrichment_status",
                "error",
                "enriched_at"
            ]
        );
        assert_eq!(e["enrichment_status"], "error");
    }

    #[test]
    fn events_are_one_compact_line() {
        let raw = fixture_text("score_response_onboarding_via_sonio.json");
        let text = score_event(&trigger(), &raw, &serde_json::from_str(&raw).unwrap(), "t");
        assert!(!text.contains('\n') && !text.contains("  "));
        serde_json::from_str::<Value>(&text).unwrap();
    }

    #[test]
    fn compacting_keeps_strings_whole() {
        let pretty = "{\n  \"a\" : \"x  y\\\" \\n z\",\r\n  \"b\": [ 1, 2 ]\n}";
        assert_eq!(compact(pretty), "{\"a\":\"x  y\\\" \\n z\",\"b\":[1,2]}");
        let escapes = "{\n \"a\\\\\" : \"\\\\\", \"b \\\" c\": \"é \\u0022 \"\n}";
        assert_eq!(
            compact(escapes),
            "{\"a\\\\\":\"\\\\\",\"b \\\" c\":\"é \\u0022 \"}"
        );
        // Not JSON, but never a panic.
        for broken in ["\n\"", "\n\"\\", "\n\"a\\\"", "\n\\"] {
            compact(broken);
        }
        assert!(matches!(
            compact("{\"a\": 1}"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
