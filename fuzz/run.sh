#!/usr/bin/env bash
# Runs the fuzz targets one after another, each for SECONDS (default 600), growing a working corpus
# under fuzz/target/corpus/<target> from the committed seeds in fuzz/corpus/<target>. Crashes land
# in fuzz/artifacts/<target>; libFuzzer's final statistics in fuzz/target/logs/<target>.log.
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p target/logs
status=0
for t in "${targets[@]}"; do
  mkdir -p "target/corpus/$t"
  if cargo +nightly fuzz run "$t" "target/corpus/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"target/logs/$t.log" 2>&1; then
    result=ok
  else
    result="FAILED (see fuzz/target/logs/$t.log and fuzz/artifacts/$t)"
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "target/logs/$t.log")
  echo "$t: ${runs:-?} runs in ${seconds} s, $result"
done
exit $status
