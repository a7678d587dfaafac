'use strict';
// Reading the app's files: views, navigation, and .conf files, as Splunk would see them.
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');
const DEFAULT = path.join(REPO, 'default');
const VIEWS = path.join(DEFAULT, 'data', 'ui', 'views');
const NAV = path.join(DEFAULT, 'data', 'ui', 'nav', 'default.xml');
const APP = 'TA-incode';

/** Parse a Splunk .conf file: stanzas of key = value, `#` comments, `\` line continuations. */
function parseConf(text) {
  const stanzas = new Map();
  let current = null;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (/^\s*#/.test(line) || /^\s*$/.test(line)) continue;
    // Continuations: a value ending in a backslash goes on with the next line (newline kept).
    while (/\\$/.test(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + '\n' + lines[++i];
    }
    const stanza = /^\s*\[(.*)\]\s*$/.exec(line);
    if (stanza) {
      const name = stanza[1];
      if (stanzas.has(name)) throw new Error(`duplicate stanza [${name}]`);
      current = new Map();
      stanzas.set(name, current);
      continue;
    }
    const kv = /^\s*([^=]+?)\s*=\s*([\s\S]*)$/.exec(line);
    if (!kv) throw new Error(`cannot parse line ${i + 1}: ${line}`);
    if (current === null) throw new Error(`setting outside a stanza at line ${i + 1}`);
    if (current.has(kv[1])) throw new Error(`duplicate key ${kv[1]} at line ${i + 1}`);
    current.set(kv[1], kv[2].trim());
  }
  return stanzas;
}

function readConf(name) {
  const file = path.join(DEFAULT, name);
  return parseConf(fs.readFileSync(file, 'utf8'));
}

/** Macros of default/macros.conf as { name(/arity) -> { args, definition } }. */
function readMacros() {
  const macros = new Map();
  for (const [stanza, kv] of readConf('macros.conf')) {
    const m = /^([^()]+)(?:\((\d+)\))?$/.exec(stanza);
    const args = kv.has('args') ? kv.get('args').split(',').map((s) => s.trim()) : [];
    const arity = m[2] ? Number(m[2]) : 0;
    if (args.length !== arity) throw new Error(`macro [${stanza}] declares ${args.length} args for arity ${arity}`);
    macros.set(arity ? `${m[1]}(${arity})` : m[1], { name: m[1], arity, args, definition: kv.get('definition'), iseval: kv.get('iseval') });
  }
  return macros;
}

/**
 * A view file: its root element, attributes and (for Dashboard Studio) the JSON definition.
 * Splunk reads these as XML; the checks here are the ones a broken file would fail in Splunk Web.
 */
function readView(file) {
  const xml = fs.readFileSync(file, 'utf8');
  const name = path.basename(file, '.xml');
  const root = /^\s*(?:<\?xml[^>]*\?>\s*)?<([a-zA-Z]+)((?:\s+[a-zA-Z_:-]+="[^"]*")*)\s*>/.exec(xml);
  if (!root) throw new Error(`${name}: no root element`);
  const attrs = {};
  for (const a of root[2].matchAll(/([a-zA-Z_:-]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
  const view = { name, file, xml, root: root[1], attrs };
  if (root[1] === 'dashboard' && attrs.version === '2') {
    const def = /<definition>\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*<\/definition>/.exec(xml);
    if (!def) throw new Error(`${name}: Dashboard Studio view without <definition><![CDATA[...]]></definition>`);
    view.definitionText = def[1];
    view.definition = JSON.parse(def[1]);
    const label = /<label>([^<]*)<\/label>/.exec(xml);
    view.label = label ? label[1] : null;
  }
  return view;
}

function listViews() {
  return fs.readdirSync(VIEWS).filter((f) => f.endsWith('.xml')).sort().map((f) => readView(path.join(VIEWS, f)));
}

function studioViews() {
  return listViews().filter((v) => v.definition);
}

module.exports = { REPO, DEFAULT, VIEWS, NAV, APP, parseConf, readConf, readMacros, readView, listViews, studioViews };
