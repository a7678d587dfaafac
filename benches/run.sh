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
    export TA_INCODE_RUNNER=$TA_QEMU_AARCH64
    ;;
  windows)
    ta_bootstrap_emulators
    ta_build x86_64-pc-windows-gnu
    trap ta_wine_stop EXIT
    ta_wine_prepare "$(ta_binary x86_64-pc-windows-gnu)" "$TA_ROOT/target/cross/bench-windows"
    bin=$TA_WINE_EXE
    export TA_INCODE_RUNNER=$TA_WINE
    ;;
  *) echo "usage: benches/run.sh [x86_64|x86_64-system-allocator|aarch64|windows]" >&2; exit 2 ;;
esac
# The executable and its runner as the integration tests take them (tests/support/mod.rs).
TA_INCODE_BIN=$(realpath "$bin") cargo bench --quiet --locked --bench pass
