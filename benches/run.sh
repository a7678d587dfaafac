#!/usr/bin/env bash
# Benchmarks the shipped static binary (see benches/pass.rs for what is measured).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
ta_bootstrap_rust
CC_x86_64_unknown_linux_musl=musl-gcc cargo build --quiet --release --locked --target "$TA_TARGET"
INCODE_BIN="$PWD/target/$TA_TARGET/release/incode" cargo bench --quiet --locked --bench pass
