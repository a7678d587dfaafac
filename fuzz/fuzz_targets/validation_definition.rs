//! The stdin of `--validate-arguments` (`<items>` with one `<item>`), then the item through the
//! configuration checks, as validation does: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ta_incode::config::InputConfig;
use ta_incode::modinput::{ValidationDefinition, validation_error};

fuzz_target!(|data: &[u8]| {
    let definition = match ValidationDefinition::parse(data) {
        Ok(definition) => definition,
        Err(e) => {
            let _ = validation_error(&e.to_string());
            return;
        }
    };
    let item = &definition.item;
    if let Err(errors) = InputConfig::from_stanza(&item.name, item) {
        assert!(!errors.0.is_empty(), "a refused item names its problems");
        let answer = validation_error(&errors.to_string());
        assert!(roxmltree::Document::parse(&answer).is_ok(), "{answer:?}");
    }
});
