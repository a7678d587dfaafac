'use strict';
// Dashboard Studio validation with Splunk's own packages, plus the reference checks that the
// schema cannot express (data source links, chains, tokens, drilldown targets).
require('./shim');

const { createSchemaBasedOnPresets } = require('@splunk/dashboard-definition');
const { DashboardValidator } = require('@splunk/dashboard-validation');
const presetModule = require('@splunk/dashboard-presets/EnterprisePreset');

const preset = presetModule.default || presetModule;

let validator = null;

/** The validator Splunk Web's editor uses, with the schema built from the Enterprise preset. */
function getValidator() {
  if (validator) return validator;
  // The same call Dashboard Studio makes: options of every preset component, no token coercion.
  const schema = createSchemaBasedOnPresets(preset, { allowTokenCoercion: false });
  const v = new DashboardValidator();
  // ajv prints "strict mode" notes about Splunk's own visualization schemas; they are not ours.
  const warn = console.warn;
  console.warn = () => {};
  try {
    const err = v.setSchema(schema);
    if (err) throw err;
  } finally {
    console.warn = warn;
  }
  validator = v;
  return v;
}

/** Errors of Splunk's DashboardValidator (schema + its structural checks), [] when valid. */
function schemaErrors(definition) {
  const errors = getValidator().validate(definition);
  return (errors || []).map((e) => `${e.instancePath || ''} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`.trim());
}

let optionDicts = null;

/**
 * Splunk's schema lets unknown option names through for visualizations and data sources (their
 * option objects are open), and a misspelt option is silently ignored by Splunk Web. So every
 * option name must also be one the preset's component declares.
 */
function unknownOptionErrors(def) {
  if (!optionDicts) {
    const { createComponentDict } = require('@splunk/dashboard-definition');
    optionDicts = {
      visualizations: createComponentDict(preset.visualizations),
      dataSources: createComponentDict(preset.dataSources),
    };
    // The runtime reads a chain's base from options.extend (Splunk's documented form); the
    // option schema of ds.chain does not list it.
    optionDicts.dataSources['ds.chain'] = { ...optionDicts.dataSources['ds.chain'], extend: { type: 'string' } };
  }
  const errors = [];
  // (Input options need no such check: their schemas are closed and the validator rejects extras.)
  for (const kind of ['visualizations', 'dataSources']) {
    for (const [id, item] of Object.entries(def[kind] || {})) {
      const known = optionDicts[kind][item.type];
      if (!known) {
        errors.push(`${kind}.${id}: type ${item.type} is not in the Enterprise preset`);
        continue;
      }
      for (const opt of Object.keys(item.options || {})) {
        if (!(opt in known)) errors.push(`${kind}.${id}: option "${opt}" is not an option of ${item.type}`);
      }
    }
  }
  return errors;
}

const TOKEN_RE = /\$([^$\s]+?)\$/g;

/** Token names ($name$, $name|s$, $row.x.value$ ...) used in a string. */
function tokensIn(text) {
  const out = [];
  for (const m of String(text).matchAll(TOKEN_RE)) out.push(m[1].split('|')[0]);
  return out;
}

function walkStrings(value, fn, where = '') {
  if (typeof value === 'string') fn(value, where);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, fn, `${where}[${i}]`));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walkStrings(v, fn, `${where}.${k}`);
}

/** Tokens a definition defines: input tokens (time ranges as .earliest/.latest), defaults, setToken. */
function definedTokens(def) {
  const tokens = new Set();
  for (const input of Object.values(def.inputs || {})) {
    const t = input.options && input.options.token;
    if (!t) continue;
    if (input.type === 'input.timerange') {
      tokens.add(`${t}.earliest`);
      tokens.add(`${t}.latest`);
    } else tokens.add(t);
  }
  for (const ns of Object.values((def.defaults && def.defaults.tokens) || {})) for (const t of Object.keys(ns)) tokens.add(t);
  for (const viz of Object.values(def.visualizations || {})) {
    for (const h of viz.eventHandlers || []) {
      if (h.type === 'drilldown.setToken') for (const t of (h.options && h.options.tokens) || []) tokens.add(t.token);
    }
  }
  return tokens;
}

// Tokens the framework provides in a drilldown's own context.
const CONTEXT_TOKEN = /^(row\.[^.]+\.value|click\.(value|value2|name|name2)|value|name|trellis\.(name|value))$/;

/** The full SPL a data source runs: its own query, after its chain of bases for a ds.chain. */
function fullQuery(def, dsId, seen = new Set()) {
  const ds = def.dataSources[dsId];
  if (!ds) throw new Error(`unknown data source ${dsId}`);
  if (seen.has(dsId)) throw new Error(`data source chain cycle at ${dsId}`);
  seen.add(dsId);
  const q = (ds.options && ds.options.query) || '';
  if (ds.type === 'ds.chain') return `${fullQuery(def, ds.options.extend, seen)} ${q}`;
  return q;
}

/** Every data source of a definition with the SPL it runs and whether it is a base (raw) search. */
function searches(def) {
  return Object.entries(def.dataSources || {}).map(([id, ds]) => ({
    id,
    type: ds.type,
    base: ds.type === 'ds.search',
    own: (ds.options && ds.options.query) || '',
    query: fullQuery(def, id),
  }));
}

/**
 * Checks beyond the schema: every reference resolves, every token is defined, chains are sound,
 * every data source feeds something, drilldowns into the app reach views and inputs that exist.
 * `views` maps view names of the app to their definitions (or null for non-Studio views).
 */
function referenceErrors(def, views = new Map(), app = 'TA-incode') {
  const errors = [];
  const ds = def.dataSources || {};
  const used = new Set();
  const consumers = [
    ...Object.entries(def.visualizations || {}).map(([id, v]) => ['visualization', id, v]),
    ...Object.entries(def.inputs || {}).map(([id, v]) => ['input', id, v]),
  ];
  for (const [kind, id, item] of consumers) {
    for (const [role, ref] of Object.entries(item.dataSources || {})) {
      if (!ds[ref]) errors.push(`${kind} ${id}: dataSources.${role} refers to missing data source "${ref}"`);
      used.add(ref);
    }
  }
  for (const [id, d] of Object.entries(ds)) {
    const q = d.options && d.options.query;
    if (!['ds.search', 'ds.chain'].includes(d.type)) errors.push(`data source ${id}: type ${d.type} is not a Splunk search`);
    if (!q || !q.trim()) errors.push(`data source ${id}: empty query`);
    if (d.type === 'ds.chain') {
      const base = d.options && d.options.extend;
      if (!base || !ds[base]) errors.push(`data source ${id}: extends missing data source "${base}"`);
      else {
        used.add(base);
        try {
          fullQuery(def, id);
        } catch (e) {
          errors.push(`data source ${id}: ${e.message}`);
        }
      }
      if (q && !/^\s*\|/.test(q)) errors.push(`data source ${id}: a chained search must start with "|"`);
    }
    if (d.type === 'ds.search') {
      const qp = (d.options && d.options.queryParameters) || {};
      if (!qp.earliest || !qp.latest) errors.push(`data source ${id}: queryParameters.earliest/latest must be set (time picker or fixed)`);
    }
  }
  for (const id of Object.keys(ds)) if (!used.has(id)) errors.push(`data source ${id}: feeds no visualization, input or chain`);

  const defined = definedTokens(def);
  const checkTokens = (text, where, allowContext) => {
    for (const t of tokensIn(text)) {
      if (defined.has(t)) continue;
      if (allowContext && CONTEXT_TOKEN.test(t)) continue;
      errors.push(`${where}: token $${t}$ is not defined by any input, default or drilldown`);
    }
  };
  for (const [id, d] of Object.entries(ds)) walkStrings(d.options || {}, (s, w) => checkTokens(s, `dataSources.${id}${w}`, false));
  for (const [id, v] of Object.entries(def.visualizations || {})) {
    walkStrings(v.options || {}, (s, w) => checkTokens(s, `visualizations.${id}.options${w}`, false));
    walkStrings(v.title || '', (s) => checkTokens(s, `visualizations.${id}.title`, false));
    for (const [i, h] of (v.eventHandlers || []).entries()) {
      walkStrings(h.options || {}, (s, w) => checkTokens(s, `visualizations.${id}.eventHandlers[${i}]${w}`, true));
      if (h.type === 'drilldown.customUrl') errors.push(...drilldownTargetErrors(h.options && h.options.url, `visualizations.${id}`, views, app));
    }
  }
  return errors;
}

/** A drilldown URL into this app must name an existing view and only that view's input tokens. */
function drilldownTargetErrors(url, where, views, app) {
  const errors = [];
  if (!url) return [`${where}: customUrl without url`];
  const m = new RegExp(`^/app/${app}/([A-Za-z0-9_]+)(?:\\?(.*))?$`).exec(url);
  if (!m) {
    if (/^\/app\//.test(url)) errors.push(`${where}: drilldown leaves the app: ${url}`);
    return errors;
  }
  const target = m[1];
  if (!views.has(target)) return [`${where}: drilldown to missing view ${target}`];
  const targetDef = views.get(target);
  if (!targetDef || !m[2]) return errors;
  const targetTokens = definedTokens(targetDef);
  for (const pair of m[2].split('&')) {
    const key = decodeURIComponent(pair.split('=')[0]);
    const tok = /^form\.(.+)$/.exec(key);
    if (!tok) errors.push(`${where}: drilldown parameter ${key} is not a form token`);
    else if (!targetTokens.has(tok[1])) errors.push(`${where}: view ${target} has no input token ${tok[1]}`);
  }
  return errors;
}

module.exports = { preset, getValidator, schemaErrors, unknownOptionErrors, referenceErrors, searches, tokensIn, definedTokens, fullQuery };
