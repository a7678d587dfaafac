//! What the splunkd and Incode clients share: the TLS provider, the User-Agent, reading a
//! response body with a size cap, and finding why a server's certificate was refused.

use std::error::Error;
use std::io::Read;
use std::sync::Once;

use rustls::CertificateError;

/// Sent with every request, so splunkd's and Incode's logs name the add-on and its version.
pub const USER_AGENT: &str = concat!("TA-incode/", env!("CARGO_PKG_VERSION"));

/// Installs rustls' ring provider, once per process. ring keeps the static binary small and its
/// start-up quick, which matters for a process splunkd starts every interval.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means a provider is already installed, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More than the cap: not a response this add-on expects.
    #[error("the response is larger than {0} bytes")]
    TooLarge(u64),
    /// The connection failed or timed out while reading.
    #[error("reading the response failed: {0}")]
    Read(#[from] std::io::Error),
}

/// Reads a whole body, refusing one larger than `limit` bytes (a misbehaving server or proxy
/// must not make the input grow without bound).
pub fn read_body(body: impl Read, limit: u64) -> Result<Vec<u8>, BodyError> {
    let mut bytes = Vec::new();
    body.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(BodyError::TooLarge(limit));
    }
    Ok(bytes)
}

/// The start of a body for an error message: enough to recognise it, never a flood.
pub fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX * 4)]);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// Why a server's certificate was refused, in terms an administrator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateProblem {
    /// Not signed by a trusted certificate authority (a self-signed certificate included).
    UnknownIssuer,
    /// Signed in the name of a trusted certificate authority, but not with its key: another CA
    /// of the same name (every Splunk installation has its own `SplunkCommonCA`).
    IssuerKeyMismatch,
    /// Issued for other names than the one called.
    WrongName {
        /// The host name called (empty when unknown).
        expected: String,
        /// The names the certificate holds, e.g. `saas-api.incodesmile.com`, `10.0.0.1`.
        presented: Vec<String>,
    },
    /// Past its end of validity.
    Expired {
        /// Its last valid instant, `YYYY-MM-DD HH:MM:SS UTC`, when known.
        not_after: Option<String>,
    },
    /// Before its start of validity.
    NotYetValid {
        /// Its first valid instant, `YYYY-MM-DD HH:MM:SS UTC`, when known.
        not_before: Option<String>,
    },
    /// Revoked by its issuer.
    Revoked,
    /// Anything else rustls refuses (bad signature, unsupported algorithm, …), in its words.
    Other(String),
}

impl CertificateProblem {
    /// What is wrong with the certificate, without advice: "it is signed by an unknown issuer",
    /// "it expired on 2020-01-01 00:00:00 UTC", …
    pub fn what(&self) -> String {
        match self {
            CertificateProblem::UnknownIssuer => {
                "it is not signed by a certificate authority this host trusts (unknown issuer)"
                    .into()
            }
            CertificateProblem::IssuerKeyMismatch => {
                "its signature does not verify with the trusted certificate authority of the same \
                 name (another CA by that name signed it)"
                    .into()
            }
            CertificateProblem::WrongName {
                expected,
                presented,
            } => {
                let expected = match expected.as_str() {
                    "" => "the host name called".to_owned(),
                    name => format!("the host name \"{name}\""),
                };
                match presented.as_slice() {
                    [] => format!("it is not valid for {expected}"),
                    names => format!(
                        "it is not valid for {expected} (only for {})",
                        names.join(", ")
                    ),
                }
            }
            CertificateProblem::Expired {
                not_after: Some(at),
            } => format!("it expired on {at}"),
            CertificateProblem::Expired { not_after: None } => "it has expired".into(),
            CertificateProblem::NotYetValid {
                not_before: Some(at),
            } => format!("it is not valid before {at}"),
            CertificateProblem::NotYetValid { not_before: None } => "it is not valid yet".into(),
            CertificateProblem::Revoked => "it has been revoked by its issuer".into(),
            CertificateProblem::Other(words) => format!("it is invalid ({words})"),
        }
    }
}

/// The certificate problem behind a transport error, found among its causes: rustls'
/// `InvalidCertificate`, which the TLS stream wraps in an `io::Error`, itself wrapped in another
/// by the connector. (`io::Error::source` skips the error it wraps, so wrapped errors are
/// followed with `get_ref`.)
pub fn certificate_problem(e: &(dyn Error + 'static)) -> Option<CertificateProblem> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(rustls::Error::InvalidCertificate(problem)) = e.downcast_ref::<rustls::Error>()
        {
            return Some(classify(problem));
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn classify(problem: &CertificateError) -> CertificateProblem {
    let utc = |t: rustls::pki_types::UnixTime| {
        i64::try_from(t.as_secs())
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
    };
    match problem {
        CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
        CertificateError::BadSignature => CertificateProblem::IssuerKeyMismatch,
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => CertificateProblem::WrongName {
            expected: expected.to_str().into_owned(),
            presented: presented.iter().map(|n| plain_name(n)).collect(),
        },
        CertificateError::NotValidForName => CertificateProblem::WrongName {
            expected: String::new(),
            presented: vec![],
        },
        CertificateError::ExpiredContext { not_after, .. } => CertificateProblem::Expired {
            not_after: utc(*not_after),
        },
        CertificateError::Expired => CertificateProblem::Expired { not_after: None },
        CertificateError::NotValidYetContext { not_before, .. } => {
            CertificateProblem::NotYetValid {
                not_before: utc(*not_before),
            }
        }
        CertificateError::NotValidYet => CertificateProblem::NotYetValid { not_before: None },
        CertificateError::Revoked => CertificateProblem::Revoked,
        other => CertificateProblem::Other(other.to_string()),
    }
}

/// `DnsName("a.example")` → `a.example`, `IpAddress(10.0.0.1)` → `10.0.0.1` (webpki's
/// debug forms of a certificate's names).
fn plain_name(name: &str) -> String {
    for (prefix, suffix) in [("DnsName(\"", "\")"), ("IpAddress(", ")")] {
        if let Some(inner) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
        {
            return inner.to_owned();
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_problems_are_found_behind_io_errors() {
        use rustls::pki_types::{ServerName, UnixTime};
        use std::time::Duration;
        // As the connector reports it: io::Error(Other, io::Error(InvalidData, rustls::Error)).
        let wrapped = |problem: CertificateError| {
            std::io::Error::other(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(problem),
            ))
        };
        assert_eq!(
            certificate_problem(&wrapped(CertificateError::UnknownIssuer)),
            Some(CertificateProblem::UnknownIssuer)
        );
        let expired = wrapped(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_577_836_800)),
        });
        assert_eq!(
            certificate_problem(&expired).unwrap().what(),
            "it expired on 2020-01-01 00:00:00 UTC"
        );
        let name = wrapped(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("127.0.0.1").unwrap(),
            presented: vec![
                "DnsName(\"a.example\")".into(),
                "IpAddress(10.0.0.1)".into(),
            ],
        });
        assert_eq!(
            certificate_problem(&name).unwrap().what(),
            "it is not valid for the host name \"127.0.0.1\" (only for a.example, 10.0.0.1)"
        );
        let other = std::io::Error::other("connection refused");
        assert_eq!(certificate_problem(&other), None);
    }

    #[test]
    fn bodies_over_the_limit_are_refused() {
        assert_eq!(read_body(&b"12345"[..], 5).unwrap(), b"12345");
        assert!(matches!(
            read_body(&b"123456"[..], 5),
            Err(BodyError::TooLarge(5))
        ));
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        assert_eq!(excerpt(b"{\n  \"a\": 1\n}"), "{ \"a\": 1 }");
        let long = "x".repeat(1000);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), 201);
    }
}
