"""ADBench GMM and LSTM in JAX (jit, float64), the same formulas as gmm.dl
and lstm.dl (PROBLEMS.md in ../shared/bench-data/adbench). For each instance
under DATA_DIR it times the objective and the gradient, and checks diffl's
objective and gradient (out-BACKEND.npy: the out.npy the diffl program
wrote, renamed by bench/workloads.sh) with ADBench's metric
|x - y| / max(1, |x| + |y|) <= 1e-8 against JAX, and JAX's and diffl's
against the unit-test expectations where they exist (expected.npy); JAX's
objective is also checked against the README's table. A mismatch stops the
script with an error.

Usage: adbench.py DATA_DIR [REPS]; prints JSON lines (see ../workloads/common.py)."""

import glob
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "workloads"))
from common import emit, timed  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax.scipy.special import gammaln, logsumexp  # noqa: E402

TOL = 1e-8


def gmm(alpha, mu, icf, x):
    n, d = x.shape
    k = alpha.shape[0]
    q, l = icf[:, :d], icf[:, d:]
    rows, cols = np.tril_indices(d, -1)
    order = np.lexsort((rows, cols))  # column by column
    lower = jnp.zeros((k, d, d)).at[:, rows[order], cols[order]].set(l)
    qmat = lower + jnp.exp(q)[:, :, None] * jnp.eye(d)
    centered = x[None, :, :] - mu[:, None, :]  # [k, n, d]
    z = jnp.einsum("kij,knj->kni", qmat, centered)
    inner = (alpha + q.sum(1))[:, None] - 0.5 * jnp.sum(z * z, axis=2)
    nw = d + 1
    lgd = d * (d - 1) / 4 * math.log(math.pi) + sum(gammaln(nw / 2 + (1 - j) / 2) for j in range(1, d + 1))
    c = nw * d * (-0.5 * math.log(2)) - lgd
    prior = 0.5 * (jnp.sum(jnp.exp(q) ** 2) + jnp.sum(l * l))
    return (-n * d / 2 * math.log(2 * math.pi) + jnp.sum(logsumexp(inner, axis=0))
            - n * logsumexp(alpha) + prior - k * c)


def lstm(main, extra, state, seq):
    layers, b = state.shape[0] // 2, seq.shape[1]
    w, bias = main[0::2], main[1::2]

    def step(carry, st):
        hidden, cell = carry
        s, s_next = st
        x = s * extra[0]
        hs, cs = [], []
        for l in range(layers):
            wl, bl = w[l], bias[l]
            f = jax.nn.sigmoid(x * wl[:b] + bl[:b])
            i = jax.nn.sigmoid(hidden[l] * wl[b:2 * b] + bl[b:2 * b])
            o = jax.nn.sigmoid(x * wl[2 * b:3 * b] + bl[2 * b:3 * b])
            g = jnp.tanh(hidden[l] * wl[3 * b:] + bl[3 * b:])
            c = cell[l] * f + i * g
            x = o * jnp.tanh(c)
            hs.append(x)
            cs.append(c)
        y = x * extra[1] + extra[2]
        return (jnp.stack(hs), jnp.stack(cs)), jnp.sum(s_next * (y - jnp.log(jnp.sum(jnp.exp(y)) + 2)))

    _, terms = jax.lax.scan(step, (state[0::2], state[1::2]), (seq[:-1], seq[1:]))
    return -jnp.sum(terms) / ((seq.shape[0] - 1) * b)


# Objectives recomputed in float64 from ADBench's C++ (the table in
# ../shared/bench-data/adbench/README.md): a check of the instances without
# unit-test expectations.
OBJECTIVES = {
    "gmm_d2_K5": -5240.59056254965,
    "gmm_d10_K25": -25649.6526211977,
    "gmm_d64_K10": -1171496.28728457,
    "lstm_l4_c1024": 0.710676638558428,
}

PROBLEMS = {"gmm": (gmm, ["alpha", "mu", "icf", "x"], 3), "lstm": (lstm, ["main", "extra", "state", "seq"], 2)}


def check(name, what, ours, theirs):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{name}: {what}: shape {ours.shape} != {theirs.shape}"
    err = np.max(np.abs(ours - theirs) / np.maximum(1.0, np.abs(ours) + np.abs(theirs)))
    if not err <= TOL:
        sys.exit(f"{name}: {what}: ADBench metric {err:.3g} > {TOL}")
    return float(err)


def main():
    data, reps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10
    for name in sorted(os.listdir(data)):
        folder = os.path.join(data, name)
        fn, args, nvar = PROBLEMS[name.split("_")[0]]
        xs = [jnp.asarray(np.load(os.path.join(folder, a + ".npy"))) for a in args]
        value = jax.jit(fn)
        gradient = jax.jit(jax.grad(fn, argnums=tuple(range(nvar))))
        v = float(value(*xs))
        flat = np.concatenate([[v]] + [np.ravel(g) for g in gradient(*xs)])
        fields = {"value": v, "n_vars": len(flat) - 1}
        checks = fields["checks"] = {}
        if name in OBJECTIVES:
            checks["JAX objective vs README"] = check(name, "JAX vs the README's objective", v, OBJECTIVES[name])
        expected = os.path.join(folder, "expected.npy")
        if os.path.exists(expected):
            checks["JAX vs expected"] = check(name, "JAX vs ADBench's expected values", flat, np.load(expected))
        for out in sorted(glob.glob(os.path.join(folder, "out-*.npy"))):
            who = "diffl " + os.path.basename(out)[4:-4]
            diffl = np.load(out)
            checks[who + " vs JAX"] = check(name, who + " vs JAX", diffl, flat)
            if os.path.exists(expected):
                checks[who + " vs expected"] = check(name, who + " vs ADBench's expected values", diffl, np.load(expected))
        if reps:
            fields["value_s"] = timed(lambda: value(*xs).block_until_ready(), reps)
            fields["grad_s"] = timed(lambda: jax.block_until_ready(gradient(*xs)), reps)
        emit(name, f"JAX {jax.__version__} (jit)", dtype="float64", **fields)


if __name__ == "__main__":
    main()
