#!/usr/bin/env bash
# The benchmark workloads of diffl's JIT against JAX, PyTorch and
# hand-written Rust; writes the tables to bench/WORKLOADS.md. Not a test.
# Usage: bench/workloads.sh (sizes and counts below, each overridable from
# the environment; DIFFL=path uses that diffl binary instead of building;
# BENCH_FRAMEWORKS="jax" leaves PyTorch out).
#
# - W1 seed-f, W2 recurrence (bench/workloads/): value, and value with
#   gradient, in diffl (--backend interp and jit), JAX, PyTorch and Rust;
#   W1 also in diffl's tensor form (seed_f_tensor.dl), as JAX and PyTorch
#   write it.
# - W3 mlp-digits: ms per epoch and whole-process wall time; W5 start-up:
#   wall time from process start to the first printed loss of W3.
# - W4 is bench/run.sh (one MLP training step), run last.
# - ADBench GMM and LSTM (bench/adbench/), f64, diffl and JAX; adbench.py
#   checks diffl's objective and gradient with ADBench's metric (and stops
#   the script when they are off).
#
# diffl has no clock, so each program has `let value_reps = 0;` and
# `let grad_reps = 0;` lines, rewritten here: the time per evaluation is the
# wall time of a run with R repetitions minus that of a run with none (same
# program: start-up, compilation, data, one checked evaluation), divided by
# R. PAIRS such pairs give the median and the spread. JAX (after
# block_until_ready), PyTorch and Rust time each call in-process after
# warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS="${PAIRS:-5}"          # diffl run pairs per measurement
PY_REPS="${PY_REPS:-20}"     # in-process timed calls (JAX, PyTorch, Rust)
W1_REPS="${W1_REPS:-20}"     # diffl repetitions: W1 with the JIT
W1_INTERP_REPS="${W1_INTERP_REPS:-1}"
W1_INTERP_N="${W1_INTERP_N:-100000}"  # the interpreter's W1 size; times scaled to 10^6
W2_REPS="${W2_REPS:-50}"
W2_INTERP_REPS="${W2_INTERP_REPS:-1}"
W2_PY_REPS="${W2_PY_REPS:-3}"  # in-process calls for W2 (PyTorch's are slow)
EPOCHS="${EPOCHS:-20}"
AD_REPS="${AD_REPS:-20}"     # diffl repetitions: ADBench
AD_SMALL_REPS="${AD_SMALL_REPS:-1000}"  # for gmm_test and gmm_d2_K5 (under a millisecond)
ADBENCH="${ADBENCH:-../shared/bench-data/adbench}"

BUILT="diffl built by cargo build --release"
if [ -z "${DIFFL:-}" ]; then
  cargo build --release --quiet
  DIFFL="${CARGO_TARGET_DIR:-target}/release/diffl"
else
  BUILT="diffl: a release binary given as DIFFL, $("$DIFFL" --version)"
fi
cargo build --release --quiet --manifest-path bench/reference/Cargo.toml
source bench/venv.sh
PY="$VENV/bin/python"
"$PY" bench/adbench/convert.py "$ADBENCH" bench/adbench/data

OUT=$(mktemp)
LOADS=()
trap 'rm -f "$OUT" bench/workloads/.run-*.dl bench/adbench/.run-*.dl' EXIT
load() { LOADS+=("$1 $(cut -d' ' -f1-3 /proc/loadavg)"); }

# Wall seconds of one run of a command, its output discarded.
wall() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > /dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

# JSON list of the numbers given (bc writes .5 for 0.5).
list() {
  local out=() x
  for x in "$@"; do out+=("$(printf '%.9g' "$x")"); done
  local IFS=,
  echo "[${out[*]}]"
}

# time_diffl WORKLOAD LABEL DTYPE SRC REPS SCALE SED [DIFFL FLAGS...]: times
# the value and the value with gradient of SRC (with SED applied first),
# multiplies the times by SCALE and appends a JSON line to $OUT.
time_diffl() {
  local workload=$1 label=$2 dtype=$3 src=$4 reps=$5 scale=$6 edit=$7
  shift 7
  local dir base
  dir=$(dirname "$src")
  base="$dir/.run-$(basename "$src" .dl)"
  sed "$edit" "$src" > "$base-0.dl"
  sed "$edit; s/^let value_reps = 0;/let value_reps = $reps;/" "$src" > "$base-v.dl"
  sed "$edit; s/^let grad_reps = 0;/let grad_reps = $reps;/" "$src" > "$base-g.dl"
  "$DIFFL" run "$@" "$base-0.dl" > /dev/null   # checks that it runs
  local v=() g=() b=()
  for _ in $(seq "$PAIRS"); do
    local t0 tv tg
    t0=$(wall "$DIFFL" run "$@" "$base-0.dl")
    tv=$(wall "$DIFFL" run "$@" "$base-v.dl")
    tg=$(wall "$DIFFL" run "$@" "$base-g.dl")
    b+=("$t0")
    v+=("$(echo "($tv - $t0) * $scale / $reps" | bc -l)")
    g+=("$(echo "($tg - $t0) * $scale / $reps" | bc -l)")
  done
  local printed
  printed=$("$DIFFL" run "$@" "$base-0.dl" | head -1)
  echo "{\"workload\": \"$workload\", \"impl\": \"$label\", \"dtype\": \"$dtype\", \"reps\": $reps," \
       "\"printed\": \"$printed\", \"value_s\": $(list "${v[@]}"), \"grad_s\": $(list "${g[@]}")," \
       "\"base_s\": $(list "${b[@]}")}" >> "$OUT"
}

# W1 and W2.
load "W1/W2 start"
for backend in interp jit; do
  r1=$W1_REPS r2=$W2_REPS n=1000000 label="diffl $backend"
  if [ "$backend" = interp ]; then
    r1=$W1_INTERP_REPS r2=$W2_INTERP_REPS n=$W1_INTERP_N label="diffl interp (N = $n, times scaled)"
  fi
  scale=$(echo "1000000 / $n" | bc -l)
  edit="s/^let n = 1000000;/let n = $n;/"
  time_diffl seed-f "$label" float32 bench/workloads/seed_f.dl "$r1" "$scale" "$edit" --backend "$backend"
  time_diffl seed-f "$label" float64 bench/workloads/seed_f.dl "$r1" "$scale" "$edit" --backend "$backend" --f64
  time_diffl recurrence "diffl $backend" float64 bench/workloads/recurrence.dl "$r2" 1 "" --backend "$backend" --f64
done
# W1 in tensor form (fused elementwise groups; the same on both backends).
for dtype in float32 float64; do
  flags=(); [ "$dtype" = float64 ] && flags=(--f64)
  time_diffl seed-f "diffl, tensor form (fused, 2 threads)" "$dtype" bench/workloads/seed_f_tensor.dl "$W1_REPS" 1 "" "${flags[@]}"
done
bench/reference/target/release/diffl-bench-reference "$PY_REPS" >> "$OUT"
"$PY" bench/workloads/seed_f.py "$PY_REPS" >> "$OUT"
"$PY" bench/workloads/recurrence.py "$W2_PY_REPS" >> "$OUT"

# W3 and W5: diffl runs with 0 and EPOCHS epochs, and runs that stop after
# the first print; the frameworks' processes, whole.
load "W3/W5 start"
src=bench/workloads/mlp_digits.dl
sed '/^print("first loss"/q' "$src" > bench/workloads/.run-first.dl
for n in 0 "$EPOCHS"; do
  sed "s/^let epochs = 20;/let epochs = $n;/" "$src" > "bench/workloads/.run-epochs-$n.dl"
done
for backend in interp jit; do
  e=() w=() s=()
  for _ in $(seq "$PAIRS"); do
    t0=$(wall "$DIFFL" run --backend "$backend" bench/workloads/.run-epochs-0.dl)
    tn=$(wall "$DIFFL" run --backend "$backend" "bench/workloads/.run-epochs-$EPOCHS.dl")
    s+=("$(wall "$DIFFL" run --backend "$backend" bench/workloads/.run-first.dl)")
    e+=("$(echo "($tn - $t0) / $EPOCHS" | bc -l)")
    w+=("$tn")
  done
  echo "{\"workload\": \"mlp-digits\", \"impl\": \"diffl $backend\", \"epoch_s\": $(list "${e[@]}")," \
       "\"process_s\": $(list "${w[@]}"), \"first_loss_s\": $(list "${s[@]}")}" >> "$OUT"
done
for fw in ${BENCH_FRAMEWORKS:-jax torch}; do
  w=() s=()
  for _ in $(seq "$PAIRS"); do
    s+=("$(wall "$PY" bench/workloads/mlp_digits.py "$fw" 0)")
  done
  for _ in $(seq 3); do
    t0=$(date +%s.%N)
    "$PY" bench/workloads/mlp_digits.py "$fw" "$EPOCHS" > "$OUT.line"
    w+=("$(echo "$(date +%s.%N) - $t0" | bc -l)")
  done
  # The last run's line, with the process times of all runs added.
  sed "s/}\$/, \"process_s\": $(list "${w[@]}"), \"first_loss_s\": $(list "${s[@]}")}/" \
    <(grep '^{' "$OUT.line") >> "$OUT"
  rm -f "$OUT.line"
done

# ADBench.
load "ADBench start"
for d in bench/adbench/data/*/; do
  name=$(basename "$d")
  case "$name" in gmm_*) src=bench/adbench/gmm.dl; tag=gmm_test ;; *) src=bench/adbench/lstm.dl; tag=lstm_l2_c1024 ;; esac
  case "$name" in gmm_test | gmm_d2_K5) reps=$AD_SMALL_REPS ;; *) reps=$AD_REPS ;; esac
  for backend in interp jit; do
    rm -f "$d/out.npy"
    time_diffl "$name" "diffl $backend" float64 "$src" "$reps" 1 "s|data/$tag/|data/$name/|g" --backend "$backend" --f64
    mv "$d/out.npy" "$d/out-$backend.npy"
  done
done
"$PY" bench/adbench/adbench.py bench/adbench/data "$PY_REPS" >> "$OUT"
load "ADBench end"

# W4 (bench/run.sh builds diffl itself; RUN_W4=0 leaves it out).
W4="Not run here (RUN_W4=0): bench/run.sh measures it, see bench/RESULTS.md."
if [ "${RUN_W4:-1}" = 1 ]; then W4=$(bench/run.sh 2>&1); fi
load "end"

"$PY" bench/workloads/report.py "$OUT" \
  --machine "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores" \
  --command "bench/workloads.sh (PAIRS=$PAIRS PY_REPS=$PY_REPS W1_REPS=$W1_REPS W1_INTERP_REPS=$W1_INTERP_REPS W1_INTERP_N=$W1_INTERP_N W2_REPS=$W2_REPS W2_INTERP_REPS=$W2_INTERP_REPS W2_PY_REPS=$W2_PY_REPS EPOCHS=$EPOCHS AD_REPS=$AD_REPS AD_SMALL_REPS=$AD_SMALL_REPS RUN_W4=${RUN_W4:-1}); $BUILT" \
  --loads "${LOADS[@]}" --w4 "$W4" > bench/WORKLOADS.md
echo "wrote bench/WORKLOADS.md"
