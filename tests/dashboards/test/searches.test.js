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
  // The rex anchors on the executable's path in the app's folder, and the line must match it to
  // survive. Which lines it reads (real splunkd.log lines, Linux, ARM and Windows paths, input
  // names with spaces): tests/spl/test_content.py over tests/splunkd/exec_processor.jsonl.
  assert.match(def, /rex field=_raw "message from .*TA-incode\[\/\\x5c\]\(\?:\\w\+\[\/\\x5c\]\)\?bin\[\/\\x5c\]incode/);
  assert.match(def, /\| where isnotnull\(incode_input\)/);
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
