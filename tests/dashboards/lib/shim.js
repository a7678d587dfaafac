'use strict';
// A browser-like global environment, just enough for @splunk/dashboard-presets to load in Node.
// The presets import the visualization and input React components (and through them ace, uPlot,
// maplibre and stylesheets) at module load time; the validator only needs the option schemas
// those components export, so nothing here has to render.
const { JSDOM } = require('jsdom');

const dom = new JSDOM('<!doctype html><html><body></body></html>', {
  url: 'http://localhost/',
  pretendToBeVisual: true,
});
const w = dom.window;

global.window = w;
for (const key of Object.getOwnPropertyNames(w)) {
  if (key in global) continue;
  try {
    global[key] = w[key];
  } catch {
    // read-only globals of Node stay as they are
  }
}
global.navigator = w.navigator;
// uPlot dispatches jsdom-bound events on the jsdom window: Node's own Event classes are rejected.
for (const key of ['Event', 'CustomEvent', 'EventTarget']) global[key] = w[key];

// The search bar component expects the ace editor that Splunk Web loads as a global.
w.ace = w.ace || { define() {}, require() { return {}; }, config: { set() {}, setModuleUrl() {} } };
global.ace = w.ace;

// jsdom has no matchMedia; uPlot queries it for the device pixel ratio.
w.matchMedia = w.matchMedia || ((query) => ({
  matches: false,
  media: query,
  onchange: null,
  addListener() {},
  removeListener() {},
  addEventListener() {},
  removeEventListener() {},
  dispatchEvent() { return false; },
}));
global.matchMedia = w.matchMedia;

// maplibre builds its worker from a Blob URL at load time.
w.URL.createObjectURL = w.URL.createObjectURL || (() => 'blob:shim');
w.URL.revokeObjectURL = w.URL.revokeObjectURL || (() => {});

// Stylesheets and assets imported by the UI modules mean nothing to a schema check.
for (const ext of ['.css', '.less', '.scss', '.svg', '.png', '.woff', '.woff2']) {
  require.extensions[ext] = () => {};
}
