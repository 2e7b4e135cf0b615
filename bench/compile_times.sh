#!/usr/bin/env bash
# The JIT's compile time for every example: `diffl run --timings` reports
# the time spent compiling specializations (per stage) and fused groups;
# this sums them per example and prints a Markdown table.
#   usage: bench/compile_times.sh [PATH-TO-DIFFL]   (default: a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [[ -z $bin ]]; then
  cargo build --release --quiet
  bin=target/release/diffl
fi
echo "| example | functions ms | fused groups ms | total ms |"
echo "| --- | --- | --- | --- |"
for f in examples/*.dl; do
  timings=$("$bin" run --timings "$f" 2>&1 >/dev/null | grep '^timings: jit compiled [0-9]' || true)
  fns=$(printf '%s\n' "$timings" | sed -n 's/.*specializations in \([0-9.]*\) ms.*/\1/p' | awk '{s += $1} END {printf "%.1f", s}')
  groups=$(printf '%s\n' "$timings" | sed -n 's/.*native loops in \([0-9.]*\) ms.*/\1/p' | awk '{s += $1} END {printf "%.1f", s}')
  total=$(awk -v a="$fns" -v b="$groups" 'BEGIN {printf "%.1f", a + b}')
  echo "| $(basename "$f") | $fns | $groups | $total |"
done
