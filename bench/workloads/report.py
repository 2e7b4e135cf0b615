"""Writes bench/WORKLOADS.md (to standard output) from the JSON lines that
bench/workloads.sh collected. Usage: see the end of bench/workloads.sh."""

import argparse
import datetime
import json
import platform
import statistics
import subprocess


def ms(ts):
    """'median (min – max)' of seconds, in ms."""
    m = [t * 1e3 for t in ts]
    return f"{fmt(statistics.median(m))} ({fmt(min(m))} – {fmt(max(m))})"


def fmt(x):
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def med(ts):
    return statistics.median(ts)


def ratio(a, b):
    return f"{med(a) / med(b):.3g}" if a and b else ""


def header(*cols):
    return ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]


def scalar_table(rows, dtype, note):
    """W1 / W2: one row per implementation of one dtype."""
    rows = [r for r in rows if r.get("dtype") == dtype]
    ref = {k: next((r["grad_s"] for r in rows if r["impl"].startswith(k)), None)
           for k in ("hand-written Rust", "JAX", "PyTorch")}
    out = header("implementation", "value ms", "value + gradient ms", "(value + gradient) / value",
                 "× Rust", "× JAX", "× PyTorch", note)
    for r in rows:
        if "printed" in r:
            result = r["printed"]
        else:
            result = f"value {r['value']:.10g} gradient {' '.join(f'{g:.10g}' for g in (r['grad'] if isinstance(r['grad'], list) else [r['grad']]))}"
        out.append(f"| {r['impl']} | {ms(r['value_s'])} | {ms(r['grad_s'])} | {ratio(r['grad_s'], r['value_s'])} "
                   f"| {ratio(r['grad_s'], ref['hand-written Rust'])} | {ratio(r['grad_s'], ref['JAX'])} "
                   f"| {ratio(r['grad_s'], ref['PyTorch'])} | {result} |")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--machine", default="")
    ap.add_argument("--command", default="")
    ap.add_argument("--loads", nargs="*", default=[])
    ap.add_argument("--w4", default="")
    a = ap.parse_args()
    rows = [json.loads(line) for line in open(a.results) if line.startswith("{")]
    by = lambda w: [r for r in rows if r["workload"] == w]
    rust = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = [
        "# diffl's JIT workloads: diffl against JAX, PyTorch and hand-written Rust",
        "",
        "Written by `bench/workloads.sh` (see its header for the method); the",
        "programs are in `bench/workloads/`, `bench/adbench/` and `bench/reference/`.",
        "",
        f"- Date: {now}",
        f"- Command: `{a.command}`",
        f"- Machine: {a.machine}; {platform.platform()}; Python {platform.python_version()}; {rust}",
        "- Load average (1, 5, 15 min) at each phase: " + "; ".join(a.loads),
        "",
        "Times are medians with (min – max). diffl's are the difference of whole-process",
        "wall times of runs with and without repetitions (so start-up and compilation",
        "cancel), divided by the repetitions; JAX (jit, after `block_until_ready`),",
        "PyTorch (eager, one thread) and the Rust reference time calls in-process after",
        "warm-up. Ratios are of medians of the value-and-gradient (or gradient) times.",
        "",
        "diffl's JIT compiles scalar code and fused elementwise groups (`docs/design.md`,",
        "\"The JIT\"): W1 and W2, scalar loops, run natively with it; in W3 and ADBench the",
        "interpreter runs the tensor ops and calls the JIT's vector loops for the fused groups",
        "(the interpreter's rows run those groups block by block). Fused groups with",
        "exp/log/sin/cos/tanh on many elements run block by block on both backends, with",
        "vectorized kernels, on both cores (`docs/design.md`, \"Elementwise fusion\"); W1's",
        "tensor form measures that.",
        "",
        "## W1 seed-f",
        "",
        "g(t) = Σ_i f(t x_i), f(x) = exp(exp(x) + exp(x²)) + sin(exp(x) + exp(x²)),",
        "x_i = -1 + 2i/N, i = 0 … N-1, N = 10⁶, t = 0.5 (no overflow in f32: exp(x) + exp(x²)",
        "≤ 2.94 there, so f ≤ 20). diffl and Rust run one scalar loop (diffl's JIT compiles",
        "it and its derivative); JAX and PyTorch are vectorized. In f32 the sequential sums",
        "(diffl, Rust) and the pairwise ones (JAX, PyTorch) round differently.",
        "",
    ]
    for dtype in ("float32", "float64"):
        doc += [f"### {dtype}", ""] + scalar_table(by("seed-f"), dtype, "result (value, dg/dt)") + [""]
    doc += [
        "## W2 recurrence",
        "",
        "x_{t+1} = x_t + 0.01 (a sin x_t - b x_t³), x_0 = 0.5, T = 10⁵, loss x_T², gradient in",
        "(a, b) at a = 1, b = 0.5, f64. JAX: `lax.scan` under `jit`. PyTorch eager runs T/10",
        "steps and its times are multiplied by 10 (its result is for T = 10⁴).",
        "",
    ] + scalar_table(by("recurrence"), "float64", "result (value, d/da, d/db)") + [""]
    mlp = by("mlp-digits")
    # JAX's and PyTorch's first epoch is left out (compilation, warm-up).
    epochs = lambda r: r["epoch_s"] if r["impl"].startswith("diffl") else r["epoch_s"][1:]
    ref = {k: next((epochs(r) for r in mlp if r["impl"].startswith(k)), None) for k in ("JAX", "PyTorch")}
    doc += [
        "## W3 mlp-digits and W5 start-up",
        "",
        "64-128-128-10 ReLU MLP, Adam (lr 1e-3), shuffled batches of 64, 20 epochs on the",
        "1797 digits (`examples/data/digits.csv`), f32. diffl's ms/epoch: (run with 20 epochs",
        "- run with 0) / 20; JAX's and PyTorch's: epochs 2 … 20 timed in-process (JAX's first",
        "epoch compiles the step for both batch sizes). Whole process: wall time of the",
        "20-epoch run, imports and data loading included. W5: wall time of a process that",
        "stops after its first print, the loss of the first batch (diffl: the program",
        "truncated after that print; Python: imports, data, model, first value-and-gradient).",
        "",
    ]
    doc += header("implementation", "ms / epoch", "× JAX", "× PyTorch", "whole process s", "W5: to first loss s")
    for r in mlp:
        ep = epochs(r)
        doc.append(f"| {r['impl']} | {ms(ep)} | {ratio(ep, ref['JAX'])} | {ratio(ep, ref['PyTorch'])} "
                   f"| {med(r['process_s']):.2f} ({min(r['process_s']):.2f} – {max(r['process_s']):.2f}) "
                   f"| {med(r['first_loss_s']):.2f} ({min(r['first_loss_s']):.2f} – {max(r['first_loss_s']):.2f}) |")
    doc += [
        "",
        "## ADBench GMM and LSTM (f64)",
        "",
        "Objectives of `../shared/bench-data/adbench/PROBLEMS.md`, on ADBench's input files",
        "(`gmm/test.txt`, `gmm/1k/gmm_d2_K5`, `gmm_d10_K25`, `gmm_d64_K10`; `lstm_l2_c1024`,",
        "`lstm_l4_c1024`), converted to .npy by `bench/adbench/convert.py`. Objective and",
        "gradient times; ratio = gradient / objective (GradBench's published geometric means:",
        "GMM: hand-written C++ 2.4, JAX 3.0, PyTorch 3.3; LSTM: PyTorch 2.7, Enzyme 2.8).",
        "",
    ]
    doc += header("instance", "implementation", "objective ms", "gradient ms", "gradient / objective", "gradient × JAX")
    checks = []
    names = sorted({r["workload"] for r in rows if r["workload"].startswith(("gmm", "lstm"))})
    for name in names:
        rs = by(name)
        jax = next(r for r in rs if r["impl"].startswith("JAX"))
        for r in rs:
            doc.append(f"| {name} ({jax['n_vars']} variables) | {r['impl']} | {ms(r['value_s'])} | {ms(r['grad_s'])} "
                       f"| {ratio(r['grad_s'], r['value_s'])} | {ratio(r['grad_s'], jax['grad_s'])} |")
        checks += [f"| {name} | {k} | {v:.2g} |" for k, v in jax["checks"].items()]
    doc += [
        "",
        "Checks (ADBench's metric max |x - y| / max(1, |x| + |y|) over the objective and every",
        "gradient entry, must be ≤ 1e-8; `bench/adbench/adbench.py` stops the script otherwise).",
        "\"expected\" is ADBench's unit-test values (`reference/*.expected.txt`), \"README\" the",
        "objective table of `../shared/bench-data/adbench/README.md`:",
        "",
    ] + header("instance", "comparison", "metric") + checks + [
        "",
        "## W4: one MLP training step (`bench/run.sh`, diffl's interpreter)",
        "",
    ]
    for line in a.w4.strip().splitlines():
        doc.append(line if line.startswith("|") or not line.strip() else "- " + line)
    doc.append("")
    print("\n".join(doc))


if __name__ == "__main__":
    main()
