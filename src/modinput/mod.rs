//! splunkd's modular-input protocol: the documents read on stdin, the scheme, the event stream
//! and the validation answer written on stdout.

pub mod definition;
pub mod scheme;
pub mod stream;

pub use definition::{
    DefinitionError, InputDefinition, Metadata, ParamValue, Stanza, ValidationDefinition,
};
pub use scheme::{Argument, DataType, Scheme, StreamingMode};
pub use stream::{Event, EventTime, EventWriter};

/// The answer to `--validate-arguments` for an invalid input; splunkd shows the message in
/// Splunk Web.
pub fn validation_error(message: &str) -> String {
    format!(
        "<error><message>{}</message></error>",
        stream::escape(message, false)
    )
}
