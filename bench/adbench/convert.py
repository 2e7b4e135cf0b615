"""Converts ADBench's GMM and LSTM text inputs (../shared/bench-data/adbench,
format in its PROBLEMS.md and README.md) and the expected unit-test values
into .npy files that the diffl programs read with load_npy, one folder per
instance under bench/adbench/data/ (gitignored).

Usage: convert.py ADBENCH_DIR OUT_DIR"""

import os
import sys

import numpy as np

GMM = ["test", "1k/gmm_d2_K5", "1k/gmm_d10_K25", "1k/gmm_d64_K10"]
LSTM = ["lstm_l2_c1024", "lstm_l4_c1024"]


def tokens(path):
    with open(path) as f:
        return f.read().split()


def save(out, name, **arrays):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    for key, a in arrays.items():
        np.save(os.path.join(folder, key + ".npy"), np.asarray(a, dtype=np.float64))


def expected(path):
    """The numbers of a reference/*.expected.txt file: objective, then gradient."""
    with open(path) as f:
        return np.array([float(line) for line in f if line.strip() and not line.startswith("#")])


def gmm(src, out, name):
    t = tokens(os.path.join(src, "gmm", name + ".txt"))
    d, k, n = int(t[0]), int(t[1]), int(t[2])
    v = np.array([float(s) for s in t[3:]])
    sizes = [k, k * d, k * d * (d + 1) // 2, n * d, 2]
    assert len(v) == sum(sizes), (name, len(v), sizes)
    alpha, mu, icf, x, wishart = np.split(v, np.cumsum(sizes)[:-1])
    assert tuple(wishart) == (1.0, 0.0), "gamma = 1 and m = 0, as the programs assume"
    folder = os.path.basename(name)
    folder = folder if folder.startswith("gmm_") else "gmm_" + folder
    save(out, folder, alpha=alpha, mu=mu.reshape(k, d), icf=icf.reshape(k, -1), x=x.reshape(n, d))
    return folder


def lstm(src, out, name):
    t = tokens(os.path.join(src, "lstm", name + ".txt"))
    l, c, b = int(t[0]), int(t[1]), int(t[2])
    v = np.array([float(s) for s in t[3:]])
    sizes = [2 * l * 4 * b, 3 * b, 2 * l * b, c * b]
    assert len(v) == sum(sizes), (name, len(v), sizes)
    main, extra, state, seq = np.split(v, np.cumsum(sizes)[:-1])
    save(out, name, main=main.reshape(2 * l, 4 * b), extra=extra.reshape(3, b),
         state=state.reshape(2 * l, b), seq=seq.reshape(c, b))
    return name


def main():
    src, out = sys.argv[1], sys.argv[2]
    ref = os.path.join(src, "reference")
    save(out, gmm(src, out, "test"), expected=expected(os.path.join(ref, "gmm_test.expected.txt")))
    for name in GMM[1:]:
        gmm(src, out, name)
    for name in LSTM:
        lstm(src, out, name)
    save(out, "lstm_l2_c1024", expected=expected(os.path.join(ref, "lstm_l2_c1024.expected.txt")))


if __name__ == "__main__":
    main()
