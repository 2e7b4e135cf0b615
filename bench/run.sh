#!/usr/bin/env bash
# One training step of a 784-1024-1024-10 ReLU MLP (batch 256, f32, softmax
# cross-entropy, SGD): diffl's interpreter against PyTorch and JAX (jit) on
# this machine. Not a test. Usage: bench/run.sh [STEPS] (default 20).
#
# - diffl: `bench/mlp_step.dl` runs STEPS steps; the time per step is the
#   wall-clock time of a run with STEPS steps minus that of a run with 0 steps
#   (same program, same setup: data and weights made, one untimed warm-up
#   step), divided by STEPS. Several run pairs give the median and spread.
# - PyTorch and JAX: `bench/mlp_step.py` times each of STEPS steps after
#   warm-up inside the process.
# GFLOP/s counts 6 x parameters x batch per step (forward 2, backward 4).
# CPU ms/step is the processor time of all threads (user + system): on a
# machine shared with other jobs it shows the work done, where wall-clock
# time also shows the waiting.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-20}"
PAIRS="${PAIRS:-5}"

cargo build --release --quiet
DIFFL=target/release/diffl
if [ -n "${CARGO_TARGET_DIR:-}" ]; then DIFFL="$CARGO_TARGET_DIR/release/diffl"; fi

source bench/venv.sh

# The program with its step count set to 0 and to STEPS.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for n in 0 "$STEPS"; do
  sed "s/^let steps = [0-9]*;/let steps = $n;/" bench/mlp_step.dl > "$WORK/steps_$n.dl"
done

# "wall cpu": wall-clock and CPU (user + system, all threads) seconds of one
# diffl run of `steps_$1.dl`.
run_diffl() {
  local t
  t=$( { TIMEFORMAT='%R %U %S'; time "$DIFFL" run "$WORK/steps_$1.dl" > /dev/null; } 2>&1 )
  read -r real user sys <<< "$t"
  echo "$real $(echo "$user + $sys" | bc -l)"
}

# Check the program once (it asserts that the loss falls).
"$DIFFL" run "$WORK/steps_$STEPS.dl"

echo "load average before the timings: $(cut -d' ' -f1-3 /proc/loadavg)"
wall=()
cpu=()
for _ in $(seq "$PAIRS"); do
  read -r base_wall base_cpu <<< "$(run_diffl 0)"
  read -r full_wall full_cpu <<< "$(run_diffl "$STEPS")"
  wall+=("$(echo "($full_wall - $base_wall) / $STEPS" | bc -l)")
  cpu+=("$(echo "($full_cpu - $base_cpu) / $STEPS" | bc -l)")
done

"$VENV/bin/python" bench/mlp_step.py --steps "$STEPS" --diffl "${wall[@]}" --diffl-cpu "${cpu[@]}"

# gemm's peak here: [1024, 1024] @ [1024, 1024] products through diffl's `@`
# (bench/gemm_peak.dl), timed as the steps are; and the step's share of it.
REPS=20
for n in 0 "$REPS"; do
  sed "s/^let reps = [0-9]*;/let reps = $n;/" bench/gemm_peak.dl > "$WORK/gemm_$n.dl"
done
wall_of() { { TIMEFORMAT='%R'; time "$DIFFL" run "$1" > /dev/null; } 2>&1; }
products=()
for _ in $(seq "$PAIRS"); do
  base=$(wall_of "$WORK/gemm_0.dl")
  full=$(wall_of "$WORK/gemm_$REPS.dl")
  products+=("$(echo "($full - $base) / $REPS" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
gemm_s=$(median "${products[@]}")
step_s=$(median "${wall[@]}")
awk -v g="$gemm_s" -v s="$step_s" 'BEGIN {
  peak = 2 * 1024 ^ 3 / g / 1e9; step = 2.863e9 / s / 1e9;
  printf "\ngemm peak (diffl `@`, 1024 x 1024 x 1024, f32, median of the pairs): %.2f ms, %.0f GFLOP/s; the diffl step median, %.0f GFLOP/s, is %.0f %% of it\n", g * 1e3, peak, step, 100 * step / peak }'
