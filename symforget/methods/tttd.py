r"""TTT-Discover (arXiv 2601.16175) as an update map on the two-mode mixture (CLAIMS.md §5).

TTT-Discover runs reinforcement learning at test time on one problem. It maximises the
entropic objective with a KL penalty towards a reference policy,

.. math::
   J(\theta) = s\,\log\mathbb E_{q_\theta}[e^{\beta R}]
   - \gamma\,\mathrm{KL}(q_\theta\Vert q_{\rm ref}),
   \qquad R(x) = -\tfrac12(x - \mu_n^*)^2,

with :math:`s = 1/\beta` (``scale="entropic"``: the objective
:math:`\frac1\beta\log\mathbb E e^{\beta R}` of the issue) or :math:`s = 1` (``scale="log"``: the
gradient :math:`\mathbb E[(e^{\beta R}/\mathbb E e^{\beta R} - 1)\nabla\log q]` of the paper's
exponentially normalised advantages). On the mixture
:math:`q_\theta = w\varphi_{\mu_o} + (1-w)\varphi_{\mu_n}` (equal variances σ²) one step is
gradient ascent in the network coordinates :math:`(u = \operatorname{logit} w, \mu_o, \mu_n)`:

.. math::
   (u, \mu_o, \mu_n)_{t+1} = (u, \mu_o, \mu_n)_t + \eta\,\nabla_{(u,\mu_o,\mu_n)} J.

* The entropic part is closed form: :math:`\mathbb E_q[e^{\beta R}] = wZ_o + (1-w)Z_n`,
  :math:`Z_c = (1+\beta\sigma^2)^{-1/2}e^{-\beta(\mu_c-m)^2/(2(1+\beta\sigma^2))}`; its gradient is
  SymPy's derivative (:mod:`symforget.symbolic.tttd`).
* The KL part is the exact equal-variance mixture KL, i.e. :func:`symforget.model.rkl_grad`
  with ``alpha = w_ref`` and the reference means as targets (quadrature).
* Adaptive β (``eps > 0``): each step β solves
  :math:`\mathrm{KL}(q_\beta\Vert q_\theta) = \varepsilon`
  with :math:`q_\beta\propto q_\theta e^{\beta R}`; closed form
  :math:`\mathrm{KL} = \beta\partial_\beta\log Z - \log Z`, strictly increasing in β, root by
  ``brentq``. This is the population analogue of the paper's per-batch rule
  :math:`\mathrm{KL}(\operatorname{softmax}(\beta R)\Vert\mathrm{uniform}) = \varepsilon`, which
  the finite-batch version uses.
* Reference ``"initial"`` (default): :math:`q_{\rm ref} = q_{\theta_0}`; ``"target"``: p*.

Finite batch (``batch=B``): x_i ∼ q_θ, a = softmax(βR(x_i)),
:math:`\hat g_E = s\sum_i (a_i - 1/B)\nabla\log q(x_i)` (self-normalised, baseline 1/B),
:math:`\hat g_{KL} = \frac1B\sum_i\nabla\log q(x_i)\log\frac{q}{q_{\rm ref}}(x_i)` (REINFORCE).

PUCT reuse buffer: not modelled. In TTT-Discover the buffer chooses the *initial state* (a past
solution) a rollout continues from; the two-mode abstraction has one-shot actions x with no state
to continue from. Modelled as sampling from a mixture of current and past policies, it changes
nothing at the population level when importance-weighted (the expectation is the same) and
only the variance/bias of finite batches otherwise — see CLAIMS.md §4 (replay) for that effect.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logit, softmax

from ..errors import ParameterError
from ..model import rkl_grad
from ..numeric import validate as V
from ..numeric.compile import compile_exprs
from ..numeric.progress import report_steps
from ..symbolic import mixture
from ..symbolic import tttd as T
from ..symbolic.symbols import mu_n, mu_o, sigma, w, x
from ..training.sampling import check_batch, check_count, sample_mixture, score_terms
from .base import MethodRun, Problem, require_equal_scales

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "SCALES", "REFERENCES", "check_params",
           "entropic_grad", "log_z", "tilt_kl", "adaptive_beta", "adaptive_beta_vec",
           "batch_beta", "tttd_step",
           "trajectory", "batch_gradient", "run"]

NAME = "tttd"
DESCRIPTION = ("TTT-Discover: entropic objective (1/beta) log E[exp(beta R)] - gamma KL(q||q_ref), "
               "adaptive beta under a KL budget eps")
PARAMS: dict[str, tuple[type, Any, str]] = {
    "beta": (float, 1.0, "inverse temperature beta > 0 (used when eps = 0)"),
    "eps": (float, 0.0, "KL budget eps >= 0; eps > 0: beta adaptive per step with "
                        "KL(q_beta||q) = eps (batch: eps < log B)"),
    "gamma": (float, 0.5, "KL-penalty weight gamma >= 0 towards the reference"),
    "eta": (float, 0.5, "step size eta > 0 (logit-w parametrisation; stable for "
                        "eta (gamma + 1/(1 + beta sigma^2)) < 2)"),
    "scale": (str, "entropic", "objective scale: entropic ((1/beta) log E e^{beta R}) or log "
                               "(log E e^{beta R}, the paper's normalised advantages)"),
    "reference": (str, "initial", "reference policy: initial (q at step 0) or target (p*)"),
}
SCALES = ("entropic", "log")
REFERENCES = ("initial", "target")
#: logit clip (documented, never silent): w = expit(u) stays a positive double below 1
_U_MIN, _U_MAX = -600.0, 30.0
_BETA_MAX = 1e12
_MU_MAX = 1e6
_MAX_RECORDS = 500


def check_params(beta: Any = 1.0, eps: Any = 0.0, gamma: Any = 0.1, eta: Any = 0.5,
                 scale: Any = "entropic", reference: Any = "initial") -> dict[str, Any]:
    """Validate the TTT-Discover parameters (ParameterError naming the parameter and range)."""
    out = {
        "beta": float(V.positive("beta", beta).reshape(())),
        "eps": float(V.nonnegative("eps", eps).reshape(())),
        "gamma": float(V.nonnegative("gamma", gamma).reshape(())),
        "eta": float(V.positive("eta", eta).reshape(())),
    }
    if scale not in SCALES:
        raise ParameterError(f"scale={scale!r} must be one of {', '.join(SCALES)}")
    if reference not in REFERENCES:
        raise ParameterError(f"reference={reference!r} must be one of {', '.join(REFERENCES)}")
    out["scale"], out["reference"] = scale, reference
    return out


@cache
def _grad_fn() -> Any:
    return compile_exprs(T.entropic_grad(), T.ARGS)


@cache
def _log_z_fn() -> Any:
    return compile_exprs(T.log_z(), T.ARGS)


@cache
def _tilt_kl_fn() -> Any:
    return compile_exprs(T.tilt_kl(), T.ARGS)


@cache
def _tilt_kl_dbeta_fn() -> Any:
    return compile_exprs(T.tilt_kl_dbeta(), T.ARGS)


@cache
def _score_fn() -> Any:
    return compile_exprs(mixture.score(), (x, w, mu_o, mu_n, sigma))


def _bcast(*arrays: Any) -> list[np.ndarray]:
    arrs = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in arrays])
    return [np.array(a) for a in arrs]


def entropic_grad(u: Any, mu_old: Any, mu_new: Any, *, beta: Any, m: Any,
                  sigma: Any = 1.0) -> np.ndarray:
    r""":math:`\nabla_{(u,\mu_o,\mu_n)}\frac1\beta\log\mathbb E_q[e^{\beta R}]`, shape (..., 3).

    :math:`\partial_u = \frac{w(1-w)(Z_o-Z_n)}{\beta Z}`,
    :math:`\partial_{\mu_c} = -\frac{w_c Z_c(\mu_c-m)}{(1+\beta\sigma^2)Z}` (SymPy-derived).
    """
    args = _bcast(u, mu_old, mu_new, beta, m, sigma)
    out = _grad_fn()(*args)
    return np.stack([np.broadcast_to(np.asarray(o, dtype=np.float64), args[0].shape)
                     for o in out], axis=-1)


def log_z(u: Any, mu_old: Any, mu_new: Any, *, beta: Any, m: Any, sigma: Any = 1.0) -> np.ndarray:
    r""":math:`\log\mathbb E_q[e^{\beta R}] = \log(wZ_o + (1-w)Z_n)` (stable softplus form)."""
    args = _bcast(u, mu_old, mu_new, beta, m, sigma)
    return np.broadcast_to(np.asarray(_log_z_fn()(*args), dtype=np.float64), args[0].shape)


def tilt_kl(u: Any, mu_old: Any, mu_new: Any, *, beta: Any, m: Any,
            sigma: Any = 1.0) -> np.ndarray:
    r""":math:`\mathrm{KL}(q_\beta\Vert q) = \beta\partial_\beta\log Z - \log Z` (closed form)."""
    args = _bcast(u, mu_old, mu_new, beta, m, sigma)
    return np.broadcast_to(np.asarray(_tilt_kl_fn()(*args), dtype=np.float64), args[0].shape)


def _root(f: Any, eps: float, what: str) -> float:
    """Solve f(β) = eps for β > 0, f increasing with f(0) = 0: bracket [0, hi], hi ×4."""
    hi = 1.0
    while f(hi) < eps:
        hi *= 4.0
        if hi > _BETA_MAX:
            raise ParameterError(f"eps={eps!r} cannot be reached: {what} < eps for every "
                                 f"beta <= {_BETA_MAX:g} (choose a smaller eps)")
    return float(brentq(lambda b: f(b) - eps, 0.0, hi, xtol=1e-14, rtol=1e-12, maxiter=200))


def adaptive_beta(u: float, mu_old: float, mu_new: float, *, eps: float, m: float,
                  sigma: float = 1.0) -> float:
    r"""The β with :math:`\mathrm{KL}(q_\beta\Vert q_\theta) = \varepsilon` (population rule).

    Unique: :math:`\partial_\beta\mathrm{KL} = \beta\mathrm{Var}_{q_\beta}(R) > 0`, KL(0) = 0.
    Raises ParameterError if no β ≤ 1e12 reaches ε.
    """
    eps = float(V.positive("eps", eps).reshape(()))
    fn = _tilt_kl_fn()

    def f(b: float) -> float:
        return 0.0 if b == 0.0 else float(fn(u, mu_old, mu_new, b, m, sigma))

    return _root(f, eps, "KL(q_beta || q)")


def adaptive_beta_vec(u: Any, mu_old: Any, mu_new: Any, *, eps: Any, m: float,
                      sigma: float = 1.0, iters: int = 64, guess: Any = None) -> np.ndarray:
    r"""Vectorised :func:`adaptive_beta` (``eps`` broadcasts too).

    With a ``guess`` (e.g. the previous step's β): Newton in x = log β,
    :math:`\partial_x\mathrm{KL} = \beta\,\partial_\beta\mathrm{KL}` (closed form), accepted
    only if it ends with |KL − ε| ≤ 1e-12 (1 + ε); otherwise (and without a guess) bisection in
    log β on [1e-8, 1e12] (64 halvings of a log-width 46: relative precision ~1e-17). Raises
    ParameterError if ε is out of reach."""
    args = _bcast(u, mu_old, mu_new, m, sigma, V.positive("eps", eps))
    fn = _tilt_kl_fn()
    e = args[5]
    if guess is not None:
        dfn = _tilt_kl_dbeta_fn()
        xb = np.log(np.broadcast_to(np.asarray(guess, dtype=np.float64), e.shape)).copy()
        for _ in range(8):
            bb = np.exp(xb)
            f = fn(args[0], args[1], args[2], bb, args[3], args[4]) - e
            df = bb * dfn(args[0], args[1], args[2], bb, args[3], args[4])
            xb = xb - np.clip(f / np.maximum(df, 1e-300), -2.0, 2.0)
        bb = np.exp(xb)
        f = fn(args[0], args[1], args[2], bb, args[3], args[4]) - e
        if np.all(np.isfinite(f)) and np.all(np.abs(f) <= 1e-12 * (1.0 + e)):
            return bb
    lo = np.full(args[0].shape, np.log(1e-8))
    hi = np.full(args[0].shape, np.log(_BETA_MAX))
    f_hi = fn(args[0], args[1], args[2], np.exp(hi), args[3], args[4])
    f_lo = fn(args[0], args[1], args[2], np.exp(lo), args[3], args[4])
    if np.any(f_hi < e) or np.any(f_lo > e):
        raise ParameterError(f"eps={eps!r} is out of reach of KL(q_beta || q) for beta in "
                             f"[1e-8, {_BETA_MAX:g}]")
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        f = fn(args[0], args[1], args[2], np.exp(mid), args[3], args[4])
        below = f < e
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.exp(0.5 * (lo + hi))


def batch_beta(rewards: np.ndarray, eps: float) -> float:
    r"""The paper's per-batch rule: β with
    :math:`\mathrm{KL}(a_\beta\Vert\mathrm{uniform}) = \varepsilon`,
    :math:`a_\beta = \operatorname{softmax}(\beta R)`; requires ε < log B (distinct rewards)."""
    r = np.asarray(rewards, dtype=np.float64)
    nb = r.size
    eps = float(V.positive("eps", eps).reshape(()))
    if eps >= np.log(nb):
        raise ParameterError(f"eps={eps!r} must be < log(batch) = {np.log(nb):.4g} "
                             "(KL of a batch reweighting to uniform is at most log B)")
    rc = r - r.max()

    def f(b: float) -> float:
        a = softmax(b * rc)
        return float(np.sum(a * np.log(np.maximum(a * nb, 1e-300))))

    return _root(f, eps, "KL(softmax(beta R) || uniform)")


def _reference(problem: Problem, reference: str) -> tuple[float, float, float]:
    if reference == "target":
        return problem.alpha, problem.mu_old_star, problem.mu_new_star
    return problem.theta0


def tttd_step(state: np.ndarray, *, beta: Any, gamma: Any, eta: float, m: float,
              ref: tuple[Any, Any, Any], sigma: float = 1.0, scale: str = "entropic",
              free: tuple[bool, bool, bool] = (True, True, True),
              grad: np.ndarray | None = None) -> np.ndarray:
    r"""One population step in network coordinates ``state = (u, μo, μn)`` (shape (..., 3)).

    .. math::
       \Delta(u, \mu_o, \mu_n) = \eta\,[\,c\,\nabla E_\beta
       - \gamma\,(w(1-w)\partial_w, \partial_{\mu_o}, \partial_{\mu_n})
       \mathrm{KL}(q_\theta\Vert q_{\rm ref})\,],

    c = 1 (entropic) or β (log scale), :math:`E_\beta = \frac1\beta\log\mathbb E_q e^{\beta R}`.
    ``beta``, ``gamma`` and the reference (w_ref, μo_ref, μn_ref) broadcast against the
    leading axes. ``grad`` replaces the ascent direction (finite
    batch). ``free`` freezes coordinates. u is clipped to [−600, 30] (w a positive double < 1).
    """
    st = np.asarray(state, dtype=np.float64)
    if grad is None:
        b = np.broadcast_to(np.asarray(beta, dtype=np.float64), st.shape[:-1])
        g = entropic_grad(st[..., 0], st[..., 1], st[..., 2], beta=b, m=m, sigma=sigma)
        if scale == "log":
            g = g * b[..., None]
        gam = np.broadcast_to(np.asarray(gamma, dtype=np.float64), st.shape[:-1])
        if np.any(gam > 0.0):
            wv = expit(st[..., 0])
            k = rkl_grad(wv, st[..., 1], st[..., 2], alpha=ref[0], target_old=ref[1],
                         target_new=ref[2], sigma=sigma)
            k = np.concatenate([(wv * (1.0 - wv) * k[..., 0])[..., None], k[..., 1:]], axis=-1)
            g = g - gam[..., None] * k
    else:
        g = np.asarray(grad, dtype=np.float64)
    new = st + eta * g * np.asarray(free, dtype=np.float64)
    new[..., 0] = np.clip(new[..., 0], _U_MIN, _U_MAX)
    if not np.all(np.isfinite(new)) or np.any(np.abs(new[..., 1:]) > _MU_MAX * sigma):
        raise ParameterError(f"eta={eta!r}: the TTT-Discover map diverged (|mean| > "
                             f"{_MU_MAX:g} sigma); the mean steps are stable for "
                             "eta (gamma + 1/(1 + beta sigma^2)) < 2")
    return new


def trajectory(state0: Any, steps: int, *, m: float, ref: tuple[Any, Any, Any],
               beta: Any = 1.0, eps: Any = 0.0, gamma: Any = 0.0, eta: float = 0.5,
               sigma: float = 1.0, scale: str = "entropic",
               free: tuple[bool, bool, bool] = (True, True, True)
               ) -> tuple[np.ndarray, np.ndarray]:
    """Iterate the population map; returns (states (steps+1, ..., 3), betas (steps, ...)).

    ``state0`` (..., 3) in (u, μo, μn); vectorised over leading axes (a parameter grid: pass
    ``beta``/``gamma``/``eps`` of the leading shape). With ``eps > 0`` (every entry) β is
    adaptive, solved per element and step; ``eps = 0`` uses the fixed ``beta``.
    """
    steps = check_count("steps", steps)
    st = np.array(state0, dtype=np.float64)
    lead = st.shape[:-1]
    states = np.empty((steps + 1, *st.shape))
    betas = np.empty((steps, *lead))
    states[0] = st
    fixed = np.broadcast_to(np.asarray(beta, dtype=np.float64), lead)
    e = np.asarray(eps, dtype=np.float64)
    adaptive = bool(np.any(e != 0.0))
    if adaptive:
        V.positive("eps", e)
    b = None
    for t in range(steps):
        report_steps(t, steps)
        if adaptive:
            b = adaptive_beta_vec(st[..., 0], st[..., 1], st[..., 2], eps=eps, m=m,
                                  sigma=sigma, guess=b)
        else:
            b = fixed
        betas[t] = b
        st = tttd_step(st, beta=b, gamma=gamma, eta=eta, m=m, ref=ref, sigma=sigma,
                       scale=scale, free=free)
        states[t + 1] = st
    return states, betas


def batch_gradient(rng: np.random.Generator, state: np.ndarray, batch: int, *, beta: float,
                   eps: float, gamma: float, m: float, ref: tuple[float, float, float],
                   sigma: float = 1.0, scale: str = "entropic") -> tuple[np.ndarray, float]:
    r"""Finite-batch ascent direction in (u, μo, μn) and the β used.

    x_i ∼ q_θ (B draws), :math:`a = \operatorname{softmax}(\beta R)`;
    :math:`\hat g = c\sum_i(a_i - \tfrac1B)\nabla\log q(x_i)
    - \gamma\frac1B\sum_i\nabla\log q(x_i)\log\frac{q}{q_{\rm ref}}(x_i)`, then the w-entry is
    multiplied by w(1−w) (chain rule to u); c = 1/β (entropic) or 1 (log). β = ``beta``, or the
    per-batch adaptive rule :func:`batch_beta` when ``eps > 0``.
    """
    u_, mo, mn = (float(v) for v in state)
    wv = float(expit(u_))
    xs, _ = sample_mixture(rng, batch, wv, mo, mn, sigma)
    rew = -0.5 * (xs - m) ** 2
    b = batch_beta(rew, eps) if eps > 0.0 else float(beta)
    a = softmax(b * (rew - rew.max()))
    sc = np.stack([np.broadcast_to(np.asarray(o, dtype=np.float64), xs.shape)
                   for o in _score_fn()(xs, wv, mo, mn, sigma)], axis=-1)
    c = 1.0 / b if scale == "entropic" else 1.0
    g = c * ((a - 1.0 / batch)[:, None] * sc).sum(axis=0)
    if gamma > 0.0:
        h = score_terms(xs, wv, mo, mn, alpha=ref[0], target_old=ref[1], target_new=ref[2],
                        sigma=sigma)
        g = g - gamma * h.mean(axis=0)
    g[0] *= wv * (1.0 - wv)
    return g, b


def _record_index(steps: int) -> np.ndarray:
    return np.unique(np.linspace(0, steps, min(steps + 1, _MAX_RECORDS + 1)).round().astype(int))


def run(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
        **params: Any) -> MethodRun:
    """Run TTT-Discover on ``problem`` (population map, or finite batches of size ``batch``).

    Reward R(x) = −(x − μn*)²/2; the reference is the initial model (or p*). Records ≤ 501
    steps (first and last included); ``extra["beta"]`` holds β at the recorded steps.
    """
    require_equal_scales(problem, NAME)
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise ParameterError(f"unknown tttd parameter(s): {', '.join(sorted(unknown))}; "
                             f"allowed: {', '.join(PARAMS)}")
    p = check_params(**params)
    steps = check_count("steps", steps)
    w0, mo0, mn0 = problem.theta0
    ref = _reference(problem, p["reference"])
    m, sg = problem.mu_new_star, problem.sigma
    st = np.array([logit(w0), mo0, mn0], dtype=np.float64)
    keep = set(_record_index(steps).tolist())
    rec, beta_rec = [st.copy()], []
    rng = np.random.default_rng(seed) if batch is not None else None
    if batch is not None:
        batch = check_batch(batch)
    for t in range(steps):
        report_steps(t, steps)
        if batch is None:
            b = (adaptive_beta(st[0], st[1], st[2], eps=p["eps"], m=m, sigma=sg)
                 if p["eps"] > 0.0 else p["beta"])
            st = tttd_step(st, beta=b, gamma=p["gamma"], eta=p["eta"], m=m, ref=ref, sigma=sg,
                           scale=p["scale"])
        else:
            g, b = batch_gradient(rng, st, batch, beta=p["beta"], eps=p["eps"],
                                  gamma=p["gamma"], m=m, ref=ref, sigma=sg, scale=p["scale"])
            st = tttd_step(st, beta=b, gamma=0.0, eta=p["eta"], m=m, ref=ref, sigma=sg,
                           grad=g)
        if t + 1 in keep:
            rec.append(st.copy())
            beta_rec.append(b)
    arr = np.array(rec)
    idx = np.array(sorted(keep))
    sig = np.full(len(idx), sg)
    return MethodRun(NAME, problem, {**p, "batch": batch, "steps": steps, "seed": seed},
                     idx, expit(arr[:, 0]), arr[:, 1], arr[:, 2], sig, sig,
                     extra={"beta": [float(v) for v in beta_rec]})
