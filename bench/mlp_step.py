"""Times one SGD training step of a 784-1024-1024-10 ReLU MLP (batch 256,
f32, softmax cross-entropy) in PyTorch (eager) and JAX (jit) on the CPU, and
prints a Markdown table beside diffl's per-step times passed on the command
line (measured by bench/run.sh). Run through bench/run.sh."""

import argparse
import os
import statistics
import time

import numpy as np

BATCH, SIZES, LR = 256, (784, 1024, 1024, 10), 0.01
PARAMS = sum(a * b + b for a, b in zip(SIZES, SIZES[1:]))
FLOP = 6 * PARAMS * BATCH  # forward 2, backward 4 per parameter and example


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    y = np.arange(BATCH) % SIZES[-1]
    ws = [
        (rng.standard_normal((a, b), dtype=np.float32) * np.sqrt(2.0 / a)).astype(np.float32)
        for a, b in zip(SIZES, SIZES[1:])
    ]
    bs = [np.zeros(b, dtype=np.float32) for b in SIZES[1:]]
    return x, y, ws, bs


def timed(step, steps, warmup=3):
    """Wall-clock and process CPU seconds of each of `steps` steps."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def torch_times(steps, threads):
    import torch

    torch.set_num_threads(threads)
    x, y, ws, bs = data()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    params = [torch.from_numpy(p).requires_grad_() for pair in zip(ws, bs) for p in pair]

    def step():
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, y)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(LR * g)

    return timed(step, steps), f"PyTorch {torch.__version__} (eager, {torch.get_num_threads()} threads)"


def jax_times(steps):
    import jax
    import jax.numpy as jnp

    x, y, ws, bs = data()
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in zip(ws, bs)]
    x, onehot = jnp.asarray(x), jax.nn.one_hot(jnp.asarray(y), SIZES[-1])

    def loss(params):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i + 1 < len(params):
                h = jax.nn.relu(h)
        return -jnp.mean(jnp.sum(onehot * jax.nn.log_softmax(h), axis=1))

    @jax.jit
    def update(params):
        g = jax.grad(loss)(params)
        return jax.tree_util.tree_map(lambda p, d: p - LR * d, params, g)

    state = {"p": params}

    def step():
        state["p"] = jax.block_until_ready(update(state["p"]))

    return timed(step, steps), f"JAX {jax.__version__} (jit, CPU)"


def row(name, wall, cpu):
    ms = [t * 1e3 for t in wall]
    med = statistics.median(ms)
    cpu_ms = statistics.median(cpu) * 1e3
    return (
        f"| {name} | {med:.1f} | {min(ms):.1f} – {max(ms):.1f} | {FLOP / (med / 1e3) / 1e9:.0f} "
        f"| {cpu_ms:.1f} | {FLOP / (cpu_ms / 1e3) / 1e9:.0f} |"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--diffl", type=float, nargs="*", default=[], help="diffl wall seconds per step")
    ap.add_argument("--diffl-cpu", type=float, nargs="*", default=[], help="diffl CPU seconds per step")
    args = ap.parse_args()
    print(f"{PARAMS} parameters, batch {BATCH}: {FLOP / 1e9:.3f} GFLOP per step\n")
    print(
        "| implementation | median ms/step | min – max ms | GFLOP/s (median) "
        "| CPU ms/step (median) | GFLOP per CPU-second |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    if args.diffl:
        cpu = args.diffl_cpu or args.diffl
        print(row(f"diffl interpreter ({len(args.diffl)} run pairs)", args.diffl, cpu))
    # PyTorch with every core, and with one: its OpenMP threads wait for each
    # other, which costs much when another job holds a core.
    runs = [lambda: torch_times(args.steps, os.cpu_count() or 1), lambda: torch_times(args.steps, 1)]
    for fn in runs + [lambda: jax_times(args.steps)]:
        try:
            (wall, cpu), name = fn()
            print(row(f"{name}, {len(wall)} steps", wall, cpu))
        except ImportError as e:
            print(f"| not installed: {e} | | | | | |")


if __name__ == "__main__":
    main()
