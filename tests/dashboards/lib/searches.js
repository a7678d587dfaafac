'use strict';
// Every search the app ships, with where it comes from: dashboard data sources (a chained
// search as the full SPL it runs: its bases first), Simple XML queries, savedsearches.conf.
const app = require('./app');
const studio = require('./studio');
const spl = require('./spl');
const fields = require('./fields');

function unescapeXml(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** [{ origin, query, own, base }]: `own` is the text written in that place, `query` what runs. */
function allSearches() {
  const out = [];
  for (const view of app.listViews()) {
    if (view.definition) {
      for (const s of studio.searches(view.definition)) {
        out.push({ origin: `${view.name}.${s.id}`, query: s.query, own: s.own, base: s.base });
      }
    } else {
      // Simple XML: <query> of each <search>; a post-process (<search base=...>) runs after its base.
      const byId = new Map();
      for (const m of view.xml.matchAll(/<search(?:\s+id="([^"]+)")?(?:\s+base="([^"]+)")?\s*>\s*<query>([\s\S]*?)<\/query>/g)) {
        const own = unescapeXml(m[3]).trim();
        const query = m[2] ? `${byId.get(m[2])} ${own}` : own;
        if (m[1]) byId.set(m[1], query);
        out.push({ origin: `${view.name}.${m[1] || m[2] || 'search'}`, query, own, base: !m[2] });
      }
    }
  }
  for (const [name, kv] of app.readConf('savedsearches.conf')) {
    if (kv.has('search')) out.push({ origin: `savedsearches.conf [${name}]`, query: kv.get('search'), own: kv.get('search'), base: true });
  }
  return out;
}

const INTERNAL_MACRO = 'incode_modinput_logs';
// What fired (the Incode risk dashboard): Splunk's audit record of fired alerts and Enterprise
// Security's risk index, each reached through a macro of its own.
const FIRED_MACRO = 'incode_fired_alerts';
const RISK_MACRO = 'incode_risk_events';
const INDEX_FIELDS = { _internal: fields.INTERNAL_EVENT_FIELDS, _audit: fields.AUDIT_EVENT_FIELDS, risk: fields.RISK_EVENT_FIELDS };

/** The columns of each lookup definition of transforms.conf (fields_list). */
const LOOKUP_FIELDS = new Map(
  [...app.readConf('transforms.conf')]
    .filter(([, kv]) => kv.has('fields_list'))
    .map(([name, kv]) => [name, kv.get('fields_list').split(',').map((f) => f.trim())]),
);

/**
 * The field check of one search: event fields depend on what it reads (Incode data or
 * _internal), per search and subsearch; inputlookup gives a lookup's own columns.
 */
function fieldCheck(query, macros) {
  const internal = query.includes(`\`${INTERNAL_MACRO}\``);
  return spl.analyze(query, {
    eventFields: internal ? fields.INTERNAL_EVENT_FIELDS : fields.INCODE_EVENT_FIELDS,
    eventFieldsFor: (index) => INDEX_FIELDS[index] || fields.INCODE_EVENT_FIELDS,
    lookupFields: (table) => LOOKUP_FIELDS.get(table),
    macros,
  });
}

/**
 * The index rule for one search: it reaches data only through `incode_index` (Incode events),
 * `incode_modinput_logs` (the add-on's own lines in _internal), `incode_fired_alerts` (_audit)
 * or `incode_risk_events` (ES's risk index), never through a literal index; a search that reads
 * no index at all (a bare makeresults) needs none.
 */
function indexRuleErrors(s) {
  const errors = [];
  const text = s.query;
  const literal = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  if (/\bindex\s*(=|!=|IN\b)/i.test(literal)) errors.push('names an index literally: use the `incode_index` macro');
  if (/_internal|_audit|_introspection/.test(literal)) errors.push('names an internal index: use the `incode_modinput_logs` macro');
  const usesData = /`incode_index`/.test(text) || [INTERNAL_MACRO, FIRED_MACRO, RISK_MACRO].some((m) => text.includes(`\`${m}\``));
  const readsNothing = /^\s*\|\s*(makeresults|inputlookup)\b/.test(text) && !/\[\s*search\b|\|\s*search\b/.test(text);
  if (!usesData && !readsNothing) errors.push('reads events without the `incode_index` macro');
  return errors;
}

module.exports = { allSearches, fieldCheck, indexRuleErrors, INTERNAL_MACRO, FIRED_MACRO, RISK_MACRO };
