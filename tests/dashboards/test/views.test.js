'use strict';
// Every Dashboard Studio view validates with Splunk's own DashboardValidator (schema built from
// @splunk/dashboard-definition with the Enterprise preset of @splunk/dashboard-presets), knows
// its option names, and all its references resolve.
const test = require('node:test');
const assert = require('node:assert/strict');
const app = require('../lib/app');
const studio = require('../lib/studio');

const views = app.listViews();
const viewDefs = new Map(views.map((v) => [v.name, v.definition || null]));
const EXPECTED = ['incode_overview', 'incode_session_investigator', 'incode_risk', 'incode_addon_health'];
const saved = app.readConf('savedsearches.conf');
const squash = (q) => String(q).replace(/\s+/g, ' ').trim();

/**
 * The saved search a data source runs as scheduled: its query is that search's, verbatim, over
 * its dispatch window (the Incode risk dashboard's "now" panels). null for any other source.
 */
function scheduledSearchOf(ds) {
  const qp = ds.options.queryParameters || {};
  for (const [name, kv] of saved) {
    if (kv.has('search') && squash(kv.get('search')) === squash(ds.options.query)
      && qp.earliest === kv.get('dispatch.earliest_time') && qp.latest === kv.get('dispatch.latest_time')) return name;
  }
  return null;
}

test('the four Studio dashboards exist', () => {
  for (const name of EXPECTED) {
    const v = views.find((x) => x.name === name);
    assert.ok(v, `missing view ${name}`);
    assert.ok(v.definition, `${name} is not a Dashboard Studio view`);
  }
});

test('views are Dashboard Studio version 2 or Simple XML 1.1 (AppInspect check_simplexml_standards_version)', () => {
  for (const v of views) {
    if (v.definition) {
      assert.equal(v.root, 'dashboard', v.name);
      assert.equal(v.attrs.version, '2', v.name);
      assert.match(v.attrs.theme || '', /^(light|dark)$/, `${v.name}: theme`);
      assert.ok(v.label && v.label.length > 3, `${v.name}: <label>`);
    } else {
      assert.match(v.root, /^(form|dashboard)$/, v.name);
      assert.equal(v.attrs.version, '1.1', `${v.name}: Simple XML must be version 1.1`);
      assert.doesNotMatch(v.xml, /<script|\bscript="|<html/i, `${v.name}: no custom JavaScript or HTML panels`);
    }
  }
});

for (const v of views.filter((x) => x.definition)) {
  test(`${v.name}: Splunk's DashboardValidator accepts the definition`, () => {
    assert.deepEqual(studio.schemaErrors(v.definition), []);
  });

  test(`${v.name}: every visualization and data source option is one its type declares`, () => {
    assert.deepEqual(studio.unknownOptionErrors(v.definition), []);
  });

  test(`${v.name}: data sources, chains, tokens and drilldowns resolve`, () => {
    assert.deepEqual(studio.referenceErrors(v.definition, viewDefs), []);
  });

  test(`${v.name}: a shared time picker drives every base search`, () => {
    const def = v.definition;
    const pickers = Object.entries(def.inputs || {}).filter(([, i]) => i.type === 'input.timerange');
    assert.equal(pickers.length, 1, 'one time range input');
    assert.ok(def.layout.globalInputs.includes(pickers[0][0]), 'the time picker is a global input');
    const token = pickers[0][1].options.token;
    for (const [id, ds] of Object.entries(def.dataSources)) {
      if (ds.type !== 'ds.search') continue;
      const qp = ds.options.queryParameters;
      const picker = qp.earliest === `$${token}.earliest$` && qp.latest === `$${token}.latest$`;
      // The review queue deliberately looks 30 days back whatever the picker says; a panel that
      // shows a detection as scheduled runs over that detection's own window.
      const fixed = (id === 'ds_review_queue' && qp.earliest === '-30d@d') || scheduledSearchOf(ds) !== null;
      assert.ok(picker || fixed, `${id} ignores the time picker`);
    }
  });
}

test('the overview has a panel for everything issue 5 lists', () => {
  const def = viewDefs.get('incode_overview');
  const types = Object.values(def.visualizations).map((x) => x.type);
  const titles = Object.values(def.visualizations).map((x) => x.title || '').join(' | ');
  for (const t of ['Sessions started', 'Onboarding finished', 'Succeeded', 'Failed', 'Pending review', 'Pass rate', 'Outcomes over time', 'Verification funnel', 'Median time to finish', 'Score distributions', 'failed checks', 'Manual-review queue', 'Expired', 'location', 'Top clients', 'Top flows']) {
    assert.ok(titles.toLowerCase().includes(t.toLowerCase()), `no panel titled like "${t}"`);
  }
  assert.ok(types.includes('splunk.map'));
  const kpis = Object.values(def.visualizations).filter((x) => x.type === 'splunk.singlevalue' && x.dataSources.primary === 'ds_kpi');
  assert.ok(kpis.length >= 6);
  for (const k of kpis) assert.match(k.options.trendValue, /_trend"\)/, `${k.title}: trend against the previous period`);
  const inputs = Object.values(def.inputs).map((i) => i.options.token);
  assert.deepEqual(inputs.sort(), ['client', 'flow', 'global_time']);
});

test('the investigator has text inputs for interviewId, externalCustomerId, identityId', () => {
  const def = viewDefs.get('incode_session_investigator');
  const text = Object.values(def.inputs).filter((i) => i.type === 'input.text').map((i) => i.title);
  assert.deepEqual(text.sort(), ['externalCustomerId', 'identityId', 'interviewId']);
});

test('the overview tables drill down into the investigator', () => {
  const def = viewDefs.get('incode_overview');
  const drills = Object.values(def.visualizations).flatMap((x) => x.eventHandlers || []).filter((h) => h.type === 'drilldown.customUrl');
  assert.ok(drills.length >= 2);
  for (const h of drills) assert.match(h.options.url, /^\/app\/TA-incode\/incode_session_investigator\?form\.iid=\$row\.interviewId\.value\|u\$/);
});

test('the risk dashboard shows every detection as scheduled, what fired and the risk in ES', () => {
  const def = viewDefs.get('incode_risk');
  const detections = [...saved].filter(([, kv]) => kv.has('action.risk')).map(([name]) => name);
  assert.equal(detections.length, 7, 'the seven detections carry the risk action');
  const shown = Object.values(def.dataSources).map((ds) => (ds.type === 'ds.search' ? scheduledSearchOf(ds) : null)).filter(Boolean);
  assert.deepEqual(shown.sort(), detections.sort(), 'one panel per detection, its search verbatim over its dispatch window (python3 scripts/risk_dashboard.py rewrites them)');
  const queries = Object.values(def.dataSources).map((ds) => ds.options.query).join('\n');
  assert.match(queries, /`incode_fired_alerts`/);
  assert.match(queries, /`incode_risk_events`/);
  for (const [id, v] of Object.entries(def.visualizations)) {
    if (!String(v.dataSources && v.dataSources.primary).startsWith('ds_now_')) continue;
    const [h] = v.eventHandlers || [];
    assert.ok(h && h.type === 'drilldown.customUrl', `${id}: drills down`);
    assert.match(h.options.url, /^\/app\/TA-incode\/incode_session_investigator\?form\.(iid|ecid)=\$row\.(interviewId|risk_object)\.value\|u\$$/);
  }
});

test('fails on a detection panel that drifted from its saved search', () => {
  const ds = JSON.parse(JSON.stringify(viewDefs.get('incode_risk').dataSources.ds_now_velocity));
  assert.ok(scheduledSearchOf(ds));
  ds.options.query = ds.options.query.replace('incode_threshold_sessions_per_ip', 'incode_threshold_sessions_per_customer');
  assert.equal(scheduledSearchOf(ds), null);
  ds.options.query = viewDefs.get('incode_risk').dataSources.ds_now_velocity.options.query;
  ds.options.queryParameters.earliest = '-1h';
  assert.equal(scheduledSearchOf(ds), null);
});
