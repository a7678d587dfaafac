#!/usr/bin/env bash
# Runs the integration tests that start the real binary (cli, enrichment, passes, tls,
# platforms) against the packaged ARM64 and Windows executables: the ARM64 one under
# qemu-aarch64, the Windows one under Wine. The native x86-64 one is what `cargo test` runs.
# Needs ./package.sh first (it tests what ships) and scripts/bootstrap.sh's emulators.
#
#   tests/cross/run.sh aarch64|windows
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bootstrap.sh
. scripts/build.sh
ta_bootstrap_emulators

app=$TA_ROOT/dist/TA-incode
suites=(--test cli --test enrichment --test passes --test tls --test platforms)

case ${1:-} in
  aarch64)
    TA_INCODE_BIN=$app/$(ta_place aarch64-unknown-linux-musl) \
    TA_INCODE_RUNNER=$TA_QEMU_AARCH64 \
      cargo test --quiet --locked "${suites[@]}"
    ;;
  windows)
    trap ta_wine_stop EXIT
    ta_wine_prepare "$app/$(ta_place x86_64-pc-windows-gnu)" "$TA_ROOT/target/cross/windows"
    TA_INCODE_BIN=$TA_WINE_EXE TA_INCODE_RUNNER=$TA_WINE \
      cargo test --quiet --locked "${suites[@]}"
    ;;
  *)
    echo "usage: tests/cross/run.sh aarch64|windows" >&2
    exit 2
    ;;
esac
