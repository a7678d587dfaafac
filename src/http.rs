//! What the splunkd and Incode clients share: the TLS provider, the User-Agent, and reading a
//! response body with a size cap.

use std::io::Read;
use std::sync::Once;

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

#[cfg(test)]
mod tests {
    use super::*;

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
