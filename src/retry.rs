//! How long to wait before trying an Incode request again within a pass. (When a later pass
//! tries an interview again is [`crate::policy`]'s.)

use std::time::{Duration, SystemTime};

/// Exponential backoff with jitter for the retries inside one pass.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The wait before the first retry, before jitter.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
    /// Attempts per request in one pass, the first included.
    pub attempts: u32,
}

impl Backoff {
    /// The policy of score requests: 4 attempts, waits of about 1, 2 and 4 seconds.
    pub const SCORE: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(30),
        attempts: 4,
    };

    /// The wait before retry number `retry` (0 for the first retry): `base · 2^retry`, capped at
    /// `max`, half of it fixed and half random, so that workers throttled together do not come
    /// back together.
    pub fn delay(&self, retry: u32) -> Duration {
        let full = self
            .base
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max);
        let half = full / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// The longest wait a `Retry-After` can impose (contract §2 step 4): a larger value, or one
/// that would overflow the clock (`18446744073709551615`), is read as an hour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Reads a `Retry-After` header: delay-seconds or an HTTP date; a date in the past means now,
/// and any wait is at most [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
        // Digits beyond u64 are still a (huge) number of seconds.
        value
            .parse::<u64>()
            .map_or(MAX_RETRY_AFTER, Duration::from_secs)
    } else {
        let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let at = SystemTime::from(date.with_timezone(&chrono::Utc));
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_with_jitter_and_a_cap() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
            attempts: 5,
        };
        for _ in 0..100 {
            let d0 = b.delay(0);
            assert!(d0 >= Duration::from_millis(500) && d0 <= Duration::from_secs(1));
            let d2 = b.delay(2);
            assert!(d2 >= Duration::from_secs(2) && d2 <= Duration::from_secs(4));
            let d9 = b.delay(9);
            assert!(d9 >= Duration::from_secs(5) && d9 <= Duration::from_secs(10));
            assert!(b.delay(40) <= Duration::from_secs(10));
        }
        let samples: std::collections::HashSet<_> = (0..20).map(|_| b.delay(3)).collect();
        assert!(samples.len() > 1, "jitter");
    }

    #[test]
    fn retry_after_as_seconds_or_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_400); // 2015-10-21 07:26:40 UTC
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(80))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn retry_after_is_at_most_an_hour() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_400);
        for huge in [
            "3601",
            "18446744073709551615",
            "99999999999999999999999",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(
                parse_retry_after(huge, now),
                Some(MAX_RETRY_AFTER),
                "{huge}"
            );
        }
        assert_eq!(
            parse_retry_after("3600", now),
            Some(Duration::from_secs(3600))
        );
    }
}
