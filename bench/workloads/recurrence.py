"""W2 "recurrence" in JAX (lax.scan under jit) and PyTorch (eager):
x_{t+1} = x_t + 0.01 (a sin x_t - b x_t^3), x_0 = 0.5, loss x_T^2, value and
gradient in (a, b) at a = 1, b = 0.5, f64. PyTorch runs T / 10 steps (an
eager step costs microseconds of dispatch) and its times are multiplied by
10. Usage: recurrence.py [REPS]; prints JSON lines (see common.py)."""

from common import TORCH_THREADS, emit, reps_arg, timed, which

T, A, B = 100_000, 1.0, 0.5
TORCH_SCALE = 10


def run_jax(reps):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(a, b):
        def step(x, _):
            return x + 0.01 * (a * jnp.sin(x) - b * x**3), None

        x, _ = jax.lax.scan(step, jnp.asarray(0.5, jnp.float64), None, length=T)
        return x * x

    value, vg = jax.jit(loss), jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    a, b = jnp.float64(A), jnp.float64(B)
    v, (da, db) = vg(a, b)
    emit("recurrence", f"JAX {jax.__version__} (jit, lax.scan)", dtype="float64",
         value=float(v), grad=[float(da), float(db)],
         value_s=timed(lambda: value(a, b).block_until_ready(), reps),
         grad_s=timed(lambda: jax.block_until_ready(vg(a, b)), reps))


def run_torch(reps):
    import torch

    torch.set_num_threads(TORCH_THREADS)
    steps = T // TORCH_SCALE

    def loss(a, b):
        x = torch.tensor(0.5, dtype=torch.float64)
        for _ in range(steps):
            x = x + 0.01 * (a * torch.sin(x) - b * x**3)
        return x * x

    def vg():
        a = torch.tensor(A, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(B, dtype=torch.float64, requires_grad=True)
        v = loss(a, b)
        da, db = torch.autograd.grad(v, (a, b))
        return v.item(), [da.item(), db.item()]

    def value():
        with torch.no_grad():
            return loss(torch.tensor(A, dtype=torch.float64), torch.tensor(B, dtype=torch.float64)).item()

    v, d = vg()
    scale = lambda ts: [t * TORCH_SCALE for t in ts]
    emit("recurrence", f"PyTorch {torch.__version__.split('+')[0]} (eager, {TORCH_THREADS} thread; "
         f"T = {steps}, times x {TORCH_SCALE})", dtype="float64", value=v, grad=d,
         value_s=scale(timed(value, reps, warmup=1)), grad_s=scale(timed(vg, reps, warmup=1)))


if __name__ == "__main__":
    reps = reps_arg(5)
    if "jax" in which():
        run_jax(reps)
    if "torch" in which():
        run_torch(reps)
