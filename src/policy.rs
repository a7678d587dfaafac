//! When an interview whose score could not be fetched is tried again, and when it is given up
//! (contract §2 step 4): one pure function of the job's failures so far, how this fetch ended,
//! the pass's start and the input's interval, so its whole table is tested without a clock.
//!
//! splunkd starts a run every `interval` seconds counted from the start of the previous one, so
//! "the next pass" is `interval` after this pass's start. A retry is due half an interval before
//! the pass it is meant for: a pass that starts a little early (its process started faster than
//! the last) still takes it.

use std::time::Duration;

/// An interview is given up only after this many failures of its own…
pub const GIVE_UP_ATTEMPTS: u32 = 3;
/// …spread over at least this long (scores can lag the webhook, so a 404 is not final at once).
pub const GIVE_UP_AFTER_SECONDS: i64 = 3600;
/// Retries back off in whole intervals up to this.
pub const MAX_BACKOFF_SECONDS: i64 = 3600;

/// A job's failures so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct History {
    /// Failures of the interview's own.
    pub attempts: u32,
    /// The start of the pass of the first of them (epoch seconds).
    pub first_failure_at: Option<i64>,
}

/// How one fetch ended, as far as the policy is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The score event was written.
    Enriched,
    /// The interview's own failure: Incode answered about it with an error (404, 400, a body
    /// that is not a score), or it kept failing while Incode answered the pass's other requests.
    /// `not_before`: when Incode asked to be asked again (`Retry-After`), epoch seconds.
    Failed {
        /// Not due before this.
        not_before: Option<i64>,
    },
    /// Incode was unavailable to the whole pass (every score request failed with 5xx, timeouts
    /// or connection errors): not the interview's failure, so it counts no attempt.
    Outage {
        /// Not due before this.
        not_before: Option<i64>,
    },
    /// Incode throttled this input (429) until then: not the interview's failure either.
    Throttled {
        /// Not due before this.
        until: Option<i64>,
    },
}

/// What becomes of the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Enriched: nothing more to do.
    Done,
    /// Tried again by the first pass that starts at or after `at` (epoch seconds).
    Retry {
        /// When it is due.
        at: i64,
        /// Its failures from now on.
        history: History,
    },
    /// Given up: an error event says so.
    GiveUp {
        /// Its failures, the last one included.
        history: History,
    },
}

/// The decision for a job with `history` whose fetch ended in `outcome` during the pass that
/// started at `pass_start` (epoch seconds), for an input run every `interval`.
pub fn decide(history: History, outcome: Outcome, pass_start: i64, interval: Duration) -> Decision {
    let interval = i64::try_from(interval.as_secs())
        .unwrap_or(i64::MAX)
        .clamp(1, MAX_BACKOFF_SECONDS);
    // Due half an interval before the pass `passes` from now.
    let after = |passes: i64| {
        pass_start
            .saturating_add(passes.saturating_mul(interval))
            .saturating_sub(interval / 2)
    };
    let not_earlier = |at: i64, bound: Option<i64>| bound.map_or(at, |b| at.max(b));
    match outcome {
        Outcome::Enriched => Decision::Done,
        Outcome::Outage { not_before } => Decision::Retry {
            at: not_earlier(after(1), not_before),
            history,
        },
        Outcome::Throttled { until } => Decision::Retry {
            at: not_earlier(after(1), until),
            history,
        },
        Outcome::Failed { not_before } => {
            let history = History {
                attempts: history.attempts.saturating_add(1),
                first_failure_at: Some(history.first_failure_at.unwrap_or(pass_start)),
            };
            let failing_for =
                pass_start.saturating_sub(history.first_failure_at.unwrap_or(pass_start));
            if history.attempts >= GIVE_UP_ATTEMPTS && failing_for >= GIVE_UP_AFTER_SECONDS {
                return Decision::GiveUp { history };
            }
            // 1, 2, 4, … intervals, at most an hour's worth (and at least one interval).
            let most = (MAX_BACKOFF_SECONDS / interval).max(1);
            let passes = 1i64
                .checked_shl(history.attempts.saturating_sub(1).min(62))
                .unwrap_or(most)
                .min(most);
            Decision::Retry {
                at: not_earlier(after(passes), not_before),
                history,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    fn history(attempts: u32, first_failure_at: Option<i64>) -> History {
        History {
            attempts,
            first_failure_at,
        }
    }

    fn failed() -> Outcome {
        Outcome::Failed { not_before: None }
    }

    #[test]
    fn the_table() {
        let start = 1_000_000;
        let none = History::default();
        for (history, outcome, expected) in [
            (none, Outcome::Enriched, Decision::Done),
            (
                history(2, Some(start - 600)),
                Outcome::Enriched,
                Decision::Done,
            ),
            // The first failure: the next pass (300 s later) takes it.
            (
                none,
                failed(),
                Decision::Retry {
                    at: start + 150,
                    history: history(1, Some(start)),
                },
            ),
            // Later ones back off in whole intervals: 2, 4, 8, then 12 (an hour).
            (
                history(1, Some(start - 300)),
                failed(),
                Decision::Retry {
                    at: start + 2 * 300 - 150,
                    history: history(2, Some(start - 300)),
                },
            ),
            (
                history(2, Some(start - 900)),
                failed(),
                Decision::Retry {
                    at: start + 4 * 300 - 150,
                    history: history(3, Some(start - 900)),
                },
            ),
            (
                history(9, Some(start - 1800)),
                failed(),
                Decision::Retry {
                    at: start + 12 * 300 - 150,
                    history: history(10, Some(start - 1800)),
                },
            ),
            // Given up: a third failure, an hour after the first.
            (
                history(2, Some(start - 3600)),
                failed(),
                Decision::GiveUp {
                    history: history(3, Some(start - 3600)),
                },
            ),
            // Not yet: an hour, but only the second failure.
            (
                history(1, Some(start - 7200)),
                failed(),
                Decision::Retry {
                    at: start + 2 * 300 - 150,
                    history: history(2, Some(start - 7200)),
                },
            ),
            // Retry-After beyond the backoff is honoured.
            (
                none,
                Outcome::Failed {
                    not_before: Some(start + 1000),
                },
                Decision::Retry {
                    at: start + 1000,
                    history: history(1, Some(start)),
                },
            ),
            // An outage counts nothing and comes back at the next pass.
            (
                history(2, Some(start - 3500)),
                Outcome::Outage { not_before: None },
                Decision::Retry {
                    at: start + 150,
                    history: history(2, Some(start - 3500)),
                },
            ),
            (
                none,
                Outcome::Outage {
                    not_before: Some(start + 900),
                },
                Decision::Retry {
                    at: start + 900,
                    history: none,
                },
            ),
            // Throttling counts nothing and waits as long as asked.
            (
                history(1, Some(start - 300)),
                Outcome::Throttled {
                    until: Some(start + 3600),
                },
                Decision::Retry {
                    at: start + 3600,
                    history: history(1, Some(start - 300)),
                },
            ),
            (
                none,
                Outcome::Throttled { until: None },
                Decision::Retry {
                    at: start + 150,
                    history: none,
                },
            ),
        ] {
            assert_eq!(
                decide(history, outcome, start, FIVE_MINUTES),
                expected,
                "{history:?} {outcome:?}"
            );
        }
    }

    /// Runs passes `interval` apart from `start` for `hours`, the outcome of each chosen by
    /// `outcome(pass start)`, taking the job whenever it is due; returns the pass starts at which
    /// it was tried and what became of it.
    fn passes(
        interval: Duration,
        hours: i64,
        mut outcome: impl FnMut(i64) -> Outcome,
    ) -> (Vec<i64>, Decision) {
        let start = 1_700_000_000;
        let step = interval.as_secs() as i64;
        let (mut history, mut due, mut tried) = (History::default(), start, Vec::new());
        let mut last = Decision::Retry { at: due, history };
        for pass in (0..)
            .map(|i| start + i * step)
            .take_while(|&p| p < start + hours * 3600)
        {
            if pass < due {
                continue;
            }
            tried.push(pass - start);
            last = decide(history, outcome(pass), pass, interval);
            match last {
                Decision::Retry { at, history: h } => (due, history) = (at, h),
                Decision::Done | Decision::GiveUp { .. } => break,
            }
        }
        (tried, last)
    }

    #[test]
    fn a_persistent_failure_is_retried_at_whole_intervals_and_given_up_after_an_hour() {
        let (tried, last) = passes(FIVE_MINUTES, 3, |_| failed());
        assert_eq!(tried, [0, 300, 900, 2100, 4500]);
        assert!(matches!(last, Decision::GiveUp { history } if history.attempts == 5));
        // A minute's interval: 1, 2, 4, … 32, then an hour's worth.
        let (tried, last) = passes(Duration::from_secs(60), 3, |_| failed());
        assert_eq!(tried, [0, 60, 180, 420, 900, 1860, 3780]);
        assert!(matches!(last, Decision::GiveUp { .. }));
        // An interval longer than an hour: every pass, given up at the third.
        let (tried, _) = passes(Duration::from_secs(7200), 12, |_| failed());
        assert_eq!(tried, [0, 7200, 14400]);
    }

    #[test]
    fn an_outage_of_three_hours_gives_up_nothing() {
        let outage_ends = 1_700_000_000 + 3 * 3600;
        let (tried, last) = passes(FIVE_MINUTES, 4, |pass| {
            if pass < outage_ends {
                Outcome::Outage { not_before: None }
            } else {
                Outcome::Enriched
            }
        });
        assert_eq!(tried.len(), 3 * 12 + 1, "every pass: {tried:?}");
        assert_eq!(last, Decision::Done);
    }

    #[test]
    fn far_off_times_saturate() {
        let d = decide(
            history(u32::MAX, Some(i64::MIN)),
            failed(),
            i64::MAX,
            Duration::MAX,
        );
        assert!(matches!(d, Decision::GiveUp { .. }), "{d:?}");
        let d = decide(
            History::default(),
            Outcome::Throttled {
                until: Some(i64::MAX),
            },
            i64::MAX - 1,
            Duration::MAX,
        );
        assert!(matches!(d, Decision::Retry { at: i64::MAX, .. }), "{d:?}");
    }
}
