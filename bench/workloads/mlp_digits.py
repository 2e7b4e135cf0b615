"""W3 "mlp-digits" in JAX (jit update step) and PyTorch (eager,
torch.optim.Adam): a 64-128-128-10 ReLU MLP, Adam lr 1e-3, shuffled batches
of 64, 20 epochs on all 1797 digits. The first print is the loss of the first
batch before any update.

Usage: mlp_digits.py jax|torch [EPOCHS]. With EPOCHS = 0 the process stops
after that first print (W5, start-up, timed from outside); otherwise it
prints one JSON line with the seconds of each epoch (see common.py)."""

import os
import sys
import time

import numpy as np

from common import TORCH_THREADS, emit

SIZES, BATCH, LR = (64, 128, 128, 10), 64, 1e-3
DATA = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "data", "digits.csv")


def setup():
    data = np.loadtxt(DATA, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = data[:, :64] / 16.0, data[:, 64].astype(np.int64)
    rng = np.random.default_rng(0)
    # Glorot normal weights and zero biases, as diffl's nn.dense_init.
    params = []
    for a, b in zip(SIZES, SIZES[1:]):
        w = rng.standard_normal((a, b)).astype(np.float32) * np.float32(np.sqrt(2.0 / (a + b)))
        params += [w, np.zeros(b, np.float32)]
    return x, y, params, rng


def batches(rng, n):
    order = rng.permutation(n)
    return [order[i : i + BATCH] for i in range(0, n, BATCH)]


def run_jax(epochs):
    import jax
    import jax.numpy as jnp

    x, y, params, rng = setup()

    def loss(p, xb, yb):
        h = xb
        for i in range(0, len(p), 2):
            h = h @ p[i] + p[i + 1]
            if i + 2 < len(p):
                h = jax.nn.relu(h)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(h), yb[:, None], axis=1))

    @jax.jit
    def step(p, m, v, t, xb, yb):
        l, g = jax.value_and_grad(loss)(p, xb, yb)
        t = t + 1
        m = [0.9 * a + 0.1 * b for a, b in zip(m, g)]
        v = [0.999 * a + 0.001 * b * b for a, b in zip(v, g)]
        p = [q - LR * (a / (1 - 0.9**t)) / (jnp.sqrt(b / (1 - 0.999**t)) + 1e-8) for q, a, b in zip(p, m, v)]
        return l, p, m, v, t

    p = [jnp.asarray(q) for q in params]
    first = jax.jit(jax.value_and_grad(loss))(p, x[:BATCH], y[:BATCH])[0]
    print("first loss", float(first), flush=True)
    if epochs == 0:
        return
    m, v, t = [jnp.zeros_like(q) for q in p], [jnp.zeros_like(q) for q in p], jnp.float32(0)
    times = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        total = []
        for idx in batches(rng, len(y)):
            l, p, m, v, t = step(p, m, v, t, x[idx], y[idx])
            total.append(l)
        mean = float(jnp.mean(jnp.stack(total)))
        times.append(time.perf_counter() - t0)
    emit("mlp-digits", f"JAX {jax.__version__} (jit step)", dtype="float32", value=mean, epoch_s=times)


def run_torch(epochs):
    import torch

    torch.set_num_threads(TORCH_THREADS)
    x, y, params, rng = setup()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    p = [torch.from_numpy(q).requires_grad_() for q in params]

    def loss(xb, yb):
        h = xb
        for i in range(0, len(p), 2):
            h = h @ p[i] + p[i + 1]
            if i + 2 < len(p):
                h = torch.relu(h)
        return torch.nn.functional.cross_entropy(h, yb)

    with torch.no_grad():
        print("first loss", loss(x[:BATCH], y[:BATCH]).item(), flush=True)
    if epochs == 0:
        return
    opt = torch.optim.Adam(p, lr=LR)
    times = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        total = 0.0
        bs = batches(rng, len(y))
        for idx in bs:
            idx = torch.from_numpy(idx)
            opt.zero_grad()
            l = loss(x[idx], y[idx])
            l.backward()
            opt.step()
            total += l.item()
        times.append(time.perf_counter() - t0)
    emit("mlp-digits", f"PyTorch {torch.__version__.split('+')[0]} (eager, {TORCH_THREADS} thread)",
         dtype="float32", value=total / len(bs), epoch_s=times)


if __name__ == "__main__":
    which, epochs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    {"jax": run_jax, "torch": run_torch}[which](epochs)
