"""W1 "seed-f" in JAX (jit) and PyTorch (eager): g(t) = sum_i f(t x_i),
f(x) = exp(exp(x) + exp(x^2)) + sin(exp(x) + exp(x^2)), x_i = -1 + 2i/n,
i in 0..n, n = 10^6, t = 0.5; value and dg/dt in f32 and f64, vectorized.
Usage: seed_f.py [REPS]; prints JSON lines (see common.py)."""

import numpy as np

from common import TORCH_THREADS, emit, reps_arg, timed, which

N, T = 1_000_000, 0.5


def run_jax(reps, dtype):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    x = -1.0 + 2.0 * jnp.arange(N, dtype=dtype) / N

    def g(t):
        s = jnp.exp(t * x) + jnp.exp((t * x) ** 2)
        return jnp.sum(jnp.exp(s) + jnp.sin(s))

    value, vg = jax.jit(g), jax.jit(jax.value_and_grad(g))
    t = jnp.asarray(T, dtype=dtype)
    v, d = vg(t)
    emit("seed-f", f"JAX {jax.__version__} (jit)", dtype=np.dtype(dtype).name,
         value=float(v), grad=float(d),
         value_s=timed(lambda: value(t).block_until_ready(), reps),
         grad_s=timed(lambda: jax.block_until_ready(vg(t)), reps))


def run_torch(reps, dtype):
    import torch

    torch.set_num_threads(TORCH_THREADS)
    dt = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    x = -1.0 + 2.0 * torch.arange(N, dtype=dt) / N

    def g(t):
        s = torch.exp(t * x) + torch.exp((t * x) ** 2)
        return torch.sum(torch.exp(s) + torch.sin(s))

    def vg():
        t = torch.tensor(T, dtype=dt, requires_grad=True)
        v = g(t)
        (d,) = torch.autograd.grad(v, t)
        return v.item(), d.item()

    def value():
        with torch.no_grad():
            return g(torch.tensor(T, dtype=dt)).item()

    v, d = vg()
    emit("seed-f", f"PyTorch {torch.__version__.split('+')[0]} (eager, {TORCH_THREADS} thread)",
         dtype=np.dtype(dtype).name, value=v, grad=d,
         value_s=timed(value, reps), grad_s=timed(vg, reps))


if __name__ == "__main__":
    reps = reps_arg(10)
    for dtype in (np.float32, np.float64):
        if "jax" in which():
            run_jax(reps, dtype)
        if "torch" in which():
            run_torch(reps, dtype)
