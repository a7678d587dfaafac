//! A small model of the parts of Splunk that TA-incode's props.conf, transforms.conf,
//! eventtypes.conf and tags.conf rely on, so the tests can run the real conf files.
//!
//! Every module supports exactly the forms the app's conf files use and rejects anything else
//! loudly (a panic naming the construct), so a new kind of setting cannot slip through untested.

pub mod eval;
pub mod json_fields;
pub mod pipeline;
pub mod search;
pub mod time;

use std::path::PathBuf;

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A PCRE2 pattern, compiled the way splunkd compiles conf-file regexes (plain PCRE, UTF-8).
pub fn pcre(pattern: &str) -> pcre2::bytes::Regex {
    pcre2::bytes::RegexBuilder::new()
        .utf(true)
        .build(pattern)
        .unwrap_or_else(|e| panic!("invalid PCRE {pattern:?}: {e}"))
}
