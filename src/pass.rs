//! One pass (contract §2 "A pass"): the lock, secrets, discovery, enrichment, housekeeping and
//! the summary line. A failed discovery does not stop the due backlog from being fetched; it is
//! reported at the end.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{info, warn};

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::config::InputConfig;
use crate::discovery::{self, Limits};
use crate::enrichment::{Counts, Enrichment, epoch_seconds};
use crate::error::{self, Error};
use crate::incode::{self, Incode, IncodeError};
use crate::modinput::{EventWriter, Metadata};
use crate::retry::Backoff;
use crate::secrets;
use crate::splunkd::{self, Splunkd};

/// Interviews handled in one pass at most; the rest wait for the next pass, so one pass stays
/// within the input's interval.
const MAX_JOBS_PER_PASS: usize = 5_000;

/// New requests start only during this share of the input's interval (or during
/// DEFAULT_BUDGET when the interval is not a number of seconds), so that a pass ends before the
/// next is due; what is left waits for the next pass. Discovery may use the first half.
const DEFAULT_BUDGET: Duration = Duration::from_secs(240);
const MIN_BUDGET: Duration = Duration::from_secs(5);

/// One search of discovery may take this long at most (and at least MIN_BUDGET).
const MAX_PART_TIMEOUT: Duration = Duration::from_secs(300);

/// Finished jobs are forgotten after this long, and only once the discovery window (with its
/// overlap) can no longer find their webhooks: a webhook seen again is still recognised.
const RETENTION_SECONDS: i64 = 30 * 24 * 3600;

/// What a pass did, for its summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// New (interview, trigger) jobs discovered.
    pub found: u64,
    /// Score events written, jobs deferred and given up.
    pub counts: Counts,
    /// Requests retried within the pass.
    pub retried: u64,
    /// 429 answers from Incode.
    pub throttled: u64,
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
    let budget = config
        .interval
        .map_or(DEFAULT_BUDGET, |i| i.mul_f64(0.8).max(MIN_BUDGET));
    let (credentials, discovered) = {
        // splunkd is needed for steps 1 and 2 only; dropping its client ends the thread it runs
        // on, which leaves the enrichment a single-threaded process.
        let splunkd = Splunkd::new(
            &metadata.server_uri,
            &metadata.session_key,
            splunkd::splunk_home().as_deref(),
        )?;
        let credentials = secrets::resolve(&splunkd, config)?;
        let limits = Limits {
            backfill: i64::from(config.backfill_hours) * 3600,
            until: started + budget / 2,
            part_timeout: (budget / 2).clamp(MIN_BUDGET, MAX_PART_TIMEOUT),
        };
        let discovered = discovery::discover(&splunkd, &mut checkpoint, now, limits, stop);
        (credentials, discovered)
    };
    let mut summary = Summary {
        found: discovered.found,
        ..Summary::default()
    };
    // The search's failure is reported at the end: the backlog due now is fetched first.
    let search = discovered.outcome;
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
        let mut enrichment = Enrichment::new(config, &checkpoint, events, now);
        outcome = incode::runtime()?.block_on(async {
            match incode.login().await {
                // Stopped while signing in: a normal end, not an error.
                Err(IncodeError::Stopped) => return Ok(()),
                other => other?,
            }
            enrichment.run(&incode, &jobs, started + budget, stop).await
        });
        summary.counts = enrichment.counts;
        if incode.throttled_beyond_pass() {
            let pause = i64::try_from(incode.pause().as_secs()).unwrap_or(i64::MAX);
            checkpoint.set_throttled_until(epoch_seconds().saturating_add(pause))?;
        }
        summary.retried = incode.stats.retries.load(Ordering::Relaxed);
        summary.throttled = incode.stats.throttled.load(Ordering::Relaxed);
    }
    // Housekeeping must not hide the pass's own error, which comes first.
    match housekeeping(&checkpoint, now) {
        Ok(backlog) => summary.backlog = backlog,
        Err(e) if outcome.is_ok() => outcome = Err(e.into()),
        Err(_) => {}
    }
    log_summary(&summary, started, stop, search.is_err());
    match (outcome, search) {
        (Ok(()), search) => search,
        (Err(e), Ok(())) => Err(e),
        // Both failed: the search's error is logged here, the pass's returned.
        (Err(e), Err(search)) => {
            error::report(&search);
            Err(e)
        }
    }
}

/// Forgets old finished jobs and counts the backlog. A job is forgotten only when the next
/// discovery window cannot find its webhook again: the job was last touched at or after the
/// pass that found it, hence after its webhook was indexed, and the window starts at the mark
/// less the overlap. So a quiet input, or one whose searches keep failing, never enriches a
/// session twice.
fn housekeeping(checkpoint: &Checkpoint, now: i64) -> Result<u64, CheckpointError> {
    let window_start = checkpoint
        .high_water_mark()?
        .map_or(i64::MIN, discovery::window_start);
    checkpoint.prune(now.saturating_sub(RETENTION_SECONDS).min(window_start))?;
    checkpoint.pending()
}

fn log_summary(summary: &Summary, started: Instant, stop: &AtomicBool, search_failed: bool) {
    info!(
        "event=pass_finished found={} enriched={} retried={} throttled={} deferred={} given_up={} \
         backlog={} duration_ms={}{}{}",
        summary.found,
        summary.counts.enriched,
        summary.retried,
        summary.throttled,
        summary.counts.deferred,
        summary.counts.given_up,
        summary.backlog,
        started.elapsed().as_millis(),
        if search_failed {
            " search_failed=true"
        } else {
            ""
        },
        if stop.load(Ordering::Relaxed) {
            " stopped=true"
        } else {
            ""
        },
    );
}
