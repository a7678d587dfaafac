//! The enrichment pass (contract §2), run as splunkd runs it: the real binary against fakes of
//! splunkd's REST API (HTTPS) and of the Incode API.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::fake_incode::{Answer, TOKEN_PREFIX};
use support::fake_splunkd::ExportFailure;
use support::world::*;
use support::*;

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn first_pass_enriches_finished_interviews_and_masks_the_secrets() {
    let w = World::new("first");
    let t = now();
    let tf = t as f64;
    w.webhook("i-1", "ONBOARDING_FINISHED", tf - 60.75, t - 60);
    w.webhook("i-2", "ID_VALIDATION_FINISHED", tf - 50.0, t - 50);
    w.webhook("i-3", "ONBOARDING_FINISHED", tf - 40.0, t - 40);
    w.splunkd.index(
        json!({"event_type": "SESSION_SUCCEEDED", "interviewId": "i-4", "onboardingStatus": "ONBOARDING_FINISHED",
               "timestamp": "2023-11-14T22:13:23Z"}),
        tf - 31.0,
        t - 30,
    );
    w.webhook(
        "i-old",
        "ONBOARDING_FINISHED",
        tf - 25.0 * 3600.0,
        t - 25 * 3600,
    );

    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    let mut events = events(&run);
    events.sort_by(|a, b| a.time.cmp(&b.time));
    assert_eq!(
        ids(&events),
        ["i-1", "i-3", "i-4"],
        "finished only, within the backfill"
    );
    let first = &events[0];
    assert_eq!(first.time, format!("{}.250", t - 61));
    assert_eq!(first.sourcetype, "incode:score");
    assert_eq!(first.index.as_deref(), Some("incode"));
    assert_eq!(first.stanza, "incode://prod");
    let d = &first.data;
    assert_eq!(d["interviewId"], "i-1");
    assert_eq!(d["clientId"], "acme");
    assert_eq!(d["flowId"], "flow-1");
    assert_eq!(d["externalCustomerId"], "cust-i-1");
    assert_eq!(d["trigger"], "ONBOARDING_FINISHED");
    assert_eq!(d["enrichment_status"], "ok");
    assert_eq!(
        d["failed_checks"],
        json!([
            "faceRecognition.nameMatch",
            "idValidation.idSpecific.mrzLineFormatCheck"
        ])
    );
    assert!(first.text.find("\"enriched_at\":").unwrap() < first.text.find("\"score\":{").unwrap());
    assert!(first.text.ends_with("}}"), "the raw score comes last");
    chrono::DateTime::parse_from_rfc3339(d["enriched_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        events[2].data.get("clientId"),
        None,
        "absent fields are omitted"
    );

    // Incode calls: one login, one score request per interview, with the documented headers.
    assert_eq!(w.incode.logins(), 1);
    let state = w.incode.state.lock().unwrap();
    let login = &state.seen[0];
    assert_eq!(
        (login.method.as_str(), login.url.as_str()),
        ("POST", "/executive/log-in")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&login.body).unwrap(),
        json!({"email": EMAIL, "password": PASSWORD})
    );
    for seen in &state.seen {
        assert_eq!(seen.headers["x-api-key"], API_KEY);
        assert_eq!(seen.headers["api-version"], "1.0");
    }
    let mut scores: Vec<&str> = Vec::new();
    for seen in state
        .seen
        .iter()
        .filter(|s| s.url.starts_with("/omni/get/score"))
    {
        assert_eq!(seen.method, "GET");
        assert_eq!(
            seen.headers["x-incode-hardware-id"],
            format!("{TOKEN_PREFIX}1")
        );
        scores.push(&seen.url);
    }
    scores.sort();
    assert_eq!(
        scores,
        [
            "/omni/get/score?id=i-1",
            "/omni/get/score?id=i-3",
            "/omni/get/score?id=i-4"
        ]
    );
    drop(state);

    // Secrets: stored under the input's realm, then masked in the input.
    let s = w.splunkd.state.lock().unwrap();
    assert_eq!(s.passwords["incode\\://prod:api_key:"].password, API_KEY);
    assert_eq!(
        s.passwords["incode\\://prod:admin_password:"].password,
        PASSWORD
    );
    assert_eq!(s.input_edits.len(), 1);
    let (input, fields) = &s.input_edits[0];
    assert_eq!(input, "prod");
    assert_eq!(fields.get("api_key").map(String::as_str), Some("********"));
    assert_eq!(
        fields.get("admin_password").map(String::as_str),
        Some("********")
    );
    let export = s
        .seen
        .iter()
        .find(|x| x.path.ends_with("/search/jobs/export"))
        .unwrap();
    assert!(export.path.starts_with("/servicesNS/nobody/TA-incode/"));
    assert_eq!(export.form["output_mode"], "json");
    let earliest: i64 = export.form["index_earliest"].parse().unwrap();
    assert!(
        (t - 24 * 3600 - earliest).abs() <= 5,
        "backfill_hours=24: {earliest}"
    );
    drop(s);

    let line = summary(&run);
    assert!(
        line.contains("found=3 enriched=3 retried=0 throttled=0 deferred=0 given_up=0 backlog=0"),
        "{line}"
    );
    let checkpoint_files: Vec<_> = std::fs::read_dir(w.checkpoint_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        checkpoint_files.iter().any(|f| f == "prod.sqlite"),
        "{checkpoint_files:?}"
    );
}

#[test]
fn later_passes_read_masked_secrets_and_fetch_only_whats_new() {
    let mut w = World::new("incremental");
    let t = now();
    w.webhook("a", "ONBOARDING_FINISHED", (t - 100 - 1) as f64, t - 100);
    assert_eq!(events(&w.run()).len(), 1);

    // The input now holds masks, as after the add-on's own edit.
    w.set("api_key", "********");
    w.set("admin_password", "********");
    // A duplicate of the same webhook (Incode retried it) and a new interview.
    w.webhook("a", "ONBOARDING_FINISHED", (t - 30 - 1) as f64, t - 30);
    w.webhook("b", "ONBOARDING_FINISHED", (t - 20 - 1) as f64, t - 20);
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(ids(&events(&run)), ["b"]);
    assert_eq!(w.incode.score_requests(), ["a", "b"]);
    assert_eq!(
        w.splunkd.state.lock().unwrap().input_edits.len(),
        1,
        "masked secrets are not stored again"
    );

    // The second window starts where the first one ended (the first pass's clock: its search
    // finished) less the overlap.
    let exports = w.splunkd.exports();
    let latest_1: i64 = exports[0].form["index_latest"].parse().unwrap();
    let earliest_2: i64 = exports[1].form["index_earliest"].parse().unwrap();
    assert!((t..t + 5).contains(&latest_1), "{latest_1}");
    assert_eq!(earliest_2, latest_1 - 600);
    let earliest_time: i64 = exports[1].form["earliest_time"].parse().unwrap();
    assert!(earliest_time <= earliest_2 - 7 * 24 * 3600);
}

#[test]
fn a_late_indexed_event_with_an_old_time_is_found() {
    let w = World::new("late");
    let t = now();
    assert_eq!(events(&w.run()).len(), 0);
    // Indexed a second ago, but its _time is two days old (a delayed session webhook).
    w.webhook(
        "late",
        "ONBOARDING_FINISHED",
        (t - 2 * 24 * 3600) as f64,
        t - 1,
    );
    let run = w.run();
    let events = events(&run);
    assert_eq!(ids(&events), ["late"]);
    assert_eq!(events[0].time, format!("{}.000", t - 2 * 24 * 3600));
}

#[test]
fn a_manual_review_decision_triggers_one_fresh_fetch() {
    let w = World::new("review");
    let t = now();
    w.webhook("r", "ONBOARDING_FINISHED", (t - 100 - 1) as f64, t - 100);
    assert_eq!(events(&w.run()).len(), 1);
    w.webhook("r", "MANUAL_REVIEW_APPROVED", (t - 10 - 1) as f64, t - 10);
    w.webhook("r", "MANUAL_REVIEW_APPROVED", (t - 5 - 1) as f64, t - 5); // Incode's retry of the same webhook
    let run = w.run();
    let review = events(&run);
    assert_eq!(review.len(), 1, "{run:?}");
    assert_eq!(review[0].data["trigger"], "MANUAL_REVIEW_APPROVED");
    assert_eq!(review[0].time, format!("{}.000", t - 11));
    assert_eq!(events(&w.run()).len(), 0);
    assert_eq!(w.incode.score_requests(), ["r", "r"]);
}

#[test]
fn throttling_is_retried_after_retry_after_and_pauses_every_worker() {
    let mut w = World::new("throttle");
    w.set("max_concurrency", "2");
    *w.incode.latency.lock().unwrap() = Duration::from_millis(100);
    let t = now();
    for i in 0..6 {
        w.webhook(
            &format!("t{i}"),
            "ONBOARDING_FINISHED",
            (t - 10 - 1) as f64 + i as f64 / 1000.0,
            t - 10,
        );
    }
    w.incode
        .script("t0", vec![Answer::throttled("1"), Answer::throttled("1")]);
    let started = std::time::Instant::now();
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(
        sorted(ids(&events(&run))),
        ["t0", "t1", "t2", "t3", "t4", "t5"]
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After honoured"
    );
    let line = summary(&run);
    assert!(
        line.contains("enriched=6 retried=2 throttled=2 deferred=0"),
        "{line}"
    );
    // The pause held every request back, not just t0's: after the first 429 was answered
    // (100 ms after t0's request arrived), nothing was sent for about the Retry-After second.
    // A request sent as the 429 came back, for an answer that came back with it, is not held.
    let state = w.incode.state.lock().unwrap();
    let first_429 = state
        .score_requests
        .iter()
        .position(|id| id == "t0")
        .unwrap();
    let answered = state.score_times[first_429] + Duration::from_millis(100);
    for (id, sent) in state.score_requests.iter().zip(&state.score_times) {
        if *sent > answered + Duration::from_millis(50) {
            assert!(
                sent.duration_since(answered) >= Duration::from_millis(900),
                "{id} sent {:?} after the 429",
                sent.duration_since(answered)
            );
        }
    }
}

#[test]
fn server_errors_are_retried_then_deferred_with_their_attempt_count() {
    let w = World::new("5xx");
    let t = now();
    w.webhook("flaky", "ONBOARDING_FINISHED", (t - 10 - 1) as f64, t - 10);
    w.webhook("down", "ONBOARDING_FINISHED", (t - 10 - 1) as f64, t - 10);
    w.incode
        .script("flaky", vec![Answer::error(503, "Service Unavailable")]);
    w.incode
        .script("down", vec![Answer::error(500, "Internal Server Error"); 4]);
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(ids(&events(&run)), ["flaky"]);
    assert!(
        summary(&run).contains("enriched=1 retried=4 throttled=0 deferred=1 given_up=0 backlog=1"),
        "{run:?}"
    );
    let warn = run.warnings()[0];
    assert!(
        warn.contains("event=incode_error interviewId=down")
            && warn.contains("status=500")
            && warn.contains("attempts=1"),
        "{warn}"
    );
    let (attempts, error): (i64, String) = w
        .checkpoint()
        .query_row(
            "SELECT attempts, last_error FROM jobs WHERE interview_id = 'down'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(attempts, 1);
    assert!(error.contains("HTTP 500"), "{error}");
    // Not due yet: the next pass leaves it alone.
    let run = w.run();
    assert_eq!(events(&run).len(), 0);
    assert_eq!(
        w.incode
            .score_requests()
            .iter()
            .filter(|i| *i == "down")
            .count(),
        4
    );
}

#[test]
fn an_expired_token_gets_exactly_one_fresh_login() {
    let w = World::new("401");
    let t = now();
    for i in 0..5 {
        w.webhook(
            &format!("e{i}"),
            "ONBOARDING_FINISHED",
            (t - 10 - 1) as f64 + i as f64 / 1000.0,
            t - 10,
        );
    }
    w.incode.state.lock().unwrap().expire_tokens_after = Some(2);
    let mut w = w;
    w.set("max_concurrency", "1");
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(events(&run).len(), 5);
    assert_eq!(w.incode.logins(), 2);
}

#[test]
fn a_persistent_404_is_given_up_after_an_hour_with_one_error_event() {
    let w = World::new("404");
    let t = now();
    w.webhook("gone", "ONBOARDING_FINISHED", (t - 10 - 1) as f64, t - 10);
    w.incode
        .script("gone", vec![Answer::error(404, "Not Found"); 10]);
    let run = w.run();
    assert_eq!((run.status, events(&run).len()), (Some(0), 0), "{run:?}");
    assert_eq!(
        w.incode.score_requests().len(),
        1,
        "a 404 is not retried within the pass"
    );
    // Two more failed passes, the first failure now more than an hour ago.
    for _ in 0..2 {
        w.checkpoint()
            .execute(
                "UPDATE jobs SET next_attempt_at = 0, first_failure_at = first_failure_at - 1900",
                [],
            )
            .unwrap();
        let run = w.run();
        assert_eq!(run.status, Some(0), "{run:?}");
        if w.incode.score_requests().len() == 2 {
            assert_eq!(events(&run).len(), 0, "not yet an hour of failures");
        } else {
            let events = events(&run);
            assert_eq!(events.len(), 1, "{run:?}");
            let d = &events[0].data;
            assert_eq!(d["enrichment_status"], "error");
            assert!(
                d["error"].as_str().unwrap().contains("3 failed attempts"),
                "{d}"
            );
            assert!(d["error"].as_str().unwrap().contains("404"), "{d}");
            assert_eq!(d.get("score"), None);
            assert!(summary(&run).contains("given_up=1"));
        }
    }
    w.checkpoint()
        .execute("UPDATE jobs SET next_attempt_at = 0", [])
        .unwrap();
    assert_eq!(events(&w.run()).len(), 0, "given up once, for good");
    assert_eq!(w.incode.score_requests().len(), 3);
}

#[test]
fn malformed_json_from_incode_is_deferred() {
    let w = World::new("malformed");
    w.webhook(
        "m",
        "ONBOARDING_FINISHED",
        (now() - 10 - 1) as f64,
        now() - 10,
    );
    w.incode
        .script("m", vec![Answer::ok("{\"overall\": {\"value\": \"9")]);
    let run = w.run();
    assert_eq!((run.status, events(&run).len()), (Some(0), 0), "{run:?}");
    assert!(run.stderr.contains("is not valid"), "{run:?}");
    assert!(summary(&run).contains("deferred=1"));
    assert_eq!(
        w.incode.score_requests(),
        ["m"],
        "not retried within the pass"
    );
}

#[test]
fn a_failed_search_does_not_advance_the_high_water_mark_nor_stop_the_backlog() {
    for (failure, rows_before_it) in [
        (
            ExportFailure::Message(
                "WARN",
                "Search results might be incomplete: peer idx2 is down.",
            ),
            true,
        ),
        (
            ExportFailure::Http(
                400,
                "FATAL",
                "Error in 'search' command: Unable to parse the search",
            ),
            false,
        ),
        (
            ExportFailure::Http(503, "ERROR", "Service Unavailable: search head busy"),
            false,
        ),
        (
            ExportFailure::Message("ERROR", "Search auto-canceled"),
            true,
        ),
        (ExportFailure::Broken, true),
    ] {
        let w = World::new("searchfail");
        // A mark from an event's index time: without one, each pass's window would start
        // `backfill_hours` before its own clock, and two passes a second apart would differ.
        let t = now();
        w.webhook("first", "ONBOARDING_FINISHED", (t - 30) as f64, t - 20);
        // A session whose score is not there yet: the backlog of the next pass.
        w.webhook("backlog", "ONBOARDING_FINISHED", (t - 29) as f64, t - 20);
        w.incode
            .script("backlog", vec![Answer::error(404, "Not Found")]);
        let first = w.run();
        assert_eq!(
            (first.status, ids(&events(&first))),
            (Some(0), vec!["first".to_owned()]),
            "a first pass sets the high-water mark"
        );
        w.checkpoint()
            .execute("UPDATE jobs SET next_attempt_at = 0", [])
            .unwrap();
        w.webhook("s", "ONBOARDING_FINISHED", (t - 10 - 1) as f64, t - 10);
        w.splunkd.state.lock().unwrap().export_failure = Some(failure.clone());
        let run = w.run();
        assert_eq!(run.status, Some(1), "{failure:?}: {run:?}");
        let errors: Vec<_> = run.errors();
        assert_eq!(errors.len(), 1, "{run:?}");
        assert!(errors[0].contains("event=splunkd_error"), "{}", errors[0]);
        assert!(summary(&run).contains(" search_failed=true"), "{run:?}");
        // The backlog was fetched all the same, and the rows the search did return count.
        let mut expected = vec!["backlog".to_owned()];
        if rows_before_it {
            expected.push("s".into());
        }
        assert_eq!(sorted(ids(&events(&run))), expected, "{failure:?}");
        // Repaired: the next pass searches the same window again and finds the event.
        w.splunkd.state.lock().unwrap().export_failure = None;
        let run = w.run();
        assert_eq!(run.status, Some(0), "{run:?}");
        let again: Vec<String> = if rows_before_it {
            vec![]
        } else {
            vec!["s".into()]
        };
        assert_eq!(ids(&events(&run)), again, "{failure:?}");
        let exports = w.splunkd.exports();
        assert_eq!(
            exports[1].form["index_earliest"],
            exports[2].form["index_earliest"]
        );
    }
}

#[test]
fn an_empty_answer_to_the_search_is_a_failed_search_and_does_not_move_the_window() {
    // splunkd answers some failed searches (an eval error, a lookup that fails) with 200 and an
    // empty body; a search that found nothing ends with its last-row mark instead.
    let w = World::new("emptyok");
    let t = now();
    w.webhook("a", "ONBOARDING_FINISHED", (t - 701) as f64, t - 700);
    assert_eq!(ids(&events(&w.run())), ["a"]);
    // Searchable only now, though indexed before the first pass ended (within the overlap).
    w.webhook("b", "ONBOARDING_FINISHED", (t - 11) as f64, t - 10);
    w.splunkd.state.lock().unwrap().export_failure = Some(ExportFailure::EmptyOk);
    let run = w.run();
    assert_eq!((run.status, events(&run).len()), (Some(1), 0), "{run:?}");
    let errors = run.errors();
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].contains("event=splunkd_error")
            && errors[0].contains("without its last-row mark"),
        "{}",
        errors[0]
    );
    w.splunkd.state.lock().unwrap().export_failure = None;
    assert_eq!(
        ids(&events(&w.run())),
        ["b"],
        "b, indexed before the empty answer, is found"
    );
    let exports = w.splunkd.exports();
    assert_eq!(
        exports[1].form["index_earliest"],
        exports[2].form["index_earliest"]
    );
}

#[test]
fn wrong_credentials_stop_the_pass_with_one_clear_error() {
    for (key, password, needle) in [
        ("wrong-key", PASSWORD, "rejected the API key (403"),
        (API_KEY, "wrong-password", "email or password (401"),
    ] {
        let mut w = World::new("creds");
        w.webhook(
            "c",
            "ONBOARDING_FINISHED",
            (now() - 10 - 1) as f64,
            now() - 10,
        );
        w.set("api_key", key);
        w.set("admin_password", password);
        let run = w.run();
        assert_eq!(run.status, Some(1), "{run:?}");
        let errors: Vec<_> = run.errors();
        assert_eq!(errors.len(), 1, "{run:?}");
        assert!(
            errors[0].contains(needle) && errors[0].contains("event=incode_error"),
            "{}",
            errors[0]
        );
        // The interview waits for a pass with the right credentials.
        let pending: i64 = w
            .checkpoint()
            .query_row(
                "SELECT count(*) FROM jobs WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(pending, 1);
    }
}

#[test]
fn a_masked_secret_missing_from_the_store_is_an_actionable_error() {
    let mut w = World::new("missing");
    w.set("api_key", "********");
    let run = w.run();
    assert_eq!(run.status, Some(1));
    assert!(
        run.stderr.contains(
            "api_key is masked in inputs.conf, but Splunk's credential store has no value for it"
        ),
        "{run:?}"
    );
}

#[test]
fn at_most_max_concurrency_requests_are_in_flight_and_each_interview_is_written_once() {
    let mut w = World::new("concurrency");
    let expected = w.finished_sessions("c", 40);
    *w.incode.latency.lock().unwrap() = Duration::from_millis(30);
    w.set("max_concurrency", "3");
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    // Written as the answers arrive, so in about the order sent (oldest first).
    assert_eq!(sorted(ids(&events(&run))), expected);
    assert_eq!(
        w.incode
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
}

#[test]
fn a_loopback_splunkd_is_reached_whatever_ca_cacert_pem_holds() {
    // On loopback splunkd's certificate is not verified (docs/operations.md says why), so a
    // cacert.pem that did not sign it, or none at all, does not matter.
    let w = World::new("tls");
    let other = tls::splunk_like();
    std::fs::write(w.dir.join("home/etc/auth/cacert.pem"), other.ca_pem).unwrap();
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(run.errors().is_empty(), "{run:?}");
    std::fs::remove_file(w.dir.join("home/etc/auth/cacert.pem")).unwrap();
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
}

#[test]
fn an_unreachable_splunkd_is_one_error() {
    let w = World::new("nosplunkd");
    let doc = w.document().replace(&w.splunkd.uri, "https://127.0.0.1:9");
    let run = incode_with_env(
        &[],
        doc.as_bytes(),
        &[("SPLUNK_HOME", &native_path(&w.dir.join("home")))],
    );
    assert_eq!(run.status, Some(1));
    let errors: Vec<_> = run.errors();
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].contains("cannot reach splunkd at https://127.0.0.1:9/"),
        "{}",
        errors[0]
    );
}

#[test]
fn an_unreachable_incode_leaves_the_jobs_pending() {
    let mut w = World::new("noincode");
    w.webhook(
        "u",
        "ONBOARDING_FINISHED",
        (now() - 10 - 1) as f64,
        now() - 10,
    );
    w.set("api_url", "http://127.0.0.1:9");
    w.set("request_timeout", "2");
    let run = w.run();
    assert_eq!(run.status, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("cannot reach the Incode API at http://127.0.0.1:9/"),
        "{run:?}"
    );
    let pending: i64 = w
        .checkpoint()
        .query_row(
            "SELECT count(*) FROM jobs WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 1);
}

#[test]
fn a_second_run_of_the_same_input_does_nothing_while_the_first_holds_the_lock() {
    // Two real runs, so the lock is the one the platform's executable takes (a lock taken by this
    // test process would not be seen by a Windows one under Wine).
    let w = World::new("lock");
    w.splunkd.state.lock().unwrap().export_delay = Duration::from_secs(3);
    let (first, stdout) = spawn(&w);
    while w.splunkd.exports().is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(
        run.stderr.starts_with("WARN input=prod event=pass_skipped"),
        "{run:?}"
    );
    assert_eq!(
        w.splunkd.exports().len(),
        1,
        "the second run did not search"
    );
    let mut first = first;
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_eq!(stdout.join().unwrap(), "<stream></stream>\n");
}

#[test]
fn nothing_secret_reaches_the_checkpoint_folder() {
    let mut w = World::new("scan");
    w.webhook(
        "x",
        "ONBOARDING_FINISHED",
        (now() - 10 - 1) as f64,
        now() - 10,
    );
    w.set("log_level", "DEBUG");
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    for entry in std::fs::read_dir(w.checkpoint_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for secret in [API_KEY, PASSWORD, SESSION_KEY, TOKEN_PREFIX] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} on disk"
            );
        }
    }
}

/// Peak resident memory of a running process (kB), sampled until it exits.
fn run_measuring_peak_rss(w: &World) -> (Run, u64) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = support::command()
        .env("SPLUNK_HOME", native_path(&w.dir.join("home")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let document = w.document();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || std::io::Write::write_all(&mut stdin, document.as_bytes()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap().code();
    (
        Run {
            status,
            stdout: reader.join().unwrap(),
            stderr,
        },
        peak,
    )
}

#[test]
fn a_large_export_is_streamed_not_buffered() {
    fn row(i: usize) -> Value {
        json!({"interviewId": format!("g{}", i % 10), "onboardingStatus": "ONBOARDING_FINISHED",
               "clientId": "acme", "flowId": "flow-1", "externalCustomerId": format!("customer-{i:08}"),
               "t": "1795600000.000", "it": "1795600005"})
    }
    let mut peaks = Vec::new();
    for count in [2_000, 100_000] {
        let w = World::new(&format!("large-{count}"));
        w.splunkd.state.lock().unwrap().generated =
            Some(support::fake_splunkd::Generated { count, row });
        let (run, peak) = run_measuring_peak_rss(&w);
        assert_eq!(run.status, Some(0), "{run:?}");
        assert_eq!(events(&run).len(), 10, "{run:?}");
        peaks.push(peak);
    }
    // The 100,000-row body is about 15 MB: buffered, it would show in the peak.
    assert!(peaks[0] > 0, "{peaks:?}");
    eprintln!("peak RSS for 2,000 and 100,000 rows: {peaks:?} kB");
    assert!(
        peaks[1] < peaks[0] + 4_096,
        "peak RSS grew with the export: {peaks:?} kB"
    );
}

#[test]
fn a_kill_in_the_middle_of_a_pass_loses_nothing_and_repeats_at_most_what_was_in_flight() {
    use std::io::Read;
    use std::process::Stdio;
    let mut w = World::new("sigkill");
    let all = w.finished_sessions("k", 40);
    *w.incode.latency.lock().unwrap() = Duration::from_millis(40);
    w.set("max_concurrency", "4");

    let mut child = support::command()
        .env("SPLUNK_HOME", native_path(&w.dir.join("home")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), w.document().as_bytes()).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while seen.windows(8).filter(|w| w == b"</event>").count() < 10 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "the pass ended before it could be killed");
        seen.extend_from_slice(&buf[..n]);
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    // splunkd keeps every whole event it read; a torn last one is dropped.
    let text = String::from_utf8_lossy(&seen);
    let whole = &text[..text.rfind("</event>").unwrap() + "</event>".len()];
    let first_run = events(&Run {
        status: None,
        stdout: format!("{whole}</stream>"),
        stderr: String::new(),
    });

    let second = w.run();
    assert_eq!(second.status, Some(0), "{second:?}");
    let mut delivered = ids(&first_run);
    delivered.extend(ids(&events(&second)));
    let unique: std::collections::BTreeSet<_> = delivered.iter().cloned().collect();
    assert_eq!(
        unique.into_iter().collect::<Vec<_>>(),
        all,
        "no interview lost"
    );
    let repeats = delivered.len() - all.len();
    assert!(repeats <= 4, "{repeats} repeats for max_concurrency 4");
}

/// Starts the binary on the world's input, returns it with its stdout being read on a thread.
fn spawn(w: &World) -> (std::process::Child, std::thread::JoinHandle<String>) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = support::command()
        .env("SPLUNK_HOME", native_path(&w.dir.join("home")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), w.document().as_bytes()).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    (child, reader)
}

/// Asks the run to stop the way splunkd does on its platform, then waits; returns the run and how
/// long it took to end.
fn terminate(
    mut child: std::process::Child,
    stdout: std::thread::JoinHandle<String>,
) -> (Run, Duration) {
    use std::io::Read;
    // splunkd's request to stop: SIGTERM on Linux. Under Wine, SIGINT, which Wine turns into
    // the console event CTRL_C_EVENT for a Windows console program; on Windows splunkd sends
    // CTRL_BREAK_EVENT, which the input handles the same way (see src/shutdown.rs).
    let signal = match target().windows() {
        true => libc::SIGINT,
        false => libc::SIGTERM,
    };
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let signalled = std::time::Instant::now();
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let run = Run {
        status: status.code(),
        stdout: stdout.join().unwrap(),
        stderr,
    };
    (run, took)
}

#[test]
fn a_stop_request_writes_what_finished_commits_and_exits_within_5_seconds() {
    let mut w = World::new("sigterm");
    let all = w.finished_sessions("s", 60);
    *w.incode.latency.lock().unwrap() = Duration::from_millis(150);
    w.set("max_concurrency", "4");
    let (child, stdout) = spawn(&w);
    // Let a few requests finish, then stop it while others are in flight.
    while w.incode.score_requests().len() < 12 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (run, took) = terminate(child, stdout);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(run.status, Some(0), "{run:?}");
    let signal = match target().windows() {
        true => "CTRL_BREAK_OR_C",
        false => "SIGTERM",
    };
    assert!(
        run.stderr
            .contains(&format!("event=stopping signal={signal}")),
        "{run:?}"
    );
    assert!(summary(&run).contains("stopped=true"), "{run:?}");
    let first = events(&run); // a whole, closed stream
    assert!(
        !first.is_empty() && first.len() < all.len(),
        "{} events",
        first.len()
    );
    let requests_before = w.incode.score_requests().len();
    assert!(
        requests_before < all.len(),
        "no new request after the signal"
    );

    // Everything written was committed: the next run fetches only the rest.
    *w.incode.latency.lock().unwrap() = Duration::ZERO;
    let second = w.run();
    let mut delivered = ids(&first);
    delivered.extend(ids(&events(&second)));
    assert_eq!(sorted(delivered), all, "nothing lost, nothing repeated");
}

#[test]
fn a_stop_request_drops_requests_that_hang_and_still_closes_the_stream() {
    let mut w = World::new("sigterm-hang");
    let t = now();
    w.webhook("h1", "ONBOARDING_FINISHED", (t - 11) as f64, t - 10);
    *w.incode.latency.lock().unwrap() = Duration::from_secs(20);
    w.set("request_timeout", "60");
    let (child, stdout) = spawn(&w);
    while w.incode.score_requests().is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (run, took) = terminate(child, stdout);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "<stream></stream>\n");
    assert!(
        summary(&run).contains("enriched=0") && summary(&run).contains("backlog=1"),
        "{run:?}"
    );
}

#[test]
fn a_request_that_hangs_holds_back_no_other_result_and_a_stop_keeps_what_arrived() {
    let mut w = World::new("head-of-line");
    let all = w.finished_sessions("h", 12);
    // The oldest session's answer hangs; the others come at once.
    w.incode.script(
        "h000",
        vec![Answer::ok(&default_score()).after(Duration::from_secs(30))],
    );
    w.set("max_concurrency", "4");
    w.set("request_timeout", "60");
    let (child, stdout) = spawn(&w);
    while w.incode.score_requests().len() < all.len() {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Every answer but h000's has arrived.
    std::thread::sleep(Duration::from_millis(300));
    let (run, took) = terminate(child, stdout);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(sorted(ids(&events(&run))), all[1..], "{run:?}");
    assert!(
        summary(&run).contains("enriched=11") && summary(&run).contains("backlog=1"),
        "{run:?}"
    );
    // Committed: the next run fetches only the one that hung.
    let requests = w.incode.score_requests().len();
    let second = w.run();
    assert_eq!(ids(&events(&second)), ["h000"], "{second:?}");
    assert_eq!(w.incode.score_requests().len(), requests + 1);
}

#[test]
fn a_stop_request_during_a_stalled_search_exits_within_5_seconds_and_loses_nothing() {
    let w = World::new("sigterm-search");
    let t = now();
    w.webhook("q1", "ONBOARDING_FINISHED", (t - 11) as f64, t - 10);
    w.splunkd.state.lock().unwrap().export_delay = Duration::from_secs(30);
    let (child, stdout) = spawn(&w);
    while w.splunkd.exports().is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (run, took) = terminate(child, stdout);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(run.status, Some(1), "{run:?}");
    assert_eq!(run.stdout, "", "no stream was opened yet");
    assert!(
        run.stderr
            .contains("ERROR input=prod event=shutdown_timeout"),
        "{run:?}"
    );
    w.splunkd.state.lock().unwrap().export_delay = Duration::ZERO;
    assert_eq!(
        ids(&events(&w.run())),
        ["q1"],
        "the search window was not skipped"
    );
}

#[test]
fn a_damaged_checkpoint_is_kept_aside_and_the_pass_starts_from_the_backfill_window() {
    let w = World::new("damaged");
    let t = now();
    w.webhook("d1", "ONBOARDING_FINISHED", (t - 101) as f64, t - 100);
    assert_eq!(ids(&events(&w.run())), ["d1"]);
    let file = w.checkpoint_dir().join("prod.sqlite");
    for companion in ["prod.sqlite-wal", "prod.sqlite-shm"] {
        let _ = std::fs::remove_file(w.checkpoint_dir().join(companion));
    }
    std::fs::write(&file, b"\x00\x01 scrambled by a disk fault ".repeat(300)).unwrap();

    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    let warn = run
        .log_lines()
        .into_iter()
        .find(|l| l.starts_with("WARN input=prod event=checkpoint_reset"))
        .unwrap_or_else(|| panic!("{run:?}"));
    assert!(
        warn.contains(&native_path(&file)) && warn.contains("moved to"),
        "{warn}"
    );
    assert!(warn.contains("enriched again"), "{warn}");
    // The backfill window is searched again: d1 is enriched a second time, and said so above.
    assert_eq!(ids(&events(&run)), ["d1"]);
    let kept = std::fs::read_dir(w.checkpoint_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("prod.sqlite.damaged-")
        })
        .count();
    assert_eq!(kept, 1);
    // And the new checkpoint works: nothing more to do.
    assert_eq!(events(&w.run()).len(), 0);
}

#[test]
fn a_checkpoint_locked_by_another_program_stops_the_pass_with_one_error() {
    let w = World::new("locked");
    let t = now();
    assert_eq!(w.run().status, Some(0));
    w.webhook("l1", "ONBOARDING_FINISHED", (t - 11) as f64, t - 10);
    let other = w.checkpoint();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let run = w.run();
    assert_eq!(run.status, Some(1), "{run:?}");
    let errors: Vec<_> = run.errors();
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].contains("event=checkpoint_error")
            && errors[0].contains("locked by another program"),
        "{}",
        errors[0]
    );
    assert!(w.incode.score_requests().is_empty(), "no storm of requests");
    assert!(
        w.splunkd.exports().len() == 1,
        "only the first run searched"
    );
    drop(other);
    assert_eq!(ids(&events(&w.run())), ["l1"]);
}

#[test]
fn a_pass_stops_starting_requests_when_its_interval_is_nearly_over() {
    let mut w = World::new("budget");
    w.finished_sessions("b", 100);
    *w.incode.latency.lock().unwrap() = Duration::from_millis(200);
    w.set("max_concurrency", "1");
    w.set("interval", "6"); // 80% of it is 4.8 s, raised to the 5 s minimum
    let started = std::time::Instant::now();
    let run = w.run();
    let took = started.elapsed();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(run.stderr.contains("event=pass_budget_reached"), "{run:?}");
    let done = events(&run).len();
    assert!((10..100).contains(&done), "{done} enriched");
    assert!(
        summary(&run).contains(&format!("backlog={}", 100 - done)),
        "{run:?}"
    );
}

#[test]
fn an_oversized_answer_from_incode_is_refused() {
    let w = World::new("oversized");
    w.webhook(
        "big",
        "ONBOARDING_FINISHED",
        (now() - 11) as f64,
        now() - 10,
    );
    let huge = format!("{{\"reasonMsg\":\"{}\"}}", "x".repeat(11 << 20));
    w.incode.script("big", vec![Answer::ok(&huge)]);
    let run = w.run();
    assert_eq!((run.status, events(&run).len()), (Some(0), 0), "{run:?}");
    assert!(run.stderr.contains("larger than 10485760 bytes"), "{run:?}");
    assert!(summary(&run).contains("deferred=1"));
}

#[test]
fn a_long_retry_after_stops_the_pass_and_the_next_one_waits_without_counting_attempts() {
    let mut w = World::new("longthrottle");
    let t = now();
    for i in 0..20 {
        w.webhook(
            &format!("x{i:02}"),
            "ONBOARDING_FINISHED",
            (t - 11) as f64 + i as f64 / 1000.0,
            t - 10,
        );
        w.incode
            .script(&format!("x{i:02}"), vec![Answer::throttled("600")]);
    }
    w.set("max_concurrency", "2");
    let run = w.run();
    assert_eq!((run.status, events(&run).len()), (Some(0), 0), "{run:?}");
    let sent = w.incode.score_requests().len();
    assert!(
        sent <= 2,
        "{sent} requests sent after Incode asked to wait 10 minutes"
    );
    assert!(summary(&run).contains("backlog=20"), "{run:?}");
    let attempts: i64 = w
        .checkpoint()
        .query_row("SELECT max(attempts) FROM jobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(attempts, 0, "throttling is not a failure of the interview");
    // The next run respects the wait: no login, no request.
    let logins = w.incode.logins();
    let run = w.run();
    assert!(run.stderr.contains("event=incode_throttled"), "{run:?}");
    assert_eq!(
        (w.incode.logins(), w.incode.score_requests().len()),
        (logins, sent)
    );
}

#[test]
fn concurrent_requests_that_meet_an_expired_token_share_one_fresh_login() {
    let mut w = World::new("401-concurrent");
    w.finished_sessions("c", 12);
    *w.incode.latency.lock().unwrap() = Duration::from_millis(30);
    w.incode.state.lock().unwrap().expire_tokens_after = Some(3);
    w.set("max_concurrency", "4");
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(events(&run).len(), 12, "{run:?}");
    assert_eq!(
        w.incode.logins(),
        2,
        "one login, then exactly one fresh login"
    );
}
