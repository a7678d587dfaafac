"""The session summary (KV store collection incode_sessions), run: its update search over event
batches that arrive the way Splunk indexes them (late, out of order, read twice by overlapping
windows, deleted), its prune, and the overview dashboard that reads it; and every saved search
and Studio data source of the app over a corpus. Uses the offline SPL evaluator in
../shared/splsim through the helpers of test_content.py. Python standard library only:

    python3 -m unittest discover -s tests/spl

Each run of the update search gets every event "indexed so far" and, like Splunk, selects by
index time: dispatch.index_earliest = -65m@m of the run's `now`. An event's _time and its index
time are set apart to make it late (an old _time indexed now) or to reorder arrivals.
"""
from __future__ import annotations

import itertools
import json
import re
import unittest

from test_content import DAY, NOW, REPO, conf, event, make_app, score, splsim, webhook

UPDATE = "Incode - Update session summary"
PRUNE = "Incode - Prune session summary"
SCORE_UPDATE = "Incode - Update score lookup"
HOUR = 3600.0

# The schema the detections rely on (docs/dashboards.md "Session summary"), then the fields the
# merge needs of its own: every status seen, and the times of the stored score and location.
SCHEMA = ["interviewId", "clientId", "flowId", "externalCustomerId", "identityId", "ip", "latitude", "longitude",
          "first_seen", "started_time", "finished_time", "expired_time", "deleted_time", "milestone",
          "decision", "decision_source", "decision_time", "score_verdict", "overall_score", "failed_checks",
          "updated_time"]
EXTRA = ["milestones", "score_time", "location_time"]
PERSONAL = ["externalCustomerId", "identityId", "ip", "latitude", "longitude"]


# ----------------------------------------------------------------------------------------------
# Events as Incode and the modular input produce them
# ----------------------------------------------------------------------------------------------


def session(kind, iid, t, *, indexed, **changes):
    """A session webhook (SESSION_STARTED, ...) of the corpus; its _time is its own timestamp.
    As in the corpus, SESSION_STARTED carries onboardingStatus "UNKNOWN" and SESSION_SUCCEEDED
    "ONBOARDING_FINISHED"."""
    name = {"SESSION_STARTED": "session_started", "SESSION_SUCCEEDED": "session_succeeded",
            "SESSION_FAILED": "session_failed", "SESSION_PENDING_REVIEW": "session_pending_review"}[kind]
    changes.setdefault("externalCustomerId", "cust-" + iid)
    changes.setdefault("identityId", "id-" + iid)
    body = webhook(f"session/{name}.json", interviewId=iid, **changes)
    return event(json.dumps(body), "incode:session", t, indextime=indexed)


def onboarding(status, iid, t, *, indexed=None, **changes):
    """An onboarding-status webhook; its _time is when Splunk received it."""
    body = webhook("onboarding/onboarding_finished.json", interviewId=iid, onboardingStatus=status,
                   externalCustomerId="cust-" + iid, **changes)
    return event(json.dumps(body), "incode:onboarding", t, indextime=indexed if indexed is not None else t)


def scored(iid, t, verdict, *, indexed, trigger="ONBOARDING_FINISHED", **changes):
    """A score event: its _time is the triggering webhook's, written when the input fetched it."""
    return event(score("synthetic_warn.json", interviewId=iid, overall_status=verdict, trigger=trigger,
                       externalCustomerId="cust-" + iid, **changes), "incode:score", t, indextime=indexed)


def deleted(iids, t, *, indexed=None):
    return event(json.dumps(webhook("onboarding/deleted.json", interviewIds=list(iids))), "incode:onboarding", t,
                 indextime=indexed if indexed is not None else t)


def update(app, events, now):
    return splsim.run_saved_search(app, UPDATE, events, now=now)


def rows(app) -> dict:
    """The collection as {interviewId: row}; `_key` must be the interviewId."""
    out = {}
    for r in app.lookups.rows("incode_sessions"):
        r = dict(r)
        assert r.pop("_key") == r["interviewId"], r
        assert r["interviewId"] not in out, f"two rows for {r['interviewId']}"
        out[r["interviewId"]] = r
    return out


def num(value):
    return None if value is None else float(value)


# ----------------------------------------------------------------------------------------------
# The update search, run after run
# ----------------------------------------------------------------------------------------------


class IncrementalRuns(unittest.TestCase):
    def test_late_event_rerun_with_nothing_new_and_deleted(self):
        app = make_app()
        t0 = NOW - 6 * HOUR
        events = [
            # iv-a: the onboarding finished and was scored (WARN); its SESSION_STARTED is late.
            onboarding("ONBOARDING_FINISHED", "iv-a", t0 + 120),
            scored("iv-a", t0 + 120, "WARN", indexed=t0 + 400),
            # iv-b: started, then expired.
            session("SESSION_STARTED", "iv-b", t0 + 10, indexed=t0 + 15, ip="198.51.100.2"),
            onboarding("EXPIRED", "iv-b", t0 + 500),
        ]
        update(app, events, now=t0 + 600)
        run1 = rows(app)
        self.assertEqual(set(run1), {"iv-a", "iv-b"})
        a = run1["iv-a"]
        self.assertEqual((num(a["first_seen"]), num(a["finished_time"]), a.get("started_time")), (t0 + 120, t0 + 120, None))
        self.assertEqual((a["milestone"], a["milestones"]), ("ONBOARDING_FINISHED", "ONBOARDING_FINISHED"))
        self.assertEqual((a["decision"], a["decision_source"], num(a["decision_time"])), ("pending_review", "score", t0 + 120))
        self.assertEqual((a["score_verdict"], a["overall_score"], a["failed_checks"]),
                         ("WARN", "61.0", ["faceRecognition.nameMatch", "idValidation.idSpecific.mrzLineFormatCheck"]))
        self.assertEqual((a["clientId"], a["flowId"], a["externalCustomerId"]), ("acme-bank", "65a0f3c1e4b0c8a1d2e3f401", "cust-iv-a"))
        self.assertNotIn("ip", a)
        self.assertEqual(num(a["updated_time"]), t0 + 400)
        b = run1["iv-b"]
        self.assertEqual((num(b["first_seen"]), num(b["started_time"]), num(b["expired_time"])), (t0 + 10, t0 + 10, t0 + 500))
        self.assertEqual((b["milestone"], b.get("decision"), b["ip"]), ("SESSION_STARTED", None, "198.51.100.2"))

        # Run 2: iv-a's SESSION_STARTED arrives late: an older _time, indexed an hour later.
        events.append(session("SESSION_STARTED", "iv-a", t0, indexed=t0 + 3900, ip="203.0.113.7", identityId="id-a"))
        update(app, events, now=t0 + 4000)
        run2 = rows(app)
        a2 = run2["iv-a"]
        self.assertEqual((num(a2["first_seen"]), num(a2["started_time"])), (t0, t0), "the late event moves first_seen back")
        self.assertEqual(a2["milestone"], "ONBOARDING_FINISHED", "a lesser milestone does not replace a further one")
        self.assertEqual(a2["milestones"], ["ONBOARDING_FINISHED", "SESSION_STARTED"])
        self.assertEqual((a2["ip"], a2["identityId"], num(a2["location_time"])), ("203.0.113.7", "id-a", t0))
        self.assertEqual(num(a2["updated_time"]), t0 + 3900)
        for field in ("finished_time", "decision", "decision_source", "decision_time", "score_time", "score_verdict",
                      "overall_score", "failed_checks", "externalCustomerId", "clientId", "flowId"):
            self.assertEqual(a2.get(field), a.get(field), f"{field} is lost or overwritten by the late event")
        self.assertEqual(run2["iv-b"], b, "a session without new events is not touched")

        # Run 3: nothing new, inside the 65-minute window (the late event is read again) and after it.
        update(app, events, now=t0 + 4300)
        self.assertEqual(rows(app), run2)
        update(app, events, now=t0 + 4000 + 3 * HOUR)
        self.assertEqual(rows(app), run2)

        # Run 4: Incode deletes iv-a (and a session this Splunk never saw).
        t1 = t0 + 5 * HOUR
        events.append(deleted(["iv-a", "iv-never-seen"], t1))
        update(app, events, now=t1 + 60)
        run4 = rows(app)
        a4 = run4["iv-a"]
        for field in PERSONAL + ["location_time"]:
            self.assertNotIn(field, a4, f"a deleted session keeps {field}")
        self.assertEqual(num(a4["deleted_time"]), t1)
        for field in ("first_seen", "started_time", "finished_time", "milestone", "decision", "decision_source",
                      "decision_time", "score_verdict", "overall_score", "failed_checks", "clientId", "flowId"):
            self.assertEqual(a4.get(field), a2.get(field), f"deletion changed {field}")
        self.assertEqual(run4["iv-never-seen"], {"interviewId": "iv-never-seen", "clientId": "acme-bank",
                                                 "deleted_time": str(int(t1)), "updated_time": str(int(t1))},
                         "a deletion alone is no first_seen")
        self.assertEqual(run4["iv-b"], b)

        # Run 5: a webhook of the deleted session indexed afterwards brings no personal data back.
        events.append(session("SESSION_SUCCEEDED", "iv-a", t0 + 200, indexed=t1 + 600, ip="203.0.113.8",
                              identityId="id-a"))
        update(app, events, now=t1 + 700)
        a5 = rows(app)["iv-a"]
        for field in PERSONAL + ["location_time"]:
            self.assertNotIn(field, a5, f"a late event restores {field} of a deleted session")
        self.assertEqual(num(a5["deleted_time"]), t1)
        self.assertEqual((a5["decision"], a5["decision_source"]), ("approved", "session_webhook"))

    def test_manual_review_after_a_score(self):
        app = make_app()
        t0 = NOW - 10 * HOUR
        events = [
            onboarding("ONBOARDING_FINISHED", "iv-m", t0),
            scored("iv-m", t0, "WARN", indexed=t0 + 300),
        ]
        update(app, events, now=t0 + 400)
        m = rows(app)["iv-m"]
        self.assertEqual((m["decision"], m["decision_source"], m["score_verdict"]), ("pending_review", "score", "WARN"))

        # A reviewer rejects it; the input fetches the score again (FAIL).
        t1 = t0 + HOUR
        events += [onboarding("MANUAL_REVIEW_REJECTED", "iv-m", t1),
                   scored("iv-m", t1, "FAIL", indexed=t1 + 300, trigger="MANUAL_REVIEW_REJECTED", overall_score=12.5,
                          failed_checks=["faceRecognition.nameMatch"])]
        update(app, events, now=t1 + 400)
        m = rows(app)["iv-m"]
        self.assertEqual((m["decision"], m["decision_source"], num(m["decision_time"])), ("rejected", "manual_review", t1))
        self.assertEqual((m["score_verdict"], m["overall_score"], m["failed_checks"], num(m["score_time"])),
                         ("FAIL", "12.5", "faceRecognition.nameMatch", t1))
        self.assertEqual(m["milestone"], "MANUAL_REVIEW_REJECTED")

        # A session webhook, even a later one, does not override the reviewer; the first score,
        # indexed once more (a repeated fetch), does not replace the newer one.
        events += [session("SESSION_SUCCEEDED", "iv-m", t1 + 600, indexed=t1 + 3600),
                   scored("iv-m", t0, "OK", indexed=t1 + 3600, overall_score=99.0)]
        update(app, events, now=t1 + 3700)
        m = rows(app)["iv-m"]
        self.assertEqual((m["decision"], m["decision_source"], num(m["decision_time"])), ("rejected", "manual_review", t1))
        self.assertEqual((m["score_verdict"], m["overall_score"]), ("FAIL", "12.5"))
        self.assertEqual(m["milestone"], "MANUAL_REVIEW_REJECTED")

        # A second review, later, is the decision.
        t2 = t1 + 3 * HOUR
        events.append(onboarding("MANUAL_REVIEW_APPROVED", "iv-m", t2))
        update(app, events, now=t2 + 60)
        m = rows(app)["iv-m"]
        self.assertEqual((m["decision"], m["decision_source"], num(m["decision_time"])), ("approved", "manual_review", t2))

    def test_two_webhooks_in_reverse_order(self):
        t0 = NOW - 5 * HOUR
        started = dict(kind="SESSION_STARTED", t=t0, ip="198.51.100.1", identityId="id-r")
        succeeded = dict(kind="SESSION_SUCCEEDED", t=t0 + 300, ip="198.51.100.9", identityId="id-r")
        results = []
        for first, second in ((started, succeeded), (succeeded, started)):
            app = make_app()
            events = [session(first["kind"], "iv-r", first["t"], indexed=t0 + 400, ip=first["ip"], identityId=first["identityId"])]
            update(app, events, now=t0 + 500)
            events.append(session(second["kind"], "iv-r", second["t"], indexed=t0 + 2 * HOUR, ip=second["ip"],
                                  identityId=second["identityId"]))
            update(app, events, now=t0 + 2 * HOUR + 60)
            results.append(rows(app)["iv-r"])
        in_order, reversed_ = results
        self.assertEqual(in_order, reversed_)
        self.assertEqual((num(in_order["first_seen"]), num(in_order["started_time"])), (t0, t0))
        self.assertEqual((in_order["milestone"], in_order["decision"], in_order["decision_source"]),
                         ("SESSION_SUCCEEDED", "approved", "session_webhook"))
        self.assertEqual((in_order["ip"], num(in_order["location_time"])), ("198.51.100.9", t0 + 300),
                         "the location is the latest webhook's, whichever arrived last")
        self.assertEqual(num(in_order["finished_time"]), t0 + 300, "SESSION_SUCCEEDED carries onboardingStatus ONBOARDING_FINISHED")

    def test_every_arrival_order_gives_the_rows_of_one_rebuild(self):
        """Five events of two sessions, indexed one per run in all 120 orders: the collection
        always ends as the documented rebuild (one search over everything) makes it."""
        t0 = NOW - 20 * HOUR
        specs = [
            lambda idx: session("SESSION_STARTED", "iv-p", t0, indexed=idx, ip="198.51.100.1"),
            lambda idx: session("SESSION_PENDING_REVIEW", "iv-p", t0 + 400, indexed=idx, ip="198.51.100.3"),
            lambda idx: scored("iv-p", t0 + 300, "WARN", indexed=idx),
            lambda idx: onboarding("MANUAL_REVIEW_APPROVED", "iv-p", t0 + 900, indexed=idx),
            lambda idx: deleted(["iv-p", "iv-q"], t0 + 1000, indexed=idx),
        ]
        rebuild = rebuild_search()
        first = None
        for order in itertools.permutations(range(len(specs))):
            app = make_app()
            events = []
            for n, which in enumerate(order):
                indexed = t0 + 2 * HOUR * (n + 1)
                events.append(specs[which](indexed))
                update(app, events, now=indexed + 60)
            got = rows(app)
            once = make_app()
            splsim.run(rebuild, events, now=events[-1]["_indextime"] + 60, app=once)
            self.assertEqual(got, rows(once), f"arrival order {order}")
            # Only updated_time (the newest index time) depends on the order.
            for r in got.values():
                r.pop("updated_time")
            if first is None:
                first = got
                self.assertEqual((got["iv-p"]["decision"], got["iv-p"]["decision_source"]), ("approved", "manual_review"))
                self.assertEqual((got["iv-p"]["milestone"], got["iv-p"]["score_verdict"]), ("MANUAL_REVIEW_APPROVED", "WARN"))
                self.assertNotIn("ip", got["iv-p"])
            self.assertEqual(got, first, f"arrival order {order}")


def rebuild_search() -> str:
    """The rebuild command of docs/dashboards.md (the update search with no index-time bounds)."""
    docs = (REPO / "docs" / "dashboards.md").read_text()
    m = re.search(r"```\n(`incode_index` \(\(sourcetype IN.*?incode_sessions)\n```", docs, re.S)
    assert m, "docs/dashboards.md lacks the summary's rebuild command"
    return m.group(1)


# ----------------------------------------------------------------------------------------------
# Rules
# ----------------------------------------------------------------------------------------------


class Rules(unittest.TestCase):
    def test_decision_precedence_and_sources(self):
        t0 = NOW - 30 * HOUR
        cases = {
            # interviewId: (events, decision, decision_source, decision_time)
            "iv-score-ok": ([scored("iv-score-ok", t0, "OK", indexed=t0)], "approved", "score", t0),
            "iv-score-fail": ([scored("iv-score-fail", t0, "FAIL", indexed=t0)], "rejected", "score", t0),
            "iv-no-verdict": ([event(score("sonio_no_overall_status.json", interviewId="iv-no-verdict"), "incode:score",
                                     t0, indextime=t0)], None, None, None),
            "iv-error": ([event(score("enrichment_error.json", interviewId="iv-error"), "incode:score", t0, indextime=t0)],
                         None, None, None),
            "iv-session-over-score": ([scored("iv-session-over-score", t0 + 60, "FAIL", indexed=t0),
                                       session("SESSION_SUCCEEDED", "iv-session-over-score", t0, indexed=t0)],
                                      "approved", "session_webhook", t0),
            "iv-review-over-session": ([session("SESSION_FAILED", "iv-review-over-session", t0 + 60, indexed=t0),
                                        onboarding("MANUAL_REVIEW_APPROVED", "iv-review-over-session", t0)],
                                       "approved", "manual_review", t0),
            "iv-pending": ([session("SESSION_PENDING_REVIEW", "iv-pending", t0, indexed=t0)],
                           "pending_review", "session_webhook", t0),
            "iv-later-session": ([session("SESSION_PENDING_REVIEW", "iv-later-session", t0, indexed=t0),
                                  session("SESSION_FAILED", "iv-later-session", t0 + 60, indexed=t0)],
                                 "rejected", "session_webhook", t0 + 60),
        }
        app = make_app()
        events = [e for evs, *_ in cases.values() for e in evs]
        update(app, events, now=t0 + 600)
        got = rows(app)
        for iid, (_, decision, source, when) in cases.items():
            with self.subTest(interviewId=iid):
                r = got[iid]
                self.assertEqual((r.get("decision"), r.get("decision_source"), num(r.get("decision_time"))),
                                 (decision, source, when))
        self.assertNotIn("score_verdict", got["iv-no-verdict"], "an empty overall status is no verdict")
        self.assertNotIn("overall_score", got["iv-no-verdict"])
        self.assertEqual(num(got["iv-no-verdict"]["score_time"]), t0, "it is the latest score all the same")
        self.assertNotIn("score_time", got["iv-error"], "an enrichment error is no score")

    def test_milestone_is_the_furthest_status_and_unknown_ones_rank_lowest(self):
        t0 = NOW - 3 * HOUR
        app = make_app()
        events = [
            onboarding("FACE_VALIDATION_FINISHED", "iv-f", t0 + 100),
            onboarding("ID_VALIDATION_FINISHED", "iv-f", t0 + 200),   # reported later, not further
            onboarding("LIVENESS_CHECK_FINISHED", "iv-f", t0 + 300),  # a status Incode adds later
            onboarding("EXPIRED", "iv-f", t0 + 400),
            onboarding("LIVENESS_CHECK_FINISHED", "iv-u", t0 + 100),
            session("SESSION_STARTED", "iv-s", t0, indexed=t0),       # onboardingStatus "UNKNOWN" in the corpus
        ]
        update(app, events, now=t0 + 500)
        got = rows(app)
        self.assertEqual(got["iv-f"]["milestone"], "FACE_VALIDATION_FINISHED")
        self.assertEqual(got["iv-f"]["milestones"], ["FACE_VALIDATION_FINISHED", "ID_VALIDATION_FINISHED", "LIVENESS_CHECK_FINISHED"])
        self.assertEqual(num(got["iv-f"]["expired_time"]), t0 + 400)
        self.assertEqual(got["iv-u"]["milestone"], "LIVENESS_CHECK_FINISHED")
        self.assertEqual((got["iv-s"]["milestone"], got["iv-s"]["milestones"]), ("SESSION_STARTED", "SESSION_STARTED"))

    def test_a_stored_row_with_empty_fields_merges_like_one_without_them(self):
        """Should the KV store hand back "" for a field the row never had (outputlookup writes
        the columns of `table`), the merge still treats it as absent."""
        t0 = NOW - 8 * HOUR
        events = [onboarding("ONBOARDING_FINISHED", "iv-e", t0), scored("iv-e", t0, "OK", indexed=t0 + 300)]
        late = session("SESSION_STARTED", "iv-e", t0 - 600, indexed=t0 + 2 * HOUR, ip="198.51.100.4")
        results = []
        for blanks in (False, True):
            app = make_app()
            update(app, events, now=t0 + 400)
            if blanks:
                fields = [f.strip() for f in conf("transforms.conf").get("incode_sessions")["fields_list"].split(",")]
                filled = [{f: r.get(f, "") for f in fields} for r in app.lookups.rows("incode_sessions")]
                self.assertIn("", filled[0].values())
                app.lookups.set_rows("incode_sessions", filled)
            update(app, events + [late], now=t0 + 2 * HOUR + 60)
            results.append(rows(app)["iv-e"])
        self.assertEqual(results[0], results[1])
        self.assertEqual((num(results[0]["first_seen"]), results[0]["ip"], results[0]["decision"]), (t0 - 600, "198.51.100.4", "approved"))

    def test_retention_prunes_old_sessions_and_a_local_macro_changes_it(self):
        app = make_app()
        events = []
        for iid, age in (("iv-1d", 1), ("iv-89d", 89), ("iv-120d", 120)):
            t = NOW - age * DAY
            events += [session("SESSION_STARTED", iid, t, indexed=NOW - 600)]
        # An old session decided recently: its newest time counts.
        events += [session("SESSION_STARTED", "iv-old-decided", NOW - 100 * DAY, indexed=NOW - 600),
                   onboarding("MANUAL_REVIEW_APPROVED", "iv-old-decided", NOW - 2 * DAY, indexed=NOW - 600)]
        update(app, events, now=NOW)
        # The update reads events as far back as the retention (90 days).
        self.assertEqual(set(rows(app)), {"iv-1d", "iv-89d", "iv-old-decided"})
        self.assertEqual(num(rows(app)["iv-old-decided"]["first_seen"]), NOW - 2 * DAY,
                         "its 100-day-old webhook is beyond the retention")
        splsim.run_saved_search(app, PRUNE, events, now=NOW + 5 * DAY)
        self.assertEqual(set(rows(app)), {"iv-1d", "iv-old-decided"})
        before = rows(app)
        splsim.run_saved_search(app, PRUNE, events, now=NOW + 5 * DAY)
        self.assertEqual(rows(app), before, "the prune keeps rows whole, under the same keys")

        longer = make_app({"macros.conf": "[incode_session_retention_days]\ndefinition = 180\n"})
        update(longer, events, now=NOW)
        self.assertEqual(set(rows(longer)), {"iv-1d", "iv-89d", "iv-120d", "iv-old-decided"})
        splsim.run_saved_search(longer, PRUNE, events, now=NOW + 70 * DAY)
        self.assertEqual(set(rows(longer)), {"iv-1d", "iv-89d", "iv-old-decided"})
        splsim.run_saved_search(longer, PRUNE, events, now=NOW + 400 * DAY)
        self.assertEqual(rows(longer), {}, "every row expired empties the collection")


# ----------------------------------------------------------------------------------------------
# What ships: schema, searches, docs
# ----------------------------------------------------------------------------------------------


class Shipped(unittest.TestCase):
    def test_the_schema_the_detections_rely_on(self):
        lookup = conf("transforms.conf").get("incode_sessions")
        self.assertEqual(lookup["external_type"], "kvstore")
        fields = [f.strip() for f in lookup["fields_list"].split(",")]
        self.assertEqual(fields[0], "_key")
        self.assertEqual(sorted(fields[1:]), sorted(SCHEMA + EXTRA))
        collection = conf("collections.conf").get(lookup["collection"])
        self.assertEqual(lookup["collection"], "incode_sessions")
        self.assertEqual(collection.get("replicate"), "false")
        for key in collection:
            if key.startswith("field."):
                self.assertIn(key[len("field."):], fields, f"collections.conf types unknown field {key}")
        # The update search writes exactly those fields, keyed by interviewId.
        rows_macro = conf("macros.conf").get("incode_session_rows")["definition"]
        table = rows_macro.strip().splitlines()[-1]
        self.assertTrue(table.startswith("| table "), table)
        self.assertEqual(table[len("| table "):].split(), fields[1:])

    def test_scheduled_like_the_score_lookup(self):
        saved = conf("savedsearches.conf")
        update_, prune, score_update = saved.get(UPDATE), saved.get(PRUNE), saved.get(SCORE_UPDATE)
        for key in ("enableSched", "disabled", "cron_schedule", "dispatch.index_earliest", "dispatch.index_latest",
                    "dispatch.latest_time"):
            self.assertEqual(update_.get(key), score_update.get(key), key)
        self.assertTrue(update_["search"].rstrip().endswith("| outputlookup append=true key_field=interviewId incode_sessions"))
        self.assertIn("| `incode_session_rows`", update_["search"])
        self.assertEqual(prune.get("enableSched"), "1")
        self.assertNotEqual(prune["cron_schedule"].split()[0], saved.get("Incode - Prune score lookup")["cron_schedule"].split()[0])

    def test_the_rebuild_in_the_docs_is_the_update_search(self):
        search = conf("savedsearches.conf").get(UPDATE)["search"]
        self.assertEqual(rebuild_search(), re.sub(r"\s*\n", "\n", search))


# ----------------------------------------------------------------------------------------------
# The overview dashboard reads the summary
# ----------------------------------------------------------------------------------------------


class Overview(unittest.TestCase):
    def setUp(self):
        # Five sessions around the default period (the last 24 hours) and the one before it.
        n = NOW
        self.events = [
            # s1: started and succeeded in the period.
            session("SESSION_STARTED", "s1", n - 2 * HOUR, indexed=n - 600, clientId="bank-a"),
            session("SESSION_SUCCEEDED", "s1", n - 1 * HOUR, indexed=n - 600, clientId="bank-a"),
            # s2: started in the previous period, failed in this one.
            session("SESSION_STARTED", "s2", n - 30 * HOUR, indexed=n - 600),
            session("SESSION_FAILED", "s2", n - 3 * HOUR, indexed=n - 600),
            # s3: started and succeeded in the previous period.
            session("SESSION_STARTED", "s3", n - 40 * HOUR, indexed=n - 600),
            session("SESSION_SUCCEEDED", "s3", n - 39 * HOUR, indexed=n - 600),
            # s4: started long before, expired in the period.
            session("SESSION_STARTED", "s4", n - 80 * HOUR, indexed=n - 600),
            onboarding("EXPIRED", "s4", n - 5 * HOUR, indexed=n - 600),
            # s5: finished in the period, Incode sent it to review (WARN score).
            onboarding("ID_VALIDATION_FINISHED", "s5", n - 4 * HOUR, indexed=n - 600),
            onboarding("ONBOARDING_FINISHED", "s5", n - 4 * HOUR + 60, indexed=n - 600),
            scored("s5", n - 4 * HOUR + 60, "WARN", indexed=n - 300),
        ]
        self.app = make_app()
        update(self.app, self.events, now=n)
        splsim.run_saved_search(self.app, SCORE_UPDATE, self.events, now=n)

    def board(self, **tokens):
        board = splsim.run_dashboard(self.app, "incode_overview", self.events, now=NOW, tokens=tokens)
        for ds, result in board.items():
            self.assertNotIn("error", result, f"{ds}: {result.get('error')}")
        return board

    def test_no_panel_aggregates_raw_events(self):
        view = self.app.dashboards()["incode_overview"]
        for ds_id, ds in view["dataSources"].items():
            with self.subTest(ds=ds_id):
                query = ds["options"]["query"]
                self.assertNotIn("`incode_index`", query)
                if ds["type"] == "ds.search":
                    self.assertTrue(query.startswith("| inputlookup incode_sessions"), query)

    def test_kpis_count_each_figure_by_its_own_time_in_the_period_and_the_one_before(self):
        [kpi] = self.board()["ds_kpi"]["rows"]
        # This period: s1 and s5 started, s1 and s5 finished, s1 succeeded, s2 failed, s5 pending,
        # s4 expired. The one before: s2 and s3 started, s3 finished and succeeded.
        got = {k: kpi.get(k) for k in ("started", "started_trend", "finished", "finished_trend", "succeeded",
                                       "succeeded_trend", "failed", "failed_trend", "pending_review", "expired",
                                       "pass_rate")}
        self.assertEqual(got, {"started": "2", "started_trend": "0", "finished": "2", "finished_trend": "1",
                               "succeeded": "1", "succeeded_trend": "0", "failed": "1", "failed_trend": "1",
                               "pending_review": "1", "expired": "1", "pass_rate": "50"})
        # A past period ends where it ends: s2's failure, 3 hours ago, is not in "48 to 24 hours ago".
        [past] = self.board(**{"global_time.earliest": "-48h", "global_time.latest": "-24h"})["ds_kpi"]["rows"]
        self.assertEqual((past["started"], past["succeeded"], past["failed"], past["expired"]), ("2", "1", "0", "0"))

    def test_panels_from_the_summary(self):
        board = self.board()
        funnel = {r["step"]: r["sessions"] for r in board["ds_funnel"]["rows"]}
        # s1's SESSION_SUCCEEDED carries onboardingStatus ONBOARDING_FINISHED (as in the corpus).
        self.assertEqual(funnel, {"1. Started": "2", "2. ID validated": "1", "5. Finished": "2"})
        self.assertEqual([(r["interviewId"], r["last_step"]) for r in board["ds_expired"]["rows"]], [("s4", "SESSION_STARTED")])
        self.assertEqual([r["interviewId"] for r in board["ds_review_queue_table"]["rows"]], ["s5"])
        self.assertEqual({r["overall_status"]: r["sessions"] for r in board["ds_overall_status"]["rows"]}, {"WARN": "1"})
        modules = {r["band"]: r for r in board["ds_score_distribution"]["rows"]}
        self.assertEqual(modules["90-100"].get("liveness"), "1", "module scores come from the score lookup")
        self.assertEqual(modules["60-70"].get("overall"), "1")
        self.assertEqual({r["failed_check"] for r in board["ds_failed_checks"]["rows"]},
                         {"faceRecognition.nameMatch", "idValidation.idSpecific.mrzLineFormatCheck"})
        outcomes = board["ds_outcomes"]["rows"]
        totals = {}
        for r in outcomes:
            for k, v in r.items():
                if not k.startswith("_") and v not in (None, ""):
                    totals[k] = totals.get(k, 0) + int(v)
        self.assertEqual(totals, {"succeeded": 1, "failed": 1, "pending_review": 1, "expired": 1})
        clients = {r["clientId"]: r["count"] for r in board["ds_client_list"]["rows"]}
        self.assertEqual(clients, {"bank-a": "1", "acme-bank": "1"})
        chosen = self.board(client="bank-a")
        self.assertEqual(chosen["ds_kpi"]["rows"][0]["started"], "1")

    def test_panels_are_the_same_when_absent_fields_are_stored_empty(self):
        before = {ds: r["rows"] for ds, r in self.board().items()}
        fields = [f.strip() for f in conf("transforms.conf").get("incode_sessions")["fields_list"].split(",")]
        self.app.lookups.set_rows("incode_sessions", [{f: r.get(f, "") for f in fields}
                                                      for r in self.app.lookups.rows("incode_sessions")])
        after = {ds: r["rows"] for ds, r in self.board().items()}
        for ds in before:
            with self.subTest(ds=ds):
                self.assertEqual(after[ds], before[ds])


if __name__ == "__main__":
    unittest.main()
