"""Shared helpers of the workload scripts: timing after warm-up and one JSON
line per measurement on standard output (read by report.py)."""

import json
import os
import sys
import time

# Single-threaded PyTorch: on the shared 2-core benchmark machine its OpenMP
# threads wait for each other (see bench/RESULTS.md).
TORCH_THREADS = 1


def timed(fn, reps, warmup=2):
    """Seconds taken by each of `reps` calls of `fn`, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def emit(workload, impl, **fields):
    """One measurement: seconds lists under *_s keys, numbers elsewhere."""
    print(json.dumps({"workload": workload, "impl": impl, **fields}), flush=True)


def reps_arg(default):
    return int(sys.argv[1]) if len(sys.argv) > 1 else default


def which():
    """The frameworks to run: $BENCH_FRAMEWORKS (default "jax torch")."""
    return os.environ.get("BENCH_FRAMEWORKS", "jax torch").split()
