//! A run's stdin (`<input>`, UTF-8 or UTF-16 with a BOM), then every stanza it holds through the
//! configuration checks, as a run does: whatever the bytes, an `Ok` or an `Err`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ta_incode::config::InputConfig;
use ta_incode::modinput::InputDefinition;

fuzz_target!(|data: &[u8]| {
    let Ok(definition) = InputDefinition::parse(data) else {
        return;
    };
    for stanza in &definition.stanzas {
        // A run refuses a stanza of another scheme before it reads the configuration; the checks
        // themselves take any name.
        let name = stanza
            .name
            .strip_prefix("incode://")
            .unwrap_or(&stanza.name);
        let _ = stanza.param("api_url");
        if let Err(errors) = InputConfig::from_stanza(name, stanza) {
            assert!(!errors.0.is_empty(), "a refused stanza names its problems");
            let _ = errors.to_string();
        }
    }
});
