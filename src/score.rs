//! The `incode:score` event: Incode's score response read leniently (every block optional, every
//! value a string or null) and laid out as the contract's table, flat fields first and the raw
//! score last, because Splunk's automatic JSON extraction reads only the first few thousand
//! bytes of an event.

use serde_json::{Map, Value};

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

/// The modules summarised in flat fields: (response key, field prefix).
const MODULES: [(&str, &str); 4] = [
    ("idValidation", "id_validation"),
    ("liveness", "liveness"),
    ("faceRecognition", "face_recognition"),
    ("governmentValidation", "government_validation"),
];

/// The event for a fetched score.
pub fn score_event(trigger: &Trigger, score: &Value, enriched_at: &str) -> String {
    let mut event = head(trigger, "ok");
    let (status, value) = overall(score.get("overall"));
    event.insert("overall_status".into(), status);
    event.insert("overall_score".into(), value);
    for (key, prefix) in MODULES {
        if let Some(module) = score.get(key).filter(|m| m.is_object()) {
            let (status, value) = overall(module.get("overall"));
            event.insert(format!("{prefix}_status"), status);
            event.insert(format!("{prefix}_score"), value);
        }
    }
    event.insert(
        "failed_checks".into(),
        failed_checks(score)
            .into_iter()
            .map(Value::String)
            .collect(),
    );
    if let Some(reason) = score.get("reasonMsg").filter(|r| !r.is_null()) {
        event.insert("reasonMsg".into(), reason.clone());
    }
    event.insert("enriched_at".into(), enriched_at.into());
    event.insert("score".into(), score.clone());
    Value::Object(event).to_string()
}

/// The event that says an interview was given up.
pub fn error_event(trigger: &Trigger, error: &str, enriched_at: &str) -> String {
    let mut event = head(trigger, "error");
    event.insert("error".into(), error.into());
    event.insert("enriched_at".into(), enriched_at.into());
    Value::Object(event).to_string()
}

fn head(trigger: &Trigger, status: &str) -> Map<String, Value> {
    let mut event = Map::new();
    event.insert("interviewId".into(), trigger.interview_id.clone().into());
    for (key, value) in [
        ("clientId", &trigger.client_id),
        ("flowId", &trigger.flow_id),
        ("externalCustomerId", &trigger.external_customer_id),
    ] {
        if let Some(v) = value {
            event.insert(key.into(), v.clone().into());
        }
    }
    event.insert("trigger".into(), trigger.status.clone().into());
    event.insert("enrichment_status".into(), status.into());
    event
}

/// `(status, score)` of an `overall` block: an empty or missing status is `null` (Incode sends
/// `{"value": null, "status": ""}` even for sessions whose modules all passed, so empty is not a
/// failure); the score is a number, or `null` when absent, empty or not numeric.
fn overall(block: Option<&Value>) -> (Value, Value) {
    let status = block
        .and_then(|b| b.get("status"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or(Value::Null, |s| s.into());
    let score = block
        .and_then(|b| b.get("value"))
        .and_then(number)
        .map_or(Value::Null, Value::from);
    (status, score)
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Dotted paths of every check whose `status` is `FAIL`: `module.list.key` for list entries,
/// `module.name` for named checks; `overall` blocks are summarised elsewhere and skipped.
pub fn failed_checks(score: &Value) -> Vec<String> {
    let mut failed = Vec::new();
    if let Value::Object(modules) = score {
        for (name, module) in modules.iter().filter(|(name, _)| *name != "overall") {
            walk(module, name, &mut failed);
        }
    }
    failed
}

fn walk(value: &Value, path: &str, failed: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            if path.contains('.') && fields.get("status").and_then(Value::as_str) == Some("FAIL") {
                failed.push(path.to_owned());
            }
            for (name, child) in fields.iter().filter(|(name, _)| *name != "overall") {
                if child.is_object() || child.is_array() {
                    walk(child, &format!("{path}.{name}"), failed);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let key = item
                    .get("key")
                    .and_then(Value::as_str)
                    .map_or_else(|| i.to_string(), str::to_owned);
                walk(item, &format!("{path}.{key}"), failed);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/incode/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
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

    fn event(score: &Value) -> Value {
        serde_json::from_str(&score_event(&trigger(), score, "2026-11-26T10:00:00.000Z")).unwrap()
    }

    #[test]
    fn failed_checks_of_the_samples() {
        assert_eq!(
            failed_checks(&fixture("score_response_footprint_test_literal.json")),
            [
                "idValidation.idSpecific.expirationDateValidity",
                "idValidation.customFields.firstNameMatch",
                "idValidation.customFields.lastNameMatch"
            ]
        );
        assert_eq!(
            failed_checks(&fixture("score_response_onboarding_via_sonio.json")),
            [
                "idValidation.idSpecific.mrzLineFormatCheck",
                "faceRecognition.nameMatch"
            ]
        );
        assert!(failed_checks(&fixture("score_response_face_authentication.json")).is_empty());
    }

    #[test]
    fn fields_come_in_the_contracts_order_with_the_raw_score_last() {
        let score = fixture("score_response_onboarding_via_sonio.json");
        let e = event(&score);
        let keys: Vec<_> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
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
        assert_eq!(e["score"], score, "the raw score is kept as received");
    }

    #[test]
    fn an_empty_overall_is_null_not_a_failure() {
        let e = event(&fixture("score_response_onboarding_via_sonio.json"));
        assert_eq!(e["overall_status"], Value::Null);
        assert_eq!(e["overall_score"], Value::Null);
        assert_eq!(e["id_validation_status"], "OK");
        assert_eq!(e["enrichment_status"], "ok");
    }

    #[test]
    fn numbers_come_from_strings_and_absent_modules_are_omitted() {
        let e = event(&fixture("score_response_footprint_test_literal.json"));
        assert_eq!(e["overall_status"], "OK");
        assert_eq!(e["overall_score"], 100.0);
        // liveness and faceRecognition are null in this sample: no fields for them.
        let obj = e.as_object().unwrap();
        assert!(
            !obj.contains_key("liveness_status") && !obj.contains_key("face_recognition_score")
        );
        assert!(!obj.contains_key("reasonMsg"));

        let e = event(&fixture("score_response_face_authentication.json"));
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
        let e = event(&score);
        assert_eq!(e["overall_status"], "WARN");
        assert_eq!(e["overall_score"], 12.5);
        assert_eq!(e["id_validation_score"], Value::Null);
        assert_eq!(e["id_validation_status"], Value::Null);
        assert_eq!(e["liveness_score"], 88.0);
        assert_eq!(e["face_recognition_status"], Value::Null);
        assert!(e.get("government_validation_status").is_none());
        assert_eq!(e["failed_checks"], serde_json::json!(["deviceRisk.0"]));
        let not_an_object = event(&Value::Null);
        assert_eq!(not_an_object["overall_status"], Value::Null);
        assert_eq!(not_an_object["failed_checks"], serde_json::json!([]));
    }

    #[test]
    fn error_events_say_why_and_carry_no_score() {
        let e: Value = serde_json::from_str(&error_event(
            &trigger(),
            "HTTP 404 for 6 attempts over 1h",
            "2026-11-26T10:00:00.000Z",
        ))
        .unwrap();
        let keys: Vec<_> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
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
        let text = score_event(
            &trigger(),
            &fixture("score_response_onboarding_via_sonio.json"),
            "t",
        );
        assert!(!text.contains('\n'));
        let compact = serde_json::from_str::<Value>(&text).unwrap().to_string();
        assert_eq!(text, compact);
    }
}
