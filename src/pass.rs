//! One enrichment pass (contract §2 "A pass"): secrets, discovery, enrichment with bounded
//! concurrency, events, checkpoint, summary.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use log::{debug, info, warn};
use serde_json::{Map, Value};

use crate::checkpoint::{Checkpoint, CheckpointError, Job};
use crate::config::{InputConfig, SCHEME};
use crate::error::Error;
use crate::incode::{self, Incode, IncodeError, Response};
use crate::modinput::{Event, EventTime, EventWriter, Metadata};
use crate::retry::{Backoff, next_pass_delay};
use crate::score::{self, TRIGGERS, Trigger};
use crate::secrets;
use crate::splunkd::{self, IndexWindow, Splunkd};

/// Discovery searches again this far behind the last high-water mark: events become searchable
/// some time after their index time, and a window that started exactly at the mark would miss
/// them. Jobs already known are not fetched twice.
const OVERLAP_SECONDS: i64 = 600;

/// How far `_time` may lie before the index-time window: Incode retries a webhook for about
/// half an hour and session events keep their own timestamp, so late events carry old times.
const LATE_EVENT_SECONDS: i64 = 7 * 24 * 3600;

/// Interviews handled in one pass at most; the rest wait for the next pass, so one pass stays
/// within the input's interval.
const MAX_JOBS_PER_PASS: usize = 5_000;

/// New requests start only during this share of the input's interval (or during
/// DEFAULT_BUDGET when the interval is not a number of seconds), so that a pass ends before the
/// next is due; what is left waits for the next pass.
const DEFAULT_BUDGET: Duration = Duration::from_secs(240);
const MIN_BUDGET: Duration = Duration::from_secs(5);

/// After a stop request, requests in flight get this long to finish before they are dropped
/// (their interviews stay pending), so the process ends within contract §2's 5 seconds.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A job is given up only after this many failed passes spread over at least an hour (scores can
/// lag the webhook, so a 404 is not final at once).
const GIVE_UP_ATTEMPTS: u32 = 3;
const GIVE_UP_AFTER_SECONDS: i64 = 3600;

/// Finished jobs are forgotten after this long: far longer than the overlap, so a webhook seen
/// again in an overlapping window is still recognised.
const RETENTION_SECONDS: i64 = 30 * 24 * 3600;

/// What a pass did, for its summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// New (interview, trigger) jobs discovered.
    pub found: u64,
    /// Score events written.
    pub enriched: u64,
    /// Requests retried within the pass.
    pub retried: u64,
    /// 429 answers from Incode.
    pub throttled: u64,
    /// Jobs that failed this pass and wait for a later one.
    pub deferred: u64,
    /// Jobs given up (an error event was written).
    pub given_up: u64,
    /// Jobs still pending after the pass.
    pub backlog: u64,
}

/// Runs one pass for one input.
pub fn run(
    config: &InputConfig,
    metadata: &Metadata,
    events: &mut EventWriter<impl Write>,
    stop: &Arc<AtomicBool>,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut checkpoint = match Checkpoint::open(&metadata.checkpoint_dir, &config.name) {
        Err(CheckpointError::Busy(lock)) => {
            warn!(
                "event=pass_skipped a previous run of this input is still going (lock {}); this \
                 run does nothing. If it happens every time, raise the input's interval",
                lock.display()
            );
            return Ok(());
        }
        other => other?,
    };
    let now = epoch_seconds();
    let (credentials, found) = {
        // splunkd is needed for steps 1 and 2 only; dropping its client ends the thread it runs
        // on, which leaves the enrichment a single-threaded process.
        let splunkd = Splunkd::new(
            &metadata.server_uri,
            &metadata.session_key,
            splunkd::splunk_home().as_deref(),
        )?;
        let credentials = secrets::resolve(&splunkd, config)?;
        (
            credentials,
            discover(&splunkd, &mut checkpoint, config, now, stop)?,
        )
    };
    let mut summary = Summary {
        found,
        ..Summary::default()
    };
    let jobs = checkpoint.due_jobs(now, MAX_JOBS_PER_PASS)?;
    let mut outcome = Ok(());
    let throttled_until = checkpoint.throttled_until()?.filter(|&until| until > now);
    if let Some(until) = throttled_until {
        info!(
            "event=incode_throttled Incode asked this input to wait {} s more (429 Retry-After); \
             the {} sessions due wait too",
            until - now,
            jobs.len()
        );
    } else if !jobs.is_empty() && !stop.load(Ordering::Relaxed) {
        let incode = Incode::new(config, credentials, Backoff::SCORE, stop.clone())?;
        let mut pass = Enrichment {
            config,
            checkpoint: &checkpoint,
            events,
            summary: &mut summary,
            stanza: format!("{SCHEME}://{}", config.name),
        };
        let budget = config
            .interval
            .map_or(DEFAULT_BUDGET, |i| i.mul_f64(0.8).max(MIN_BUDGET));
        outcome = incode::runtime()?.block_on(async {
            match incode.login().await {
                // Stopped while signing in: a normal end, not an error.
                Err(IncodeError::Stopped) => return Ok(()),
                other => other?,
            }
            pass.run(&incode, &jobs, started + budget, stop).await
        });
        if incode.throttled_beyond_pass() {
            checkpoint.set_throttled_until(epoch_seconds() + incode.pause().as_secs() as i64)?;
        }
        summary.retried = incode.stats.retries.load(Ordering::Relaxed);
        summary.throttled = incode.stats.throttled.load(Ordering::Relaxed);
    }
    // Housekeeping must not hide the pass's own error, which comes first.
    match checkpoint
        .prune(now - RETENTION_SECONDS)
        .and_then(|_| checkpoint.pending())
    {
        Ok(backlog) => summary.backlog = backlog,
        Err(e) if outcome.is_ok() => outcome = Err(e.into()),
        Err(_) => {}
    }
    info!(
        "event=pass_finished found={} enriched={} retried={} throttled={} deferred={} given_up={} \
         backlog={} duration_ms={}{}",
        summary.found,
        summary.enriched,
        summary.retried,
        summary.throttled,
        summary.deferred,
        summary.given_up,
        summary.backlog,
        started.elapsed().as_millis(),
        if stop.load(Ordering::Relaxed) {
            " stopped=true"
        } else {
            ""
        },
    );
    outcome
}

/// Step 2: finds the triggering webhook events indexed since the last pass and records them as
/// jobs; returns how many were new.
///
/// The high-water mark moves only when the search succeeded, and only up to the latest index
/// time among its results: splunkd answers some failed searches with an empty 200, which must not
/// move the window past events it never returned. A quiet period makes the next window longer,
/// never shorter.
fn discover(
    splunkd: &Splunkd,
    checkpoint: &mut Checkpoint,
    config: &InputConfig,
    now: i64,
    stop: &AtomicBool,
) -> Result<u64, Error> {
    let earliest = match checkpoint.high_water_mark()? {
        Some(mark) => mark - OVERLAP_SECONDS,
        None => now - i64::from(config.backfill_hours) * 3600,
    };
    let window = IndexWindow {
        earliest,
        latest: now,
        earliest_time: earliest - LATE_EVENT_SECONDS,
    };
    let mut discovery = checkpoint.discovery()?;
    let mut failure = None;
    let (mut skipped, mut stopped) = (0u64, false);
    let mut latest_index_time: Option<i64> = None;
    let summary = splunkd.export(&search(window), window, |row| {
        if stop.load(Ordering::Relaxed) {
            stopped = true;
            return false;
        }
        if let Some(it) = text(row, "it").and_then(|it| it.parse::<f64>().ok()) {
            latest_index_time = latest_index_time.max(Some(it as i64));
        }
        match trigger(row) {
            Some(t) => failure = discovery.add(&t, now).err(),
            None => skipped += 1,
        }
        failure.is_none()
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    if stopped {
        // Not committed: the next pass searches the same window again.
        return Ok(0);
    }
    let mark = latest_index_time.map(|it| it.min(now));
    let found = discovery.finish(mark)?;
    debug!(
        "event=discovery index_earliest={} index_latest={} rows={} skipped={skipped} new={found} \
         high_water_mark={}",
        window.earliest,
        window.latest,
        summary.rows,
        mark.map_or("unchanged".into(), |m| m.to_string())
    );
    Ok(found)
}

/// The SPL of discovery: the webhook events themselves, reduced to the fields a job needs. The
/// index-time bounds are repeated inside the search in case export ignores its parameters.
fn search(window: IndexWindow) -> String {
    let statuses = TRIGGERS.map(|s| format!("\"{s}\"")).join(", ");
    format!(
        "search `incode_index` sourcetype IN (\"incode:onboarding\", \"incode:session\", \
         \"incode:webhook\") onboardingStatus IN ({statuses}) _index_earliest={} \
         _index_latest={} | eval t=_time, it=_indextime | table interviewId onboardingStatus \
         clientId flowId externalCustomerId externalId t it",
        window.earliest, window.latest
    )
}

/// A field of a result row: splunkd sends each as a string, or an array when it has several
/// values (the first is taken).
fn text(row: &Map<String, Value>, name: &str) -> Option<String> {
    match row.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(values) => values.first()?.as_str().map(str::to_owned),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

/// A result row as a trigger; rows without an interview id or with another status are skipped.
fn trigger(row: &Map<String, Value>) -> Option<Trigger> {
    let field = |name: &str| text(row, name);
    let status = field("onboardingStatus").filter(|s| TRIGGERS.contains(&s.as_str()))?;
    let time_ms = field("t")
        .and_then(|t| t.parse::<f64>().ok())
        .map(|t| (t * 1000.0).round() as i64)?;
    Some(Trigger {
        interview_id: field("interviewId")?,
        status,
        time_ms,
        client_id: field("clientId"),
        flow_id: field("flowId"),
        external_customer_id: field("externalCustomerId").or_else(|| field("externalId")),
    })
}

/// Steps 3–6 for the jobs due in this pass.
struct Enrichment<'a, W: Write> {
    config: &'a InputConfig,
    checkpoint: &'a Checkpoint,
    events: &'a mut EventWriter<W>,
    summary: &'a mut Summary,
    stanza: String,
}

impl<W: Write> Enrichment<'_, W> {
    /// At most `max_concurrency` requests in flight, all on this thread's event loop; results
    /// are written in job order (so the output does not depend on timing), each event flushed
    /// before its job is committed. No new request starts after `until`, on a stop request or
    /// after a fatal error; what is in flight is still written, but after a stop request only
    /// for STOP_GRACE.
    async fn run(
        &mut self,
        incode: &Incode,
        jobs: &[Job],
        until: Instant,
        stop: &Arc<AtomicBool>,
    ) -> Result<(), Error> {
        let concurrency = self.config.max_concurrency;
        // How far sending may run ahead of writing: enough to keep every slot busy while one
        // request is slow, bounded so the results held back stay few.
        let window = concurrency * 4;
        let mut in_flight = FuturesUnordered::new();
        let (mut sent, mut written) = (0, 0);
        let mut ready = BTreeMap::new();
        let mut outcome = Ok(());
        let mut give_up_at: Option<tokio::time::Instant> = None;
        let mut budget_reached = false;
        // Job states are committed in batches of at most `concurrency` written events: a kill
        // then repeats no more events than were in flight, and the pass does not pay for one
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
                    "event=pass_budget_reached {} of {} interviews were sent; the rest wait for \
                     the next pass",
                    sent,
                    jobs.len()
                );
            }
            let stopping = outcome.is_err()
                || stopped
                || Instant::now() >= until
                || incode.throttled_beyond_pass();
            while !stopping
                && sent < jobs.len()
                && in_flight.len() < concurrency
                && sent < written + window
            {
                let (seq, job) = (sent, &jobs[sent]);
                in_flight.push(async move { (seq, incode.score(&job.trigger.interview_id).await) });
                sent += 1;
            }
            if in_flight.is_empty() {
                break;
            }
            // Wake up now and then to see a stop request even while every request is slow.
            let tick = match give_up_at {
                Some(at) => at,
                None => tokio::time::Instant::now() + Duration::from_millis(100),
            };
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
            let Some((seq, result)) = next else { break };
            ready.insert(seq, result);
            while let Some(result) = ready.remove(&written) {
                if outcome.is_ok() {
                    outcome = self.record(&jobs[written], result);
                    uncommitted += 1;
                    if outcome.is_ok() && uncommitted == concurrency {
                        outcome = self
                            .checkpoint
                            .commit()
                            .and_then(|()| self.checkpoint.begin())
                            .map_err(Error::from);
                        uncommitted = 0;
                    }
                    if outcome.is_err() {
                        // Cut any backoff short: nothing more will be written.
                        incode.cancel();
                    }
                }
                written += 1;
            }
        }
        // What was written is committed even when the pass stops on an error.
        let committed = self.checkpoint.commit();
        outcome.and(committed.map_err(Error::from))
    }

    /// Writes what one job's result calls for and records it in the checkpoint.
    fn record(&mut self, job: &Job, result: Result<Response, IncodeError>) -> Result<(), Error> {
        let trigger = &job.trigger;
        let now = epoch_seconds();
        let error = match result {
            Ok(response) => match response.json() {
                Ok(score) => {
                    let data = score::score_event(trigger, &response.text, &score, &timestamp());
                    self.write(trigger, &data)?;
                    self.checkpoint.mark_done(trigger, now)?;
                    self.summary.enriched += 1;
                    return Ok(());
                }
                Err(e) => e,
            },
            Err(e) => e,
        };
        match error {
            IncodeError::Stopped => {}
            e if e.is_fatal() => return Err(e.into()),
            e if e.status() == Some(429) => {
                // Throttling says nothing about the interview: no attempt is counted.
                let wait = e.retry_after().unwrap_or_else(|| next_pass_delay(1));
                self.checkpoint
                    .defer(job, &e.to_string(), now + wait.as_secs() as i64, now)?;
                self.summary.deferred += 1;
                warn!(
                    "event=incode_error interviewId={} trigger={} status=429 attempts={} \
                     next_attempt_in_s={} error=\"{}\"",
                    trigger.interview_id,
                    trigger.status,
                    job.attempts,
                    wait.as_secs(),
                    e.to_string().replace('"', "'")
                );
            }
            e => {
                let attempts = job.attempts + 1;
                let first_failure = job.first_failure_at.unwrap_or(now);
                let status = e.status().map_or("none".to_owned(), |s| s.to_string());
                if attempts >= GIVE_UP_ATTEMPTS && now - first_failure >= GIVE_UP_AFTER_SECONDS {
                    let why = format!(
                        "gave up after {attempts} failed attempts over {} minutes; last error: {e}",
                        (now - first_failure) / 60
                    );
                    self.write(trigger, &score::error_event(trigger, &why, &timestamp()))?;
                    self.checkpoint.mark_given_up(trigger, &why, now)?;
                    self.summary.given_up += 1;
                    warn!(
                        "event=enrichment_given_up interviewId={} trigger={} status={status} {why}",
                        trigger.interview_id, trigger.status
                    );
                } else {
                    let wait = next_pass_delay(attempts).max(e.retry_after().unwrap_or_default());
                    let next = now + wait.as_secs() as i64;
                    self.checkpoint
                        .mark_failed(job, &e.to_string(), next, now)?;
                    self.summary.deferred += 1;
                    warn!(
                        "event=incode_error interviewId={} trigger={} status={status} attempts={attempts} \
                         next_attempt_in_s={} error=\"{}\"",
                        trigger.interview_id,
                        trigger.status,
                        wait.as_secs(),
                        e.to_string().replace('"', "'")
                    );
                }
            }
        }
        Ok(())
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

fn epoch_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(json: Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    #[test]
    fn rows_become_triggers() {
        let t = trigger(&row(serde_json::json!({
            "interviewId": "abc", "onboardingStatus": "ONBOARDING_FINISHED",
            "clientId": ["acme", "acme"], "externalId": "legacy-7", "t": "1700000000.123"
        })))
        .unwrap();
        assert_eq!(
            t,
            Trigger {
                interview_id: "abc".into(),
                status: "ONBOARDING_FINISHED".into(),
                time_ms: 1_700_000_000_123,
                client_id: Some("acme".into()),
                flow_id: None,
                external_customer_id: Some("legacy-7".into()),
            }
        );
        for bad in [
            serde_json::json!({"onboardingStatus": "ONBOARDING_FINISHED", "t": "1"}),
            serde_json::json!({"interviewId": "", "onboardingStatus": "ONBOARDING_FINISHED", "t": "1"}),
            serde_json::json!({"interviewId": "a", "onboardingStatus": "EXPIRED", "t": "1"}),
            serde_json::json!({"interviewId": "a", "onboardingStatus": "ONBOARDING_FINISHED"}),
        ] {
            assert_eq!(trigger(&row(bad.clone())), None, "{bad}");
        }
    }

    #[test]
    fn the_search_uses_the_macro_and_the_window() {
        let spl = search(IndexWindow {
            earliest: 100,
            latest: 200,
            earliest_time: 0,
        });
        assert!(spl.starts_with("search `incode_index` "));
        assert!(spl.contains("_index_earliest=100 _index_latest=200"));
        assert!(spl.contains("| eval t=_time, it=_indextime | table "));
        assert!(spl.contains(
            "onboardingStatus IN (\"ONBOARDING_FINISHED\", \"MANUAL_REVIEW_APPROVED\", \"MANUAL_REVIEW_REJECTED\")"
        ));
    }
}
