r"""Gradient estimators on the five-parameter state θ = (w, μo, σo, μn, σn), as named choices.

Student :math:`q_\theta = w\,\varphi_o + (1-w)\,\varphi_n`, :math:`\varphi_c = N(\mu_c,\sigma_c^2)`;
the score :math:`\nabla_\theta\log q_\theta(x)` has entries

.. math:: \partial_w = \frac{\varphi_o-\varphi_n}{q},\quad
          \partial_{\mu_c} = r_c\frac{x-\mu_c}{\sigma_c^2},\quad
          \partial_{\sigma_c} = r_c\Big(\frac{(x-\mu_c)^2}{\sigma_c^3}-\frac1{\sigma_c}\Big),
          \quad r_o = \frac{w\varphi_o}{q},\ r_n = 1 - r_o.

Every estimator returns a *descent* direction ĝ ≈ ∇_θ L (five entries):

``exact``
    the expectation itself (population map): :func:`symforget.fkl_grad` /
    :func:`symforget.rkl_grad` with ``with_scales=True``; for ``chen`` the expectation of the
    Chen et al. estimator by quadrature (:func:`chen_expectation`).
``mc``
    forward KL (SFT) from B draws of the training data: ĝ = −mean_i ∇log q(x_i),
    x_i ∼ N(m_d, s_d²) — unbiased, finite variance.
``score``
    reverse KL, score-function (REINFORCE) estimator on B draws of q:
    ĝ = mean_i ∇log q(x_i) log(q/p*)(x_i), x_i ∼ q_θ — unbiased.
``pathwise``
    reverse KL, reparametrised (pathwise) Monte Carlo on B draws of q: draw the component c_i
    (old with probability w) and x_i = μ_{c_i} + σ_{c_i} ε_i; with f = log(q/p*),
    ĝ_w = mean_i f(x_i)(1[c_i = o]/w − 1[c_i = n]/(1 − w)) (the discrete choice has no path),
    ĝ_{μ_c} = mean_i 1[c_i = c] f'(x_i), ĝ_{σ_c} = mean_i 1[c_i = c] f'(x_i) ε_i — unbiased
    (the explicit θ-dependence of f integrates to zero: E_q[∇_θ log q] = 0).
``chen``
    Chen et al. 2025's on-policy variant (written from its definition in their
    ``simulation/run.py``): draws x_i ∼ φ_n from the student's *new component only*, a reward
    built from the target's new component only,
    :math:`R(x) = \log\frac{p_n(x)}{\beta\,(1-w)\varphi_n(x)}` (p_n = N(μn*, σn*²) without its
    weight), importance weights :math:`q/((1-w)\varphi_n)` and gradient *ascent* on
    mean_i R(x_i) (q/((1−w)φ_n))(x_i) ∇log q(x_i) = mean_i R(x_i) ∇q(x_i)/((1−w)φ_n(x_i)),
    no baseline, no normalisation. Its expectation is
    :math:`\frac1{1-w}\int R\,\nabla q\,dx`. The w and old-component entries carry the factor
    φ_o/φ_n, whose second moment under φ_n, :math:`\int\varphi_o^2/\varphi_n`, is infinite
    when :math:`\sigma_o^2 \ge 2\sigma_n^2` (Chen et al.'s start: σo = 1, σn = 0.7). Typical
    batches then miss the old side, and their mean is far from the expectation (rare draws in
    the old mode's direction carry it; tests/test_training_estimators.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import model
from ..errors import ParameterError, SymforgetError
from .stepping import check_state

__all__ = ["ESTIMATORS", "Target", "score5", "grad_q_over_new", "fkl_mc", "rkl_score",
           "rkl_pathwise",
           "chen_terms", "chen_sampled", "chen_expectation", "fkl_exact", "rkl_exact",
           "estimator"]

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)

#: name → what it is (the methods pick one by name)
ESTIMATORS: dict[str, str] = {
    "exact": "exact expectations (population map; --batch 0)",
    "mc": "plain Monte Carlo: B draws of the training data, -mean grad log q (forward KL)",
    "score": "score function / REINFORCE: B draws of q, mean grad log q * log(q/p*) (reverse KL)",
    "pathwise": "reparametrised Monte Carlo: B draws x = mu_c + sigma_c eps of q, the x-derivative "
                "of log(q/p*) (reverse KL; the weight by the component choice's score)",
    "chen": "Chen et al. 2025 on-policy variant: B draws of the new component, reward "
            "log(p_new/(beta q_new)), importance weight q/q_new, no baseline",
}


@dataclass(frozen=True)
class Target:
    """p* = α N(μo*, σo*²) + (1 − α) N(μn*, σn*²)."""

    alpha: float
    mu_old: float
    sigma_old: float
    mu_new: float
    sigma_new: float


def _lnorm(x: np.ndarray, mu: float, s: float) -> np.ndarray:
    return -0.5 * ((x - mu) / s) ** 2 - np.log(s) - _LOG_SQRT_2PI


def _log_q(x: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log q, log φ_o, log φ_n) at x."""
    lo, ln = _lnorm(x, th[1], th[2]), _lnorm(x, th[3], th[4])
    return np.logaddexp(np.log(th[0]) + lo, np.log1p(-th[0]) + ln), lo, ln


def score5(x: Any, state: Any) -> np.ndarray:
    r""":math:`\nabla_\theta\log q_\theta(x)` for θ = (w, μo, σo, μn, σn), shape (n, 5);
    responsibilities in log space."""
    th = check_state(state)
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    lq, lo, ln = _log_q(xs, th)
    ro = np.exp(np.log(th[0]) + lo - lq)
    rn = np.exp(np.log1p(-th[0]) + ln - lq)
    do, dn = xs - th[1], xs - th[3]
    return np.stack([ro / th[0] - rn / (1.0 - th[0]),
                     ro * do / th[2] ** 2, ro * (do ** 2 / th[2] ** 3 - 1.0 / th[2]),
                     rn * dn / th[4] ** 2, rn * (dn ** 2 / th[4] ** 3 - 1.0 / th[4])], axis=-1)


def grad_q_over_new(x: Any, state: Any) -> np.ndarray:
    r""":math:`\nabla_\theta q(x)/((1-w)\varphi_n(x))`, shape (n, 5): the importance-weighted
    score of the ``chen`` estimator, with :math:`\varphi_o/\varphi_n` formed in log space."""
    th = check_state(state)
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    with np.errstate(over="ignore"):
        ratio = np.exp(_lnorm(xs, th[1], th[2]) - _lnorm(xs, th[3], th[4]))
    if not np.all(np.isfinite(ratio)):
        raise SymforgetError("chen estimator: phi_old/phi_new overflowed at a draw "
                             f"(state {th.tolist()})")
    c = th[0] / (1.0 - th[0])
    do, dn = xs - th[1], xs - th[3]
    return np.stack([(ratio - 1.0) / (1.0 - th[0]),
                     c * ratio * do / th[2] ** 2, c * ratio * (do ** 2 / th[2] ** 3 - 1 / th[2]),
                     dn / th[4] ** 2, dn ** 2 / th[4] ** 3 - 1.0 / th[4]], axis=-1)


def _reward(x: np.ndarray, th: np.ndarray, target: Target, beta: float) -> np.ndarray:
    """R(x) = log p_n(x) − log β − log(1 − w) − log φ_n(x)."""
    return (_lnorm(x, target.mu_new, target.sigma_new) - np.log(beta) - np.log1p(-th[0])
            - _lnorm(x, th[3], th[4]))


def fkl_exact(state: Any, data_mean: float, data_sigma: float,
              replay: tuple[float, float, float] | None = None) -> np.ndarray:
    """∇ KL(P_train ‖ q_θ), five entries (exact, :func:`symforget.fkl_grad`), with
    P_train = N(m_d, s_d²), or (1 − ρ) N(m_d, s_d²) + ρ N(m_r, s_r²) for
    ``replay`` = (ρ, m_r, s_r)."""
    th = check_state(state)
    kw: dict[str, Any] = {}
    if replay is not None and replay[0] > 0.0:
        kw = {"replay": replay[0], "replay_mean": replay[1], "replay_sigma": replay[2]}
    return np.asarray(model.fkl_grad(th[0], th[1], th[3], data_mean=data_mean,
                                     data_sigma=data_sigma, sigma_old=th[2], sigma_new=th[4],
                                     with_scales=True, **kw), dtype=np.float64)


def rkl_exact(state: Any, target: Target) -> np.ndarray:
    """∇ KL(q_θ ‖ p*), five entries (exact, :func:`symforget.rkl_grad`)."""
    th = check_state(state)
    return np.asarray(model.rkl_grad(th[0], th[1], th[3], alpha=target.alpha,
                                     target_old=target.mu_old, target_new=target.mu_new,
                                     sigma_old=th[2], sigma_new=th[4],
                                     target_sigma_old=target.sigma_old,
                                     target_sigma_new=target.sigma_new, with_scales=True),
                      dtype=np.float64)


def fkl_mc(rng: np.random.Generator, batch: int, state: Any, data_mean: float,
           data_sigma: float, replay: tuple[float, float, float] | None = None) -> np.ndarray:
    """Per-sample −∇log q(x_i), x_i ∼ P_train (see :func:`fkl_exact`; each draw is replayed
    with probability ρ), shape (batch, 5); the mean is ``mc``."""
    if replay is None or replay[0] == 0.0:
        xs = data_mean + data_sigma * rng.standard_normal(batch)
    else:
        rho, mr, sr = replay
        rep = rng.random(batch) < rho
        xs = np.where(rep, mr, data_mean) + np.where(rep, sr, data_sigma) * \
            rng.standard_normal(batch)
    return -score5(xs, state)


def rkl_score(rng: np.random.Generator, batch: int, state: Any, target: Target) -> np.ndarray:
    """Per-sample ∇log q(x_i) log(q/p*)(x_i), x_i ∼ q_θ, shape (batch, 5); mean is ``score``."""
    th = check_state(state)
    old = rng.random(batch) < th[0]
    xs = np.where(old, th[1], th[3]) + np.where(old, th[2], th[4]) * rng.standard_normal(batch)
    lq, _, _ = _log_q(xs, th)
    lp = np.logaddexp(np.log(target.alpha) + _lnorm(xs, target.mu_old, target.sigma_old),
                      np.log1p(-target.alpha) + _lnorm(xs, target.mu_new, target.sigma_new))
    return score5(xs, th) * (lq - lp)[:, None]


def _dlog_mix(x: np.ndarray, w: float, m0: float, s0: float, m1: float, s1: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """(log f, d/dx log f) of f = w N(m0, s0²) + (1 − w) N(m1, s1²) at x (log space)."""
    l0 = np.log(w) + _lnorm(x, m0, s0)
    l1 = np.log1p(-w) + _lnorm(x, m1, s1)
    lf = np.logaddexp(l0, l1)
    r0 = np.exp(l0 - lf)
    return lf, -r0 * (x - m0) / s0 ** 2 - (1.0 - r0) * (x - m1) / s1 ** 2


def rkl_pathwise(rng: np.random.Generator, batch: int, state: Any, target: Target
                 ) -> np.ndarray:
    """Per-sample terms of the ``pathwise`` estimator of ∇KL(q ‖ p*), shape (batch, 5)."""
    th = check_state(state)
    old = rng.random(batch) < th[0]
    eps = rng.standard_normal(batch)
    xs = np.where(old, th[1] + th[2] * eps, th[3] + th[4] * eps)
    lq, dq = _dlog_mix(xs, th[0], th[1], th[2], th[3], th[4])
    lp, dp = _dlog_mix(xs, target.alpha, target.mu_old, target.sigma_old, target.mu_new,
                       target.sigma_new)
    f, df = lq - lp, dq - dp
    o, n = old.astype(np.float64), (~old).astype(np.float64)
    return np.stack([f * (o / th[0] - n / (1.0 - th[0])), o * df, o * df * eps, n * df,
                     n * df * eps], axis=-1)


def chen_terms(xs: Any, state: Any, target: Target, beta: float) -> np.ndarray:
    """Per-sample *descent* terms −R(x) ∇q(x)/((1−w)φ_n(x)), shape (n, 5)."""
    th = check_state(state)
    x = np.asarray(xs, dtype=np.float64).reshape(-1)
    return -_reward(x, th, target, beta)[:, None] * grad_q_over_new(x, th)


def chen_sampled(rng: np.random.Generator, batch: int, state: Any, target: Target,
                 beta: float) -> np.ndarray:
    """``chen_terms`` at x_i ∼ N(μn, σn²) (B draws of the student's new component)."""
    th = check_state(state)
    return chen_terms(th[3] + th[4] * rng.standard_normal(batch), th, target, beta)


def chen_expectation(state: Any, target: Target, beta: float, *, per_sigma: float = 12.0,
                     width: float = 14.0) -> np.ndarray:
    r"""Expectation of the ``chen`` descent direction,
    :math:`-\frac1{1-w}\int R(x)\nabla_\theta q(x)\,dx`, by the trapezoid rule on a uniform grid
    covering every component of q and p_n to ``width`` standard deviations, with spacing
    (smallest scale)/``per_sigma``. The integrand is a Gaussian times a polynomial of degree ≤ 4,
    for which the trapezoid rule converges geometrically in the spacing: the defaults agree with
    adaptive quadrature to ~1e-12 relative (tests/test_training_estimators.py)."""
    th = check_state(state)
    sds = (th[2], th[4], target.sigma_new)
    lo = min(th[1] - width * th[2], th[3] - width * th[4], target.mu_new - width * target.sigma_new)
    hi = max(th[1] + width * th[2], th[3] + width * th[4], target.mu_new + width * target.sigma_new)
    points = int(np.ceil((hi - lo) / (min(sds) / per_sigma))) + 1
    if points > 2_000_000:
        raise SymforgetError(f"chen expectation: scales {sds} span too many orders of magnitude "
                             f"for the uniform grid ({points} points)")
    x = np.linspace(lo, hi, points)
    lq, _, _ = _log_q(x, th)
    gq = np.exp(lq)[:, None] * score5(x, th)
    f = -_reward(x, th, target, beta)[:, None] * gq / (1.0 - th[0])
    return np.trapezoid(f, x, axis=0)


Grad = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def estimator(name: str, *, batch: int | None, data: tuple[float, float] | None = None,
              target: Target | None = None, beta: float | None = None,
              replay: tuple[float, float, float] | None = None) -> Grad:
    """The gradient function ``grad(θ, rng) -> (5,)`` of estimator ``name``.

    ``data`` = (m_d, s_d) for the forward KL, optionally with ``replay`` = (ρ, m_r, s_r);
    ``target`` for the reverse KL and ``chen``; ``beta`` for ``chen``. ``exact`` ignores
    ``batch``; the sampled ones need batch ≥ 1.
    """
    if name not in ESTIMATORS:
        raise ParameterError(f"unknown estimator {name!r}; known: {', '.join(ESTIMATORS)}")
    if name != "exact" and (batch is None or batch < 1):
        raise ParameterError(f"estimator {name!r} draws samples: give batch >= 1")
    b = int(batch or 0)
    if name == "mc" or (name == "exact" and data is not None):
        if data is None:
            raise ParameterError("the 'mc' estimator is for the forward KL (training data)")
        m, s = data
        if name == "exact":
            return lambda th, rng: fkl_exact(th, m, s, replay)
        return lambda th, rng: fkl_mc(rng, b, th, m, s, replay).mean(axis=0)
    if target is None:
        raise ParameterError(f"estimator {name!r} needs a target")
    if beta is not None:
        if name in ("score", "pathwise"):
            raise ParameterError(f"the {name!r} estimator is for the reverse KL (no beta)")
        if name == "exact":
            return lambda th, rng: chen_expectation(th, target, beta)
        return lambda th, rng: chen_sampled(rng, b, th, target, beta).mean(axis=0)
    if name == "chen":
        raise ParameterError("the 'chen' estimator needs beta")
    if name == "exact":
        return lambda th, rng: rkl_exact(th, target)
    if name == "pathwise":
        return lambda th, rng: rkl_pathwise(rng, b, th, target).mean(axis=0)
    return lambda th, rng: rkl_score(rng, b, th, target).mean(axis=0)
