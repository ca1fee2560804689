"""Timing of :func:`symforget.fisher` (Fisher information at θ*, claim ``rkl.local_geometry``).

Run: ``python benchmarks/bench_fisher.py [N]``. Prints the one-off compile cost, the time per
(α, Δ) point for a batch of N points (default 10⁵), and the cost of one single-point call
(the per-call overhead that dominates when a caller loops in Python).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from symforget import model


def main(n: int = 100_000) -> None:
    rng = np.random.default_rng(0)
    alphas = rng.uniform(0.01, 0.99, n)
    deltas = rng.uniform(0.0, 20.0, n)
    t0 = time.perf_counter()
    model.fisher(0.3, 2.0)  # SymPy derivation + lambdify (cached afterwards)
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = model.fisher(alphas, deltas)
    t_batch = time.perf_counter() - t0
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        model.fisher(0.3, 2.0)
    t_single = (time.perf_counter() - t0) / reps
    assert out.shape == (n, 3, 3) and np.isfinite(out).all()
    print(f"fisher: first call (derive + compile) {t_compile:.2f} s")
    print(f"fisher: batch of {n} points {t_batch:.3f} s = {1e6 * t_batch / n:.1f} µs/point")
    print(f"fisher: single-point call {1e3 * t_single:.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
