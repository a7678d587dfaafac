#!/usr/bin/env bash
# Runs every test of TA-incode on a fresh machine: installs what is missing (see
# scripts/bootstrap.sh), then formatting, lints, the Rust unit/integration/golden tests, the
# packaged app with its AppInspect verdict and layout tests, the integration tests again
# against the packaged ARM64 and Windows executables (under qemu-aarch64 and Wine), ksconf on
# every conf file, the dashboards through Splunk's own Dashboard Studio validator, and the app's searches run over
# event corpora by the SPL evaluator in ../shared (beside the repository).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/bootstrap.sh
ta_bootstrap

ta_say "cargo fmt --check"
cargo fmt --all -- --check
ta_say "cargo clippy"
cargo clippy --quiet --locked --all-targets -- -D warnings
# The Windows-only code (console events, paths) is linted where it compiles.
cargo clippy --quiet --locked --target x86_64-pc-windows-gnu --bins -- -D warnings
ta_say "package and AppInspect"
./package.sh
ta_say "cargo test (with the package tests)"
cargo test --quiet --locked -- --include-ignored
ta_say "the integration tests against the ARM64 build (qemu-aarch64)"
tests/cross/run.sh aarch64
ta_say "the integration tests against the Windows build (Wine)"
tests/cross/run.sh windows
ta_say "ksconf check"
"$TA_VENV/bin/ksconf" check default/*.conf
ta_say "dashboards, searches, alerts (Splunk's Dashboard Studio validator)"
tests/dashboards/run.sh
ta_say "the app's SPL run over event corpora (../shared/splsim)"
python3 -m unittest discover -s tests/spl
ta_say "all tests passed"
