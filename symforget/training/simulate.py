r"""Finite-batch replay experiment (CLAIMS.md §4): at a small old weight w and a small batch B,
how often do the old parameters receive no signal, and what does the replay fraction ρ cost in
estimator variance?

Setting (whitened units): student q_θ = wφ_0 + (1−w)φ_Δ with the means at the target's,
target p* = αφ_0 + (1−α)φ_Δ, buffer B = P_old = φ_0. For each ρ:

* starvation: the fraction of B-sample batches from b_ρ with no old draw, with a Wilson 99.9 %
  interval, next to the exact ((1−ρ)(1−w))^B (SymPy expression, compiled);
* old draws per batch: measured mean vs exact B(ρ + (1−ρ)w);
* estimator second moment and variance of the importance-weighted REINFORCE terms, per
  component, relative to on-policy (ρ = 0), next to the bound 1/(1−ρ) on the second moment;
* a finite-batch SGD run on L_R from θ_0: the fraction of steps whose batch had no old draw and
  the final old weight (the target is α).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..numeric.compile import compile_exprs
from ..symbolic import replay_rkl as R
from ..symbolic.symbols import rho as rho_sym
from ..symbolic.symbols import w as w_sym
from . import sampling

__all__ = ["replay_experiment", "format_table"]

PARAMS = ("w", "mu_old", "mu_new")


def _wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    from scipy import stats

    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def replay_experiment(w: float = 0.05, rhos: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5),
                      batch: int = 8, steps: int = 2000, seed: int = 0, *,
                      alpha: float = 0.3, delta: float = 3.0, lr: float = 0.05,
                      confidence: float = 0.999,
                      progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run the experiment; return a JSON-able dict (``params`` and one ``rows`` entry per ρ).

    Parameters
    ----------
    w : old weight of the student, in (0, 1).
    rhos : replay fractions, each in [0, 1).
    batch : batch size B ≥ 1.
    steps : number of batches (Monte Carlo) and SGD steps, ≥ 1.
    seed : seed of every random stream (ρ index and purpose are mixed in).
    progress : called with the number of replay fractions finished, after each one.
    """
    from ..numeric import validate as V

    w = float(V.open_unit("w", w).reshape(()))
    rhos = tuple(sampling.check_rho(r) for r in rhos)
    if not rhos:
        raise ParameterError("rho: give at least one replay fraction")
    batch = sampling.check_batch(batch)
    steps = sampling.check_count("steps", steps)
    if steps < 1:
        raise ParameterError(f"steps={steps} must be an integer >= 1")
    alpha = float(V.open_unit("alpha", alpha).reshape(()))
    delta = float(V.positive("delta", delta).reshape(()))
    starve_fn = compile_exprs(R.STARVE_REPLAY, (w_sym, rho_sym, R.batch))
    mean_fn = compile_exprs(R.EXPECTED_OLD, (w_sym, rho_sym, R.batch))
    theta = (w, 0.0, delta)
    tgt = dict(alpha=alpha, target_old=0.0, target_new=delta)
    n = steps * batch
    base_m2 = base_var = None
    rows = []
    for i, r in enumerate(rhos):
        _, old, _ = sampling.sample_behaviour(np.random.default_rng([seed, 1, i]), n, r, *theta,
                                              0.0)
        counts = old.reshape(steps, batch).sum(axis=1)
        k = int((counts == 0).sum())
        lo, hi = _wilson(k, steps, confidence)
        terms = sampling.rkl_estimator(np.random.default_rng([seed, 2, i]), n, *theta, rho=r,
                                       **tgt)
        m2, var = (terms**2).mean(axis=0), terms.var(axis=0, ddof=1)
        if base_m2 is None or r == 0.0:
            base_m2, base_var = (m2, var) if r == 0.0 else (None, None)
        if base_m2 is None:  # no on-policy reference yet: compute one
            t0 = sampling.rkl_estimator(np.random.default_rng([seed, 2, 10_000]), n, *theta,
                                        rho=0.0, **tgt)
            base_m2, base_var = (t0**2).mean(axis=0), t0.var(axis=0, ddof=1)
        run = sampling.rkl_sgd(np.random.default_rng([seed, 3, i]), theta, rho=r, batch=batch,
                               steps=steps, lr=lr, **tgt)
        rows.append({
            "rho": r,
            "starve_exact": float(starve_fn(w, r, batch)),
            "starve_freq": k / steps,
            "starve_ci": [lo, hi],
            "starve_in_ci": bool(lo <= float(starve_fn(w, r, batch)) <= hi),
            "old_draws_exact": float(mean_fn(w, r, batch)),
            "old_draws_mean": float(counts.mean()),
            "second_moment_ratio": {p: float(m2[j] / base_m2[j]) for j, p in enumerate(PARAMS)},
            "variance_ratio": {p: float(var[j] / base_var[j]) for j, p in enumerate(PARAMS)},
            "second_moment_bound": 1.0 / (1.0 - r),
            "sgd_starved_steps": float(np.mean(run.old_draws == 0)),
            "sgd_final_w": float(run.theta[-1, 0]),
            "sgd_final_mu_old": float(run.theta[-1, 1]),
        })
        if progress is not None:
            progress(i + 1)
    return {"experiment": "replay",
            "params": {"w": w, "rhos": list(rhos), "batch": batch, "steps": steps, "seed": seed,
                       "alpha": alpha, "delta": delta, "lr": lr, "confidence": confidence},
            "rows": rows}


def format_table(result: dict[str, Any]) -> str:
    """A readable fixed-width table of :func:`replay_experiment`'s output."""
    p = result["params"]
    head = (f"replay experiment: w={p['w']}, B={p['batch']}, {p['steps']} batches/steps, "
            f"alpha={p['alpha']}, delta={p['delta']}, seed={p['seed']}")
    cols = ("rho", "P(starve) exact", "freq [CI]", "#old exact", "#old mean",
            "M2 ratio w/mu_o", "bound", "SGD starved", "SGD w_T")
    lines = [head, "  ".join(cols)]
    for r in result["rows"]:
        lo, hi = r["starve_ci"]
        m2 = r["second_moment_ratio"]
        lines.append("  ".join((
            f"{r['rho']:<3g}", f"{r['starve_exact']:>15.4f}",
            f"{r['starve_freq']:.4f} [{lo:.3f},{hi:.3f}]", f"{r['old_draws_exact']:>10.3f}",
            f"{r['old_draws_mean']:>9.3f}", f"{m2['w']:>7.3f}/{m2['mu_old']:<7.3f}",
            f"{r['second_moment_bound']:>5.3f}", f"{r['sgd_starved_steps']:>11.3f}",
            f"{r['sgd_final_w']:>7.3f}")))
    return "\n".join(lines)
