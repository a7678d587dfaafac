#!/usr/bin/env bash
# Benchmarks a shipped build of `incode` (see benches/pass.rs for what is measured):
#
#   benches/run.sh                           x86-64 Linux, as shipped (jemalloc)
#   benches/run.sh x86_64-system-allocator   x86-64 Linux with musl's allocator, for comparison
#   benches/run.sh aarch64                   ARM64 Linux under qemu-aarch64 (emulated: only for
#   benches/run.sh windows                   Windows under Wine          comparing like with like)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
. scripts/build.sh
ta_bootstrap_rust
wrapper=""
case ${1:-x86_64} in
  x86_64)
    ta_build "$TA_TARGET"
    bin=$(ta_binary "$TA_TARGET")
    ;;
  x86_64-system-allocator)
    # A target folder of its own: the shipped build stays as it is.
    CC_x86_64_unknown_linux_musl=musl-gcc cargo build --quiet --release --locked \
      --no-default-features --target "$TA_TARGET" --target-dir target/system-allocator
    bin=target/system-allocator/$TA_TARGET/release/incode
    ;;
  aarch64)
    ta_bootstrap_emulators
    ta_build aarch64-unknown-linux-musl
    bin=$(ta_binary aarch64-unknown-linux-musl)
    wrapper=$TA_QEMU_AARCH64
    export TA_INCODE_RUNNER=$wrapper
    ;;
  windows)
    ta_bootstrap_emulators
    ta_build x86_64-pc-windows-gnu
    # The Wine set-up of tests/cross/run.sh: the shim beside the .exe, a prefix of our own.
    dir=$TA_ROOT/target/cross/bench-windows
    mkdir -p "$dir"
    cp "$(ta_binary x86_64-pc-windows-gnu)" "$dir/"
    x86_64-w64-mingw32-gcc -O2 -shared -o "$dir/bcryptprimitives.dll" \
      tests/cross/wine/bcryptprimitives.c tests/cross/wine/bcryptprimitives.def -ladvapi32
    bin=$dir/incode.exe
    export WINEPREFIX=$TA_ROOT/target/cross/wineprefix WINEDEBUG=-all
    mkdir -p "$WINEPREFIX"
    wineserver=$(dirname "$TA_WINE")/wineserver
    trap '"$wineserver" -k 2>/dev/null || true' EXIT
    "$wineserver" -p </dev/null >/dev/null 2>&1
    "$TA_WINE" wineboot --init </dev/null >/dev/null 2>&1
    wrapper=$TA_WINE
    export TA_INCODE_RUNNER=$wrapper
    ;;
  *) echo "usage: benches/run.sh [x86_64|x86_64-system-allocator|aarch64|windows]" >&2; exit 2 ;;
esac
# TA_INCODE_BIN makes the test fakes hand the executable paths it understands (Z:\ under Wine).
bin=$(realpath "$bin")
TA_INCODE_BIN=$bin INCODE_BIN=$bin INCODE_WRAPPER=$wrapper \
  cargo bench --quiet --locked --bench pass
