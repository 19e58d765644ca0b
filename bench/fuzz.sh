#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (default 60 s each) and prints
# what it found. Not part of CI. Needs cargo-fuzz (`cargo install
# cargo-fuzz`); libFuzzer's nightly flags work on the stable toolchain with
# RUSTC_BOOTSTRAP=1.
#   bench/fuzz.sh [seconds per target] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(form_reader operator_json token_verify)
fi
export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
  echo "== $target: ${seconds}s"
  mkdir -p "fuzz/corpus/$target"
  cargo fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY|artifact_prefix|Test unit written)' || true
done
