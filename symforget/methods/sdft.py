r"""SDFT — self-distillation fine-tuning (arXiv 2601.19897) as an update map (CLAIMS.md §5).

The student samples on-policy and minimises the reverse KL to a teacher that is the same model
conditioned on a demonstration, with EMA-averaged weights. On the two-mode problem:

.. math::
   T_t = (1-\lambda)\,q_{\vartheta_t} + \lambda A,\quad
   u_{t+1} = u_t - \eta\,w_t(1-w_t)\,\partial_w\mathrm{KL}(q_{\theta_t}\Vert T_t),\quad
   \mu_{t+1} = \mu_t - \eta\,\partial_\mu\mathrm{KL}(q_{\theta_t}\Vert T_t),

   \vartheta_{t+1} = (1-\beta)\,\vartheta_t + \beta\,\theta_{t+1}\quad
   \text{(EMA in the network coordinates } (u = \operatorname{logit} w, \mu_o, \mu_n)).

λ ∈ [0, 1] is the anchor strength (how much of the teacher comes from the demonstration),
A the demonstration-conditioned behaviour: ``"target"`` (A = p*: the teacher knows both tasks),
``"new"`` (A = P_new) or ``"old"`` (A = P_old). Steps are taken in u = logit w because plain
steps in w with a fixed η are unstable as w → 0 (the w-gradient of a reverse KL grows like
log w); the logit step is stable for η I_u < 1, I_u the Fisher information in u.

The gradient is the compiled SymPy spec :func:`symforget.symbolic.sdft.target_grad_spec`
(reverse KL against a general K-component teacher; zero-weight components are dropped, so
K = 2, 3 or 4), integrated by :func:`symforget.numeric.quadrature.expect`. The finite-batch version
replaces it by the REINFORCE estimate mean_i ∇log q(x_i)(log q(x_i) − log T(x_i) + 1),
x_i ∼ q_θ (B draws per step): the gradient of the sampled surrogate loss, score-function term
included; the +1 has mean zero but carries the sampling noise (without it the estimate is
identically zero whenever T = q_θ, e.g. for λ = 0 at ϑ = θ, and the run would never move).
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
from scipy.special import expit, logit

from ..errors import ParameterError
from ..numeric import validate as V
from ..numeric.compile import compile_exprs, compile_spec
from ..numeric.progress import report_steps
from ..numeric.quadrature import expect
from ..symbolic import sdft as S
from ..symbolic.symbols import x as _x
from .base import MethodRun, Problem, require_equal_scales

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "ANCHORS", "teacher", "kl_grad", "sdft_step",
           "run", "run_chains", "check_params"]

NAME = "sdft"
DESCRIPTION = ("self-distillation: on-policy reverse KL to the EMA teacher "
               "(1-lam) q_ema + lam A")
PARAMS: dict[str, tuple[type, Any, str]] = {
    "lam": (float, 0.5, "anchor strength lambda in [0, 1] (0: teacher = EMA student only)"),
    "beta": (float, 0.1, "EMA rate beta in (0, 1] of the teacher weights"),
    "eta": (float, 0.5, "step size eta > 0 (logit-w parametrisation)"),
    "anchor": (str, "target", "demonstration-conditioned behaviour A: target (p*), new, old"),
}
ANCHORS = ("target", "new", "old")
#: logit clip: w stays a positive double (expit(-600) ≈ 1e-261); documented, never silent NaN
_U_MAX = 600.0
_MAX_RECORDS = 500


def check_params(lam: Any = 0.5, beta: Any = 0.1, eta: Any = 0.5,
                 anchor: Any = "target") -> dict[str, Any]:
    """Validate the SDFT parameters (ParameterError naming the parameter and its range)."""
    lam_ = float(V.finite("lam", lam).reshape(()))
    if not 0.0 <= lam_ <= 1.0:
        raise ParameterError(f"lam={lam_!r} must lie in [0, 1]")
    beta_ = float(V.finite("beta", beta).reshape(()))
    if not 0.0 < beta_ <= 1.0:
        raise ParameterError(f"beta={beta_!r} must lie in (0, 1]")
    eta_ = float(V.positive("eta", eta).reshape(()))
    if anchor not in ANCHORS:
        raise ParameterError(f"anchor={anchor!r} must be one of {', '.join(ANCHORS)}")
    return {"lam": lam_, "beta": beta_, "eta": eta_, "anchor": anchor}


def teacher(problem: Problem, ubar: np.ndarray, *, lam: float | np.ndarray,
            anchor: str) -> tuple[list[np.ndarray], list[Any]]:
    r"""Components (log π_k, m_k) of :math:`T = (1-\lambda)q_{\bar\vartheta} + \lambda A`.

    ``ubar`` has shape (..., 3) = (ū = logit w̄, μ̄o, μ̄n) (network coordinates; log w̄ and
    log(1 − w̄) are formed exactly as −softplus(∓ū)). Zero-weight components (λ = 0 or 1, a
    one-component anchor) are left out, so the compiled log T never meets log 0. ``lam`` may
    be an array broadcasting with the leading axes (one anchor strength per chain).
    """
    vb = np.asarray(ubar, dtype=np.float64)
    lam_a = np.asarray(lam, dtype=np.float64)
    below, above = bool(np.all(lam_a < 1.0)), bool(np.all(lam_a > 0.0))
    if (not below and np.any(lam_a < 1.0)) or (not above and np.any(lam_a > 0.0)):
        raise ParameterError("lam: an array of anchor strengths must lie entirely in (0, 1), "
                             "or all be 0, or all be 1 (the teacher's components differ)")
    ells: list[np.ndarray] = []
    ms: list[Any] = []
    one = np.ones(vb.shape[:-1])
    with np.errstate(divide="ignore"):
        l1, ll = np.log1p(-lam_a) * one, np.log(lam_a) * one
    if below:
        ells += [l1 - np.logaddexp(0.0, -vb[..., 0]), l1 - np.logaddexp(0.0, vb[..., 0])]
        ms += [vb[..., 1], vb[..., 2]]
    if above:
        if anchor == "target":
            ells += [ll + math.log(problem.alpha), ll + math.log1p(-problem.alpha)]
            ms += [problem.mu_old_star * one, problem.mu_new_star * one]
        elif anchor == "new":
            ells.append(ll)
            ms.append(problem.mu_new_star * one)
        else:
            ells.append(ll)
            ms.append(problem.mu_old_star * one)
    return ells, ms


def kl_grad(theta: np.ndarray, ells: list[Any], ms: list[Any],
            sigma: float = 1.0) -> np.ndarray:
    r""":math:`\nabla_{(w,\mu_o,\mu_n)}\mathrm{KL}(q_\theta\Vert T)`,
    T = Σ_k e^{ℓ_k} N(m_k, σ²) (``ells`` = log-weights ℓ_k).

    Vectorised over the leading axes of ``theta`` (..., 3); returns (..., 3). Compiled from
    :func:`symforget.symbolic.sdft.target_grad_spec` (score-function identity).
    """
    th = np.asarray(theta, dtype=np.float64)
    k = len(ells)
    if k == 0 or len(ms) != k:
        raise ParameterError("the teacher needs at least one component (ells, ms of equal "
                             "length)")
    shape = th.shape[:-1]
    args = [th[..., 0], th[..., 1], th[..., 2], *ells, *ms, sigma]
    args = [np.broadcast_to(np.asarray(a, dtype=np.float64), shape) for a in args]
    return expect(compile_spec(S.target_grad_spec(k)), args)


@cache
def _reinforce_fn(k: int) -> Any:
    return compile_exprs(S.reinforce_terms(k), (_x, *S.teacher_args(k)))


def sdft_step(problem: Problem, theta: np.ndarray, ubar: np.ndarray, *, lam: float | np.ndarray,
              beta: float,
              eta: float, anchor: str, free: tuple[bool, bool, bool] = (True, True, True),
              grad: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""One SDFT step (population version unless a gradient estimate ``grad`` is given).

    State: student θ = (w, μo, μn) and EMA teacher ϑ̄ = (ū, μ̄o, μ̄n) in network coordinates
    (ū = logit w̄), both of shape (..., 3). Maths:

    .. math::
       g = \nabla_\theta\mathrm{KL}(q_\theta\Vert(1-\lambda)q_{\bar\vartheta}+\lambda A),\quad
       u' = u - \eta w(1-w) g_w,\ \mu' = \mu - \eta g_\mu,\quad
       \bar\vartheta' = (1-\beta)\bar\vartheta + \beta(u', \mu_o', \mu_n').

    ``free`` freezes coordinates (e.g. means held at the truth for the w-analysis).
    Returns the new (θ, ϑ̄ in network coordinates).
    """
    th = np.asarray(theta, dtype=np.float64)
    ub = np.asarray(ubar, dtype=np.float64)
    if grad is None:
        ells, ms = teacher(problem, ub, lam=lam, anchor=anchor)
        grad = kl_grad(th, ells, ms, problem.sigma)
    mask = np.asarray(free, dtype=np.float64)
    w = th[..., 0]
    u = np.clip(logit(w) - mask[0] * eta * w * (1.0 - w) * grad[..., 0], -_U_MAX, _U_MAX)
    new = np.empty_like(th)
    new[..., 0] = expit(u)
    new[..., 1] = th[..., 1] - mask[1] * eta * grad[..., 1]
    new[..., 2] = th[..., 2] - mask[2] * eta * grad[..., 2]
    net = np.stack([u, new[..., 1], new[..., 2]], axis=-1)
    return new, (1.0 - beta) * ub + beta * net


def _reinforce_grad(rng: np.random.Generator, problem: Problem, th: np.ndarray, ub: np.ndarray,
                    batch: int, lam: float, anchor: str) -> np.ndarray:
    """REINFORCE estimate of ∇KL(q_θ‖T), B draws x ∼ q_θ per chain; th (N, 3) → (N, 3)."""
    n = th.shape[0]
    old = rng.random((n, batch)) < th[:, :1]
    xs = np.where(old, th[:, 1:2], th[:, 2:3]) + problem.sigma * rng.standard_normal((n, batch))
    ells, ms = teacher(problem, ub, lam=lam, anchor=anchor)
    k = len(ells)
    args = [th[:, 0], th[:, 1], th[:, 2], *ells, *ms, problem.sigma]
    args = [np.broadcast_to(np.asarray(a, dtype=np.float64), (n,))[:, None] for a in args]
    terms = _reinforce_fn(k)(xs, *args)
    return np.stack([np.broadcast_to(np.asarray(t, dtype=np.float64), xs.shape).mean(axis=1)
                     for t in terms], axis=-1)


def run_chains(problem: Problem, theta0: np.ndarray, *, steps: int, lam: float | np.ndarray,
               beta: float, eta: float, anchor: str, batch: int | None = None, seed: int = 0,
               free: tuple[bool, bool, bool] = (True, True, True), record_every: int = 1,
               with_teacher: bool = False) -> tuple[np.ndarray, ...]:
    """Iterate the SDFT map for N independent chains started at ``theta0`` (N, 3) with the
    teacher at the student (ϑ_0 = θ_0). Returns (recorded steps (R,), θ (R, N, 3)) and, with
    ``with_teacher``, also the EMA teacher in network coordinates (R, N, 3)."""
    th = np.array(theta0, dtype=np.float64).reshape(-1, 3)
    ub = th.copy()
    ub[:, 0] = logit(th[:, 0])
    rng = np.random.default_rng(seed)
    rec_steps, rec, rec_t = [0], [th.copy()], [ub.copy()]
    for k in range(steps):
        report_steps(k, steps)
        g = None
        if batch is not None:
            g = _reinforce_grad(rng, problem, th, ub, batch, lam, anchor)
        th, ub = sdft_step(problem, th, ub, lam=lam, beta=beta, eta=eta, anchor=anchor,
                           free=free, grad=g)
        if (k + 1) % record_every == 0 or k + 1 == steps:
            rec_steps.append(k + 1)
            rec.append(th.copy())
            rec_t.append(ub.copy())
    if with_teacher:
        return np.array(rec_steps), np.array(rec), np.array(rec_t)
    return np.array(rec_steps), np.array(rec)


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ParameterError(f"steps={steps!r} must be an integer >= 1")
    return int(steps)


def _check_batch(batch: Any) -> int | None:
    if batch is None:
        return None
    if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1:
        raise ParameterError(f"batch={batch!r} must be an integer >= 1 (or None: population)")
    return int(batch)


def run(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
        **params: Any) -> MethodRun:
    """Run SDFT on ``problem`` (population map if ``batch`` is None, REINFORCE otherwise)."""
    require_equal_scales(problem, NAME)
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise ParameterError(f"unknown SDFT parameter(s) {sorted(unknown)}; known: "
                             f"{', '.join(PARAMS)}")
    p = check_params(**{k: params.get(k, v[1]) for k, v in PARAMS.items()})
    steps = _check_steps(steps)
    batch = _check_batch(batch)
    every = max(1, -(-steps // _MAX_RECORDS))
    rec_steps, rec = run_chains(problem, np.array(problem.theta0), steps=steps, batch=batch,
                                seed=seed, record_every=every, **p)
    th = rec[:, 0, :]
    sig = np.full(len(rec_steps), problem.sigma)
    return MethodRun(NAME, problem, {**p, "batch": batch, "seed": seed}, rec_steps,
                     th[:, 0], th[:, 1], th[:, 2], sig, sig.copy())
