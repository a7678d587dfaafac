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
ta_bootstrap_emulators

app=dist/TA-incode
suites=(--test cli --test enrichment --test passes --test tls --test platforms)
work=$TA_ROOT/target/cross
mkdir -p "$work"

case ${1:-} in
  aarch64)
    TA_INCODE_BIN=$TA_ROOT/$app/linux_aarch64/bin/incode \
    TA_INCODE_RUNNER=$TA_QEMU_AARCH64 \
      cargo test --quiet --locked "${suites[@]}"
    ;;
  windows)
    # Wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's standard library imports on
    # Windows 10+: a test-only shim beside the .exe answers it with Wine's RtlGenRandom. It
    # never ships.
    bin=$work/windows
    mkdir -p "$bin"
    cp "$app/windows_x86_64/bin/incode.exe" "$bin/"
    x86_64-w64-mingw32-gcc -O2 -shared -o "$bin/bcryptprimitives.dll" \
      tests/cross/wine/bcryptprimitives.c tests/cross/wine/bcryptprimitives.def -ladvapi32
    # A prefix of the repository's own, started once with its stdio closed: a wineserver that
    # Wine starts on demand would inherit a test's pipes and keep them open after the test.
    export WINEPREFIX=$work/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
    wineserver=$(dirname "$TA_WINE")/wineserver
    trap '"$wineserver" -k 2>/dev/null || true' EXIT
    mkdir -p "$WINEPREFIX"
    "$wineserver" -p </dev/null >/dev/null 2>&1
    "$TA_WINE" wineboot --init </dev/null >/dev/null 2>&1
    TA_INCODE_BIN=$bin/incode.exe TA_INCODE_RUNNER=$TA_WINE \
      cargo test --quiet --locked "${suites[@]}"
    ;;
  *)
    echo "usage: tests/cross/run.sh aarch64|windows" >&2
    exit 2
    ;;
esac
