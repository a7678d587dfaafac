'use strict';
// The checks can fail: each one is run on a copy of a real view or search broken in one place,
// and must report it. (A check that passes everything would pass these views too.)
const test = require('node:test');
const assert = require('node:assert/strict');
const app = require('../lib/app');
const studio = require('../lib/studio');
const { fieldCheck, indexRuleErrors } = require('../lib/searches');

const views = app.listViews();
const viewDefs = new Map(views.map((v) => [v.name, v.definition || null]));
const overview = () => JSON.parse(JSON.stringify(viewDefs.get('incode_overview')));
const macros = app.readMacros();

const broken = (what, mutate, check) => test(`fails on ${what}`, () => {
  const def = overview();
  assert.deepEqual(check(def), [], 'the unbroken overview passes');
  mutate(def);
  assert.notDeepEqual(check(def), [], `${what} went unnoticed`);
});

const schema = (d) => studio.schemaErrors(d);
const options = (d) => studio.unknownOptionErrors(d);
const refs = (d) => studio.referenceErrors(d, viewDefs);

broken('an unknown visualization type', (d) => { d.visualizations.viz_map.type = 'splunk.globe'; }, schema);
broken('an option value of the wrong kind', (d) => { d.visualizations.viz_funnel.options.legendDisplay = 'sideways'; }, schema);
broken('an unknown input option', (d) => { d.inputs.input_client.options.multiple = true; }, schema);
broken('a layout item with no visualization', (d) => { d.layout.layoutDefinitions.layout_1.structure[0].item = 'viz_nowhere'; }, schema);
broken('a visualization missing from the layout', (d) => { d.visualizations.viz_extra = { type: 'splunk.markdown', options: { markdown: 'x' } }; }, schema);
broken('an unknown visualization option', (d) => { d.visualizations.viz_started.options.majorValu = '> primary'; }, options);
broken('an unknown data source option', (d) => { d.dataSources.ds_kpi.options.extends = 'ds_lifecycle'; }, options);
broken('a data source reference that does not resolve', (d) => { d.visualizations.viz_funnel.dataSources.primary = 'ds_funnnel'; }, refs);
broken('a chain extending a missing base', (d) => { d.dataSources.ds_funnel.options.extend = 'ds_nothing'; }, refs);
broken('a chain that does not start with a pipe', (d) => { d.dataSources.ds_funnel.options.query = d.dataSources.ds_funnel.options.query.replace(/^\|\s*/, ''); }, refs);
broken('a chain cycle', (d) => { d.dataSources.ds_lifecycle.type = 'ds.chain'; d.dataSources.ds_lifecycle.options.extend = 'ds_kpi'; }, refs);
broken('an undefined token', (d) => { d.dataSources.ds_kpi.options.query += ' | where clientId=$clinet$'; }, refs);
broken('a base search without the time picker', (d) => { delete d.dataSources.ds_scores.options.queryParameters; }, refs);
broken('a data source nobody uses', (d) => { d.dataSources.ds_orphan = { type: 'ds.chain', options: { extend: 'ds_lifecycle', query: '| head 1' } }; }, refs);
broken('a drilldown to a missing view', (d) => { d.visualizations.viz_expired.eventHandlers[0].options.url = '/app/TA-incode/incode_investigator?form.iid=$row.interviewId.value$'; }, refs);
broken('a drilldown setting a token the target has not', (d) => { d.visualizations.viz_expired.eventHandlers[0].options.url = '/app/TA-incode/incode_session_investigator?form.interview=$row.interviewId.value$'; }, refs);

const searchBroken = (what, query, check) => test(`fails on ${what}`, () => {
  assert.notDeepEqual(check(query), [], `${what} went unnoticed: ${query}`);
});
const fieldsOf = (q) => fieldCheck(q, macros).errors;
const indexOf = (q) => indexRuleErrors({ query: q });

test('a good search passes both search checks', () => {
  const q = '`incode_index` sourcetype="incode:score" | stats latest(overall_score) as overall_score by interviewId | where overall_score > 50';
  assert.deepEqual(fieldsOf(q), []);
  assert.deepEqual(indexOf(q), []);
});
searchBroken('a search without the incode_index macro', 'sourcetype="incode:score" | stats count by interviewId', indexOf);
searchBroken('a literal index', 'index=incode sourcetype="incode:score" | stats count', indexOf);
searchBroken('a literal _internal search', 'index=_internal sourcetype=splunkd | stats count', indexOf);
searchBroken('a misspelt contract field', '`incode_index` sourcetype="incode:score" | stats count by interview_id', fieldsOf);
searchBroken('a field the contract does not define', '`incode_index` sourcetype="incode:session" | stats count by deviceType', fieldsOf);
searchBroken('a field that stats dropped', '`incode_index` | stats count by interviewId | where clientId="x"', fieldsOf);
searchBroken('a renamed-away field', '`incode_index` | rename clientId as client | stats count by clientId', fieldsOf);
searchBroken('a chained search reading a field its base does not output',
  `${viewDefs.get('incode_overview').dataSources.ds_lifecycle.options.query} | stats count by ip`, fieldsOf);
searchBroken('a command the checker does not know', '`incode_index` | transaction interviewId', fieldsOf);
searchBroken('an undefined macro', '`incode_indx` | stats count', fieldsOf);
searchBroken('an _internal search reading incode fields', '`incode_modinput_logs` | stats count by interviewId', fieldsOf);
searchBroken('an incode_index subsearch reading the log lines\' fields',
  '`incode_modinput_logs` | stats sum(enriched) as e | append [search `incode_index` sourcetype="incode:score" | stats sum(duration_ms) as d]', fieldsOf);
searchBroken('a column a lookup does not have', '| inputlookup incode_scores | where isnotnull(clientId)', fieldsOf);
searchBroken('an inputlookup of an unknown lookup', '| inputlookup incode_score | stats count', fieldsOf);
