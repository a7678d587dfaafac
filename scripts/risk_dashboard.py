#!/usr/bin/env python3
"""Writes default/data/ui/views/incode_risk.xml, the Incode risk dashboard, from
default/savedsearches.conf: one panel per detection runs that detection's search verbatim over its
dispatch window. Run it after changing a detection's search or window (tests/dashboards and
tests/spl fail until the two agree):

    python3 scripts/risk_dashboard.py

Python standard library, plus the .conf reader of ../shared/splunksim (beside the repository).
"""
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO.parent / "shared"))
from splunksim import confparse  # noqa: E402

saved = confparse.parse_text((REPO / 'default' / 'savedsearches.conf').read_text(), 'savedsearches.conf')

PANELS = [
 ("velocity", "Incode - Many sessions from one IP", "Velocity: many sessions from one IP (last 15 minutes)", "iid", "interviewId"),
 ("failures", "Incode - Repeated failed verifications for one customer", "Repeated failures of one customer (24 hours, new in the last hour)", "ecid", "risk_object"),
 ("identity", "Incode - Identity reused across customers", "Identity reuse (per-session summary, new links in the last 2 hours)", "ecid", "risk_object"),
 ("override", "Incode - Manual review overrode the score verdict", "Review overrides (reviews in the last hour)", "iid", "interviewId"),
 ("missed", "Incode - Sessions without an outcome webhook", "Sessions without an outcome webhook (per-session summary)", "iid", "interviewId"),
 ("spike", "Incode - Liveness or face-match failure spike", "Liveness or face-match failure spike (last complete hour)", "iid", "interviewId"),
 ("travel", "Incode - Impossible travel between sessions of one customer", "Impossible travel (sessions started in the last hour)", "ecid", "risk_object"),
]

ds = {
 "ds_fired": {"type": "ds.search", "name": "Incode alerts and detections fired (Splunk's audit record)", "options": {
   "query": "`incode_fired_alerts`\n| stats count as fired, max(_time) as last_fired_at, values(severity) as severity by ss_name\n| eval last_fired=strftime(last_fired_at, \"%Y-%m-%d %H:%M:%S\")\n| sort 0 - last_fired_at\n| table ss_name fired last_fired severity",
   "queryParameters": {"earliest": "$global_time.earliest$", "latest": "$global_time.latest$"}}},
 "ds_risk": {"type": "ds.search", "name": "Risk added in Enterprise Security by the Incode detections", "options": {
   "query": "`incode_risk_events`\n| stats sum(risk_score) as risk_score, count as risk_events, values(source) as detections, latest(risk_message) as latest_message, max(_time) as last_at by risk_object risk_object_type\n| eval last=strftime(last_at, \"%Y-%m-%d %H:%M:%S\")\n| sort 0 - risk_score\n| head 200\n| table risk_object risk_object_type risk_score risk_events detections latest_message last",
   "queryParameters": {"earliest": "$global_time.earliest$", "latest": "$global_time.latest$"}}},
}
viz = {
 "viz_help": {"type": "splunk.markdown", "options": {"markdown":
   "**What fired and what would fire.** *Fired*: Splunk's record of every TA-incode alert and detection that fired in the period (index=_audit; administrators only). "
   "*Risk in Enterprise Security*: the risk the detections added per risk object, once ES runs them with the Risk Analysis action on (index=risk; empty otherwise). "
   "Below: what each detection finds **now**, in its own window and with its threshold macro, enabled or not; use it to tune a threshold before enabling the detection. "
   "Click a row to open the session investigator. Each detection is described in the app's docs/detections.md."}},
 "viz_fired": {"type": "splunk.table", "title": "Fired in the period", "description": "TA-incode alerts and detections that fired (index=_audit action=alert_fired)", "dataSources": {"primary": "ds_fired"}},
 "viz_risk": {"type": "splunk.table", "title": "Risk in Enterprise Security", "description": "Risk events of the Incode detections per risk object (index=risk)", "dataSources": {"primary": "ds_risk"}},
}
structure = [
 {"item": "viz_help", "type": "block", "position": {"x": 0, "y": 0, "w": 1440, "h": 90}},
 {"item": "viz_fired", "type": "block", "position": {"x": 0, "y": 90, "w": 600, "h": 300}},
 {"item": "viz_risk", "type": "block", "position": {"x": 600, "y": 90, "w": 840, "h": 300}},
]
y = 390
for key, name, title, token, field in PANELS:
    s = saved.get(name)
    dsid = f"ds_now_{key}"
    ds[dsid] = {"type": "ds.search", "name": f"{name}, as scheduled", "options": {
        "query": s["search"],
        "queryParameters": {"earliest": s["dispatch.earliest_time"], "latest": s["dispatch.latest_time"]}}}
    vid = f"viz_now_{key}"
    viz[vid] = {"type": "splunk.table", "title": title, "description": name, "dataSources": {"primary": dsid},
                "eventHandlers": [{"type": "drilldown.customUrl", "options": {
                    "url": f"/app/TA-incode/incode_session_investigator?form.{token}=$row.{field}.value|u$", "newTab": True}}]}
    structure.append({"item": vid, "type": "block", "position": {"x": 0, "y": y, "w": 1440, "h": 260}})
    y += 260

definition = {
 "title": "Incode risk",
 "description": "The TA-incode detections: what fired, the risk they added in Enterprise Security, and what each finds now.",
 "dataSources": ds,
 "visualizations": viz,
 "inputs": {"input_time": {"type": "input.timerange", "title": "Time range (fired, risk)", "options": {"token": "global_time", "defaultValue": "-7d@d,now"}}},
 "defaults": {"dataSources": {"ds.search": {"options": {"queryParameters": {"earliest": "$global_time.earliest$", "latest": "$global_time.latest$"}}}}},
 "layout": {"globalInputs": ["input_time"], "tabs": {"items": [{"layoutId": "layout_1", "label": "Detections"}]},
            "layoutDefinitions": {"layout_1": {"type": "grid", "options": {}, "structure": structure}}},
}
text = json.dumps(definition, indent=4, ensure_ascii=False)
assert "]]>" not in text
xml = ('<dashboard version="2" theme="light">\n'
       '    <label>Incode risk</label>\n'
       '    <description>The TA-incode detections: what fired, the risk they added in Enterprise Security, and what each finds now.</description>\n'
       '    <definition><![CDATA[\n' + text + '\n    ]]></definition>\n</dashboard>\n')
(REPO / 'default' / 'data' / 'ui' / 'views' / 'incode_risk.xml').write_text(xml)
