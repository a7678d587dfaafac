#!/usr/bin/env bash
# Validates TA-incode's dashboards, searches, navigation, alerts and workflow actions.
# Installs the pinned Node packages (npm ci: Splunk's Dashboard Studio validator, definition and
# presets) from package-lock.json, then runs Node's test runner; exits non-zero on any failure.
# Needs Node 20+ and npm with the npm registry reachable.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
node --test --test-reporter=spec test/
