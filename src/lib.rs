//! TA-incode: the `incode` modular input of the Incode Identity Verification Add-on for Splunk.
//!
//! `main` picks a mode ([`modes`]); the modes speak splunkd's protocol ([`modinput`]) with a
//! validated configuration ([`config`]); a run is one [`pass`]: [`discovery`] through splunkd
//! ([`splunkd`]), then [`enrichment`] through Incode ([`incode`]) with the retry [`policy`],
//! recorded in the [`checkpoint`]; everything reports through [`error`] and the stderr logger
//! ([`log`]). See ARCHITECTURE.md for the map.

pub mod checkpoint;
pub mod config;
pub mod discovery;
pub mod enrichment;
pub mod error;
pub mod http;
pub mod incode;
pub mod log;
pub mod modes;
pub mod modinput;
pub mod pass;
pub mod policy;
pub mod retry;
pub mod score;
pub mod secret;
pub mod secrets;
pub mod server_conf;
pub mod shutdown;
pub mod splunkd;
pub mod validation;
