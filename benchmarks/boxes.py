"""Fixed, seeded parameter boxes shared by the timing harness and the reference script.

Every box draws a row-major ``(n, k)`` uniform matrix from ``numpy.random.default_rng(seed)``,
so the first ``m`` points of a box of size ``n ≥ m`` are the box of size ``m`` (the accuracy
sample is a prefix of the speed sample, and cached references stay valid when n grows).

Gradient boxes (1-D, σ = 1; student q = w N(μo) + (1−w) N(μn), target p* = α N(t_old) +
(1−α) N(t_new), FKL data N(data_mean)):

* **A** ("wide"): μo, μn, t_old, t_new, data_mean uniform on [−6, 6]; w, α uniform on
  [0.05, 0.95].
* **B** ("separated"): centre c uniform on [−3, 3], separation Δ uniform on [4, 12] with a
  random sign; μo = c − Δ/2, μn = c + Δ/2; t_old = μo + U[−1, 1], t_new = μn + U[−1, 1];
  data_mean = μn + U[−1.5, 1.5] (the data sit at the new mode, the old component is far —
  the forgetting regime, where responsibilities switch several σ into the tails).

Misassignment box: logit w uniform on [−20.72, 20.72] (w ∈ [1e-9, 1 − 1e-9]), Δ uniform on
[0, 60]. Fisher box: α uniform on [0.05, 0.95], Δ uniform on [0, 12].

General (unequal-scale) box, issue 13 (:func:`general_box`): every scale σo, σn, τo, τn, s_d,
s_r log-uniform on [0.2, 5]; every mean (μo, μn, νo, νn, m_d, m_r) uniform on [−6, 6]; w, α
and the replay weight ρ uniform on [0.02, 0.98]. Student q = w N(μo, σo²) + (1−w) N(μn, σn²),
target p* = α N(νo, τo²) + (1−α) N(νn, τn²), FKL training mixture P = (1−ρ) N(m_d, s_d²) +
ρ N(m_r, s_r²).
"""

from __future__ import annotations

import numpy as np

GRAD_FIELDS = ("w", "mu_old", "mu_new", "alpha", "target_old", "target_new", "data_mean")
SEEDS = {"A": 101, "B": 102, "misassignment": 103, "fisher": 104}
GENERAL_SEED = 105  # kept out of SEEDS: the older reference caches are keyed by SEEDS
GENERAL_FIELDS = ("w", "mu_old", "sigma_old", "mu_new", "sigma_new", "alpha", "target_old",
                  "target_sigma_old", "target_new", "target_sigma_new", "data_mean",
                  "data_sigma", "replay", "replay_mean", "replay_sigma")
# per field: p = weight on [0.02, 0.98], m = mean on [−6, 6], s = scale log-uniform on [0.2, 5]
_GENERAL_KIND = ("p", "m", "s", "m", "s", "p", "m", "s", "m", "s", "m", "s", "p", "m", "s")


def grad_box(name: str, n: int) -> dict[str, np.ndarray]:
    """Points of gradient box ``name`` ("A" or "B"), as a dict of (n,) arrays."""
    u = np.random.default_rng(SEEDS[name]).uniform(size=(n, 8))
    if name == "A":
        s = lambda j: -6.0 + 12.0 * u[:, j]  # noqa: E731
        p = lambda j: 0.05 + 0.9 * u[:, j]  # noqa: E731
        return {"w": p(0), "mu_old": s(1), "mu_new": s(2), "alpha": p(3), "target_old": s(4),
                "target_new": s(5), "data_mean": s(6)}
    if name == "B":
        c = -3.0 + 6.0 * u[:, 0]
        d = (4.0 + 8.0 * u[:, 1]) * np.where(u[:, 7] < 0.5, -1.0, 1.0)
        mo, mn = c - d / 2, c + d / 2
        return {"w": 0.05 + 0.9 * u[:, 2], "mu_old": mo, "mu_new": mn,
                "alpha": 0.05 + 0.9 * u[:, 3], "target_old": mo - 1.0 + 2.0 * u[:, 4],
                "target_new": mn - 1.0 + 2.0 * u[:, 5], "data_mean": mn - 1.5 + 3.0 * u[:, 6]}
    raise ValueError(f"unknown gradient box {name!r}")


def misassignment_box(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(w, Δ) with logit w uniform on [−20.72, 20.72] and Δ uniform on [0, 60]."""
    u = np.random.default_rng(SEEDS["misassignment"]).uniform(size=(n, 2))
    logit = -20.72 + 41.44 * u[:, 0]
    return 1.0 / (1.0 + np.exp(-logit)), 60.0 * u[:, 1]


def fisher_box(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(α, Δ) with α uniform on [0.05, 0.95] and Δ uniform on [0, 12]."""
    u = np.random.default_rng(SEEDS["fisher"]).uniform(size=(n, 2))
    return 0.05 + 0.9 * u[:, 0], 12.0 * u[:, 1]


def general_box(n: int) -> dict[str, np.ndarray]:
    """Points of the issue-13 general box: (n,) arrays keyed by :data:`GENERAL_FIELDS`."""
    u = np.random.default_rng(GENERAL_SEED).uniform(size=(n, 16))
    out = {}
    for j, (name, kind) in enumerate(zip(GENERAL_FIELDS, _GENERAL_KIND, strict=True)):
        if kind == "p":
            out[name] = 0.02 + 0.96 * u[:, j]
        elif kind == "m":
            out[name] = -6.0 + 12.0 * u[:, j]
        else:
            out[name] = np.exp(np.log(0.2) + np.log(25.0) * u[:, j])
    return out
