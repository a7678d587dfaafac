//! Contract §2 steps 3–6 for the jobs due in one pass: score requests with at most
//! `max_concurrency` in flight on one event loop, each result written as it arrives, job states
//! committed in batches after their events are flushed, and what failed handed to the retry
//! [`policy`](crate::policy).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use log::{debug, info};

use crate::checkpoint::{Checkpoint, Job};
use crate::config::InputConfig;
use crate::error::Error;
use crate::incode::{ErrorClass, Incode, IncodeError, Response};
use crate::modinput::{Event, EventTime, EventWriter};
use crate::policy::{self, Decision, Outcome};
use crate::score::{self, Trigger};

/// After a stop request, requests in flight get this long to finish before they are dropped
/// (their interviews stay pending), so the process ends within contract §2's 5 seconds.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// What the enrichment did, for the pass's summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Score events written.
    pub enriched: u64,
    /// Jobs that failed this pass and wait for a later one.
    pub deferred: u64,
    /// Jobs given up (an error event was written).
    pub given_up: u64,
}

/// The enrichment of one pass.
pub struct Enrichment<'a, W: Write> {
    config: &'a InputConfig,
    checkpoint: &'a Checkpoint,
    events: &'a mut EventWriter<W>,
    stanza: String,
    /// The pass's start (epoch seconds): retry times count from it.
    pass_start: i64,
    /// splunkd's interval for the retry policy; a cron schedule counts as 5 minutes.
    interval: Duration,
    /// What happened so far.
    pub counts: Counts,
}

/// Requests that failed with Incode unavailable (5xx, timeouts, connection errors) after their
/// retries: whether each counts against its interview is known only at the end of the pass.
#[derive(Default)]
struct Unavailable<'j> {
    failed: Vec<(&'j Job, IncodeError)>,
    /// Whether Incode answered any score request of the pass about its interview.
    answered: bool,
    /// Such failures since Incode last answered.
    in_a_row: usize,
}

impl<'a, W: Write> Enrichment<'a, W> {
    /// An enrichment writing `incode://<name>` events to `events`.
    pub fn new(
        config: &'a InputConfig,
        checkpoint: &'a Checkpoint,
        events: &'a mut EventWriter<W>,
        pass_start: i64,
    ) -> Self {
        Enrichment {
            config,
            checkpoint,
            events,
            stanza: format!("{}://{}", crate::config::SCHEME, config.name),
            pass_start,
            interval: config.interval.unwrap_or(Duration::from_secs(300)),
            counts: Counts::default(),
        }
    }

    /// Fetches `jobs`: at most `max_concurrency` requests in flight, all on this thread's event
    /// loop; each result is written when it arrives (a request stuck in retries holds back no
    /// other), its event flushed before its job is committed. No new request starts after
    /// `until`, on a stop request, after a fatal error, or once Incode has failed as many
    /// requests in a row as run at once; what is in flight is still written, but after a stop
    /// request only for STOP_GRACE.
    pub async fn run(
        &mut self,
        incode: &Incode,
        jobs: &[Job],
        until: Instant,
        stop: &Arc<AtomicBool>,
    ) -> Result<(), Error> {
        let concurrency = self.config.max_concurrency;
        let mut in_flight = FuturesUnordered::new();
        let mut sent = 0;
        let mut outcome = Ok(());
        let mut give_up_at: Option<tokio::time::Instant> = None;
        let (mut budget_reached, mut gave_in) = (false, false);
        let mut unavailable = Unavailable::default();
        // Job states are committed in batches of at most `concurrency` written events: a kill
        // then repeats no more events than run at once, and the pass does not pay for one
        // SQLite transaction per event.
        let mut uncommitted = 0;
        self.checkpoint.begin()?;
        loop {
            let stopped = stop.load(Ordering::Relaxed);
            if (stopped || outcome.is_err()) && give_up_at.is_none() {
                give_up_at = Some(tokio::time::Instant::now() + STOP_GRACE);
            }
            if !budget_reached && Instant::now() >= until && sent < jobs.len() {
                budget_reached = true;
                info!(
                    "event=pass_budget_reached {sent} of {} interviews were sent; the rest wait \
                     for the next pass",
                    jobs.len()
                );
            }
            if !gave_in && unavailable.in_a_row >= concurrency.max(2) && sent < jobs.len() {
                gave_in = true;
                info!(
                    "event=incode_unavailable {} score requests in a row failed after their \
                     retries; the {} interviews not sent wait for the next pass",
                    unavailable.in_a_row,
                    jobs.len() - sent
                );
            }
            let stopping = outcome.is_err()
                || stopped
                || budget_reached
                || gave_in
                || incode.throttled_beyond_pass();
            while !stopping && sent < jobs.len() && in_flight.len() < concurrency {
                let job = &jobs[sent];
                in_flight.push(async move { (job, incode.score(&job.trigger.interview_id).await) });
                sent += 1;
            }
            if in_flight.is_empty() {
                break;
            }
            // Wake up now and then to see a stop request even while every request is slow.
            let tick = give_up_at
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_millis(100));
            let next = tokio::select! {
                next = in_flight.next() => next,
                () = tokio::time::sleep_until(tick) => {
                    if give_up_at.is_some_and(|at| tokio::time::Instant::now() >= at) {
                        // Dropped unanswered: these interviews stay pending.
                        break;
                    }
                    continue;
                }
            };
            let Some((job, result)) = next else { break };
            if outcome.is_err() {
                continue;
            }
            outcome = match self.record(job, result, &mut unavailable) {
                Ok(true) => {
                    uncommitted += 1;
                    if uncommitted >= concurrency {
                        uncommitted = 0;
                        self.checkpoint
                            .commit()
                            .and_then(|()| self.checkpoint.begin())
                            .map_err(Error::from)
                    } else {
                        Ok(())
                    }
                }
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if outcome.is_err() {
                // Cut any backoff short: nothing more will be written.
                incode.cancel();
            }
        }
        if outcome.is_ok() {
            outcome = self.settle(unavailable);
        }
        // What was written is committed even when the pass stops on an error.
        let committed = self.checkpoint.commit();
        outcome.and(committed.map_err(Error::from))
    }

    /// Writes what one result calls for and records it; true when an event was written.
    fn record<'j>(
        &mut self,
        job: &'j Job,
        result: Result<Response, IncodeError>,
        unavailable: &mut Unavailable<'j>,
    ) -> Result<bool, Error> {
        let error = match result.and_then(|response| {
            let score = response.json()?;
            let data = score::score_event(&job.trigger, &response.text, &score, &timestamp());
            Ok(data)
        }) {
            Ok(data) => {
                unavailable.answered = true;
                unavailable.in_a_row = 0;
                self.write(&job.trigger, &data)?;
                self.checkpoint.mark_done(&job.trigger, epoch_seconds())?;
                self.counts.enriched += 1;
                return Ok(true);
            }
            Err(e) => e,
        };
        let now = epoch_seconds();
        let after = |wait: Option<Duration>| wait.map(|w| now.saturating_add(seconds(w)));
        match error.class() {
            ErrorClass::Stopped => Ok(false),
            ErrorClass::Fatal => Err(error.into()),
            ErrorClass::Transient => {
                unavailable.in_a_row += 1;
                unavailable.failed.push((job, error));
                Ok(false)
            }
            ErrorClass::Throttled => {
                let until = after(error.retry_after());
                self.decide(job, Outcome::Throttled { until }, &error, true)
            }
            ErrorClass::Interview => {
                unavailable.answered = true;
                unavailable.in_a_row = 0;
                let not_before = after(error.retry_after());
                self.decide(job, Outcome::Failed { not_before }, &error, true)
            }
        }
    }

    /// The requests that failed with Incode unavailable: each counts against its interview
    /// when Incode answered other requests of the pass, and not at all when it answered none
    /// (an outage says nothing about the interviews).
    /// An outage ends the pass with an error, once the jobs are recorded.
    fn settle(&mut self, unavailable: Unavailable<'_>) -> Result<(), Error> {
        let outage = !unavailable.answered;
        let sessions = unavailable.failed.len();
        let last = unavailable.failed.last().map(|(_, e)| e.to_string());
        let now = epoch_seconds();
        for (job, error) in unavailable.failed {
            let not_before = error.retry_after().map(|w| now.saturating_add(seconds(w)));
            let outcome = match outage {
                true => Outcome::Outage { not_before },
                false => Outcome::Failed { not_before },
            };
            self.decide(job, outcome, &error, !outage)?;
        }
        match last {
            Some(last) if outage => Err(IncodeError::Unavailable { sessions, last }.into()),
            _ => Ok(()),
        }
    }

    /// Applies the retry policy to a failed job; true when an error event was written (the job
    /// was given up). `warn` logs the failure as a WARN line (else DEBUG).
    fn decide(
        &mut self,
        job: &Job,
        outcome: Outcome,
        error: &IncodeError,
        warn: bool,
    ) -> Result<bool, Error> {
        let trigger = &job.trigger;
        let now = epoch_seconds();
        let status = error.status().map_or("none".to_owned(), |s| s.to_string());
        match policy::decide(job.history, outcome, self.pass_start, self.interval) {
            // Only an enrichment is done, and it is recorded where its event is written; should
            // the policy ever call a failure done, it is recorded the same way.
            Decision::Done => {
                self.checkpoint.mark_done(trigger, now)?;
                Ok(false)
            }
            Decision::Retry { at, history } => {
                self.checkpoint
                    .retry(job, history, &error.to_string(), at, now)?;
                self.counts.deferred += 1;
                let line = format!(
                    "event=incode_error interviewId={} trigger={} status={status} attempts={} \
                     next_attempt_in_s={} error=\"{}\"",
                    trigger.interview_id,
                    trigger.status,
                    history.attempts,
                    at.saturating_sub(now).max(0),
                    quoted(error)
                );
                match warn {
                    true => log::warn!("{line}"),
                    false => debug!("{line}"),
                }
                Ok(false)
            }
            Decision::GiveUp { history } => {
                let first = history.first_failure_at.unwrap_or(self.pass_start);
                let why = format!(
                    "gave up after {} failed attempts over {} minutes; last error: {error}",
                    history.attempts,
                    self.pass_start.saturating_sub(first) / 60
                );
                self.write(trigger, &score::error_event(trigger, &why, &timestamp()))?;
                self.checkpoint.mark_given_up(trigger, &why, now)?;
                self.counts.given_up += 1;
                log::warn!(
                    "event=enrichment_given_up interviewId={} trigger={} status={status} {why}",
                    trigger.interview_id,
                    trigger.status
                );
                Ok(true)
            }
        }
    }

    fn write(&mut self, trigger: &Trigger, data: &str) -> Result<(), Error> {
        self.events
            .write_event(&Event {
                stanza: &self.stanza,
                time: Some(EventTime(trigger.time_ms)),
                sourcetype: Some("incode:score"),
                index: self.config.index.as_deref(),
                data,
                ..Event::default()
            })
            .map_err(Error::WriteStdout)
    }
}

/// An error for a `key="…"` log field.
fn quoted(error: &IncodeError) -> String {
    error.to_string().replace('"', "'")
}

/// Whole seconds of a wait, as epoch arithmetic needs them (saturating).
fn seconds(wait: Duration) -> i64 {
    i64::try_from(wait.as_secs()).unwrap_or(i64::MAX)
}

/// Now, in epoch seconds.
pub fn epoch_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, seconds)
}

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
