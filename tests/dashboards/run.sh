#!/usr/bin/env bash
# Validates TA-incode's dashboards, searches, navigation, alerts and workflow actions.
# Installs the pinned Node packages (npm ci: Splunk's Dashboard Studio validator, definition and
# presets) from package-lock.json, then runs Node's test runner; exits non-zero on any failure.
# Needs Node 20+ and npm with the npm registry reachable.
set -euo pipefail
cd "$(dirname "$0")"
# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi
node --test --test-reporter=spec test/
