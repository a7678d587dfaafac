"""The app's SPL content, run: macros, eventtypes and tags, the score lookup's saved searches,
the alerts, the dashboards' data sources and the "open in Incode" view, evaluated over event
corpora with the offline SPL evaluator in ../shared/splsim (beside the repository, as test.sh
expects). Python standard library only:

    python3 -m unittest discover -s tests/spl

Each test builds an app folder as Splunk installs it (default/, lookups/, metadata/ of this
repository) with, where a test needs it, a local/ folder holding what an administrator or
Splunk itself adds.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import unittest
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
if not (SHARED / "splsim").is_dir():
    raise SystemExit(f"the SPL evaluator is missing: {SHARED / 'splsim'} (../shared beside the repository)")
sys.path.insert(0, str(SHARED))

import splsim  # noqa: E402
from splunksim import confparse  # noqa: E402

# Splunk's own search-time fields of sourcetype=splunkd (log_level, component), which the
# incode_modinput_logs macro filters on. Splunk extracts them from splunkd.log's header
# "<date> <time> <zone> <LEVEL> <component> [<thread>] - <message>" (splunkd's TIME_FORMAT
# "%m-%d-%Y %H:%M:%S.%l %z", system/default/props.conf); the thread field is there since 9.x.
SPLUNKD_PROPS = (
    "[splunkd]\n"
    "EXTRACT-splunkd_header = ^\\S+ \\S+ \\S+ (?<log_level>\\S+)\\s+(?<component>\\S+)"
    "(?: \\[[^\\]]*\\])? - (?<event_message>.*)$\n"
)

NOW = 1_800_000_000.0
DAY = 86_400.0
AUTHENTICATION = "tag=authentication"


def make_app(local: dict[str, str] | None = None) -> splsim.App:
    """An installed copy of the app: default/, lookups/ and metadata/ of this repository, plus
    local/<file> for each entry of `local`."""
    root = Path(tempfile.mkdtemp(prefix="ta-incode-app-"))
    os.symlink(REPO / "default", root / "default")
    os.symlink(REPO / "splunk_app" / "lookups", root / "lookups")
    os.symlink(REPO / "splunk_app" / "metadata", root / "metadata")
    files = {"props.conf": SPLUNKD_PROPS}
    files.update(local or {})
    (root / "local").mkdir()
    for name, text in files.items():
        (root / "local" / name).write_text(text)
    return splsim.App(str(root))


def event(raw, sourcetype, time, *, indextime=None, index="incode", source="splsim"):
    return splsim.make_event(raw, sourcetype, time, index=index, indextime=indextime, source=source)


def webhook(name: str, **changes) -> dict:
    """A webhook payload of the corpus (tests/webhooks/), with fields changed."""
    payload = json.loads((REPO / "tests" / "webhooks" / name).read_text())
    payload.update(changes)
    return payload


def score(name: str, **changes) -> str:
    """A score event of the corpus (tests/webhooks/score/, what the modular input writes), with
    flat fields changed in place (the field order is the writer's)."""
    data = json.loads((REPO / "tests" / "webhooks" / "score" / name).read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data, separators=(",", ":"))


def conf(name: str) -> confparse.ConfFile:
    return confparse.parse_text((REPO / "default" / name).read_text(), name)


# ----------------------------------------------------------------------------------------------
# incode_modinput_logs on splunkd.log lines
# ----------------------------------------------------------------------------------------------


class ModinputLogs(unittest.TestCase):
    corpus = [json.loads(line) for line in (REPO / "tests" / "splunkd" / "exec_processor.jsonl").read_text().splitlines()]

    def events(self):
        return [
            event(row["raw"], "splunkd", NOW - 60 * i, index="_internal", source="/opt/splunk/var/log/splunk/splunkd.log")
            for i, row in enumerate(self.corpus)
        ]

    def test_every_line_of_the_corpus(self):
        app = make_app()
        rows = splsim.run(
            "`incode_modinput_logs` | table _raw incode_input incode_level incode_event enriched incode_status",
            self.events(), now=NOW, app=app)
        got = {r["_raw"]: r for r in rows}
        for row in self.corpus:
            with self.subTest(source=row["source"]):
                expect = row["expect"]
                if expect is None:
                    self.assertNotIn(row["raw"], got, "not the add-on's line")
                    continue
                self.assertIn(row["raw"], got, "the add-on's line is dropped")
                r = got[row["raw"]]
                self.assertEqual(r.get("incode_input"), expect["input"])
                self.assertEqual(r.get("incode_level"), expect["level"])
                self.assertEqual(r.get("incode_event"), expect["event"])
                if "enriched" in expect:
                    self.assertEqual(r.get("enriched"), expect["enriched"])
                if "status" in expect:
                    self.assertEqual(r.get("incode_status"), expect["status"])

    def test_inputs_with_a_space_stay_apart_on_the_health_dashboard_and_in_the_alert(self):
        app = make_app()
        lines = [
            ("prod", 'input=prod event=pass_finished found=1 enriched=1 retried=0 throttled=0 deferred=0 given_up=0 backlog=0 duration_ms=10', NOW - 40 * 60),
            ('"prod eu"', 'input="prod eu" event=pass_finished found=2 enriched=2 retried=0 throttled=0 deferred=0 given_up=0 backlog=0 duration_ms=10', NOW - 5 * 60),
            ('"prod us"', 'input="prod us" event=pass_finished found=3 enriched=3 retried=0 throttled=0 deferred=0 given_up=0 backlog=0 duration_ms=10', NOW - 50 * 60),
        ]
        path = "/opt/splunk/etc/apps/TA-incode/linux_x86_64/bin/incode"
        events = [
            event(f'11-26-2026 10:00:00.000 +0000 INFO  ExecProcessor [1687 ExecProcessor] - message from "{path}" {msg}',
                  "splunkd", t, index="_internal")
            for _, msg, t in lines
        ]
        board = splsim.run_dashboard(app, "incode_addon_health", events, now=NOW)
        self.assertNotIn("error", board["ds_input_list"], board["ds_input_list"].get("error"))
        self.assertEqual([r["incode_input"] for r in board["ds_input_list"]["rows"]], ["prod", "prod eu", "prod us"])
        chosen = splsim.run_dashboard(app, "incode_addon_health", events, now=NOW, tokens={"input": "prod eu"})
        self.assertEqual([(r["incode_input"], r["passes"]) for r in chosen["ds_passes_by_input"]["rows"]], [("prod eu", "1")])
        fired = splsim.run_saved_search(app, "Incode - Modular input not completing a pass", events, now=NOW)
        self.assertEqual(sorted(r["incode_input"] for r in fired), ["prod", "prod us"])


# ----------------------------------------------------------------------------------------------
# One verdict per verification in CIM Authentication
# ----------------------------------------------------------------------------------------------


def interview(iid, t0, *, session=None, verdict, reviews=(), customer="cust-1"):
    """The events Incode and the modular input produce for one interview: the session webhook's
    outcome, ONBOARDING_FINISHED, the score fetched on it, and per manual review the decision
    webhook and the score fetched again (contract §2 step 3)."""
    common = {"interviewId": iid, "clientId": "acme-bank", "externalCustomerId": customer}
    out = []
    if session:
        out.append(event(json.dumps(webhook("session/session_failed.json", event_type=session, **common)),
                         "incode:session", t0))
    out.append(event(json.dumps(webhook("onboarding/onboarding_finished.json", **common)), "incode:onboarding", t0 + 1))
    out.append(event(score("synthetic_warn.json", overall_status=verdict, trigger="ONBOARDING_FINISHED", **common),
                     "incode:score", t0 + 1, indextime=t0 + 300))
    for n, (decision, refetched) in enumerate(reviews):
        t = t0 + 3600 * (n + 1)
        out.append(event(json.dumps(webhook("onboarding/manual_review_rejected.json", onboardingStatus=decision, **common)),
                         "incode:onboarding", t))
        out.append(event(score("synthetic_warn.json", overall_status=refetched, trigger=decision, **common),
                         "incode:score", t, indextime=t + 300))
    return out


class OneVerdictPerVerification(unittest.TestCase):
    def test_authentication_events_per_interview(self):
        t0 = NOW - 6 * 3600
        events = (
            # Incode sends the session to review (WARN), a reviewer rejects it: all three kinds.
            interview("iv-review-reject", t0, session="SESSION_PENDING_REVIEW", verdict="WARN",
                      reviews=[("MANUAL_REVIEW_REJECTED", "FAIL")])
            # Incode fails it on its own.
            + interview("iv-auto-fail", t0, session="SESSION_FAILED", verdict="FAIL")
            # Incode passes it.
            + interview("iv-auto-ok", t0, session="SESSION_SUCCEEDED", verdict="OK")
            # A reviewer overrides Incode's FAIL.
            + interview("iv-override", t0, session="SESSION_FAILED", verdict="FAIL",
                        reviews=[("MANUAL_REVIEW_APPROVED", "OK")])
        )
        app = make_app()
        rows = splsim.run(
            f'`incode_index` {AUTHENTICATION} | stats count as decisions, count(eval(action="failure")) as failures, '
            'count(eval(action="success")) as successes, values(sourcetype) as sourcetypes by interviewId',
            events, now=NOW, earliest="-24h", app=app)
        got = {r["interviewId"]: r for r in rows}
        # One event per decision: Incode's verdict, then each reviewer's; the session webhook and
        # the score fetched again after a review are not counted a second time.
        expected = {
            "iv-review-reject": ("2", "1", "0"),
            "iv-auto-fail": ("1", "1", "0"),
            "iv-auto-ok": ("1", "0", "1"),
            "iv-override": ("2", "1", "1"),
        }
        self.assertEqual({k: (v["decisions"], v["failures"], v["successes"]) for k, v in got.items()}, expected)
        for iid, r in got.items():
            self.assertNotIn("incode:session", r["sourcetypes"], iid)
        # The others stay searchable under eventtypes of their own, untagged.
        others = splsim.run(
            '`incode_index` eventtype IN ("incode_session_outcome", "incode_score_no_verdict") '
            '| stats count by eventtype | eval tagged=0',
            events, now=NOW, earliest="-24h", app=app)
        self.assertEqual({r["eventtype"]: r["count"] for r in others},
                         {"incode_session_outcome": "4", "incode_score_no_verdict": "2"})
        untagged = splsim.run(
            '`incode_index` eventtype IN ("incode_session_outcome", "incode_score_no_verdict") tag=* | stats count',
            events, now=NOW, earliest="-24h", app=app)
        self.assertEqual(untagged[0]["count"], "0")


# ----------------------------------------------------------------------------------------------
# The score lookup: update, DELETED, retention, reach
# ----------------------------------------------------------------------------------------------

UPDATE = "Incode - Update score lookup"
PRUNE = "Incode - Prune score lookup"


class ScoreLookup(unittest.TestCase):
    def rows(self, app):
        return {r["interviewId"]: r for r in app.lookups.rows("incode_scores")}

    def webhook_scores(self, app, events, iid, now):
        """What the automatic lookup shows on the interview's onboarding webhook."""
        rows = splsim.run(f'`incode_index` sourcetype="incode:onboarding" interviewId="{iid}" | table overall_status overall_score',
                          events, now=now, app=app)
        return [r.get("overall_status") for r in rows]

    def test_deleted_session_loses_its_score_reruns_keep_rows_retention_drops_old_ones(self):
        app = make_app()
        t0 = NOW
        finished = [event(json.dumps(webhook("onboarding/onboarding_finished.json", interviewId=iid)),
                          "incode:onboarding", t0 - 600) for iid in ("iv-a", "iv-b")]
        scores = [
            event(score("synthetic_warn.json", interviewId="iv-a", overall_status="OK"), "incode:score", t0 - 600, indextime=t0 - 60),
            event(score("synthetic_warn.json", interviewId="iv-b", overall_status="FAIL"), "incode:score", t0 - 600, indextime=t0 - 60),
        ]
        events = finished + scores
        splsim.run_saved_search(app, UPDATE, events, now=t0)
        self.assertEqual({k: v.get("overall_status") for k, v in self.rows(app).items()}, {"iv-a": "OK", "iv-b": "FAIL"})
        self.assertEqual(self.webhook_scores(app, events, "iv-a", t0), ["OK"])

        # A run with nothing new (inside and past the 65-minute index window) keeps every row.
        before = self.rows(app)
        splsim.run_saved_search(app, UPDATE, events, now=t0 + 300)
        splsim.run_saved_search(app, UPDATE, events, now=t0 + 7200)
        self.assertEqual(self.rows(app), before)

        # DELETED for iv-a (and a session without a score): the score goes at the next run.
        t1 = t0 + 7200
        deleted = event(json.dumps(webhook("onboarding/deleted.json", interviewIds=["iv-a", "iv-never-scored"])),
                        "incode:onboarding", t1, indextime=t1)
        events.append(deleted)
        splsim.run_saved_search(app, UPDATE, events, now=t1 + 60)
        rows = self.rows(app)
        for field in ("overall_status", "overall_score", "reasonMsg", "failed_checks", "enriched_at"):
            self.assertNotIn(field, rows["iv-a"], f"a deleted session keeps {field}")
        self.assertEqual(rows["iv-b"]["overall_status"], "FAIL")
        self.assertEqual(self.webhook_scores(app, events, "iv-a", t1 + 60), [None])
        self.assertEqual(self.webhook_scores(app, events, "iv-b", t1 + 60), ["FAIL"])

        # A score event of the deleted session indexed later (a retry in flight) stays out.
        events.append(event(score("synthetic_warn.json", interviewId="iv-a", overall_status="OK",
                                  enriched_at="2030-01-01T00:00:00.000Z"), "incode:score", t0 - 600, indextime=t1 + 120))
        splsim.run_saved_search(app, UPDATE, events, now=t1 + 300)
        self.assertNotIn("overall_status", self.rows(app)["iv-a"])

        # The prune keeps what the retention keeps, under the same keys (a later upsert of iv-b
        # replaces its row instead of adding a second one)...
        splsim.run_saved_search(app, PRUNE, events, now=t1 + DAY)
        self.assertEqual(set(self.rows(app)), {"iv-a", "iv-b", "iv-never-scored"})
        events.append(event(score("synthetic_warn.json", interviewId="iv-b", overall_status="OK",
                                  enriched_at="2030-01-01T00:00:00.000Z"), "incode:score", t1 + DAY, indextime=t1 + DAY))
        splsim.run_saved_search(app, UPDATE, events, now=t1 + DAY + 60)
        self.assertEqual([r["overall_status"] for r in app.lookups.rows("incode_scores") if r["interviewId"] == "iv-b"], ["OK"])

        # ... and drops a session, or a deletion mark, older than the retention (90 days, counted
        # from the start of the day 90 days back): the marks of day t1 go on day t1 + 91, the
        # score of day t1 + 1 stays.
        splsim.run_saved_search(app, PRUNE, events, now=t1 + 90 * DAY)
        self.assertEqual(set(self.rows(app)), {"iv-a", "iv-b", "iv-never-scored"})
        splsim.run_saved_search(app, PRUNE, events, now=t1 + 91 * DAY)
        self.assertEqual(set(self.rows(app)), {"iv-b"})
        splsim.run_saved_search(app, PRUNE, events, now=t1 + 200 * DAY)
        self.assertEqual(self.rows(app), {}, "every row expired: the collection is empty")

    def test_reach_follows_the_retention_and_an_admin_can_change_it(self):
        # A first pass with a large backfill_hours writes scores whose _time (the webhook's) lies
        # weeks back: the lookup takes them as far back as it keeps sessions.
        events = [
            event(score("synthetic_warn.json", interviewId=f"iv-{days}d"), "incode:score", NOW - days * DAY, indextime=NOW - 60)
            for days in (1, 30, 89, 120)
        ]
        app = make_app()
        splsim.run_saved_search(app, UPDATE, events, now=NOW)
        self.assertEqual(set(self.rows(app)), {"iv-1d", "iv-30d", "iv-89d"})
        longer = make_app({"macros.conf": "[incode_score_retention_days]\ndefinition = 180\n"})
        splsim.run_saved_search(longer, UPDATE, events, now=NOW)
        self.assertEqual(set(self.rows(longer)), {"iv-1d", "iv-30d", "iv-89d", "iv-120d"})
        splsim.run_saved_search(longer, PRUNE, events, now=NOW + 100 * DAY)
        self.assertEqual(set(self.rows(longer)), {"iv-1d", "iv-30d"})

    def test_the_rebuild_in_the_docs_is_the_update_search(self):
        docs = (REPO / "docs" / "parsing.md").read_text()
        search = conf("savedsearches.conf").get(UPDATE)["search"]
        base = search.split("\n")[0].rstrip(" \\")
        self.assertTrue(base in docs, f"docs/parsing.md lacks the update search's base: {base}")
        self.assertTrue("| `incode_score_rows`" in docs, "docs/parsing.md lacks the rebuild")


# ----------------------------------------------------------------------------------------------
# Links out of Splunk
# ----------------------------------------------------------------------------------------------


def simple_xml_searches(view: str) -> dict:
    """The searches of a Simple XML view: id (or "post:<n>" for a post-process) -> full SPL, a
    post-process after its base as Splunk runs it."""
    xml = (REPO / "default" / "data" / "ui" / "views" / f"{view}.xml").read_text()
    out, by_id = {}, {}
    for n, m in enumerate(re.finditer(r'<search(?:\s+id="([^"]+)")?(?:\s+base="([^"]+)")?\s*>\s*<query>(.*?)</query>', xml, re.S)):
        text = m.group(3).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
        query = f"{by_id[m.group(2)]} {text}" if m.group(2) else text
        if m.group(1):
            by_id[m.group(1)] = query
        out[m.group(1) or f"post:{n}"] = query
    return out


class OpenInIncode(unittest.TestCase):
    ODD_ID = 'a b&c=d/e?f#g%h"i+j'

    def test_the_interview_id_is_url_encoded_into_the_admins_url(self):
        app = make_app({"macros.conf": '[incode_dashboard_session_url(1)]\n'
                                       'definition = "https://dashboard.example.com/single-session?interviewId=" . $interview_id$\n'})
        searches = simple_xml_searches("incode_open_in_incode")
        forward = next(q for k, q in searches.items() if k.startswith("post:") and "isnotnull(incode_url)" in q)
        rows = splsim.run(forward, [], now=NOW, tokens={"interviewId": self.ODD_ID}, app=app)
        self.assertEqual([r["incode_url"] for r in rows],
                         ["https://dashboard.example.com/single-session?interviewId=" + quote(self.ODD_ID, safe="")])
        self.assertEqual(rows[0]["interviewId"], self.ODD_ID)

    def test_off_until_the_admin_sets_the_url(self):
        app = make_app()
        searches = simple_xml_searches("incode_open_in_incode")
        forward = next(q for k, q in searches.items() if k.startswith("post:") and "isnotnull(incode_url)" in q)
        self.assertEqual(splsim.run(forward, [], now=NOW, tokens={"interviewId": "66b1a0000000000000000006"}, app=app), [])
        panel = next(q for k, q in searches.items() if k.startswith("post:") and "status=" in q)
        rows = splsim.run(panel, [], now=NOW, tokens={"interviewId": "66b1a0000000000000000006"}, app=app)
        self.assertEqual(len(rows), 1)
        self.assertIn("Not configured", rows[0]["status"])
        self.assertNotIn("incode_url", rows[0])
        action = conf("workflow_actions.conf").get("incode_open_in_incode")
        self.assertEqual(action.get("disabled"), "1", "the workflow action ships disabled")
        self.assertEqual(conf("workflow_actions.conf").get("incode_open_investigator").get("disabled"), None)

    def test_the_investigator_opens_sessions_through_the_same_view(self):
        xml = (REPO / "default" / "data" / "ui" / "views" / "incode_session_investigator.xml").read_text()
        self.assertIn('"url": "/app/TA-incode/incode_open_in_incode?form.interviewId=$row.interviewId.value|u$"', xml)
        self.assertNotIn("incode_dashboard_session_url", re.sub(r'"description": "[^"]*"', "", xml))


# ----------------------------------------------------------------------------------------------
# Alert thresholds
# ----------------------------------------------------------------------------------------------


# The detections (tests/spl/test_detections.py runs them), each with its threshold macro. The
# velocity detection is the refined "Many sessions from one IP" alert and keeps that alert's
# name and macro.
DETECTIONS = {
    "Incode - Many sessions from one IP": "incode_threshold_sessions_per_ip",
    "Incode - Repeated failed verifications for one customer": "incode_threshold_customer_failures",
    "Incode - Identity reused across customers": "incode_threshold_identity_reuse",
    "Incode - Manual review overrode the score verdict": "incode_threshold_review_override",
    "Incode - Sessions without an outcome webhook": "incode_threshold_missed_outcomes",
    "Incode - Liveness or face-match failure spike": "incode_threshold_module_failure_spike",
    "Incode - Impossible travel between sessions of one customer": "incode_threshold_impossible_travel",
}

ALERTS = {
    "Incode - Webhooks silent for an hour": "incode_threshold_webhooks_silent",
    "Incode - Spike in failed verifications": "incode_threshold_failed_spike",
    "Incode - Many sessions for one externalCustomerId": "incode_threshold_sessions_per_customer",
    "Incode - Enrichment errors": "incode_threshold_enrichment_errors",
    "Incode - Enrichment backlog growing": "incode_threshold_enrichment_backlog",
    "Incode - Modular input not completing a pass": "incode_threshold_pass_not_completed",
    **DETECTIONS,
}


class AlertThresholds(unittest.TestCase):
    def test_one_threshold_macro_per_alert_and_alerts_ship_disabled(self):
        saved, macros = conf("savedsearches.conf"), conf("macros.conf")
        alerts = [n for n, s in saved.items() if s.get("alert.track") == "1"]
        self.assertEqual(sorted(alerts), sorted(ALERTS))
        for name, macro in ALERTS.items():
            with self.subTest(alert=name):
                search = saved.get(name)["search"]
                self.assertEqual(saved.get(name).get("disabled"), "1")
                self.assertEqual(re.findall(r"`(incode_threshold_\w+)`", search), [macro])
                self.assertIn(f"| where `{macro}`", search)
                self.assertIsNotNone(macros.get(macro), f"[{macro}] missing")
                self.assertNotRegex(search, r"\| where [^`|]*(>=|>)\s*\d", "a threshold left in the search")

    def session_started(self, n, ip, t):
        return [event(json.dumps(webhook("session/session_started.json", interviewId=f"iv-{ip}-{i}", ip=ip)),
                      "incode:session", t - i) for i in range(n)]

    def test_defaults_fire_and_a_local_macro_tunes_them(self):
        ip = self.session_started(10, "203.0.113.9", NOW - 60) + self.session_started(3, "203.0.113.10", NOW - 60)
        customer = [event(json.dumps(webhook("onboarding/onboarding_finished.json", interviewId=f"iv-c{i}",
                                             externalCustomerId="cust-9")), "incode:onboarding", NOW - 60 - i)
                    for i in range(5)]
        errors = [event(score("enrichment_error.json", interviewId="iv-err"), "incode:score", NOW - 3 * 3600,
                        indextime=NOW - 1200)]
        backlog = [event(json.dumps(webhook("onboarding/onboarding_finished.json", interviewId=f"iv-w{i}")),
                         "incode:onboarding", NOW - 45 * 60 - i) for i in range(10)]
        # An hour of failures well above a quiet week.
        spike = [event(score("synthetic_warn.json", interviewId=f"iv-f{i}", overall_status="FAIL"), "incode:score",
                       NOW - 3000 - i) for i in range(8)]
        spike += [event(score("synthetic_warn.json", interviewId=f"iv-q{h}", overall_status="FAIL"), "incode:score",
                        NOW - h * 3600 - 1800) for h in range(3, 100, 7)]
        cases = {
            "Incode - Webhooks silent for an hour": ([], "minutes_silent >= 2000"),
            "Incode - Many sessions from one IP": (ip, "sessions >= 11"),
            "Incode - Many sessions for one externalCustomerId": (customer, "sessions >= 6"),
            "Incode - Enrichment errors": (errors, "errors >= 2"),
            "Incode - Enrichment backlog growing": (backlog, "waiting_over_30m >= 11 OR oldest_wait_min > 120"),
            "Incode - Spike in failed verifications": (spike, "failed >= 9 AND failed > baseline + 3 * sd"),
        }
        now = (NOW // 3600) * 3600 + 300
        for name, (events, tuned) in cases.items():
            with self.subTest(alert=name):
                fired = splsim.run_saved_search(make_app(), name, events, now=now)
                self.assertTrue(fired, "does not fire at its default threshold")
                local = make_app({"macros.conf": f"[{ALERTS[name]}]\ndefinition = {tuned}\n"})
                self.assertEqual(splsim.run_saved_search(local, name, events, now=now), [], "the tuned threshold is ignored")
        ip_rows = splsim.run_saved_search(make_app(), "Incode - Many sessions from one IP", ip, now=now)
        self.assertEqual([r["ip"] for r in ip_rows], ["203.0.113.9"])
        quiet = [event(json.dumps(webhook("onboarding/expired.json")), "incode:onboarding", now - 600)]
        self.assertEqual(splsim.run_saved_search(make_app(), "Incode - Webhooks silent for an hour", quiet, now=now), [])


# ----------------------------------------------------------------------------------------------
# The health dashboard's setup tiles
# ----------------------------------------------------------------------------------------------


class HealthTiles(unittest.TestCase):
    def logs(self, lines):
        path = "/opt/splunk/etc/apps/TA-incode/linux_x86_64/bin/incode"
        return [event(f'11-26-2026 10:00:00.000 +0000 {lvl}  ExecProcessor [1687 ExecProcessor] - message from "{path}" {msg}',
                      "splunkd", t, index="_internal") for lvl, msg, t in lines]

    def test_onboarding_webhooks_seen_and_scores_outside_incode_index(self):
        app = make_app({"macros.conf": "[incode_index]\ndefinition = index=incode\n"})
        passes = self.logs([
            ("INFO", 'input="prod eu" event=pass_finished found=3 enriched=3 retried=0 throttled=0 deferred=0 given_up=0 backlog=0 duration_ms=10', NOW - 3600),
            ("INFO", 'input=prod event=pass_finished found=2 enriched=2 retried=0 throttled=0 deferred=0 given_up=0 backlog=0 duration_ms=10', NOW - 1800),
            ("WARN", 'input=prod event=onboarding_webhooks_missing session_webhooks=4', NOW - 1800),
            ("WARN", 'input="prod eu" event=onboarding_webhooks_missing session_webhooks=2', NOW - 900),
        ])
        onboarding = [event(json.dumps(webhook("onboarding/onboarding_finished.json", interviewId=f"iv-o{i}")),
                            "incode:onboarding", NOW - 4000 - i) for i in range(3)]
        # Three score events where incode_index looks, two in an index it leaves out; one written
        # before the period (its webhook's _time is old, its index time is what counts).
        scores = [event(score("synthetic_warn.json", interviewId=f"iv-s{i}"), "incode:score", NOW - 2 * DAY,
                        indextime=NOW - 3000, index="incode") for i in range(3)]
        scores += [event(score("synthetic_warn.json", interviewId=f"iv-x{i}"), "incode:score", NOW - 3000,
                         indextime=NOW - 3000, index="scores") for i in range(2)]
        scores.append(event(score("synthetic_warn.json", interviewId="iv-old"), "incode:score", NOW - 3 * DAY,
                            indextime=NOW - 3 * DAY, index="incode"))
        events = passes + onboarding + scores
        board = splsim.run_dashboard(app, "incode_addon_health", events, now=NOW, tokens={
            "global_time.earliest": "-24h", "global_time.latest": "now"})
        for ds in ("ds_onboarding_seen", "ds_onboarding_missing", "ds_scores_outside"):
            self.assertNotIn("error", board[ds], board[ds].get("error"))
        self.assertEqual(board["ds_onboarding_seen"]["rows"], [{"onboarding_webhooks": "3"}])
        self.assertEqual(board["ds_onboarding_missing"]["rows"], [{"missing_warnings": "2"}])
        [row] = board["ds_scores_outside"]["rows"]
        self.assertEqual((row["enriched"], row["found_in_incode_index"], row["outside"]), ("5", "3", "2"))
        self.assertIn("incode_index macro", row["what_to_do"])
        chosen = splsim.run_dashboard(app, "incode_addon_health", events, now=NOW, tokens={"input": "prod eu"})
        self.assertEqual(chosen["ds_onboarding_missing"]["rows"], [{"missing_warnings": "1"}])

        everywhere = make_app()
        board = splsim.run_dashboard(everywhere, "incode_addon_health", events, now=NOW)
        [row] = board["ds_scores_outside"]["rows"]
        self.assertEqual((row["enriched"], row["found_in_incode_index"], row["outside"]), ("5", "5", "0"))

    def test_every_data_source_of_every_studio_view_runs(self):
        app = make_app()
        for view in ("incode_overview", "incode_session_investigator", "incode_addon_health"):
            board = splsim.run_dashboard(app, view, [], now=NOW, tokens={"iid": "x", "ecid": "", "idn": ""})
            for ds, result in board.items():
                with self.subTest(view=view, ds=ds):
                    self.assertNotIn("error", result, result.get("error"))


# ----------------------------------------------------------------------------------------------
# Permissions (metadata/default.meta)
# ----------------------------------------------------------------------------------------------


def meta_access(meta: confparse.ConfFile, kind: str, name: str) -> tuple[set, set]:
    """(read, write) roles of one object as Splunk resolves them: the object's stanza, else its
    category's, else the app's (default.meta.spec). Object names are URL-encoded in stanzas."""
    for stanza in (f"{kind}/{quote(name, safe='')}", kind, ""):
        settings = meta.stanzas.get(stanza)
        if settings and "access" in settings:
            m = re.fullmatch(r"read:\[([^\]]*)\],write:\[([^\]]*)\]", settings["access"].replace(" ", ""))
            return set(m.group(1).split(",")), set(m.group(2).split(","))
    raise AssertionError(f"no access for {kind}/{name}")


class Permissions(unittest.TestCase):
    meta = confparse.parse_text((REPO / "splunk_app" / "metadata" / "default.meta").read_text(), "default.meta")

    def test_only_admins_change_what_steers_the_app_power_users_keep_read(self):
        admins = {"admin", "sc_admin"}
        objects = [("macros", "incode_index"), ("macros", "incode_dashboard_session_url(1)"),
                   ("transforms", "incode_scores"), ("transforms", "incode_status"),
                   ("lookups", "incode_status.csv"), ("collections", "incode_scores")]
        objects += [("macros", name) for name in conf("macros.conf").names()]
        objects += [("savedsearches", name) for name in conf("savedsearches.conf").names()]
        for kind, name in objects:
            with self.subTest(object=f"{kind}/{name}"):
                read, write = meta_access(self.meta, kind, name)
                self.assertEqual(write, admins)
                self.assertIn("*", read)
        # The rest of the app as before: power users may still add views and eventtypes.
        self.assertEqual(meta_access(self.meta, "views", "incode_overview")[1], {"admin", "power", "sc_admin"})
        self.assertEqual(meta_access(self.meta, "passwords", "x"), (admins, admins))


if __name__ == "__main__":
    unittest.main()
