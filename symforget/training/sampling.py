r"""Finite-batch machinery for replay (CLAIMS.md §4): seeded samplers, the score-function
(REINFORCE) estimator of ∇L_R, the replay behaviour b_ρ = (1−ρ)q_θ + ρB with importance weights
q/b computed in log space, and finite-batch SGD on the reverse KL.

All randomness comes from an explicit :class:`numpy.random.Generator`. The integrand
h_θ = ∇_θ log q_θ · log(q_θ/p*) is compiled from :func:`symforget.symbolic.mixture.score` and
the stable log q, log p* (never hand-typed). The buffer is B = P_old = N(buffer_mean, σ²).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..numeric import validate as V
from ..numeric.compile import compile_exprs
from ..symbolic import mixture
from ..symbolic.gauss import log_normal_pdf
from ..symbolic.symbols import RKL_ARGS, mu_n, mu_o, sigma, x
from ..symbolic.symbols import w as w_

__all__ = ["check_rho", "check_batch", "check_count", "sample_mixture", "sample_behaviour",
           "log_q", "log_weights", "score_terms", "rkl_estimator", "RklSgdRun", "rkl_sgd",
           "fkl_sgd"]


def check_rho(rho: Any) -> float:
    """Validate a replay fraction ρ ∈ [0, 1) (ParameterError naming ``rho``)."""
    return float(V.half_open_unit("rho", rho).reshape(()))


def _int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ParameterError(f"{name}={value!r} must be an integer >= {lo}")
    return int(value)


def check_batch(batch: Any) -> int:
    """Validate a batch size B ≥ 1 (integer)."""
    return _int("batch", batch, 1)


def check_count(name: str, n: Any) -> int:
    """Validate a non-negative integer sample count."""
    return _int(name, n, 0)


def _theta(w: Any, mu_old: Any, mu_new: Any, sig: Any) -> tuple[float, float, float, float]:
    w_ = float(V.open_unit("w", w).reshape(()))
    return (w_, float(V.finite("mu_old", mu_old).reshape(())),
            float(V.finite("mu_new", mu_new).reshape(())),
            float(V.positive("sigma", sig).reshape(())))


def sample_mixture(rng: np.random.Generator, n: int, w: float, mu_old: float, mu_new: float,
                   sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """n draws from q_θ = wφ_{μo} + (1−w)φ_{μn} with labels (True = old component)."""
    n = check_count("n", n)
    w, mo, mn, sg = _theta(w, mu_old, mu_new, sigma)
    old = rng.random(n) < w
    xs = np.where(old, mo, mn) + sg * rng.standard_normal(n)
    return xs, old


def sample_behaviour(rng: np.random.Generator, n: int, rho: float, w: float, mu_old: float,
                     mu_new: float, buffer_mean: float, sigma: float = 1.0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n draws from b_ρ = (1−ρ)q_θ + ρ N(buffer_mean, σ²).

    Returns (x, old, from_buffer): ``old`` is True for an old draw (buffer or q's old
    component), ``from_buffer`` for a buffer draw.
    """
    rho = check_rho(rho)
    n = check_count("n", n)
    xs, old = sample_mixture(rng, n, w, mu_old, mu_new, sigma)
    buf = rng.random(n) < rho
    xs = np.where(buf, float(buffer_mean) + float(sigma) * rng.standard_normal(n), xs)
    return xs, old | buf, buf


@cache
def _log_q_fn():
    """log q_θ(x) of (x, w, μo, μn, σ), compiled from the stable SymPy form."""
    return compile_exprs(mixture.log_q(), (x, w_, mu_o, mu_n, sigma))


@cache
def _neg_score_fn():
    """−∇_θ log q_θ(x) (3 entries): the per-sample forward-KL gradient, from the SymPy score."""
    return compile_exprs(tuple(-e for e in mixture.score()), (x, w_, mu_o, mu_n, sigma))


@cache
def _log_buf_fn():
    return compile_exprs(log_normal_pdf(x, mu_o, sigma), (x, mu_o, sigma))


@cache
def _h_fn():
    """h_θ(x) = ∇_θ log q · log(q/p*) (3 entries), compiled from the SymPy score."""
    lr = mixture.log_q() - mixture.log_p()
    return compile_exprs(tuple(s * lr for s in mixture.score()), (x, *RKL_ARGS))


def log_q(xs: np.ndarray, w: float, mu_old: float, mu_new: float,
          sigma: float = 1.0) -> np.ndarray:
    """log q_θ(x) at the points ``xs`` (stable form, compiled from SymPy)."""
    return np.broadcast_to(_log_q_fn()(xs, w, mu_old, mu_new, sigma), np.shape(xs))


def log_weights(xs: np.ndarray, rho: float, w: float, mu_old: float, mu_new: float,
                buffer_mean: float, sigma: float = 1.0) -> np.ndarray:
    r"""log(q_θ/b_ρ)(x) = −logaddexp(log(1−ρ), log ρ + log B − log q) (≤ −log(1−ρ))."""
    rho = check_rho(rho)
    lq = log_q(xs, w, mu_old, mu_new, sigma)
    if rho == 0.0:
        return np.zeros(np.shape(xs))
    lb = _log_buf_fn()(xs, buffer_mean, sigma)
    return -np.logaddexp(np.log1p(-rho), np.log(rho) + lb - lq)


def score_terms(xs: np.ndarray, w: float, mu_old: float, mu_new: float, *, alpha: float,
                target_old: float, target_new: float, sigma: float = 1.0) -> np.ndarray:
    """h_θ(x) for each x, shape (n, 3)."""
    out = _h_fn()(xs, w, mu_old, mu_new, alpha, target_old, target_new, sigma)
    return np.stack([np.broadcast_to(np.asarray(o, dtype=float), np.shape(xs)) for o in out],
                    axis=-1)


def rkl_estimator(rng: np.random.Generator, n: int, w: float, mu_old: float, mu_new: float, *,
                  alpha: float, target_old: float, target_new: float, rho: float = 0.0,
                  buffer_mean: float | None = None, sigma: float = 1.0,
                  importance: bool = True) -> np.ndarray:
    r"""Per-sample terms (q/b)(x_i) h_θ(x_i), x_i ∼ b_ρ, shape (n, 3); their mean estimates ∇L_R.

    ``buffer_mean`` defaults to ``target_old`` (B = P_old). ``importance=False`` drops the
    weights (a biased estimator for ρ > 0, kept to show it is rejected).
    """
    bm = float(target_old if buffer_mean is None else buffer_mean)
    xs, _, _ = sample_behaviour(rng, n, rho, w, mu_old, mu_new, bm, sigma)
    h = score_terms(xs, w, mu_old, mu_new, alpha=alpha, target_old=target_old,
                    target_new=target_new, sigma=sigma)
    if not importance:
        return h
    return np.exp(log_weights(xs, rho, w, mu_old, mu_new, bm, sigma))[:, None] * h


@dataclass(frozen=True)
class RklSgdRun:
    """A finite-batch SGD run (reverse or forward KL): θ per step and the number of old draws
    (old-component or replayed) per batch."""

    theta: np.ndarray
    old_draws: np.ndarray


def rkl_sgd(rng: np.random.Generator, theta0: tuple[float, float, float], *, alpha: float,
            target_old: float, target_new: float, rho: float = 0.0, batch: int = 8,
            steps: int = 200, lr: float = 0.05, sigma: float = 1.0,
            w_clip: float = 1e-4) -> RklSgdRun:
    """SGD on L_R with the importance-weighted replay estimator.

    θ ← θ − lr · mean_i (q/b)(x_i) h_θ(x_i), x_i ∼ b_ρ (batch of B); w is clipped to
    [w_clip, 1 − w_clip]. Returns θ per step and the number of old draws in each batch.
    """
    rho = check_rho(rho)
    batch = check_batch(batch)
    steps = check_count("steps", steps)
    th = np.array(theta0, dtype=float)
    hist, olds = [th.copy()], []
    for _ in range(steps):
        xs, old, _ = sample_behaviour(rng, batch, rho, th[0], th[1], th[2], target_old, sigma)
        h = score_terms(xs, *th, alpha=alpha, target_old=target_old, target_new=target_new,
                        sigma=sigma)
        g = (np.exp(log_weights(xs, rho, *th, target_old, sigma))[:, None] * h).mean(axis=0)
        th = th - lr * g
        th[0] = min(max(th[0], w_clip), 1 - w_clip)
        hist.append(th.copy())
        olds.append(int(old.sum()))
    return RklSgdRun(np.array(hist), np.array(olds))


def fkl_sgd(rng: np.random.Generator, theta0: tuple[float, float, float], *, data_mean: float,
            rho: float = 0.0, replay_mean: float | None = None, batch: int = 8,
            steps: int = 200, lr: float = 0.05, sigma: float = 1.0,
            w_clip: float = 1e-4) -> RklSgdRun:
    r"""SGD on the forward KL (SFT) from finite batches of the training distribution.

    x_i ∼ P_train = (1−ρ)N(data_mean, σ²) + ρN(replay_mean, σ²) (B per step);
    θ ← θ − lr · mean_i (−∇_θ log q_θ(x_i)), an unbiased estimate of ∇L_F; w is clipped to
    [w_clip, 1 − w_clip]. ``old_draws`` counts replayed (old-task) draws per batch. Without replay
    w drifts to the clip (mass forgetting); with replay it fluctuates around ρ
    (``replay.fkl_optimum``).
    """
    rho = check_rho(rho)
    batch = check_batch(batch)
    steps = check_count("steps", steps)
    if rho > 0 and replay_mean is None:
        raise ParameterError("replay_mean is required when rho > 0")
    rm = float(data_mean if replay_mean is None else replay_mean)
    dm = float(V.finite("data_mean", data_mean).reshape(()))
    th = np.array(theta0, dtype=float)
    _theta(*th, sigma)
    neg_score = _neg_score_fn()
    hist, olds = [th.copy()], []
    for _ in range(steps):
        replayed = rng.random(batch) < rho
        xs = np.where(replayed, rm, dm) + float(sigma) * rng.standard_normal(batch)
        g = np.stack([np.broadcast_to(np.asarray(v, dtype=float), xs.shape)
                      for v in neg_score(xs, th[0], th[1], th[2], sigma)], axis=-1).mean(axis=0)
        th = th - lr * g
        th[0] = min(max(th[0], w_clip), 1 - w_clip)
        hist.append(th.copy())
        olds.append(int(replayed.sum()))
    return RklSgdRun(np.array(hist), np.array(olds))
