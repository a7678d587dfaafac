//! Contract §2 step 2: finds the triggering webhook events splunkd has indexed since the last
//! pass, with `search/jobs/export` bounded by index time, and records them as jobs.
//!
//! The window runs from the high-water mark (less an overlap) to now, and is searched in parts
//! of at most `span` seconds of index time, oldest first: a year's backfill on a busy index is
//! many short searches, never one longer than its timeout. Each part that finished is committed
//! with its end as the new mark, so a pass that runs out of time, or a part that fails, leaves
//! the rest to the next pass. The span halves when a part times out or is slow and doubles
//! when parts are quick; it is kept in the checkpoint.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use serde_json::{Map, Value};

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::error::Error;
use crate::score::{TRIGGERS, Trigger};
use crate::splunkd::{IndexWindow, Splunkd, SplunkdError};

/// Discovery searches again this far behind the last high-water mark: events become searchable
/// some time after their index time, and a window that started exactly at the mark would miss
/// them. Jobs already known are not fetched twice.
const OVERLAP_SECONDS: i64 = 600;

/// Where the next window starts, given the high-water mark: no webhook indexed before this can
/// be found again.
pub fn window_start(mark: i64) -> i64 {
    mark.saturating_sub(OVERLAP_SECONDS)
}

/// How far `_time` may lie before the index-time window: Incode retries a webhook for about
/// half an hour and session events keep their own timestamp, so late events carry old times.
const LATE_EVENT_SECONDS: i64 = 7 * 24 * 3600;

/// Index time one search covers at first, at least and at most.
const DEFAULT_SPAN: i64 = 24 * 3600;
const MIN_SPAN: i64 = 60;
const MAX_SPAN: i64 = 7 * 24 * 3600;

/// How much of a window without triggering events is checked for onboarding-status webhooks.
const CHECK_SECONDS: i64 = 24 * 3600;

/// What a discovery may spend.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How far back the first pass looks (`backfill_hours`), in seconds.
    pub backfill: i64,
    /// No part starts after this instant (the first always does).
    pub until: Instant,
    /// The longest one search may take.
    pub part_timeout: Duration,
}

/// What a discovery did: the jobs it found, and whether every part it searched finished. A
/// failed part leaves the jobs its rows gave (each row is a real event) but not the mark.
pub struct Discovered {
    /// New (interview, trigger) jobs.
    pub found: u64,
    /// Ok, or why the search failed (the window is searched again next pass).
    pub outcome: Result<(), Error>,
}

/// Runs the discovery of one pass at `now` (epoch seconds).
pub fn discover(
    splunkd: &Splunkd,
    checkpoint: &mut Checkpoint,
    now: i64,
    limits: Limits,
    stop: &AtomicBool,
) -> Discovered {
    let mut found = 0;
    let outcome = discover_parts(splunkd, checkpoint, now, limits, stop, &mut found);
    Discovered { found, outcome }
}

fn discover_parts(
    splunkd: &Splunkd,
    checkpoint: &mut Checkpoint,
    now: i64,
    limits: Limits,
    stop: &AtomicBool,
    found: &mut u64,
) -> Result<(), Error> {
    let mut from = match checkpoint.high_water_mark()? {
        Some(mark) => window_start(mark),
        None => now.saturating_sub(limits.backfill),
    };
    let mut span = checkpoint
        .discovery_span()?
        .unwrap_or(DEFAULT_SPAN)
        .clamp(MIN_SPAN, MAX_SPAN);
    let initial_span = span;
    let first = from;
    let mut rows = Rows::default();
    let mut parts = 0u32;
    let outcome = loop {
        if from >= now || stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        if parts > 0 && Instant::now() >= limits.until {
            info!(
                "event=discovery_budget_reached searched up to index time {from}; the {} s \
                 from there to now are searched by the next pass",
                now - from
            );
            break Ok(());
        }
        let window = IndexWindow {
            earliest: from,
            latest: from.saturating_add(span).min(now),
            earliest_time: from.saturating_sub(LATE_EVENT_SECONDS),
        };
        let started = Instant::now();
        let part = search_part(splunkd, checkpoint, window, now, limits, stop, &mut rows);
        *found += part.new_jobs;
        parts += 1;
        match part.outcome {
            Ok(Finished::Stopped) => break Ok(()),
            Ok(Finished::Complete) => {
                let took = started.elapsed();
                if took > limits.part_timeout / 2 {
                    span = (span / 2).max(MIN_SPAN);
                } else if took < limits.part_timeout / 8 && window.latest - window.earliest == span
                {
                    span = (span * 2).min(MAX_SPAN);
                }
                from = window.latest;
            }
            Err(Error::Splunkd(SplunkdError::SearchTimeout { rows: read, .. }))
                if span > MIN_SPAN =>
            {
                span = (span / 2).max(MIN_SPAN);
                warn!(
                    "event=discovery_timeout the search of index time {}..{} did not finish \
                     within {} s ({read} rows read); searching {span} s at a time instead",
                    window.earliest,
                    window.latest,
                    limits.part_timeout.as_secs()
                );
            }
            Err(e) => break Err(e),
        }
    };
    rows.report();
    debug!("event=discovery parts={parts} new={found} searched_to={from} span_s={span}");
    if outcome.is_ok() && from >= now && rows.taken == 0 && !stop.load(Ordering::Relaxed) {
        check_onboarding_webhooks(splunkd, first.max(now - CHECK_SECONDS), now, limits);
    }
    // Keeping the span matters less than the search's own outcome, which comes first.
    let kept = match span == initial_span {
        true => Ok(()),
        false => checkpoint.set_discovery_span(span).map_err(Error::from),
    };
    outcome.and(kept)
}

/// A window in which no event triggered a fetch: if session webhooks arrived in it but no
/// onboarding-status webhook did, the Incode side is set up with session webhooks alone, which
/// never start an enrichment (contract §2 step 3 starts it from `onboardingStatus`), and the
/// administrator is told so. Advisory: a failure of this check is only logged at DEBUG.
fn check_onboarding_webhooks(splunkd: &Splunkd, earliest: i64, latest: i64, limits: Limits) {
    let window = IndexWindow {
        earliest,
        latest,
        earliest_time: earliest.saturating_sub(LATE_EVENT_SECONDS),
    };
    let spl = format!(
        "search `incode_index` sourcetype IN (\"incode:onboarding\", \"incode:session\") \
         _index_earliest={earliest} _index_latest={latest} | stats count by sourcetype"
    );
    let mut counts = (0u64, 0u64);
    let searched = splunkd.export(&spl, window, limits.part_timeout, |row| {
        let count = text(row, "count").and_then(|c| c.parse::<u64>().ok());
        match text(row, "sourcetype").as_deref() {
            Some("incode:onboarding") => counts.0 += count.unwrap_or(0),
            Some("incode:session") => counts.1 += count.unwrap_or(0),
            _ => {}
        }
        true
    });
    match searched {
        Ok(_) if counts.0 == 0 && counts.1 > 0 => warn!(
            "event=onboarding_webhooks_missing session webhooks arrived (count={} in the last {} \
             minutes by index time) but no onboarding-status webhook did: enrichment starts only \
             from Incode's onboarding-status webhook (ONBOARDING_FINISHED, MANUAL_REVIEW_*). Set \
             it up in the Incode Dashboard to post to the same HEC address as the session webhook",
            counts.1,
            (latest - earliest) / 60
        ),
        Ok(_) => debug!(
            "event=onboarding_webhooks_check onboarding={} session={}",
            counts.0, counts.1
        ),
        Err(e) => debug!("event=onboarding_webhooks_check_failed {e}"),
    }
}

/// How a part's search ended, when it did not fail.
enum Finished {
    /// Every row was read and splunkd marked the end.
    Complete,
    /// The input is stopping: the rest of the rows were not read.
    Stopped,
}

struct Part {
    new_jobs: u64,
    outcome: Result<Finished, Error>,
}

/// Searches one part of the window and records what it finds: with the part's end as the new
/// mark when the search finished, without it otherwise.
fn search_part(
    splunkd: &Splunkd,
    checkpoint: &mut Checkpoint,
    window: IndexWindow,
    now: i64,
    limits: Limits,
    stop: &AtomicBool,
    rows: &mut Rows,
) -> Part {
    let mut discovery = match checkpoint.discovery() {
        Ok(d) => d,
        Err(e) => {
            return Part {
                new_jobs: 0,
                outcome: Err(e.into()),
            };
        }
    };
    let mut failure: Option<CheckpointError> = None;
    let mut without_index_time = 0u64;
    let exported = splunkd.export(&search(window), window, limits.part_timeout, |row| {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        match read_row(row) {
            Ok(Row {
                trigger,
                time_from_index_time,
                index_time,
            }) => {
                rows.taken += 1;
                without_index_time += u64::from(index_time.is_none());
                rows.without_time += u64::from(time_from_index_time);
                failure = discovery.add(&trigger, now).err();
            }
            Err(Skipped::NoInterview) => rows.without_interview += 1,
            Err(Skipped::OtherStatus) => rows.other_status += 1,
            Err(Skipped::NoTime) => rows.without_any_time += 1,
        }
        failure.is_none()
    });
    if let Some(e) = failure {
        // Dropped without finishing: nothing of this part is kept.
        return Part {
            new_jobs: 0,
            outcome: Err(e.into()),
        };
    }
    let outcome = match exported {
        Ok(summary) if summary.stopped => Ok(Finished::Stopped),
        Ok(_) if without_index_time > 0 => Err(Error::Splunkd(SplunkdError::Search(format!(
            "{without_index_time} result rows had no readable index time (it), so the \
             searched window cannot be trusted; check that the incode_index macro leaves \
             _indextime alone"
        )))),
        Ok(_) => Ok(Finished::Complete),
        Err(e) => Err(e.into()),
    };
    let mark = matches!(outcome, Ok(Finished::Complete)).then_some(window.latest);
    match discovery.finish(mark) {
        Ok(new_jobs) => Part { new_jobs, outcome },
        Err(e) => Part {
            new_jobs: 0,
            outcome: Err(e.into()),
        },
    }
}

/// The SPL of discovery: the webhook events themselves, reduced to the fields a job needs with
/// `fields` (distributable streaming, so the work stays on the indexers; `table` would gather
/// every event on the search head), internal fields such as `_raw` dropped. The index-time
/// bounds are repeated inside the search in case export ignores its parameters.
fn search(window: IndexWindow) -> String {
    let statuses = TRIGGERS.map(|s| format!("\"{s}\"")).join(", ");
    format!(
        "search `incode_index` sourcetype IN (\"incode:onboarding\", \"incode:session\", \
         \"incode:webhook\") onboardingStatus IN ({statuses}) _index_earliest={} \
         _index_latest={} | eval t=_time, it=_indextime | fields interviewId onboardingStatus \
         clientId flowId externalCustomerId externalId t it | fields - _*",
        window.earliest, window.latest
    )
}

/// The rows of a discovery: those taken as jobs, and those not taken as they came, counted and
/// reported once.
#[derive(Default)]
struct Rows {
    /// Taken as jobs (new or known).
    taken: u64,
    /// No readable event time: their index time stands in.
    without_time: u64,
    /// No interview id.
    without_interview: u64,
    /// A status that triggers nothing.
    other_status: u64,
    /// Neither an event time nor an index time.
    without_any_time: u64,
}

impl Rows {
    fn report(&self) {
        if self.without_time > 0 {
            warn!(
                "event=discovery_rows_without_time count={} result rows had no readable event \
                 time (_time); their index time is the time of their score events",
                self.without_time
            );
        }
        let skipped = self.without_interview + self.other_status + self.without_any_time;
        if skipped > 0 {
            warn!(
                "event=discovery_rows_skipped count={skipped} without_interview_id={} \
                 other_status={} without_time={} result rows could not become score requests \
                 and were skipped; check that the incode_index macro and the incode:webhook \
                 routing leave Incode's interviewId and onboardingStatus fields intact",
                self.without_interview, self.other_status, self.without_any_time
            );
        }
    }
}

/// A result row that becomes a job.
struct Row {
    trigger: Trigger,
    /// Whether the row's event time was missing and its index time stands in.
    time_from_index_time: bool,
    /// `_indextime`, when readable.
    index_time: Option<i64>,
}

/// Why a result row cannot become a job.
#[derive(Debug, PartialEq, Eq)]
enum Skipped {
    NoInterview,
    OtherStatus,
    NoTime,
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

/// Epoch seconds as splunkd renders them (`1700000000.123`), when finite.
fn seconds(row: &Map<String, Value>, name: &str) -> Option<f64> {
    text(row, name)
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|t| t.is_finite())
}

/// A result row as a trigger.
fn read_row(row: &Map<String, Value>) -> Result<Row, Skipped> {
    let field = |name: &str| text(row, name);
    let interview_id = field("interviewId").ok_or(Skipped::NoInterview)?;
    let status = field("onboardingStatus")
        .filter(|s| TRIGGERS.contains(&s.as_str()))
        .ok_or(Skipped::OtherStatus)?;
    let index_time = seconds(row, "it");
    let (time, from_index_time) = match (seconds(row, "t"), index_time) {
        (Some(t), _) => (t, false),
        (None, Some(it)) => (it, true),
        (None, None) => return Err(Skipped::NoTime),
    };
    Ok(Row {
        trigger: Trigger {
            interview_id,
            status,
            // Saturates: an absurd time cannot overflow.
            time_ms: (time * 1000.0).round() as i64,
            client_id: field("clientId"),
            flow_id: field("flowId"),
            external_customer_id: field("externalCustomerId").or_else(|| field("externalId")),
        },
        time_from_index_time: from_index_time,
        index_time: index_time.map(|it| it as i64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(json: Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    #[test]
    fn rows_become_triggers() {
        let r = read_row(&row(serde_json::json!({
            "interviewId": "abc", "onboardingStatus": "ONBOARDING_FINISHED",
            "clientId": ["acme", "acme"], "externalId": "legacy-7", "t": "1700000000.123",
            "it": "1700000005"
        })))
        .unwrap();
        assert_eq!(
            r.trigger,
            Trigger {
                interview_id: "abc".into(),
                status: "ONBOARDING_FINISHED".into(),
                time_ms: 1_700_000_000_123,
                client_id: Some("acme".into()),
                flow_id: None,
                external_customer_id: Some("legacy-7".into()),
            }
        );
        assert_eq!(r.index_time, Some(1_700_000_005));
        assert!(!r.time_from_index_time);
    }

    #[test]
    fn a_row_without_a_time_takes_its_index_time_and_others_are_skipped_with_a_reason() {
        for t in [
            None,
            Some("nan"),
            Some("inf"),
            Some("-inf"),
            Some(""),
            Some("soon"),
        ] {
            let mut json = serde_json::json!({"interviewId": "a",
                "onboardingStatus": "ONBOARDING_FINISHED", "it": "1700000005"});
            if let Some(t) = t {
                json["t"] = t.into();
            }
            let r = read_row(&row(json)).unwrap_or_else(|e| panic!("{t:?}: {e:?}"));
            assert_eq!(r.trigger.time_ms, 1_700_000_005_000, "{t:?}");
            assert!(r.time_from_index_time);
        }
        let without_index_time = read_row(&row(serde_json::json!({"interviewId": "a",
            "onboardingStatus": "ONBOARDING_FINISHED", "t": "1", "it": "x"})))
        .unwrap();
        assert_eq!(without_index_time.index_time, None);
        for (bad, why) in [
            (
                serde_json::json!({"onboardingStatus": "ONBOARDING_FINISHED", "t": "1"}),
                Skipped::NoInterview,
            ),
            (
                serde_json::json!({"interviewId": "", "onboardingStatus": "ONBOARDING_FINISHED", "t": "1"}),
                Skipped::NoInterview,
            ),
            (
                serde_json::json!({"interviewId": "a", "onboardingStatus": "EXPIRED", "t": "1"}),
                Skipped::OtherStatus,
            ),
            (
                serde_json::json!({"interviewId": "a", "onboardingStatus": "ONBOARDING_FINISHED"}),
                Skipped::NoTime,
            ),
        ] {
            assert_eq!(read_row(&row(bad.clone())).err(), Some(why), "{bad}");
        }
    }

    #[test]
    fn the_search_uses_the_macro_the_window_and_streaming_commands() {
        let spl = search(IndexWindow {
            earliest: 100,
            latest: 200,
            earliest_time: 0,
        });
        assert!(spl.starts_with("search `incode_index` "));
        assert!(spl.contains("_index_earliest=100 _index_latest=200"));
        assert!(spl.contains("| eval t=_time, it=_indextime | fields interviewId "));
        assert!(spl.ends_with(" t it | fields - _*"));
        assert!(!spl.contains("| table"), "table is transforming");
        assert!(spl.contains(
            "onboardingStatus IN (\"ONBOARDING_FINISHED\", \"MANUAL_REVIEW_APPROVED\", \"MANUAL_REVIEW_REJECTED\")"
        ));
    }
}
