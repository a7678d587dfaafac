//! TA-incode: the `incode` modular input of the Incode Identity Verification Add-on for Splunk.
//!
//! `main` picks a mode ([`modes`]); the modes speak splunkd's protocol ([`modinput`]) with a
//! validated configuration ([`config`]) and report through [`error`] and the stderr logger
//! ([`log`]). See ARCHITECTURE.md for the map.

pub mod config;
pub mod error;
pub mod log;
pub mod modes;
pub mod modinput;
pub mod secret;
