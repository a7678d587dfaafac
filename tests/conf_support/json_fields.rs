//! Search-time JSON extraction (`KV_MODE = json`) as splunkd names the fields: nested keys joined
//! with `.`, array elements under `name{}` (a multivalue field), objects inside arrays as
//! `name{}.key`. JSON null is left out, numbers keep their JSON text. Not modelled: the
//! `limits.conf [spath] extraction_cutoff` of 5000 bytes (the tests check separately which fields
//! lie within it).

use std::collections::BTreeMap;

use serde_json::Value;

pub type Fields = BTreeMap<String, Vec<String>>;

/// The fields of an event, or None when it is not one JSON object.
pub fn extract(raw: &str) -> Option<Fields> {
    let value: Value = serde_json::from_str(raw.trim()).ok()?;
    if !value.is_object() {
        return None;
    }
    let mut fields = Fields::new();
    flatten("", &value, &mut fields);
    Some(fields)
}

fn flatten(name: &str, value: &Value, fields: &mut Fields) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if name.is_empty() {
                    key.clone()
                } else {
                    format!("{name}.{key}")
                };
                flatten(&path, inner, fields);
            }
        }
        Value::Array(items) => {
            for item in items {
                flatten(&format!("{name}{{}}"), item, fields);
            }
        }
        Value::String(s) => fields.entry(name.to_string()).or_default().push(s.clone()),
        Value::Bool(b) => fields
            .entry(name.to_string())
            .or_default()
            .push(b.to_string()),
        Value::Number(n) => fields
            .entry(name.to_string())
            .or_default()
            .push(n.to_string()),
    }
}
