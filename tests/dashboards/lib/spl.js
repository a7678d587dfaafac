'use strict';
// A small SPL reader for the checks the tests make on every shipped search: which macros it
// uses, which fields it reads, and whether each field read exists at that point of the pipeline
// (an event field named by the contract, or one the search itself created earlier).
//
// It knows the commands the app's searches use and refuses any other: a new command in a
// dashboard means teaching this reader about it, never a silent pass.

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'XOR', 'LIKE', 'IN', 'TRUE', 'FALSE', 'NULL']);

function lex(spl) {
  const tokens = [];
  let i = 0;
  const n = spl.length;
  const push = (type, value) => tokens.push({ type, value });
  while (i < n) {
    const c = spl[i];
    if (/\s/.test(c)) { i++; continue; }
    if (spl.startsWith('```', i)) throw new Error('SPL comments (```) are not used in shipped searches');
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < n && spl[j] !== c) {
        if (spl[j] === '\\' && j + 1 < n) { s += spl[j] + spl[j + 1]; j += 2; continue; }
        s += spl[j++];
      }
      if (j >= n) throw new Error(`unterminated ${c} quote`);
      push(c === '"' ? 'string' : 'quoted_field', s);
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = spl.indexOf('`', i + 1);
      if (j < 0) throw new Error('unterminated macro');
      push('macro', spl.slice(i + 1, j));
      i = j + 1;
      continue;
    }
    if (c === '$') {
      const j = spl.indexOf('$', i + 1);
      if (j < 0) throw new Error('unterminated $token$');
      push('token', spl.slice(i + 1, j));
      i = j + 1;
      continue;
    }
    const two = spl.slice(i, i + 2);
    if (['!=', '==', '<=', '>='].includes(two)) { push('op', two); i += 2; continue; }
    if ('=<>'.includes(c)) { push('op', c); i++; continue; }
    if ('|[](),'.includes(c)) { push(c, c); i++; continue; }
    if ('+-*/%.'.includes(c) && !/[\w]/.test(spl[i + 1] || '')) { push('op', c); i++; continue; }
    const num = /^\d+(?:\.\d+)?(?![\w{}@:*-])/.exec(spl.slice(i));
    if (num) { push('number', num[0]); i += num[0].length; continue; }
    const word = /^[A-Za-z0-9_{}@:*.\-+/]+/.exec(spl.slice(i));
    if (word) { push('word', word[0]); i += word[0].length; continue; }
    throw new Error(`unexpected character ${JSON.stringify(c)} at ${i}`);
  }
  return tokens;
}

/** Split tokens on | at bracket depth 0; brackets hold subsearches (kept as one 'sub' token). */
function segments(tokens) {
  const out = [[]];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.type === '[') {
      let depth = 1;
      let j = i + 1;
      for (; j < tokens.length && depth; j++) {
        if (tokens[j].type === '[') depth++;
        if (tokens[j].type === ']') depth--;
      }
      if (depth) throw new Error('unbalanced [');
      out[out.length - 1].push({ type: 'sub', value: tokens.slice(i + 1, j - 1) });
      i = j - 1;
      continue;
    }
    if (t.type === ']') throw new Error('unbalanced ]');
    if (t.type === '|') { out.push([]); continue; }
    out[out.length - 1].push(t);
  }
  return out;
}

const isWord = (t, w) => t && t.type === 'word' && t.value.toLowerCase() === w;

/** The state of one pipeline: which fields exist, what was read, what is wrong. */
class Pipeline {
  constructor(eventFields, macros, options = {}) {
    this.fields = new Set(eventFields);
    this.options = options;
    this.open = false; // after a split-by chart the field names are data, not known names
    this.reads = [];
    this.errors = [];
    this.macros = [];
    this.eventFields = eventFields;
    this.macroDefs = macros;
  }

  read(name, cmd) {
    if (!name || name.includes('*')) return;
    this.reads.push(name);
    if (!this.open && !this.fields.has(name)) this.errors.push(`${cmd}: field "${name}" is not defined here`);
  }

  define(name) {
    if (name) this.fields.add(name);
  }

  replace(names) {
    this.fields = new Set(names);
    this.open = false;
  }
}

const STATS_OPTIONS = new Set(['allnum', 'delim', 'partitions', 'dedup_splitvals', 'span', 'limit', 'useother', 'usenull',
  'otherstr', 'nullstr', 'bins', 'minspan', 'start', 'end', 'cont', 'fixedrange', 'agg', 'sep', 'format', 'partial',
  'window', 'current', 'global', 'time_window', 'reset_before', 'reset_after', 'reset_on_change', 'allow_nulls',
  'summariesonly', 'prestats', 'local', 'append', 'chunk_size', 'include_reduced_buckets', 'globallimit', 'maxzoomlevel',
  'translatetoxy', 'binspanlat', 'binspanlong', 'showcount', 'showperc', 'countfield', 'percentfield', 'useother',
  'latfield', 'longfield', 'outputlat', 'outputlong']);

/** Expression of eval/where: fields are words that are not functions, keywords or literals. */
function readExpr(p, toks, cmd) {
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    if (t.type === 'quoted_field') p.read(t.value, cmd);
    else if (t.type === 'word') {
      if (/^[+-]?\d/.test(t.value)) continue; // a signed number
      const next = toks[i + 1];
      if (next && next.type === '(') continue; // a function name
      if (KEYWORDS.has(t.value.toUpperCase())) continue;
      p.read(t.value, cmd);
    } else if (t.type === 'sub') analyzeSub(p, t.value); // its result is pasted in as text
    else if (t.type === 'macro') p.errors.push(`${cmd}: macro ${t.value} is not defined in default/macros.conf`);
  }
}

/** Split a token list at top-level commas (outside parentheses). */
function splitCommas(toks) {
  const parts = [[]];
  let depth = 0;
  for (const t of toks) {
    if (t.type === '(') depth++;
    if (t.type === ')') depth--;
    if (t.type === ',' && depth === 0) parts.push([]);
    else parts[parts.length - 1].push(t);
  }
  return parts.filter((x) => x.length);
}

/**
 * Expand macros the way splunkd does before parsing: textually, recursively, arguments
 * substituted for $arg$. Returns the expanded SPL and the names of the macros used (outermost
 * first). Unknown macros stay in place and are reported by the reader.
 */
function expandMacros(spl, macros, used = [], depth = 0) {
  if (depth > 10) throw new Error('macro expansion too deep');
  let out = '';
  let i = 0;
  while (i < spl.length) {
    const c = spl[i];
    if (c === '"') {
      // strings are copied as they are: a backtick inside a string is no macro
      let j = i + 1;
      while (j < spl.length && spl[j] !== '"') j += spl[j] === '\\' ? 2 : 1;
      out += spl.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c !== '`') { out += c; i++; continue; }
    const j = spl.indexOf('`', i + 1);
    if (j < 0) throw new Error('unterminated macro');
    const call = spl.slice(i + 1, j).trim();
    const m = /^([\w-]+)(?:\(([\s\S]*)\))?$/.exec(call);
    const args = m && m[2] !== undefined ? splitArgs(m[2]) : [];
    const key = m ? (args.length ? `${m[1]}(${args.length})` : m[1]) : call;
    const def = macros && macros.get(key);
    if (!def) { out += spl.slice(i, j + 1); i = j + 1; continue; }
    used.push(m[1]);
    let text = def.definition;
    def.args.forEach((a, k) => { text = text.split(`$${a}$`).join(args[k]); });
    out += ' ' + expandMacros(text, macros, used, depth + 1) + ' ';
    i = j + 1;
  }
  return out;
}

function splitArgs(s) {
  const out = [];
  let cur = '';
  let quote = null;
  let depth = 0;
  for (const c of s) {
    if (quote) { cur += c; if (c === quote) quote = null; continue; }
    if (c === '"' || c === "'") { quote = c; cur += c; continue; }
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) { out.push(cur.trim()); cur = ''; continue; }
    cur += c;
  }
  out.push(cur.trim());
  return out;
}

/**
 * The events a (sub)search starts from depend on its index: a search of index=_internal (the
 * add-on's own log lines) and one of the Incode index carry different fields, and one search can
 * hold both (a subsearch of the other kind).
 */
function readIndex(p, toks) {
  if (!p.options.eventFieldsFor) return;
  for (let i = 0; i + 2 < toks.length; i++) {
    if (isWord(toks[i], 'index') && toks[i + 1].type === 'op' && toks[i + 1].value === '=') {
      p.replace(p.options.eventFieldsFor(toks[i + 2].value));
      return;
    }
  }
}

/** Search terms: field OP value, field IN (...), free text, macros, subsearches. */
function readSearchTerms(p, toks, cmd) {
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    const next = toks[i + 1];
    if (t.type === 'macro') { p.errors.push(`${cmd}: macro ${t.value} is not defined in default/macros.conf`); continue; }
    if (t.type === 'sub') { analyzeSub(p, t.value); continue; }
    if ((t.type === 'word' || t.type === 'quoted_field' || t.type === 'string') && next && next.type === 'op') {
      if (!/^(earliest|latest|index_earliest|index_latest|_index_earliest|_index_latest)$/.test(t.value)) p.read(t.value, cmd);
      i += 2; // skip the value
      continue;
    }
    if (t.type === 'word' && isWord(next, 'in') && toks[i + 2] && toks[i + 2].type === '(') {
      p.read(t.value, cmd);
      i += 2;
      while (i < toks.length && toks[i].type !== ')') i++;
      continue;
    }
    if (t.type === 'word' && /^(TERM|CASE)$/.test(t.value) && next && next.type === '(') {
      while (i < toks.length && toks[i].type !== ')') i++;
    }
    // anything else is a free-text term, a keyword or a parenthesis
  }
}

function analyzeSub(p, toks) {
  const sub = new Pipeline(p.eventFields, p.macroDefs, p.options);
  runPipeline(sub, toks);
  p.errors.push(...sub.errors.map((e) => `subsearch: ${e}`));
  p.reads.push(...sub.reads);
  p.macros.push(...sub.macros);
  return sub;
}

/** stats-like commands: options, aggregations (fn(arg) [as name]), by/over clauses. */
function readAggregations(p, toks, cmd, { keepFields }) {
  const outputs = [];
  let i = 0;
  let mode = 'agg';
  const byFields = [];
  while (i < toks.length) {
    const t = toks[i];
    const next = toks[i + 1];
    if (t.type === ',') { i++; continue; }
    if (isWord(t, 'by') || isWord(t, 'over')) { mode = 'by'; i++; continue; }
    if (t.type === 'word' && next && next.type === 'op' && next.value === '=' && STATS_OPTIONS.has(t.value)) {
      const val = toks[i + 2];
      if (/^(latfield|longfield)$/.test(t.value)) p.read(val && val.value, cmd);
      if (/^(countfield|percentfield)$/.test(t.value)) outputs.push(val.value);
      i += 3;
      continue;
    }
    if (mode === 'by') {
      if (t.type === 'word' || t.type === 'string' || t.type === 'quoted_field') { p.read(t.value, cmd); byFields.push(t.value); }
      i++;
      continue;
    }
    if (t.type === 'word' && next && next.type === '(') {
      // fn( ... )
      let depth = 0;
      let j = i + 1;
      for (; j < toks.length; j++) {
        if (toks[j].type === '(') depth++;
        if (toks[j].type === ')') { depth--; if (depth === 0) break; }
      }
      const args = toks.slice(i + 2, j);
      if (args.length && isWord(args[0], 'eval') && args[1] && args[1].type === '(') readExpr(p, args.slice(2, -1), `${cmd} eval()`);
      else for (const a of args) if (a.type === 'word' || a.type === 'quoted_field' || a.type === 'string') p.read(a.value, cmd);
      let name = `${t.value}(${args.map((a) => a.value).join('')})`;
      i = j + 1;
      if (isWord(toks[i], 'as')) { name = toks[i + 1].value; i += 2; }
      outputs.push(name);
      continue;
    }
    if (t.type === 'word' && /^(count|c)$/i.test(t.value)) {
      let name = 'count';
      i++;
      if (isWord(toks[i], 'as')) { name = toks[i + 1].value; i += 2; }
      outputs.push(name);
      continue;
    }
    p.errors.push(`${cmd}: cannot read ${JSON.stringify(t.value)}`);
    i++;
  }
  if (keepFields) outputs.forEach((o) => p.define(o));
  return { outputs, byFields };
}

function fieldList(p, toks, cmd) {
  const names = [];
  for (const t of toks) {
    if (t.type === ',') continue;
    if (t.type === 'word' || t.type === 'string' || t.type === 'quoted_field') names.push(t.value.replace(/^[+-]/, ''));
    else if (t.type !== 'op') p.errors.push(`${cmd}: unexpected ${t.value}`);
  }
  return names.filter((x) => x);
}

function runCommand(p, seg, first = false) {
  if (!seg.length) { p.errors.push('empty pipeline segment'); return; }
  let cmdTok = seg[0];
  let args = seg.slice(1);
  let cmd = cmdTok.type === 'word' ? cmdTok.value.toLowerCase() : null;
  const generating = new Set(['tstats', 'makeresults', 'inputlookup']);
  if (first && !(cmd && (generating.has(cmd) || cmd === 'search'))) { cmd = 'search'; args = seg; }
  if (first && cmd && !generating.has(cmd) && cmd !== 'search' && !seg.length) cmd = 'search';
  if (!first && cmd === null) { p.errors.push(`not a command: ${cmdTok.value}`); return; }
  switch (cmd) {
    case 'search':
      if (first) readIndex(p, args);
      readSearchTerms(p, args, 'search');
      break;
    case 'where':
      readExpr(p, args, 'where');
      break;
    case 'eval': {
      for (const part of splitCommas(args)) {
        const [target, eq, ...expr] = part;
        if (!target || !eq || eq.value !== '=') { p.errors.push(`eval: cannot read assignment ${part.map((x) => x.value).join(' ')}`); continue; }
        readExpr(p, expr, 'eval');
        p.define(target.value);
      }
      break;
    }
    case 'stats': case 'chart': case 'timechart': case 'tstats': case 'geostats': {
      let toks = args;
      if (cmd === 'tstats') {
        const w = toks.findIndex((t) => isWord(t, 'where'));
        const b = toks.findIndex((t) => isWord(t, 'by'));
        if (w >= 0) {
          readSearchTerms(p, toks.slice(w + 1, b >= 0 ? b : undefined), 'tstats where');
          toks = [...toks.slice(0, w), ...(b >= 0 ? toks.slice(b) : [])];
        }
      }
      const { outputs, byFields } = readAggregations(p, toks, cmd, { keepFields: false });
      if (cmd === 'timechart') {
        p.replace(['_time', '_span', ...outputs]);
        if (byFields.length) p.open = true;
      } else if (cmd === 'chart') {
        p.replace([...byFields, ...outputs]);
        if (byFields.length > 1) p.open = true;
      } else if (cmd === 'geostats') {
        p.replace(['geobin', 'latitude', 'longitude', ...outputs]);
        if (byFields.length) p.open = true;
      } else p.replace([...byFields, ...outputs]);
      break;
    }
    case 'eventstats': case 'streamstats':
      readAggregations(p, args, cmd, { keepFields: true });
      break;
    case 'top': case 'rare': {
      const names = [];
      const rest = [];
      for (let i = 0; i < args.length; i++) {
        if (args[i].type === 'word' && args[i + 1] && args[i + 1].value === '=') { rest.push(args[i].value); i += 2; continue; }
        rest.push(null);
        if (isWord(args[i], 'by')) continue;
        if (args[i].type === 'word') { p.read(args[i].value, cmd); names.push(args[i].value); }
      }
      p.replace([...names, 'count', 'percent']);
      break;
    }
    case 'table': {
      const names = fieldList(p, args, cmd);
      names.forEach((f) => p.read(f, cmd));
      if (!p.open) p.replace(names);
      break;
    }
    case 'fields': {
      const minus = args[0] && args[0].value === '-';
      const names = fieldList(p, minus ? args.slice(1) : args.filter((t) => t.value !== '+'), cmd);
      if (minus) names.forEach((f) => { if (!f.includes('*')) p.fields.delete(f); });
      else { names.forEach((f) => p.read(f, cmd)); if (!p.open) p.replace(names); }
      break;
    }
    case 'rename': {
      const parts = splitCommas(args);
      for (const part of parts) {
        if (part.length !== 3 || !isWord(part[1], 'as')) { p.errors.push(`rename: cannot read ${part.map((x) => x.value).join(' ')}`); continue; }
        p.read(part[0].value, cmd);
        p.fields.delete(part[0].value);
        p.define(part[2].value);
      }
      break;
    }
    case 'dedup': {
      const names = [];
      for (let i = 0; i < args.length; i++) {
        const t = args[i];
        if (t.type === 'number') continue;
        if (t.type === 'word' && args[i + 1] && args[i + 1].value === '=') { i += 2; continue; }
        if (isWord(t, 'sortby')) { fieldList(p, args.slice(i + 1), cmd).forEach((f) => p.read(f, cmd)); break; }
        if (t.type === 'word' || t.type === 'string' || t.type === 'quoted_field') names.push(t.value);
      }
      names.forEach((f) => p.read(f, cmd));
      break;
    }
    case 'sort': {
      for (const t of args) {
        if (t.type === 'number' || t.type === ',' || (t.type === 'op' && /[+-]/.test(t.value))) continue;
        if (t.type === 'word' && /^[+-]?$/.test(t.value)) continue;
        if (t.type === 'word' || t.type === 'quoted_field' || t.type === 'string') p.read(t.value.replace(/^[+-]/, ''), cmd);
        else p.errors.push(`sort: unexpected ${t.value}`);
      }
      break;
    }
    case 'head': case 'tail': case 'reverse':
      if (args.some((t) => t.type !== 'number')) p.errors.push(`${cmd}: only a count is used`);
      break;
    case 'rex': {
      let field = '_raw';
      for (let i = 0; i < args.length; i++) {
        const t = args[i];
        if (t.type === 'word' && args[i + 1] && args[i + 1].value === '=') {
          if (t.value === 'field') field = args[i + 2].value;
          else if (t.value !== 'max_match') p.errors.push(`rex: option ${t.value} is not used`);
          i += 2;
          continue;
        }
        if (t.type === 'string') {
          p.read(field, cmd);
          for (const m of t.value.matchAll(/\(\?P?<([A-Za-z_]\w*)>/g)) p.define(m[1]);
        }
      }
      break;
    }
    case 'mvexpand':
      fieldList(p, args.filter((t) => t.type !== 'number' && !(t.type === 'word' && t.value === 'limit')), cmd).forEach((f) => p.read(f, cmd));
      break;
    case 'fillnull': {
      const rest = [];
      for (let i = 0; i < args.length; i++) {
        if (isWord(args[i], 'value') && args[i + 1] && args[i + 1].value === '=') { i += 2; continue; }
        rest.push(args[i]);
      }
      fieldList(p, rest, cmd).forEach((f) => p.define(f));
      break;
    }
    case 'bin': case 'bucket': {
      const rest = [];
      for (let i = 0; i < args.length; i++) {
        if (args[i].type === 'word' && args[i + 1] && args[i + 1].value === '=') { i += 2; continue; }
        rest.push(args[i]);
      }
      const [f, as, alias] = rest;
      p.read(f && f.value, cmd);
      if (isWord(as, 'as')) p.define(alias.value);
      break;
    }
    case 'makeresults':
      p.replace(['_time']);
      break;
    case 'inputlookup': {
      // inputlookup <table>: the rows of a lookup table, with the fields its definition lists.
      const table = args.find((t) => t.type === 'word' && !(t.value.includes('=')));
      const columns = table && p.options.lookupFields && p.options.lookupFields(table.value);
      if (!columns) p.errors.push(`inputlookup: no fields known for lookup ${table ? table.value : '(none)'}`);
      else p.replace(columns);
      break;
    }
    case 'addinfo':
      ['info_min_time', 'info_max_time', 'info_search_time', 'info_sid'].forEach((f) => p.define(f));
      break;
    case 'return':
      for (const t of args) {
        if (t.type === 'token') p.read(t.value, cmd); // `return $field` lexes as an unterminated token otherwise
        else if (t.type === 'word') p.read(t.value.replace(/^\$/, ''), cmd);
      }
      break;
    case 'format':
      p.replace(['search']);
      break;
    case 'append': {
      const sub = args.find((t) => t.type === 'sub');
      if (!sub) { p.errors.push('append without a subsearch'); break; }
      const s = analyzeSub(p, sub.value);
      if (!p.open) s.fields.forEach((f) => p.define(f));
      if (s.open) p.open = true;
      break;
    }
    case 'lookup': {
      // lookup [local=..] <table> <lookup field> [AS <event field>], ... OUTPUT|OUTPUTNEW <field> [AS <name>], ...
      let i = 0;
      while (args[i] && args[i].type === 'word' && args[i + 1] && args[i + 1].value === '=') i += 3;
      i++; // the lookup table
      const out = args.findIndex((t) => t.type === 'word' && /^OUTPUT(NEW)?$/i.test(t.value));
      const inputs = splitCommas(args.slice(i, out >= 0 ? out : undefined));
      for (const part of inputs) p.read(isWord(part[1], 'as') ? part[2].value : part[0].value, cmd);
      if (out >= 0) for (const part of splitCommas(args.slice(out + 1))) p.define(isWord(part[1], 'as') ? part[2].value : part[0].value);
      break;
    }
    case 'outputlookup':
      for (let i = 0; i < args.length; i++) {
        if (args[i].type === 'word' && args[i + 1] && args[i + 1].value === '=') {
          if (args[i].value === 'key_field') p.read(args[i + 2].value, cmd);
          i += 2;
        }
      }
      break;
    default:
      p.errors.push(`command "${cmd}" is not known to the field check (tests/dashboards/lib/spl.js)`);
  }
}

function runPipeline(p, tokens) {
  const segs = segments(tokens);
  // A query that starts with "|" begins with a generating command.
  segs.forEach((seg, i) => {
    if (i === 0 && !seg.length) return;
    runCommand(p, seg, i === 0 || (i === 1 && !segs[0].length));
  });
}

/**
 * Analyze one search. `eventFields`: fields present on the events it reads; `macros`: the
 * app's macros (from default/macros.conf) to expand. Returns macros used, fields read, errors.
 */
function analyze(spl, { eventFields, macros, eventFieldsFor, lookupFields }) {
  const p = new Pipeline(eventFields, macros, { eventFieldsFor, lookupFields });
  let expanded = spl;
  try {
    expanded = expandMacros(spl, macros, p.macros);
    runPipeline(p, lex(expanded.replace(/\breturn\s+\$(\w+)/g, 'return $$$1$$')));
  } catch (e) {
    p.errors.push(`cannot read SPL: ${e.message}`);
  }
  return { macros: p.macros, reads: p.reads, errors: p.errors, fields: p.fields, open: p.open, expanded };
}

module.exports = { analyze, expandMacros, lex, segments };
