//! The `incode:score` event built from any JSON the fuzzer makes (non-JSON input is skipped, as
//! the Incode client never hands it on): one line of valid JSON whose last key is `score`, which
//! parses back to the response as received, with `failed_checks` as `failed_checks` computes it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use ta_incode::score::{Score, Trigger, failed_checks, score_event};

/// The top-level keys of a JSON object, in the order written.
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(score) = serde_json::from_str::<Score>(raw) else {
        return;
    };
    let value: Value = serde_json::from_str(raw).expect("what one parser takes, the other does");
    let trigger = Trigger {
        interview_id: "66b1c0000000000000000031\"\\<&>\u{1}é".into(),
        status: "ONBOARDING_FINISHED".into(),
        time_ms: 1_714_567_270_500,
        client_id: Some("acme-bank".into()),
        flow_id: None,
        external_customer_id: Some("cust\n\r\t".into()),
    };
    let failed = failed_checks(&score);
    let event = score_event(&trigger, raw, &score, "2024-05-01T12:41:10.500Z");

    assert!(
        !event.contains(['\n', '\r']),
        "more than one line: {event:?}"
    );
    let parsed: Value =
        serde_json::from_str(&event).unwrap_or_else(|e| panic!("not JSON ({e}): {event:?}"));
    let keys = serde_json::from_str::<Keys>(&event).expect("an object").0;
    assert_eq!(keys.last().map(String::as_str), Some("score"), "{event:?}");
    assert_eq!(
        keys.iter().filter(|k| *k == "score").count(),
        1,
        "score twice: {event:?}"
    );
    assert_eq!(parsed["score"], value, "score changed: {event:?}");
    assert_eq!(parsed["failed_checks"], Value::from(failed), "{event:?}");
    assert_eq!(parsed["interviewId"], Value::from(trigger.interview_id));
});
