//! Passes as splunkd runs them — every `interval` seconds counted from the start of the previous
//! one — against the fakes, under the conditions real deployments meet: an interview whose
//! score is not there, an Incode incident, hostile `Retry-After` values, odd result rows, a
//! quiet input, a year of backfill on a slow search.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fake_incode::Answer;
use support::fake_splunkd::Generated;
use support::world::*;
use support::*;

/// splunkd's schedule: run `tick` starts `tick · interval` after the first (a run that outlasts
/// its interval makes the caller pick a later tick, as splunkd skips ticks that fall during a
/// run).
struct Schedule {
    start: Instant,
    interval: Duration,
}

impl Schedule {
    fn new(w: &mut World, seconds: u64) -> Schedule {
        w.set("interval", &seconds.to_string());
        Schedule {
            start: Instant::now(),
            interval: Duration::from_secs(seconds),
        }
    }

    /// Runs the pass of `tick`, waiting for its start.
    fn run(&self, w: &World, tick: u32) -> Run {
        let at = self.start + self.interval * tick;
        assert!(
            Instant::now() <= at + Duration::from_millis(100),
            "tick {tick} is already past: pick a later one"
        );
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        w.run()
    }

    /// The first tick that has not started yet.
    fn next_tick(&self) -> u32 {
        (self.start.elapsed().as_secs_f64() / self.interval.as_secs_f64()).floor() as u32 + 1
    }
}

fn checkpoint_value(w: &World, sql: &str) -> i64 {
    w.checkpoint().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn attempts(w: &World, interview: &str) -> i64 {
    checkpoint_value(
        w,
        &format!("SELECT attempts FROM jobs WHERE interview_id = '{interview}'"),
    )
}

#[test]
fn an_interview_failure_is_tried_at_the_next_pass_then_at_whole_intervals() {
    let mut w = World::new("retry-schedule");
    let t = now();
    w.webhook("lagging", "ONBOARDING_FINISHED", (t - 11) as f64, t - 10);
    // Incode has no score for it yet (404): the interview's own failure.
    w.incode
        .script("lagging", vec![Answer::error(404, "Not Found"); 20]);
    let schedule = Schedule::new(&mut w, 3);
    let mut tried = Vec::new();
    for tick in 0..=3 {
        let run = schedule.run(&w, tick);
        assert_eq!(run.status, Some(0), "{run:?}");
        tried.push(w.incode.score_requests().len());
    }
    // Tried at the first pass, the next one (3 s later), then two intervals after that.
    assert_eq!(tried, [1, 2, 2, 3], "requests after each pass");
    assert_eq!(attempts(&w, "lagging"), 3);
    let first_failure = checkpoint_value(
        &w,
        "SELECT first_failure_at FROM jobs WHERE interview_id = 'lagging'",
    );
    assert!(
        (t..t + 2).contains(&first_failure),
        "{first_failure} vs {t}"
    );
}

#[test]
fn an_incode_outage_counts_no_attempt_and_the_sessions_are_enriched_when_it_is_over() {
    let mut w = World::new("outage");
    let ids_all = w.finished_sessions("o", 6);
    w.set("max_concurrency", "2");
    w.incode.state.lock().unwrap().outage = Some(Answer::error(503, "Service Unavailable"));
    let schedule = Schedule::new(&mut w, 3);
    let run = schedule.run(&w, 0);
    assert_eq!((run.status, events(&run).len()), (Some(1), 0), "{run:?}");
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].contains("event=incode_error every score request of this pass failed")
            && errors[0].contains("no failed attempt"),
        "{}",
        errors[0]
    );
    assert!(
        !run.stderr.contains("WARN input=prod event=incode_error"),
        "no line per session in an outage: {run:?}"
    );
    // Once two sessions failed in a row (as many as run at once), no more were sent: at most
    // one more than the two that started, sent when the first failure freed its slot.
    assert!(run.stderr.contains("event=incode_unavailable"), "{run:?}");
    let sent: std::collections::BTreeSet<String> = w.incode.score_requests().into_iter().collect();
    assert!((2..=3).contains(&sent.len()), "{sent:?}");
    assert_eq!(
        checkpoint_value(&w, "SELECT max(attempts) FROM jobs"),
        0,
        "an outage counts no attempt"
    );

    // Incode is back at the next pass: every session is enriched.
    w.incode.state.lock().unwrap().outage = None;
    let run = schedule.run(&w, schedule.next_tick());
    assert_eq!(run.status, Some(0), "{run:?}");
    let mut enriched = ids(&events(&run));
    enriched.sort();
    assert_eq!(enriched, ids_all);
}

#[test]
fn a_login_that_fails_counts_no_attempt_either() {
    let w = World::new("login-outage");
    w.finished_sessions("l", 2);
    w.incode.state.lock().unwrap().login_script =
        vec![Answer::error(503, "Service Unavailable"); 4].into();
    let run = w.run();
    assert_eq!(run.status, Some(1), "{run:?}");
    assert!(run.errors()[0].contains("event=incode_error"), "{run:?}");
    assert_eq!(
        checkpoint_value(
            &w,
            "SELECT count(*) FROM jobs WHERE attempts = 0 AND next_attempt_at = 0"
        ),
        2,
        "untouched: due again at the next pass"
    );
}

#[test]
fn hostile_retry_after_values_are_read_as_an_hour() {
    for (status, value) in [
        (429, "18446744073709551615"),
        (429, "99999999999999999999999"),
        (429, "Fri, 31 Dec 9999 23:59:59 GMT"),
        (503, "18446744073709551615"),
        (503, "Fri, 31 Dec 9999 23:59:59 GMT"),
    ] {
        let w = World::new("retry-after");
        let t = now();
        w.webhook("fine", "ONBOARDING_FINISHED", (t - 12) as f64, t - 10);
        w.webhook("odd", "ONBOARDING_FINISHED", (t - 11) as f64, t - 10);
        let mut answer = Answer::error(status, "Slow down");
        answer.headers = vec![("Retry-After", value.to_owned())];
        w.incode.script("odd", vec![answer; 4]);
        let run = w.run();
        let case = format!("{status} Retry-After: {value}");
        assert_eq!(run.status, Some(0), "{case}: {run:?}");
        assert!(!run.stderr.contains("FATAL"), "{case}: {run:?}");
        assert_eq!(ids(&events(&run)), ["fine"], "{case}");
        // Not retried within the pass, and put off for an hour.
        assert_eq!(
            w.incode
                .score_requests()
                .iter()
                .filter(|i| *i == "odd")
                .count(),
            1,
            "{case}"
        );
        let next = checkpoint_value(
            &w,
            "SELECT next_attempt_at FROM jobs WHERE interview_id = 'odd'",
        );
        let after = now();
        assert!(
            (t + 3600..=after + 3600).contains(&next),
            "{case}: next attempt {} s from now",
            next - after
        );
        if status == 429 {
            let until =
                checkpoint_value(&w, "SELECT value FROM meta WHERE key = 'throttled_until'");
            assert!((t + 3590..=after + 3600).contains(&until), "{case}");
            assert_eq!(attempts(&w, "odd"), 0, "{case}: throttling is no failure");
        } else {
            assert_eq!(attempts(&w, "odd"), 1, "{case}: its own failure");
        }
    }
}

/// A result row as splunkd streams it for the discovery search.
fn row(interview: Option<&str>, t: Option<&str>, it: Option<&str>) -> Value {
    let mut row = json!({"onboardingStatus": "ONBOARDING_FINISHED", "clientId": "acme"});
    for (name, value) in [("interviewId", interview), ("t", t), ("it", it)] {
        if let Some(value) = value {
            row[name] = json!(value);
        }
    }
    row
}

#[test]
fn rows_without_an_event_time_use_their_index_time_and_nothing_is_skipped_silently() {
    fn rows(i: usize) -> Value {
        match i {
            0 => row(Some("no-time"), None, Some("1795600100")),
            1 => row(Some("nan-time"), Some("NaN"), Some("1795600200")),
            2 => row(Some("fine"), Some("1795600000.250"), Some("1795600300")),
            _ => row(None, Some("1795600000.000"), Some("1795600300")),
        }
    }
    let w = World::new("odd-rows");
    w.splunkd.state.lock().unwrap().generated = Some(Generated {
        count: 4,
        row: rows,
    });
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    let mut times: Vec<(String, String)> = events(&run)
        .iter()
        .map(|e| {
            (
                e.data["interviewId"].as_str().unwrap().to_owned(),
                e.time.clone(),
            )
        })
        .collect();
    times.sort();
    assert_eq!(
        times,
        [
            ("fine".to_owned(), "1795600000.250".to_owned()),
            ("nan-time".into(), "1795600200.000".into()),
            ("no-time".into(), "1795600100.000".into()),
        ]
    );
    let warnings = run.warnings();
    assert_eq!(warnings.len(), 2, "{run:?}");
    assert!(
        warnings[0].contains("event=discovery_rows_without_time count=2"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].contains("event=discovery_rows_skipped count=1 without_interview_id=1"),
        "{}",
        warnings[1]
    );
}

#[test]
fn a_row_without_a_readable_index_time_fails_the_search_and_keeps_the_window() {
    fn rows(i: usize) -> Value {
        match i {
            0 => row(Some("a"), Some("1795600000.000"), Some("1795600005")),
            _ => row(Some("b"), Some("1795600001.000"), Some("")),
        }
    }
    let w = World::new("no-index-time");
    let t = now();
    w.webhook("first", "ONBOARDING_FINISHED", (t - 30) as f64, t - 20);
    assert_eq!(w.run().status, Some(0));
    w.splunkd.state.lock().unwrap().generated = Some(Generated {
        count: 2,
        row: rows,
    });
    let run = w.run();
    assert_eq!(run.status, Some(1), "{run:?}");
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].contains("event=splunkd_error")
            && errors[0].contains("1 result rows had no readable index time"),
        "{}",
        errors[0]
    );
    // The rows are real events: both were enriched. The window was not trusted.
    let mut enriched = ids(&events(&run));
    enriched.sort();
    assert_eq!(enriched, ["a", "b"]);
    w.splunkd.state.lock().unwrap().generated = None;
    assert_eq!(w.run().status, Some(0));
    let exports = w.splunkd.exports();
    assert_eq!(
        exports[1].form["index_earliest"],
        exports[2].form["index_earliest"]
    );
}

#[test]
fn a_quiet_month_keeps_the_window_short_and_never_enriches_a_session_twice() {
    const MONTH: i64 = 31 * 24 * 3600;
    let mut w = World::new("quiet");
    w.set("backfill_hours", "1000");
    let t = now();
    // A session finished, and nothing since: the first pass ran a month ago.
    w.webhook(
        "once",
        "ONBOARDING_FINISHED",
        (t - MONTH - 101) as f64,
        t - MONTH - 100,
    );
    assert_eq!(ids(&events(&w.run())), ["once"]);
    let cp = w.checkpoint();
    cp.execute(
        "UPDATE meta SET value = value - ?1 WHERE key = 'high_water_mark'",
        [MONTH],
    )
    .unwrap();
    cp.execute("UPDATE jobs SET updated_at = updated_at - ?1", [MONTH])
        .unwrap();
    drop(cp);

    // Today: the window still reaches the old webhook (no pass ran since), and the session is
    // not enriched again although its job is over 30 days old.
    let run = w.run();
    assert_eq!((run.status, events(&run).len()), (Some(0), 0), "{run:?}");
    // That search found nothing new and finished: the window moves up to now, and the next
    // one is short.
    let searches = w.splunkd.exports().len();
    let run = w.run();
    assert_eq!((run.status, events(&run).len()), (Some(0), 0), "{run:?}");
    let exports = w.splunkd.exports();
    assert_eq!(exports.len(), searches + 1, "one search");
    let earliest: i64 = exports[searches].form["index_earliest"].parse().unwrap();
    assert!(
        earliest >= t - 600,
        "the third window starts {} s back",
        now() - earliest
    );
    // And the old job is forgotten, now that no window can find its webhook.
    assert_eq!(checkpoint_value(&w, "SELECT count(*) FROM jobs"), 0);
}

#[test]
fn a_year_of_backfill_on_a_slow_search_is_many_short_searches() {
    let mut w = World::new("backfill");
    w.set("backfill_hours", "8760");
    let t = now();
    // 300 sessions spread over the year; the fake streams each result row in 20 ms, so one
    // search of the whole year would take 6 s: longer than a search may take at an interval of
    // 10 s (5 s).
    const SESSIONS: i64 = 300;
    let year = 365 * 24 * 3600;
    for i in 0..SESSIONS {
        let index_time = t - year + 3600 + i * (year - 7200) / SESSIONS;
        w.webhook(
            &format!("y{i:03}"),
            "ONBOARDING_FINISHED",
            (index_time - 1) as f64,
            index_time,
        );
    }
    w.splunkd.state.lock().unwrap().row_delay = Duration::from_millis(20);
    w.set("interval", "10");
    let mut enriched = Vec::new();
    for pass in 0.. {
        assert!(
            pass < 6,
            "the backfill did not end: {} enriched",
            enriched.len()
        );
        let run = w.run();
        assert_eq!(run.status, Some(0), "{run:?}");
        enriched.extend(ids(&events(&run)));
        if summary(&run).contains("found=0") && summary(&run).contains("backlog=0") {
            break;
        }
    }
    enriched.sort();
    let expected: Vec<String> = (0..SESSIONS).map(|i| format!("y{i:03}")).collect();
    assert_eq!(enriched, expected, "each session once");
    let streamed = w.splunkd.streamed();
    assert!(streamed.len() > 1, "{streamed:?}");
    for search in &streamed {
        assert!(search.complete, "{search:?}");
        assert!(search.took < Duration::from_secs(5), "{search:?}");
    }
    // Oldest first, each part starting where the last one ended.
    let bounds: Vec<(i64, i64)> = streamed
        .iter()
        .map(|s| {
            (
                s.form["index_earliest"].parse().unwrap(),
                s.form["index_latest"].parse().unwrap(),
            )
        })
        .collect();
    for pair in bounds.windows(2) {
        let ((_, end), (next, _)) = (pair[0], pair[1]);
        assert!(next == end || next == end - 600, "{bounds:?}");
    }
}

#[test]
fn session_webhooks_alone_are_named_as_the_reason_nothing_is_enriched() {
    let session = |w: &World, id: &str, event: &str, index_time: i64| {
        w.splunkd.index(
            json!({"event_type": event, "interviewId": id, "clientId": "acme",
                   "timestamp": "2026-12-03T10:00:00Z"}),
            (index_time - 1) as f64,
            index_time,
        );
    };
    let t = now();
    // Session webhooks only: nothing can start an enrichment, and the pass says why.
    let w = World::new("sessions-only");
    session(&w, "s-1", "SESSION_STARTED", t - 50);
    session(&w, "s-1", "SESSION_SUCCEEDED", t - 40);
    let run = w.run();
    assert_eq!((run.status, events(&run).len()), (Some(0), 0), "{run:?}");
    let warnings = run.warnings();
    assert_eq!(warnings.len(), 1, "{run:?}");
    assert!(
        warnings[0].contains("event=onboarding_webhooks_missing session webhooks arrived (count=2")
            && warnings[0].contains("onboarding-status webhook"),
        "{}",
        warnings[0]
    );
    // With onboarding-status webhooks arriving (sessions still in progress): no warning.
    let w = World::new("sessions-and-progress");
    session(&w, "s-2", "SESSION_STARTED", t - 50);
    w.webhook("s-2", "ID_VALIDATION_FINISHED", (t - 31) as f64, t - 30);
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(!run.stderr.contains("WARN"), "{run:?}");
    // Nothing at all (a quiet hour): no warning either.
    let run = World::new("nothing").run();
    assert!(!run.stderr.contains("WARN"), "{run:?}");
}
