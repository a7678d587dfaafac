'use strict';
// Navigation, alerts, workflow actions and macros: what an administrator clicks on.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const app = require('../lib/app');

const viewNames = new Set(app.listViews().map((v) => v.name));

test('navigation: the four dashboards first, then Search, then the Incode inputs page', () => {
  const nav = fs.readFileSync(app.NAV, 'utf8');
  const items = [...nav.matchAll(/<(view|a)\b([^>]*?)\/?>([^<]*)/g)].map((m) => {
    const attrs = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
    return { kind: m[1], ...attrs };
  });
  assert.deepEqual(items.map((i) => i.name || i.href), [
    'incode_overview', 'incode_session_investigator', 'incode_risk', 'incode_addon_health', 'search', '/manager/TA-incode/data/inputs/incode',
  ]);
  assert.equal(items[0].default, 'true', 'the overview is the default view');
  assert.equal(items.filter((i) => i.default === 'true').length, 1);
  for (const i of items.slice(0, 4)) assert.ok(viewNames.has(i.name), `nav names missing view ${i.name}`);
});

const saved = app.readConf('savedsearches.conf');
// The scheduled searches that keep the score lookup and the session summary live in the same
// file; they are no alerts.
const LOOKUP_SEARCHES = [
  'Incode - Update score lookup', 'Incode - Prune score lookup',
  'Incode - Update session summary', 'Incode - Prune session summary',
];
const alerts = [...saved].filter(([name]) => !LOOKUP_SEARCHES.includes(name));

test('alerts: all of issue 5, named "Incode - ...", shipped disabled', () => {
  const names = alerts.map(([n]) => n);
  for (const want of ['Webhooks silent', 'Spike in failed verifications', 'Many sessions from one IP', 'Many sessions for one externalCustomerId', 'Enrichment errors', 'Enrichment backlog growing', 'Modular input not completing a pass']) {
    assert.ok(names.some((n) => n.includes(want)), `no alert for ${want}`);
  }
  for (const [name, kv] of alerts) {
    assert.match(name, /^Incode - /);
    assert.equal(kv.get('disabled'), '1', `${name} must ship disabled`);
  }
});

test('alerts: scheduled, bounded in time, tracked, throttled where they repeat', () => {
  for (const [name, kv] of alerts) {
    assert.equal(kv.get('enableSched'), '1', `${name}: enableSched`);
    assert.match(kv.get('cron_schedule') || '', /^\S+ \S+ \S+ \S+ \S+$/, `${name}: cron_schedule`);
    assert.ok(kv.get('dispatch.earliest_time'), `${name}: dispatch.earliest_time`);
    assert.notEqual(kv.get('dispatch.earliest_time'), '0', `${name}: not over all time`);
    assert.doesNotMatch(kv.get('dispatch.earliest_time'), /^rt/, `${name}: no real-time search`);
    assert.equal(kv.get('counttype'), 'number of events', `${name}: counttype`);
    assert.equal(kv.get('relation'), 'greater than', `${name}: relation`);
    assert.equal(kv.get('quantity'), '0', `${name}: quantity`);
    assert.equal(kv.get('alert.track'), '1', `${name}: listed in Triggered Alerts`);
    assert.match(kv.get('alert.severity') || '', /^[1-6]$/, `${name}: alert.severity`);
    assert.ok((kv.get('description') || '').length > 40, `${name}: a description an admin can act on`);
    assert.equal(kv.get('request.ui_dispatch_app'), 'TA-incode');
    // An action may ship configured but switched off: the detections' Enterprise Security risk
    // action (action.risk = 0 with its parameters; tests/spl/test_detections.py).
    for (const key of kv.keys()) if (/^action\.\w+$/.test(key)) assert.equal(kv.get(key), '0', `${name}: no action enabled by default (${key})`);
  }
});

test('workflow actions: investigator and Incode dashboard, on interviewId', () => {
  const wa = app.readConf('workflow_actions.conf');
  assert.deepEqual([...wa.keys()].sort(), ['incode_open_in_incode', 'incode_open_investigator']);
  for (const [name, kv] of wa) {
    assert.equal(kv.get('type'), 'link', name);
    assert.equal(kv.get('fields'), 'interviewId', name);
    assert.equal(kv.get('display_location'), 'both', name);
    assert.match(kv.get('label'), /\$interviewId\$/, name);
    const uri = /^\/app\/TA-incode\/(\w+)\?form\.(\w+)=\$interviewId\$$/.exec(kv.get('link.uri'));
    assert.ok(uri, `${name}: link.uri into the app with the interviewId`);
    assert.ok(viewNames.has(uri[1]), `${name}: view ${uri[1]} exists`);
    const target = app.listViews().find((v) => v.name === uri[1]);
    if (target.definition) {
      const tokens = Object.values(target.definition.inputs).map((i) => i.options.token);
      assert.ok(tokens.includes(uri[2]), `${name}: ${uri[1]} has an input token ${uri[2]}`);
    } else {
      assert.match(target.xml, new RegExp(`<input type="text" token="${uri[2]}"`), `${name}: ${uri[1]} has an input ${uri[2]}`);
    }
  }
});

test('Open in Incode: off until an admin sets the URL; the view forwards to the macro\'s URL of the URL-encoded id', () => {
  const macros = app.readMacros();
  const m = macros.get('incode_dashboard_session_url(1)');
  assert.ok(m, 'macro incode_dashboard_session_url(1)');
  assert.deepEqual(m.args, ['interview_id']);
  assert.doesNotMatch(m.definition, /https?:/, 'no guessed Incode address ships');
  const wa = app.readConf('workflow_actions.conf');
  assert.equal(wa.get('incode_open_in_incode').get('disabled'), '1', 'the workflow action ships disabled');
  const view = app.listViews().find((v) => v.name === 'incode_open_in_incode');
  assert.equal(view.attrs.isVisible, 'false', 'kept out of the app menu');
  assert.match(view.xml, /interviewId_url="\$interviewId\|u\$"/, 'the id is URL-encoded by Splunk');
  assert.match(view.xml, /`incode_dashboard_session_url\(interviewId_url\)`/);
  assert.match(view.xml, /<query>\| where isnotnull\(incode_url\)<\/query>\s*<done>\s*<condition match="\$job\.resultCount\$ &gt; 0">\s*<link target="_self">\$result\.incode_url\|n\$<\/link>/);
});

test('conf files parse strictly (no duplicate stanzas or keys)', () => {
  for (const f of ['savedsearches.conf', 'workflow_actions.conf', 'macros.conf']) app.readConf(f);
});
