'use strict';
// Every shipped search (dashboards, the forwarder view, savedsearches.conf) reaches data only
// through the app's macros and reads only fields the contract, props or Splunk define.
const test = require('node:test');
const assert = require('node:assert/strict');
const app = require('../lib/app');
const { allSearches, fieldCheck, indexRuleErrors, INTERNAL_MACRO } = require('../lib/searches');

const macros = app.readMacros();
const searches = allSearches();

test('there are searches to check', () => {
  assert.ok(searches.length > 40, `only ${searches.length} searches found`);
});

test('the incode_index macro is unchanged', () => {
  assert.equal(macros.get('incode_index').definition, 'index=*');
});

test(`${INTERNAL_MACRO} is bounded to the add-on's own log lines`, () => {
  const def = macros.get(INTERNAL_MACRO).definition;
  for (const part of ['index=_internal', 'sourcetype=splunkd', 'component=ExecProcessor', '"TA-incode"']) {
    assert.ok(def.includes(part), `missing ${part}`);
  }
  // The rex anchors on the executable's path and the line must match it to survive.
  assert.match(def, /rex field=_raw "message from \\"\[\^\\"\]\*\/TA-incode\/linux_x86_64\/bin\/incode\\"/);
  assert.match(def, /\| where isnotnull\(incode_input\)/);
});

test('the macro regex picks exactly the add-on\'s pass line out of splunkd.log lines', () => {
  // The rex of the macro, as PCRE, run with JavaScript's engine (same syntax for this pattern).
  const def = macros.get(INTERNAL_MACRO).definition;
  const rex = /rex field=_raw "((?:[^"\\]|\\.)*)"/.exec(def)[1].replace(/\\"/g, '"').replace(/\(\?</g, '(?<');
  const re = new RegExp(rex);
  const ours = '11-26-2026 10:00:00.123 +0000 INFO  ExecProcessor [1687 ExecProcessor] - message from "/opt/splunk/etc/apps/TA-incode/linux_x86_64/bin/incode" INFO input=prod event=pass_finished found=3 enriched=2 retried=1 deferred=0 given_up=0 duration_ms=812';
  const m = re.exec(ours);
  assert.ok(m, 'the pass line matches');
  assert.equal(m.groups.incode_input, 'prod');
  assert.equal(m.groups.incode_level, 'INFO');
  const unprefixed = ours.replace('" INFO input=', '" input=');
  assert.equal(re.exec(unprefixed).groups.incode_input, 'prod', 'splunkd may strip the level prefix');
  const other = '11-26-2026 10:00:00.123 +0000 ERROR ExecProcessor [1687 ExecProcessor] - message from "/opt/splunk/etc/apps/TA-other/linux_x86_64/bin/incode" ERROR input=x event=boom';
  assert.equal(re.exec(other), null, 'another app\'s executable is not ours');
});

for (const s of searches) {
  test(`${s.origin}: data only through the app's macros`, () => {
    assert.deepEqual(indexRuleErrors(s), []);
  });

  test(`${s.origin}: reads only known fields`, () => {
    const r = fieldCheck(s.query, macros);
    assert.deepEqual(r.errors, []);
  });
}

test('chained searches add only post-processing, never a second raw search', () => {
  for (const s of searches.filter((x) => !x.base)) {
    assert.doesNotMatch(s.own, /`incode_index`|`incode_modinput_logs`/, `${s.origin} searches raw events again`);
  }
});
