"""The detections of savedsearches.conf (docs/detections.md), run over planted scenarios with the
offline SPL evaluator in ../shared/splsim: for each one a case where it fires and a close case
where it must not, the threshold macro as the only gate, the fields Enterprise Security's risk
action reads, and every saved search and Studio data source of the app run over a corpus.

    python3 -m unittest discover -s tests/spl

splsim has no trigonometric eval functions (sin, cos, asin, ...), which the impossible-travel
detection uses for the haversine distance. `splunk_trig()` adds them for the tests that need them,
with the meaning Splunk documents ("Trig and Hyperbolic functions", SPL search reference: angles
in radians, asin/acos of a value outside [-1, 1] undefined), on top of splsim's own functions.
"""
from __future__ import annotations

import contextlib
import json
import math
import re
import unittest
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from test_content import DAY, DETECTIONS, NOW, REPO, conf, event, make_app, score, webhook
from test_summary import rebuild_search

import splsim  # noqa: E402  (test_content puts ../shared on sys.path)
from splsim import evaluator  # noqa: E402

VELOCITY, FAILURES, IDENTITY, OVERRIDE, MISSED, SPIKE, TRAVEL = DETECTIONS

RISK_FIELDS = ("risk_object", "risk_object_type", "risk_score", "threat_object", "threat_object_type",
               "risk_message", "investigate")
INVESTIGATOR = "/app/TA-incode/incode_session_investigator"
HOUR = 3600.0

_TRIG = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan}


@contextlib.contextmanager
def splunk_trig():
    """splsim's eval with Splunk's trigonometric functions added (see the module docstring)."""
    original = evaluator.call

    def call(name, args, ctx):
        if name in _TRIG or name == "atan2":
            vals = [evaluator.to_num(evaluator.evaluate(a, ctx)) for a in args]
            if len(vals) != (2 if name == "atan2" else 1):
                raise splsim.SplSyntaxError(f"{name}() takes {2 if name == 'atan2' else 1} arguments")
            if any(v is None for v in vals):
                return None
            try:
                return math.atan2(*vals) if name == "atan2" else _TRIG[name](vals[0])
            except ValueError:
                return None
        return original(name, args, ctx)

    evaluator.call = call
    try:
        yield
    finally:
        evaluator.call = original


# ----------------------------------------------------------------------------------------------
# Scenario builders
# ----------------------------------------------------------------------------------------------

SESSION_FILES = {
    "SESSION_STARTED": "session/session_started.json",
    "SESSION_SUCCEEDED": "session/session_succeeded.json",
    "SESSION_FAILED": "session/session_failed.json",
    "SESSION_PENDING_REVIEW": "session/session_pending_review.json",
}


def session(kind: str, iid: str, t: float, **fields) -> dict:
    """A session webhook of the corpus for interview `iid` at time t, fields changed."""
    return event(json.dumps(webhook(SESSION_FILES[kind], event_type=kind, interviewId=iid, **fields)),
                 "incode:session", t)


def onboarding(status: str, iid: str, t: float, **fields) -> dict:
    payload = {"interviewId": iid, "onboardingStatus": status, "clientId": "acme-bank",
               "flowId": "65a0f3c1e4b0c8a1d2e3f401", **fields}
    return event(json.dumps(payload), "incode:onboarding", t)


def verdict(iid: str, t: float, status: str, trigger: str = "ONBOARDING_FINISHED", **fields) -> dict:
    """The score event the modular input writes for `iid` (its time: the triggering webhook's)."""
    return event(score("synthetic_warn.json", interviewId=iid, overall_status=status, trigger=trigger, **fields),
                 "incode:score", t, indextime=t + 120)


def summary_row(iid: str, **fields) -> dict:
    """A row of the per-session summary (KV store incode_sessions), values as the KV store gives
    them (strings); absent fields are empty."""
    row = {"_key": iid, "interviewId": iid, "clientId": "acme-bank", "flowId": "65a0f3c1e4b0c8a1d2e3f401",
           "first_seen": str(int(NOW - 3 * DAY)), "updated_time": str(int(NOW))}
    row.update({k: str(v) for k, v in fields.items()})
    return row


def app_with(summary: list[dict] | None = None, local: dict[str, str] | None = None) -> splsim.App:
    app = make_app(local)
    if summary is not None:
        app.lookups.set_rows("incode_sessions", summary)
    return app


def run(name: str, events: list, *, now: float = NOW, summary: list[dict] | None = None,
        local: dict[str, str] | None = None) -> list[dict]:
    with splunk_trig():
        return splsim.run_saved_search(app_with(summary, local), name, events, now=now)


# Each detection's firing scenario: (events, summary rows, now). The tests below take the close
# cases from the same builders.


def velocity_events(started: int, ip: str = "198.51.100.7", finished: int = 0, failed: int = 0,
                    spread: float = 60.0) -> list:
    out = []
    for i in range(started):
        t = NOW - 14 * 60 + i * spread / max(started, 1)
        iid = f"iv-{ip}-{i}"
        out.append(session("SESSION_STARTED", iid, t, ip=ip, externalCustomerId=f"cust-v{i}"))
        if i < failed:
            out.append(session("SESSION_FAILED", iid, t + 120, ip=ip, externalCustomerId=f"cust-v{i}"))
        elif i < finished:
            out.append(onboarding("ONBOARDING_FINISHED", iid, t + 120))
    return out


def failed_sessions(customer: str, ages_hours: list[float], *, prefix: str = "fs") -> list:
    """One failed session per age (hours before NOW): started, then SESSION_FAILED and a FAIL
    verdict of record (two signals of one failure)."""
    out = []
    for n, age in enumerate(ages_hours):
        t = NOW - age * HOUR
        iid = f"{prefix}-{customer}-{n}"
        ip = f"203.0.113.{60 + n}"
        out += [session("SESSION_STARTED", iid, t - 300, externalCustomerId=customer, ip=ip),
                session("SESSION_FAILED", iid, t, externalCustomerId=customer, ip=ip),
                verdict(iid, t, "FAIL", externalCustomerId=customer)]
    return out


def identity_rows() -> list[dict]:
    return [
        # One person (id-farm) behind two customers; the second link is 30 minutes old.
        summary_row("s-f1", identityId="id-farm", externalCustomerId="cust-f1", first_seen=int(NOW - 5 * DAY)),
        summary_row("s-f2", identityId="id-farm", externalCustomerId="cust-f2", first_seen=int(NOW - 1800)),
    ]


def override_events() -> list:
    """Incode failed the session 5 days ago; a reviewer approved it 10 minutes ago, after which
    the score fetched again says OK."""
    t0 = NOW - 5 * DAY
    c = {"externalCustomerId": "cust-ov"}
    return [session("SESSION_STARTED", "iv-ov", t0 - 600, ip="203.0.113.50", **c),
            session("SESSION_FAILED", "iv-ov", t0, ip="203.0.113.50", **c),
            onboarding("ONBOARDING_FINISHED", "iv-ov", t0 + 1, **c),
            verdict("iv-ov", t0 + 1, "FAIL", **c),
            onboarding("MANUAL_REVIEW_APPROVED", "iv-ov", NOW - 600, **c),
            verdict("iv-ov", NOW - 600, "OK", trigger="MANUAL_REVIEW_APPROVED", **c)]


def missed_rows() -> list[dict]:
    n = int(NOW)
    return [
        # Finished two hours ago; its decision came from the score only, no outcome webhook.
        summary_row("s-lost", externalCustomerId="cust-lost", ip="198.51.100.40", first_seen=n - 3 * 3600,
                    started_time=n - 3 * 3600, finished_time=n - 7200, milestone="ONBOARDING_FINISHED",
                    decision="approved", decision_source="score", decision_time=n - 7000),
        # Another session's outcome webhook arrived: the session webhook is configured.
        summary_row("s-peer", externalCustomerId="cust-peer", first_seen=n - 3 * 3600, started_time=n - 3 * 3600,
                    finished_time=n - 7200, decision="approved", decision_source="session_webhook",
                    decision_time=n - 7100),
    ]


def spike_now() -> float:
    return (NOW // HOUR) * HOUR + 600  # ten past the hour, as the cron runs it


def liveness_failure(iid: str, t: float, flow: str = "flow-a", **fields) -> dict:
    return event(score("synthetic_warn.json", interviewId=iid, overall_status="FAIL", liveness_status="FAIL",
                       flowId=flow, **fields), "incode:score", t, indextime=t + 120)


def spike_events(now: float, flow: str = "flow-a", in_last_hour: int = 8) -> list:
    """A quiet week (a liveness failure every 10 hours) and a burst in the last complete hour."""
    out = [liveness_failure(f"q-{flow}-{h}", now - 600 - h * HOUR, flow) for h in range(2, 160, 10)]
    out += [liveness_failure(f"b-{flow}-{i}", now - 600 - 1800 - i, flow) for i in range(in_last_hour)]
    return out


MEXICO_CITY = (19.4326, -99.1332)
MADRID = (40.4168, -3.7038)


def travel_events(customer: str, first: tuple, second: tuple, minutes: float, ips=("198.51.100.1", "203.0.113.9"),
                  prefix: str = "tr") -> list:
    t2 = NOW - 600
    return [
        session("SESSION_STARTED", f"{prefix}-1", t2 - minutes * 60, externalCustomerId=customer, ip=ips[0],
                latitude=first[0], longitude=first[1]),
        session("SESSION_STARTED", f"{prefix}-2", t2, externalCustomerId=customer, ip=ips[1],
                latitude=second[0], longitude=second[1]),
    ]


def firing_cases() -> dict:
    """Detection -> (events, summary rows or None, now): a scenario where it fires."""
    return {
        VELOCITY: (velocity_events(10, finished=4, failed=2), None, NOW),
        FAILURES: (failed_sessions("cust-9", [20, 6, 0.2]), None, NOW),
        IDENTITY: ([], identity_rows(), NOW),
        OVERRIDE: (override_events(), None, NOW),
        MISSED: ([], missed_rows(), NOW),
        SPIKE: (spike_events(spike_now()), None, spike_now()),
        TRAVEL: (travel_events("cust-t", MEXICO_CITY, MADRID, 170), None, NOW),
    }


def fire(name: str, **override) -> list[dict]:
    events, summary, now = firing_cases()[name]
    return run(name, events, now=now, summary=summary, **override)


# ----------------------------------------------------------------------------------------------
# Shipped as a detection: disabled, scheduled, thresholds in macros, risk action off
# ----------------------------------------------------------------------------------------------


class AsShipped(unittest.TestCase):
    def test_every_detection_is_an_alert_with_its_threshold_macro(self):
        saved, macros = conf("savedsearches.conf"), conf("macros.conf")
        for name, macro in DETECTIONS.items():
            with self.subTest(detection=name):
                s = saved.get(name)
                self.assertIsNotNone(s, "missing")
                self.assertEqual(s.get("disabled"), "1")
                self.assertEqual(s.get("enableSched"), "1")
                self.assertEqual(s.get("alert.track"), "1")
                self.assertTrue(s.get("dispatch.earliest_time") and s.get("dispatch.latest_time"))
                self.assertIn("`incode_index`" if not s["search"].startswith("|") else "| inputlookup incode_sessions",
                              s["search"])
                self.assertGreater(len(macros.get(macro).get("description", "")), 60)
                self.assertIn(macro, s["description"], "the description names its threshold macro")

    def test_the_risk_action_ships_off_with_its_parameters_matching_the_rows(self):
        saved = conf("savedsearches.conf")
        for name in DETECTIONS:
            with self.subTest(detection=name):
                s = saved.get(name)
                self.assertEqual(s.get("action.risk"), "0", "off until Enterprise Security is there")
                risk = json.loads(s["action.risk.param._risk"])
                objects = [r for r in risk if "risk_object_field" in r]
                threats = [r for r in risk if "threat_object_field" in r]
                self.assertEqual(len(objects), 1)
                self.assertEqual(objects[0]["risk_object_field"], "risk_object")
                self.assertIn(objects[0]["risk_object_type"], ("user", "system", "other"))
                self.assertEqual([t["threat_object_field"] for t in threats], ["threat_object"])
                self.assertEqual(s.get("action.risk.param._risk_message"), "$risk_message$")
                self.assertEqual(s.get("action.risk.param._risk_score"), "0", "the score is in _risk")
                rows = fire(name)
                self.assertTrue(rows, "the firing scenario fires")
                for row in rows:
                    for field in RISK_FIELDS:
                        if field != "threat_object":
                            self.assertIn(field, row)
                    self.assertEqual(row["risk_object_type"], objects[0]["risk_object_type"])
                    self.assertEqual(float(row["risk_score"]), float(objects[0]["risk_score"]))
                    self.assertEqual(row["threat_object_type"], threats[0]["threat_object_type"])

    def test_investigate_opens_the_investigator_on_the_rows_session_customer_or_identity(self):
        view = (REPO / "default" / "data" / "ui" / "views" / "incode_session_investigator.xml").read_text()
        tokens = set(re.findall(r'"token":\s*"(\w+)"', view))
        for name in DETECTIONS:
            with self.subTest(detection=name):
                for row in fire(name):
                    url = urlsplit(row["investigate"])
                    self.assertEqual(url.path, INVESTIGATOR)
                    params = dict(parse_qsl(url.query))
                    self.assertTrue(params)
                    for key, value in params.items():
                        self.assertTrue(key.startswith("form.") and key[5:] in tokens, key)
                        self.assertTrue(value, key)
                    expected = {"form.iid": row.get("interviewId"), "form.ecid": row.get("risk_object")}
                    self.assertTrue(any(params.get(k) == v for k, v in expected.items() if v), params)

    def test_the_threshold_macro_is_the_only_gate(self):
        # A local macro that nothing passes silences each detection's firing scenario.
        for name, macro in DETECTIONS.items():
            with self.subTest(detection=name):
                self.assertTrue(fire(name))
                self.assertEqual(fire(name, local={"macros.conf": f"[{macro}]\ndefinition = 1=2\n"}), [])

    def test_the_docs_table_gives_each_detections_macro_risk_object_type_and_score(self):
        docs = (REPO / "docs" / "detections.md").read_text()
        rows = {line.split("|")[1].strip(): line for line in docs.splitlines() if line.startswith("| Incode - ")}
        saved = conf("savedsearches.conf")
        self.assertEqual(sorted(rows), sorted(DETECTIONS))
        for name, macro in DETECTIONS.items():
            with self.subTest(detection=name):
                [risk] = [r for r in json.loads(saved.get(name)["action.risk.param._risk"]) if "risk_object_field" in r]
                self.assertIn(f"`{macro}`", rows[name])
                self.assertIn(f"(`{risk['risk_object_type']}`, {risk['risk_score']})", rows[name])
                default = conf("macros.conf").get(macro)["definition"]
                found = re.search(rf"`{macro}`: `([^`]*)`", rows[name])
                if found:
                    self.assertEqual(found.group(1), default)

    def test_an_odd_customer_id_stays_one_query_value_in_the_link(self):
        odd = 'a b&c=d#e+f?g%h"i'
        rows = run(FAILURES, failed_sessions(odd, [3, 2, 0.1]))
        self.assertEqual([dict(parse_qsl(urlsplit(r["investigate"]).query)) for r in rows], [{"form.ecid": odd}])


# ----------------------------------------------------------------------------------------------
# 1. Velocity
# ----------------------------------------------------------------------------------------------


class Velocity(unittest.TestCase):
    def test_fires_on_ten_sessions_started_from_one_ip_and_counts_finished_and_failed(self):
        rows = fire(VELOCITY)
        self.assertEqual(len(rows), 1)
        r = rows[0]
        self.assertEqual((r["ip"], r["sessions"], r["finished"], r["failed"]), ("198.51.100.7", "10", "4", "2"))
        self.assertEqual((r["risk_object"], r["risk_object_type"]), ("198.51.100.7", "system"))
        self.assertEqual(len(r["threat_object"]), 10, "the customers it served")
        self.assertIn("4 finished, 2 failed", r["risk_message"])

    def test_nine_sessions_or_sessions_started_before_the_window_do_not_fire(self):
        self.assertEqual(run(VELOCITY, velocity_events(9)), [])
        # Ten sessions from one IP, but four of them started 20 minutes ago: only their outcome
        # webhooks fall in the window, and an outcome does not make a started session.
        early = [session("SESSION_STARTED", f"iv-early-{i}", NOW - 20 * 60, ip="198.51.100.7") for i in range(4)]
        outcomes = [session("SESSION_SUCCEEDED", f"iv-early-{i}", NOW - 5 * 60, ip="198.51.100.7") for i in range(4)]
        self.assertEqual(run(VELOCITY, velocity_events(6) + early + outcomes), [])

    def test_a_shared_address_that_finishes_its_sessions_still_shows_as_such(self):
        [r] = run(VELOCITY, velocity_events(12, finished=12))
        self.assertEqual((r["sessions"], r["finished"], r["failed"]), ("12", "12", "0"))
        tuned = {"macros.conf": "[incode_threshold_sessions_per_ip]\ndefinition = sessions >= 10 AND finished < sessions / 2\n"}
        self.assertEqual(run(VELOCITY, velocity_events(12, finished=12), local=tuned), [])
        self.assertEqual(len(run(VELOCITY, velocity_events(12, finished=3), local=tuned)), 1)


# ----------------------------------------------------------------------------------------------
# 2. Repeated failures of one customer
# ----------------------------------------------------------------------------------------------


class RepeatedFailures(unittest.TestCase):
    def test_three_failed_sessions_in_24_hours_fire_once_per_customer(self):
        [r] = fire(FAILURES)
        self.assertEqual((r["customer"], r["failed_sessions"]), ("cust-9", "3"), "two signals of one session count once")
        self.assertEqual((r["risk_object"], r["risk_object_type"], r["threat_object_type"]), ("cust-9", "user", "ip_address"))
        self.assertEqual(sorted(r["threat_object"]), ["203.0.113.60", "203.0.113.61", "203.0.113.62"])
        self.assertEqual(r["investigate"], f"{INVESTIGATOR}?form.ecid=cust-9")

    def test_close_cases_do_not_fire(self):
        cases = {
            "two failures": failed_sessions("cust-9", [6, 0.2]),
            "the third failure 25 hours ago": failed_sessions("cust-9", [25, 6, 0.2]),
            # Reported at the run after the last failure; nothing new since.
            "no failure since the last run": failed_sessions("cust-9", [20, 6, 2]),
            # A reviewer approved one of them afterwards: two failed sessions remain.
            "one approved in review": failed_sessions("cust-9", [20, 6, 0.2])
            + [onboarding("MANUAL_REVIEW_APPROVED", "fs-cust-9-0", NOW - 19 * HOUR, externalCustomerId="cust-9")],
            "three customers failing once": failed_sessions("cust-a", [0.2]) + failed_sessions("cust-b", [0.3])
            + failed_sessions("cust-c", [0.4]),
        }
        for what, events in cases.items():
            with self.subTest(case=what):
                self.assertEqual(run(FAILURES, events), [])

    def test_a_legacy_externalId_and_a_rejection_count(self):
        events = failed_sessions("cust-9", [20, 6])
        events += [verdict("iv-rej", NOW - 1200, "WARN", externalCustomerId=None),
                   onboarding("MANUAL_REVIEW_REJECTED", "iv-rej", NOW - 600, externalId="cust-9")]
        [r] = run(FAILURES, events)
        self.assertEqual(r["failed_sessions"], "3")


# ----------------------------------------------------------------------------------------------
# 3. Identity reuse
# ----------------------------------------------------------------------------------------------


class IdentityReuse(unittest.TestCase):
    def test_one_identity_for_two_customers_fires_for_each_customer(self):
        rows = fire(IDENTITY)
        self.assertEqual(sorted(r["risk_object"] for r in rows), ["cust-f1", "cust-f2"])
        for r in rows:
            self.assertEqual((r["identityId"], r["customers_per_identity"], r["identities_per_customer"]), ("id-farm", "2", "1"))
            self.assertEqual((r["threat_object"], r["threat_object_type"]), ("id-farm", "incode_identity"))
            self.assertEqual(sorted(r["linked_customers"]), ["cust-f1", "cust-f2"])
            self.assertEqual(dict(parse_qsl(urlsplit(r["investigate"]).query)),
                             {"form.ecid": r["risk_object"], "form.idn": "id-farm"})

    def test_one_customer_with_two_identities_fires(self):
        rows = [summary_row("s-m1", identityId="id-a", externalCustomerId="cust-m", first_seen=int(NOW - 9 * DAY)),
                summary_row("s-m2", identityId="id-b", externalCustomerId="cust-m", first_seen=int(NOW - 300))]
        [r] = run(IDENTITY, [], summary=rows)
        self.assertEqual((r["risk_object"], r["identities_per_customer"], r["customers_per_identity"]), ("cust-m", "2", "1"))
        self.assertEqual(sorted(r["threat_object"]), ["id-a", "id-b"])

    def test_close_cases_do_not_fire(self):
        n = NOW
        cases = {
            # One person, one account, many sessions.
            "repeat sessions": [summary_row(f"s-r{i}", identityId="id-r", externalCustomerId="cust-r",
                                            first_seen=int(n - i * 600)) for i in range(5)],
            # Reported when it appeared, a day ago: no new link since.
            "an old pattern": [summary_row("s-o1", identityId="id-o", externalCustomerId="cust-o1", first_seen=int(n - 9 * DAY)),
                               summary_row("s-o2", identityId="id-o", externalCustomerId="cust-o2", first_seen=int(n - DAY))],
            # A deleted session keeps neither identityId nor externalCustomerId.
            "a deleted session": [summary_row("s-d1", identityId="id-d", externalCustomerId="cust-d1", first_seen=int(n - 9 * DAY)),
                                  summary_row("s-d2", identityId="", externalCustomerId="", ip="",
                                              first_seen=int(n - 600), deleted_time=int(n - 60))],
            # A session without a customer id links nothing.
            "no customer id": [summary_row("s-n1", identityId="id-n", externalCustomerId="cust-n1", first_seen=int(n - 9 * DAY)),
                               summary_row("s-n2", identityId="id-n", first_seen=int(n - 600))],
        }
        for what, rows in cases.items():
            with self.subTest(case=what):
                self.assertEqual(run(IDENTITY, [], summary=rows), [])


# ----------------------------------------------------------------------------------------------
# 4. Review override
# ----------------------------------------------------------------------------------------------


class ReviewOverride(unittest.TestCase):
    def test_approved_although_the_verdict_of_record_was_fail(self):
        [r] = fire(OVERRIDE)
        self.assertEqual((r["interviewId"], r["decision"], r["verdict"], r["verdict_source"]),
                         ("iv-ov", "approved", "FAIL", "score"), "the score fetched again after the review says OK")
        self.assertEqual((r["risk_object"], r["threat_object"]), ("cust-ov", "203.0.113.50"))
        self.assertEqual(r["investigate"], f"{INVESTIGATOR}?form.iid=iv-ov")

    def test_rejected_although_ok_from_the_session_webhook_without_the_modular_input(self):
        events = [session("SESSION_SUCCEEDED", "iv-rj", NOW - 5 * HOUR, externalCustomerId="cust-rj"),
                  onboarding("MANUAL_REVIEW_REJECTED", "iv-rj", NOW - 300, externalCustomerId="cust-rj")]
        [r] = run(OVERRIDE, events)
        self.assertEqual((r["decision"], r["verdict"], r["verdict_source"]), ("rejected", "OK", "session_webhook"))

    def test_close_cases_do_not_fire(self):
        cases = {
            # The ordinary review: Incode sent it to review (WARN), the reviewer decided.
            "approved after WARN": [verdict("iv-w", NOW - DAY, "WARN"), onboarding("MANUAL_REVIEW_APPROVED", "iv-w", NOW - 600)],
            "rejected after FAIL": [verdict("iv-f", NOW - DAY, "FAIL"), onboarding("MANUAL_REVIEW_REJECTED", "iv-f", NOW - 600)],
            # Reported by an earlier run.
            "an override three hours ago": [verdict("iv-o", NOW - DAY, "FAIL"), onboarding("MANUAL_REVIEW_APPROVED", "iv-o", NOW - 3 * HOUR)],
            # No verdict before the review: an outcome webhook sent after it is the review's own.
            "only an outcome after the review": [onboarding("MANUAL_REVIEW_APPROVED", "iv-a", NOW - 600),
                                                 session("SESSION_FAILED", "iv-a", NOW - 300)],
        }
        for what, events in cases.items():
            with self.subTest(case=what):
                self.assertEqual(run(OVERRIDE, events), [])


# ----------------------------------------------------------------------------------------------
# 5. Missed outcomes
# ----------------------------------------------------------------------------------------------


class MissedOutcomes(unittest.TestCase):
    def test_finished_without_an_outcome_webhook_while_others_arrive(self):
        [r] = fire(MISSED)
        self.assertEqual((r["interviewId"], r["kind"], r["minutes_waiting"]), ("s-lost", "finished", "120"))
        self.assertEqual((r["risk_object"], r["threat_object"], r["risk_score"]), ("cust-lost", "198.51.100.40", "10"))

    def test_started_two_days_ago_and_nothing_since_while_expiries_arrive(self):
        n = int(NOW)
        rows = [summary_row("s-stuck", externalCustomerId="cust-s", first_seen=n - 3 * DAY, started_time=n - 3 * DAY),
                summary_row("s-exp", externalCustomerId="cust-e", first_seen=n - 4 * DAY, started_time=n - 4 * DAY,
                            expired_time=n - DAY)]
        [r] = run(MISSED, [], summary=rows)
        self.assertEqual((r["interviewId"], r["kind"]), ("s-stuck", "started"))

    def test_close_cases_do_not_fire(self):
        n = int(NOW)
        lost, peer = missed_rows()
        cases = {
            # Nobody's outcome webhook arrives: the session webhook is not configured at all.
            "no peers": [lost],
            "finished 20 minutes ago": [dict(lost, finished_time=str(n - 1200)), peer],
            "its outcome webhook arrived": [dict(lost, decision_source="session_webhook"), peer],
            "a reviewer decided": [dict(lost, decision_source="manual_review"), peer],
            "deleted": [dict(lost, deleted_time=str(n - 60), externalCustomerId="", ip=""), peer],
            "first seen 8 days ago": [dict(lost, first_seen=str(n - 8 * DAY), finished_time=str(n - 8 * DAY)), peer],
            # Started and abandoned, but no EXPIRED webhook ever arrives (onboarding-status
            # webhook not configured): it would look lost for ever.
            "started, no expiry peers": [summary_row("s-ab", first_seen=n - 3 * DAY, started_time=n - 3 * DAY)],
            "started, expired": [summary_row("s-ex", first_seen=n - 3 * DAY, started_time=n - 3 * DAY, expired_time=n - DAY)],
        }
        for what, rows in cases.items():
            with self.subTest(case=what):
                self.assertEqual(run(MISSED, [], summary=rows), [])


# ----------------------------------------------------------------------------------------------
# 6. Liveness or face-match failure spike
# ----------------------------------------------------------------------------------------------


class ModuleFailureSpike(unittest.TestCase):
    def test_a_burst_above_the_flows_own_baseline_fires(self):
        [r] = fire(SPIKE)
        self.assertEqual((r["client"], r["flow"], r["module"], r["failures"]), ("acme-bank", "flow-a", "liveness", "8"))
        # 16 failures over the 167 hours before: mean 0.1 per hour.
        self.assertEqual(r["baseline"], "0.1")
        self.assertEqual((r["risk_object"], r["risk_object_type"], r["threat_object"]), ("acme-bank/flow-a", "other", "liveness"))

    def test_close_cases_do_not_fire(self):
        now = spike_now()
        busy = [liveness_failure(f"busy-{h}-{i}", now - 600 - h * HOUR - i, "flow-b") for h in range(1, 168) for i in range(8)]
        cases = {
            # The same burst in a flow that fails this much every hour.
            "a flow's usual level": busy,
            "four failures": spike_events(now, in_last_hour=4),
            # The burst in the hour still running: the next run judges it.
            "the current hour": [liveness_failure(f"c-{i}", now - 300 - i) for i in range(8)],
            # Failures Incode's score shows after a manual review are no new verdict.
            "scores fetched again after a review": [
                liveness_failure(f"r-{i}", now - 600 - 1800 - i, trigger="MANUAL_REVIEW_REJECTED") for i in range(8)],
        }
        for what, events in cases.items():
            with self.subTest(case=what):
                self.assertEqual(run(SPIKE, events, now=now), [])

    def test_face_match_failures_are_their_own_series(self):
        now = spike_now()
        events = [event(score("synthetic_warn.json", interviewId=f"fm-{i}", overall_status="FAIL",
                              face_recognition_status="FAIL", flowId="flow-a"), "incode:score", now - 2400 - i)
                  for i in range(6)]
        [r] = run(SPIKE, events + spike_events(now, in_last_hour=0), now=now)
        self.assertEqual((r["module"], r["failures"]), ("face_recognition", "6"))


# ----------------------------------------------------------------------------------------------
# 7. Impossible travel
# ----------------------------------------------------------------------------------------------


def haversine_km(a, b):
    p = math.pi / 180
    h = math.sin((b[0] - a[0]) * p / 2) ** 2 + math.cos(a[0] * p) * math.cos(b[0] * p) * math.sin((b[1] - a[1]) * p / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


class ImpossibleTravel(unittest.TestCase):
    def test_mexico_city_then_madrid_within_three_hours_fires(self):
        [r] = fire(TRAVEL)
        self.assertAlmostEqual(float(r["distance_km"]), haversine_km(MEXICO_CITY, MADRID), delta=0.1)
        self.assertAlmostEqual(float(r["distance_km"]), 9063, delta=5)  # great-circle, about 9,060 km
        self.assertEqual((r["interviewId"], r["prev_interviewId"], r["minutes_between"]), ("tr-2", "tr-1", "170"))
        self.assertEqual(r["speed_kmh"], str(round(float(r["distance_km"]) / (170 / 60))))
        self.assertEqual((r["risk_object"], r["threat_object"]), ("cust-t", "203.0.113.9"))

    def test_two_places_at_the_same_second_give_a_speed_not_an_error(self):
        [r] = run(TRAVEL, travel_events("cust-t", MEXICO_CITY, MADRID, 0))
        self.assertGreater(float(r["speed_kmh"]), 1e6)

    def test_close_cases_do_not_fire(self):
        near = (19.44, -99.14)  # about 1 km away
        cases = {
            "a flight's time (20 hours)": travel_events("cust-t", MEXICO_CITY, MADRID, 20 * 60),
            "the same place, another network": travel_events("cust-t", MEXICO_CITY, near, 10),
            "the same IP": travel_events("cust-t", MEXICO_CITY, MADRID, 60, ips=("198.51.100.1", "198.51.100.1")),
            "no location fix (0,0)": travel_events("cust-t", (0, 0), MADRID, 60),
            "two customers": travel_events("cust-a", MEXICO_CITY, MADRID, 60)[:1]
            + travel_events("cust-b", MEXICO_CITY, MADRID, 60, prefix="tb")[1:],
            # Reported by an earlier run: the later session started two hours ago.
            "an old pair": [dict(e, _time=e["_time"] - 2 * HOUR) for e in travel_events("cust-t", MEXICO_CITY, MADRID, 60)],
        }
        for what, events in cases.items():
            with self.subTest(case=what):
                self.assertEqual(run(TRAVEL, events), [])

    def test_splsim_really_lacks_trigonometry(self):
        # If this starts failing, splsim has trig functions of its own and splunk_trig() can go.
        with self.assertRaises(splsim.Unsupported):
            splsim.run("| makeresults | eval x=sin(1)", [], now=NOW)


# ----------------------------------------------------------------------------------------------
# The Incode risk dashboard, and everything the app runs, over a corpus
# ----------------------------------------------------------------------------------------------


def corpus() -> list:
    """Every webhook and score file of tests/webhooks/ as an indexed event (an hour ago), the
    splunkd.log lines of tests/splunkd/ (the health dashboard's), and the firing scenarios of the
    detections."""
    out = [event(json.loads(line)["raw"], "splunkd", NOW - 60 * n, index="_internal")
           for n, line in enumerate((REPO / "tests" / "splunkd" / "exec_processor.jsonl").read_text().splitlines())]
    for folder, sourcetype in (("onboarding", "incode:onboarding"), ("session", "incode:session"), ("score", "incode:score")):
        for n, path in enumerate(sorted((REPO / "tests" / "webhooks" / folder).glob("*.json"))):
            out.append(event(path.read_text(), sourcetype, NOW - HOUR - n, indextime=NOW - HOUR))
    for name, (events, _, _) in firing_cases().items():
        out += events
    return out


def corpus_summary() -> list[dict]:
    return identity_rows() + missed_rows()


def studio_views() -> list[str]:
    views = REPO / "default" / "data" / "ui" / "views"
    return sorted(p.stem for p in views.glob("*.xml") if 'version="2"' in p.read_text().split("\n", 1)[0])


class RiskDashboard(unittest.TestCase):
    def board(self, events, now=NOW, tokens=None):
        with splunk_trig():
            return splsim.run_dashboard(app_with(corpus_summary()), "incode_risk", events, now=now, tokens=tokens)

    def test_each_detection_panel_shows_what_its_saved_search_finds_now(self):
        panels = {VELOCITY: "ds_now_velocity", FAILURES: "ds_now_failures", IDENTITY: "ds_now_identity",
                  OVERRIDE: "ds_now_override", MISSED: "ds_now_missed", SPIKE: "ds_now_spike", TRAVEL: "ds_now_travel"}
        for name, (events, summary, now) in firing_cases().items():
            with self.subTest(detection=name):
                with splunk_trig():
                    board = splsim.run_dashboard(app_with(summary), "incode_risk", events, now=now)
                result = board[panels[name]]
                self.assertNotIn("error", result, result.get("error"))
                self.assertTrue(result["rows"])
                self.assertEqual(result["rows"], run(name, events, now=now, summary=summary))

    def test_fired_lists_splunks_audit_record_of_the_apps_alerts(self):
        def fired(name, t, app="TA-incode"):
            raw = (f'Audit:[timestamp=01-15-2027 07:00:00.000, user=splunk-system-user, action=alert_fired, '
                   f'info="", ss_name="{name}", ss_app="{app}", severity=4, sid="scheduler__x_{int(t)}", '
                   f'trigger_time={int(t)}, expiration={int(t + DAY)}]')
            return splsim.make_event(raw, "audittrail", t, index="_audit", source="audittrail")
        # The audit line's fields as Splunk extracts them (key=value pairs, KV_MODE auto).
        events = [fired(TRAVEL, NOW - 3 * HOUR), fired(TRAVEL, NOW - HOUR), fired(FAILURES, NOW - 2 * HOUR),
                  fired("Another app's alert", NOW - HOUR, app="search")]
        board = self.board(events)
        self.assertNotIn("error", board["ds_fired"], board["ds_fired"].get("error"))
        self.assertEqual([(r["ss_name"], r["fired"]) for r in board["ds_fired"]["rows"]], [(TRAVEL, "2"), (FAILURES, "1")])

    def test_risk_in_es_sums_the_detections_risk_per_risk_object(self):
        def risk(source, obj, kind, points, t):
            raw = json.dumps({"risk_object": obj, "risk_object_type": kind, "risk_score": points,
                              "risk_message": f"{source} on {obj}"})
            return splsim.make_event(raw, "stash", t, index="risk", source=source)
        events = [risk(FAILURES, "cust-9", "user", 30, NOW - 5 * HOUR), risk(TRAVEL, "cust-9", "user", 40, NOW - HOUR),
                  risk(VELOCITY, "198.51.100.7", "system", 40, NOW - HOUR),
                  risk("Threat - Another app - Rule", "cust-9", "user", 80, NOW - HOUR)]
        board = self.board(events)
        self.assertNotIn("error", board["ds_risk"], board["ds_risk"].get("error"))
        got = [(r["risk_object"], r["risk_score"], r["risk_events"]) for r in board["ds_risk"]["rows"]]
        self.assertEqual(got, [("cust-9", "70", "2"), ("198.51.100.7", "40", "1")])
        self.assertEqual(board["ds_risk"]["rows"][0]["latest_message"], f"{TRAVEL} on cust-9")


class EverythingRuns(unittest.TestCase):
    """Every saved search and every Dashboard Studio data source of the app runs on the corpus
    without an error (an Unsupported construct included), with the session summary rebuilt from
    the corpus (test_summary's rebuild) on top of the detections' own rows, so that what reads it
    has rows."""

    def app(self, events):
        app = app_with(corpus_summary())
        splsim.run(rebuild_search(), events, now=NOW, app=app)
        self.assertGreater(len(app.lookups.rows("incode_sessions")), 20)
        return app

    def test_every_saved_search(self):
        events = corpus()
        names = conf("savedsearches.conf").names()
        self.assertGreaterEqual(len(names), 15)
        for name in names:
            with self.subTest(saved_search=name):
                with splunk_trig():
                    splsim.run_saved_search(self.app(events), name, events, now=NOW)

    def test_every_studio_data_source(self):
        events = corpus()
        views = studio_views()
        self.assertIn("incode_risk", views)
        tokens = {"iid": "66b1b0000000000000000021", "ecid": "cust-9", "idn": ""}
        for view in views:
            with splunk_trig():
                board = splsim.run_dashboard(self.app(events), view, events, now=NOW, tokens=tokens)
            for ds, result in board.items():
                with self.subTest(view=view, data_source=ds):
                    self.assertNotIn("error", result, result.get("error"))
        board = splsim.run_dashboard(self.app(events), "incode_overview", events, now=NOW)
        self.assertTrue(board["ds_kpi"]["rows"] and board["ds_kpi"]["rows"][0]["started"] != "0")


if __name__ == "__main__":
    unittest.main()
