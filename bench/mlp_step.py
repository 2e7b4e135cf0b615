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
    for _ in range(warmup):
        step()
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


def torch_times(steps):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
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


def row(name, times):
    ms = [t * 1e3 for t in times]
    med = statistics.median(ms)
    return f"| {name} | {med:.1f} | {min(ms):.1f} – {max(ms):.1f} | {FLOP / (med / 1e3) / 1e9:.0f} |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--diffl", type=float, nargs="*", default=[], help="diffl seconds per step")
    args = ap.parse_args()
    print(f"{PARAMS} parameters, batch {BATCH}: {FLOP / 1e9:.3f} GFLOP per step\n")
    print("| implementation | median ms/step | min – max ms | GFLOP/s (median) |")
    print("| --- | --- | --- | --- |")
    if args.diffl:
        print(row(f"diffl interpreter ({len(args.diffl)} run pairs)", args.diffl))
    for fn in (torch_times, jax_times):
        try:
            times, name = fn(args.steps)
            print(row(f"{name}, {len(times)} steps", times))
        except ImportError as e:
            print(f"| {fn.__name__}: not installed ({e}) | | | |")


if __name__ == "__main__":
    main()
