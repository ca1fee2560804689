r"""TTT-Discover (arXiv 2601.16175) as an update map on the two-mode mixture (CLAIMS.md §5).

TTT-Discover runs reinforcement learning at test time on one problem. Its objective is
:math:`J_\beta(\theta) = \log\mathbb E_{a\sim\pi_\theta}[e^{\beta R(a)}]` (no 1/β in front),
optimised through the leave-one-out advantages :math:`A_i = e^{\beta r_i}/Z_{-i} - 1` of a
group of rollouts, with β solved per group so that KL(softmax(βr) ‖ uniform) = ln 2, and an
optional KL penalty λ towards the base model (reference default λ = 0). On the two-mode problem
symforget maximises

.. math::
   J(\theta) = c\,\log\mathbb E_{q_\theta}[e^{\beta R}]
   - \lambda\,\mathrm{KL}(q_\theta\Vert q_{\rm ref}),
   \qquad R(x) = -\tfrac12(x - \mu_n^*)^2,

with :math:`c = 1` (``objective="log"``, the paper's; default) or :math:`c = 1/\beta`
(``objective="entropic"``, the scale :math:`\frac1\beta\log\mathbb E e^{\beta R}` symforget
used by default before issue 15). The parameter names of :data:`PARAMS` follow the paper and
the reference code (``kl_budget`` = the ln 2 of ``entropic_adaptive_beta``, ``kl_coef`` = λ =
``kl_penalty_coef``, ``group_size``); the lower-level functions below keep the short internal
names ``eps`` (= kl_budget), ``gamma`` (= kl_coef) and ``scale`` (= objective). The reward
R is symforget's own (a quadratic pull to the new mean; the paper's rewards are task scores).
On the mixture :math:`q_\theta = w\varphi_{\mu_o} + (1-w)\varphi_{\mu_n}` (equal variances σ²)
one step is gradient ascent in the network coordinates :math:`(u = \operatorname{logit} w,
\mu_o, \mu_n)`:

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

Finite batch (``batch=B``, a multiple of ``group_size`` G): B/G groups of G draws x ∼ q_θ;
per group β (fixed, or the reference's bisection rule at ``kl_budget``) and leave-one-out
advantages; the KL penalty is added to the advantages as
:math:`-\lambda(\ell_i - \bar\ell)`, :math:`\ell_i = \log\frac{q}{q_{\rm ref}}(x_i)` centred on
its batch mean (as the reference code does);
:math:`\hat g = \frac1B\sum_i(cA_i - \lambda(\ell_i - \bar\ell))\nabla\log q(x_i)`
(:func:`batch_gradient`). A group with no old-component draw gives the old mean no gradient
(old-mode starvation; :func:`run` records how often it happens).

Five-parameter runs (a :class:`~symforget.training.stepping.Stepping`, an overlap grid or
per-component scales; :class:`FiveDirection`): the same objective on θ = (w, μo, σo, μn, σn),
:math:`Z_c = (1+\beta\sigma_c^2)^{-1/2}e^{-\beta(\mu_c-m)^2/(2(1+\beta\sigma_c^2))}`
(:func:`log_e5`, :func:`grad_log_e5`, :func:`adaptive_beta5`), the KL penalty with the scales of
q_θ and q_ref; finite batches: :func:`five_batch_gradient`. With learned scales and no KL
penalty the objective rewards concentrating on the reward's maximum (σn → 0 while the adaptive β
grows), so plain steps leave the positive scales unless a scale floor or a KL penalty holds them.

PUCT reuse buffer: not modelled. In TTT-Discover the buffer chooses the *initial state* (a past
solution) a rollout continues from; the two-mode abstraction has one-shot actions x with no state
to continue from. Modelled as sampling from a mixture of current and past policies, it changes
nothing at the population level when importance-weighted (the expectation is the same) and
only the variance/bias of finite batches otherwise — see CLAIMS.md §4 (replay) for that effect.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logit, logsumexp, softmax

from ..errors import ParameterError
from ..model import rkl_grad
from ..numeric import validate as V
from ..numeric.compile import compile_exprs
from ..numeric.progress import report_steps
from ..symbolic import mixture
from ..symbolic import tttd as T
from ..symbolic.symbols import mu_n, mu_o, sigma, w, x
from ..training.sampling import check_batch, check_count, log_q, sample_mixture
from .base import MethodRun, Problem, renamed_hint

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "SCALES", "REFERENCES", "check_params",
           "entropic_grad", "log_z", "tilt_kl", "adaptive_beta", "adaptive_beta_vec",
           "batch_beta", "loo_advantages", "tttd_step",
           "trajectory", "batch_gradient", "run", "log_e5", "grad_log_e5", "tilt_kl5",
           "adaptive_beta5", "five_batch_gradient", "batch_beta_groups", "FiveDirection",
           "five_direction"]

NAME = "tttd"
DESCRIPTION = ("TTT-Discover: log E[exp(beta R)] - kl_coef KL(q||q_0) (objective=log, the "
               "paper's), beta adaptive per group at KL budget ln 2, leave-one-out group "
               "advantages")
#: the defaults and where they come from (TTT-Discover reference code, test-time-training/discover
#: at 96df74f): objective log = the gradient of the advantages e^{beta r}/Z_{-i} - 1
#: (tinker_cookbook/rl/train.py:73-121); kl_budget ln 2 (rl/train.py:74, selected by
#: adv_estimator=entropic_adaptive_beta in docs/launching.md:30); beta 2.0 (rl/train.py:428,
#: recipes/ttt/train.py:44); kl_coef 0 (rl/train.py:430, recipes/ttt/train.py:42, "lambda in
#: paper" docs/launching.md:59); group_size 8 (recipes/ttt/train.py:36); reference initial
#: (the base model, rl/train.py:1001). eta is symforget's own (a step on the mixture
#: parameters; the reference uses Adam at 4e-5 on LoRA weights).
PARAMS: dict[str, tuple[type, Any, str]] = {
    "objective": (str, "log", "objective scale: log (log E e^{beta R}, the paper's J_beta, "
                              "advantages e^{beta r}/Z - 1) or entropic ((1/beta) log E "
                              "e^{beta R}, symforget's earlier default)"),
    "kl_budget": (float, 0.6931471805599453,
                  "KL budget (reference: ln 2) >= 0; > 0: beta adaptive with "
                  "KL(q_beta||q) = kl_budget (population) or KL(softmax(beta r)||uniform) = "
                  "kl_budget per group (batch; needs kl_budget < ln group_size); 0: fixed beta"),
    "beta": (float, 2.0, "fixed inverse temperature beta > 0, used when kl_budget = 0 "
                         "(reference adv_estimator_beta)"),
    "kl_coef": (float, 0.0, "lambda >= 0: weight of the KL penalty towards the reference "
                            "(reference kl_penalty_coef)"),
    "group_size": (int, 8, "rollouts per group G >= 2 (finite batches: batch = groups x G, "
                           "leave-one-out advantages and beta per group)"),
    "eta": (float, 0.5, "step size eta > 0 on (logit w, mu_old, mu_new) (symforget's own; "
                        "stable for eta (kl_coef + c/(1 + beta sigma^2)) < 2, c = beta (log) "
                        "or 1 (entropic); with learned scales sigma is the current sigma_c)"),
    "reference": (str, "initial", "KL reference: initial (q at step 0, the base model) or "
                                  "target (p*, symforget's own)"),
}
#: parameters renamed in issue 15 (old name → new name), named in the error for an old name
RENAMED: dict[str, str] = {"eps": "kl_budget", "gamma": "kl_coef", "scale": "objective"}
SCALES = ("entropic", "log")
REFERENCES = ("initial", "target")
#: logit clip (documented, never silent): w = expit(u) stays a positive double below 1
_U_MIN, _U_MAX = -600.0, 30.0
_BETA_MAX = 1e12
_MU_MAX = 1e6
_MAX_RECORDS = 500


def check_params(objective: Any = PARAMS["objective"][1],
                 kl_budget: Any = PARAMS["kl_budget"][1], beta: Any = PARAMS["beta"][1],
                 kl_coef: Any = PARAMS["kl_coef"][1], group_size: Any = PARAMS["group_size"][1],
                 eta: Any = PARAMS["eta"][1],
                 reference: Any = PARAMS["reference"][1]) -> dict[str, Any]:
    """Validate the TTT-Discover parameters (ParameterError naming the parameter and range).

    The defaults are :data:`PARAMS`' (the one source of defaults)."""
    out: dict[str, Any] = {}
    if objective not in SCALES:
        raise ParameterError(f"objective={objective!r} must be one of {', '.join(SCALES)}")
    out["objective"] = objective
    out["kl_budget"] = float(V.nonnegative("kl_budget", kl_budget).reshape(()))
    out["beta"] = float(V.positive("beta", beta).reshape(()))
    out["kl_coef"] = float(V.nonnegative("kl_coef", kl_coef).reshape(()))
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)) \
            or group_size < 2:
        raise ParameterError(f"group_size={group_size!r} must be an integer >= 2 (leave-one-out "
                             "advantages need two rollouts per group)")
    out["group_size"] = int(group_size)
    out["eta"] = float(V.positive("eta", eta).reshape(()))
    if reference not in REFERENCES:
        raise ParameterError(f"reference={reference!r} must be one of {', '.join(REFERENCES)}")
    out["reference"] = reference
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


def loo_advantages(rewards: Any, beta: Any) -> np.ndarray:
    r"""Leave-one-out entropic advantages of one group (last axis), TTT-Discover's estimator.

    .. math::
       A_i = \frac{e^{\beta r_i}}{Z_{-i}} - 1,\qquad
       Z_{-i} = \frac{1}{G-1}\sum_{j\ne i} e^{\beta r_j},

    formed in log space (rewards shifted by their maximum) in O(G) per group: with
    :math:`e_j = e^{\beta(r_j - \max r)} \le 1` and :math:`S = \sum_j e_j \ge 1`,
    :math:`\sum_{j\ne i} e_j = S - e_i \ge 1` for every i but the group's argmax (rounding error
    ≤ G·eps relative), and the argmax's sum of the others by a log-sum-exp of its own (no
    cancellation when it dominates). Z_{−i} does not contain r_i, so
    :math:`\mathbb E[A_i\nabla\log q(x_i)] = \mathbb E[e^{\beta R}\nabla\log q]\,
    \mathbb E[1/Z_{-i}]`: the direction of :math:`\nabla\log\mathbb E_q e^{\beta R}` with
    a positive factor that tends to :math:`1/\mathbb E e^{\beta R}` as G grows. Unlike the
    self-normalised advantages :math:`e^{\beta r_i}/\bar e - 1`, the A_i do **not** sum to
    zero in a group (e.g. e^{βr} = (1, ½, ½) gives (1, −⅓, −⅓)); they are all zero when the
    rewards are equal and each is > −1. ``beta`` broadcasts against the leading axes.
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim < 1 or r.shape[-1] < 2:
        raise ParameterError("loo_advantages: a group needs at least two rewards")
    g = r.shape[-1]
    b = np.asarray(beta, dtype=np.float64)[..., None]
    z = b * (r - r.max(axis=-1, keepdims=True))
    e = np.exp(z)
    with np.errstate(divide="ignore"):  # the argmax's entry is replaced below
        log_zmi = np.log(e.sum(axis=-1, keepdims=True) - e)
    top = np.argmax(z, axis=-1)[..., None]
    rest = z.copy()
    np.put_along_axis(rest, top, -np.inf, axis=-1)
    np.put_along_axis(log_zmi, top, logsumexp(rest, axis=-1, keepdims=True), axis=-1)
    log_zmi = log_zmi - np.log(g - 1.0)
    with np.errstate(over="ignore"):  # an overflow is refused below, with its cause
        adv = np.expm1(z - log_zmi)
    if not np.all(np.isfinite(adv)):
        raise ParameterError(f"beta={float(np.max(b)):g}: leave-one-out advantages overflow "
                             "(one reward dominates its group by more than ~700/beta); lower "
                             "beta, the step size, or use kl_budget > 0")
    return adv


def batch_gradient(rng: np.random.Generator, state: np.ndarray, batch: int, *, beta: float,
                   eps: float, gamma: float, m: float, ref: tuple[float, float, float],
                   sigma: float = 1.0, scale: str = "log", group_size: int | None = None
                   ) -> tuple[np.ndarray, float, int, int]:
    r"""Finite-batch ascent direction in (u, μo, μn), TTT-Discover's estimator.

    ``batch`` = n_g · G draws x ∼ q_θ (G = ``group_size``, default one group of ``batch``). In
    each group k: β_k = ``beta``, or with ``eps`` > 0 the reference's per-group rule
    :math:`\mathrm{KL}(\operatorname{softmax}(\beta r)\Vert\mathrm{uniform}) = \varepsilon`
    (:func:`batch_beta`); leave-one-out advantages A_i (:func:`loo_advantages`); the KL
    penalty enters the advantage as in the reference code (``incorporate_kl_penalty``,
    ``tinker_cookbook/rl/metrics.py``: the log-ratio centred on its batch mean),
    :math:`A_i \leftarrow c_k A_i - \gamma(\ell_i - \bar\ell)`,
    :math:`\ell_i = \log\frac{q}{q_{\rm ref}}(x_i)`, and

    .. math::
       \hat g = \frac1B\sum_i \big(c_k A_i - \gamma(\ell_i - \bar\ell)\big)
       \nabla\log q(x_i),

    c_k = 1 (objective log) or 1/β_k (entropic); the w-entry is then multiplied by w(1−w)
    (chain rule to u). Returns (ĝ, mean β over groups, number of groups without an
    old-component draw, number of old-component draws).
    """
    u_, mo, mn = (float(v) for v in state)
    wv = float(expit(u_))
    gs = batch if group_size is None else int(group_size)
    if batch % gs:
        raise ParameterError(f"batch={batch} must be a multiple of group_size={gs}")
    xs, old = sample_mixture(rng, batch, wv, mo, mn, sigma)
    rew = (-0.5 * (xs - m) ** 2).reshape(-1, gs)
    if eps > 0.0:
        bs = np.array([batch_beta(rg, eps) for rg in rew])
    else:
        bs = np.full(rew.shape[0], float(beta))
    adv = loo_advantages(rew, bs)
    if scale == "entropic":
        adv = adv / bs[:, None]
    coef = adv.reshape(-1)
    if gamma > 0.0:
        lr = log_q(xs, wv, mo, mn, sigma) - log_q(xs, ref[0], ref[1], ref[2], sigma)
        coef = coef - gamma * (lr - lr.mean())  # the reference centres it on the batch mean
    sc = np.stack([np.broadcast_to(np.asarray(o, dtype=np.float64), xs.shape)
                   for o in _score_fn()(xs, wv, mo, mn, sigma)], axis=-1)
    g = (coef[:, None] * sc).mean(axis=0)
    g[0] *= wv * (1.0 - wv)
    starved = int(np.sum(~old.reshape(-1, gs).any(axis=1)))
    return g, float(bs.mean()), starved, int(old.sum())


# --------------------------------------------------------------------------------------------
# five-parameter runs: θ = (w, μo, σo, μn, σn), each component with its own scale


def _tilt_parts(state: np.ndarray, beta: float, m: float
                ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(log E, tilted responsibilities r_c = w_c Z_c/E, d_c = μ_c − m, s_c, a_c = 1 + βs_c²)."""
    th = np.asarray(state, dtype=np.float64)
    d = np.array([th[1] - m, th[3] - m])
    s = np.array([th[2], th[4]])
    a = 1.0 + beta * s * s
    lz = np.array([math.log(th[0]), math.log1p(-th[0])]) - 0.5 * np.log(a) - beta * d * d / (2 * a)
    le = float(np.logaddexp(lz[0], lz[1]))
    return le, np.exp(lz - le), d, s, a


def log_e5(state: Any, *, beta: float, m: float) -> float:
    r""":math:`\log\mathbb E_q[e^{\beta R}]`, R(x) = −(x − m)²/2, for
    :math:`q = wN(\mu_o,\sigma_o^2) + (1-w)N(\mu_n,\sigma_n^2)`:
    :math:`\log(wZ_o + (1-w)Z_n)`, :math:`Z_c = (1+\beta\sigma_c^2)^{-1/2}
    e^{-\beta(\mu_c-m)^2/(2(1+\beta\sigma_c^2))}` (σ_c = σ: :func:`log_z`)."""
    return _tilt_parts(np.asarray(state, dtype=np.float64), float(beta), float(m))[0]


def grad_log_e5(state: Any, *, beta: float, m: float) -> np.ndarray:
    r""":math:`\nabla_\theta\log\mathbb E_q[e^{\beta R}]` in θ = (w, μo, σo, μn, σn), (5,).

    With a_c = 1 + βσ_c², d_c = μ_c − m and the tilted responsibilities r_c = w_c Z_c/E:
    :math:`\partial_w = r_o/w - r_n/(1-w)`, :math:`\partial_{\mu_c} = -r_c\beta d_c/a_c`,
    :math:`\partial_{\sigma_c} = r_c\,\partial_{\sigma_c}\log Z_c
    = r_c\,\beta\sigma_c(\beta d_c^2 - a_c)/a_c^2` (the −βσ_c/a_c of the normaliser and the
    +β²σ_c d_c²/a_c² of the exponent)."""
    th = np.asarray(state, dtype=np.float64)
    _, r, d, s, a = _tilt_parts(th, float(beta), float(m))
    ds = r * beta * s * (beta * d * d - a) / (a * a)
    dm = -r * beta * d / a
    return np.array([r[0] / th[0] - r[1] / (1.0 - th[0]), dm[0], ds[0], dm[1], ds[1]])


def tilt_kl5(state: Any, *, beta: float, m: float) -> float:
    r""":math:`\mathrm{KL}(q_\beta\Vert q) = \beta\,\partial_\beta\log E - \log E` on the
    five-parameter state, :math:`\partial_\beta\log E = \sum_c r_c\,\partial_\beta\log Z_c`,
    :math:`\partial_\beta\log Z_c = -\sigma_c^2/(2a_c) - d_c^2/(2a_c^2)` (σ_c = σ:
    :func:`tilt_kl`)."""
    le, r, d, s, a = _tilt_parts(np.asarray(state, dtype=np.float64), float(beta), float(m))
    dle = float(np.sum(r * (-s * s / (2 * a) - d * d / (2 * a * a))))
    return beta * dle - le


def adaptive_beta5(state: Any, *, eps: float, m: float) -> float:
    r"""The β with :math:`\mathrm{KL}(q_\beta\Vert q_\theta) = \varepsilon` on the
    five-parameter state (:func:`adaptive_beta` with component scales; same bracket and
    solver)."""
    th = np.asarray(state, dtype=np.float64)

    def f(b: float) -> float:
        return 0.0 if b == 0.0 else tilt_kl5(th, beta=b, m=m)

    return _root(f, float(eps), "KL(q_beta || q)")


def batch_beta_groups(rewards: np.ndarray, eps: float, iters: int = 80) -> np.ndarray:
    r""":func:`batch_beta` for every row (group) of ``rewards`` (n_g, G) at once: per row the β
    with :math:`\mathrm{KL}(\operatorname{softmax}(\beta r)\Vert\mathrm{uniform}) =
    \varepsilon` (the KL increases in β from 0). Bracket [0, hi], hi the first of 1, 4, 16, …
    reaching ε (ParameterError beyond 1e12, as :func:`batch_beta`), then ``iters`` bisections
    (80: width 2⁻⁸⁰·hi, relative precision below 1e-16 for β ≥ hi/4)."""
    r = np.asarray(rewards, dtype=np.float64)
    g = r.shape[-1]
    if eps >= math.log(g):
        raise ParameterError(f"eps={eps!r} must be < log(group size) = {math.log(g):.4g}")
    rc = r - r.max(axis=-1, keepdims=True)

    def f(b: np.ndarray) -> np.ndarray:
        z = b[:, None] * rc
        la = z - logsumexp(z, axis=-1, keepdims=True)
        return np.sum(np.exp(la) * (la + math.log(g)), axis=-1)

    hi = np.ones(r.shape[0])
    while True:
        low = f(hi) < eps
        if not np.any(low):
            break
        if np.any(hi[low] * 4.0 > _BETA_MAX):
            raise ParameterError(f"eps={eps!r} cannot be reached: KL(softmax(beta R) || uniform) "
                                 f"< eps for every beta <= {_BETA_MAX:g} (choose a smaller eps)")
        hi = np.where(low, hi * 4.0, hi)
    lo = np.zeros_like(hi)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        below = f(mid) < eps
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def five_batch_gradient(rng: np.random.Generator, state: np.ndarray, batch: int, *,
                        beta: float, eps: float, gamma: float, m: float, ref: np.ndarray,
                        scale: str = "log", group_size: int | None = None
                        ) -> tuple[np.ndarray, float, int, int]:
    r"""TTT-Discover's finite-batch estimator (:func:`batch_gradient`) on the five-parameter
    state: B = n_g·G draws x ∼ q_θ (component by w, then μ_c + σ_c ε; the draws of
    :func:`batch_gradient` for equal scales), per-group β and leave-one-out advantages, the
    KL penalty −γ(ℓ_i − ℓ̄), ℓ = log(q/q_ref) with the reference's own scales, and

    .. math:: \hat g = -\frac1B\sum_i\big(c_kA_i - \gamma(\ell_i-\bar\ell)\big)
              \nabla_\theta\log q(x_i)

    (a *descent* direction in θ = (w, μo, σo, μn, σn)). Returns (ĝ, mean β, groups without an
    old-component draw, old-component draws)."""
    from ..training.estimators import _log_q, score5

    th = np.asarray(state, dtype=np.float64)
    gs = batch if group_size is None else int(group_size)
    if batch % gs:
        raise ParameterError(f"batch={batch} must be a multiple of group_size={gs}")
    old = rng.random(batch) < th[0]
    xs = np.where(old, th[1], th[3]) + np.where(old, th[2], th[4]) * rng.standard_normal(batch)
    rew = (-0.5 * (xs - m) ** 2).reshape(-1, gs)
    bs = batch_beta_groups(rew, eps) if eps > 0.0 else np.full(rew.shape[0], float(beta))
    adv = loo_advantages(rew, bs)
    if scale == "entropic":
        adv = adv / bs[:, None]
    coef = adv.reshape(-1)
    if gamma > 0.0:
        lr = _log_q(xs, th)[0] - _log_q(xs, np.asarray(ref, dtype=np.float64))[0]
        coef = coef - gamma * (lr - lr.mean())
    g = -(coef[:, None] * score5(xs, th)).mean(axis=0)
    starved = int(np.sum(~old.reshape(-1, gs).any(axis=1)))
    return g, float(bs.mean()), starved, int(old.sum())


class FiveDirection:
    r"""TTT-Discover's descent direction on θ = (w, μo, σo, μn, σn)
    (:class:`symforget.training.runs.Direction`): the exact one is

    .. math:: -\nabla_\theta\big[c\log\mathbb E_q e^{\beta R}
              - \lambda\,\mathrm{KL}(q_\theta\Vert q_{\rm ref})\big],

    c = 1 (objective log) or 1/β (entropic), β adaptive (:func:`adaptive_beta5`) or fixed,
    the KL gradient :func:`symforget.model.rkl_grad` with the scales of q_θ and of q_ref (the
    initial five-parameter student, or p* with its component scales); with a batch,
    :func:`five_batch_gradient`. Records β per step and the starved groups/batches."""

    def __init__(self, problem: Problem, p: dict[str, Any], batch: int | None,
                 name: str) -> None:
        from ..training.estimators import Target

        self.problem, self.p, self.batch = problem, p, batch
        self.name, self.eta = name, p["eta"]
        self.expected: list[np.ndarray] = []
        self.betas: list[float] = []
        self.starved_groups = self.starved_batches = 0
        ref = (np.array(problem.state0) if p["reference"] == "initial" else
               np.array([problem.alpha, problem.mu_old_star, problem.scales[0],
                         problem.mu_new_star, problem.scales[1]]))
        self.ref = ref
        self.ref_target = Target(*(float(v) for v in ref))

    def exact(self, th: np.ndarray, b: float) -> np.ndarray:
        """The exact descent direction at θ with inverse temperature b."""
        from ..training.estimators import rkl_exact

        p = self.p
        c = 1.0 if p["objective"] == "log" else 1.0 / b
        g = -c * grad_log_e5(th, beta=b, m=self.problem.mu_new_star)
        if p["kl_coef"] > 0.0:
            g = g + p["kl_coef"] * rkl_exact(th, self.ref_target)
        return g

    def __call__(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        th = np.asarray(state, dtype=np.float64)
        p, m = self.p, self.problem.mu_new_star
        from ..training.runs import expected_direction

        if self.batch is None:
            b = (adaptive_beta5(th, eps=p["kl_budget"], m=m) if p["kl_budget"] > 0.0
                 else p["beta"])
            exact = self.exact(th, b)
            self.expected.append(exact)
            self.betas.append(float(b))
            return exact
        self.expected.append(expected_direction(lambda: self.exact(
            th, adaptive_beta5(th, eps=p["kl_budget"], m=m) if p["kl_budget"] > 0.0
            else p["beta"]), True))
        g, bm, ns, n_old = five_batch_gradient(
            rng, th, self.batch, beta=p["beta"], eps=p["kl_budget"], gamma=p["kl_coef"], m=m,
            ref=self.ref, scale=p["objective"], group_size=p["group_size"])
        self.betas.append(bm)
        self.starved_groups += ns
        self.starved_batches += n_old == 0
        return g


def five_direction(problem: Problem, p: dict[str, Any], *, batch: int | None,
                   estimator: str | None = None) -> FiveDirection:
    """The :class:`FiveDirection` of validated parameters ``p`` (:func:`check_params`); its
    finite-batch estimator is the leave-one-out group estimator (``loo``)."""
    from ..training.runs import direction_estimator

    name = direction_estimator(NAME, batch, estimator, "loo", "group_size and kl_budget")
    return FiveDirection(problem, p, batch, name)


def _record_index(steps: int) -> np.ndarray:
    return np.unique(np.linspace(0, steps, min(steps + 1, _MAX_RECORDS + 1)).round().astype(int))


def run(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
        stepping: Any = None, grid: tuple[float, float, int] | None = None,
        estimator: str | None = None, **params: Any) -> MethodRun:
    r"""Run TTT-Discover on ``problem`` (population map, or finite batches of size ``batch``).

    Parameters and defaults: :data:`PARAMS` (the one source of defaults, shared with the
    command line). Reward R(x) = −(x − μn*)²/2 (symforget's own: the two-mode problem has no
    verifiable reward); the KL reference is the initial model (or p*). The population map is
    gradient ascent on :math:`c\log\mathbb E_q e^{\beta R} - \lambda\mathrm{KL}(q\Vert
    q_{\rm ref})` (c = 1 for objective log, 1/β for entropic) with β adaptive at
    KL(q_β‖q) = kl_budget; a finite batch of B = n_g · group_size draws uses the reference's
    per-group β and leave-one-out advantages (:func:`batch_gradient`).

    Records ≤ 501 steps (first and last included); ``extra["beta"]`` holds β (mean over the
    groups of a batch) at the recorded steps; finite batches also record
    ``extra["starved_group_fraction"]`` (groups without an old-component draw: their
    advantages cannot touch the old mean) and ``extra["starved_batch_fraction"]``.

    With ``stepping`` (a :class:`symforget.training.stepping.Stepping`), an overlap ``grid``,
    ``estimator="exact"`` or a problem with component scales: the five-parameter run
    (:class:`FiveDirection` through :func:`symforget.training.runs.run_direction`).
    """
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise ParameterError(f"unknown tttd parameter(s): {', '.join(sorted(unknown))}; "
                             f"allowed: {', '.join(PARAMS)}{renamed_hint(unknown, RENAMED)}")
    p = check_params(**params)
    steps = check_count("steps", steps)
    if batch is not None:
        batch = check_batch(batch)
        if batch % p["group_size"]:
            raise ParameterError(f"batch={batch} must be a multiple of group_size="
                                 f"{p['group_size']} (TTT-Discover draws whole groups)")
        if p["kl_budget"] > 0.0 and p["kl_budget"] >= math.log(p["group_size"]):
            raise ParameterError(f"kl_budget={p['kl_budget']!r} must be < ln(group_size) = "
                                 f"{math.log(p['group_size']):.4g} (KL of a group "
                                 "reweighting to uniform is at most ln G)")
    from .sft import states_run, wants_five

    if wants_five(problem, stepping, grid, estimator):
        from ..training.runs import run_direction

        direction = five_direction(problem, p, batch=batch, estimator=estimator)
        states, report = run_direction(NAME, problem, direction, steps=steps, seed=seed,
                                       stepping=stepping, grid=grid)
        extra5: dict[str, Any] = {"beta": direction.betas}
        if batch is not None and steps > 0:
            extra5["starved_group_fraction"] = (direction.starved_groups
                                                / (steps * (batch // p["group_size"])))
            extra5["starved_batch_fraction"] = direction.starved_batches / steps
        return states_run(NAME, problem, {**p, "batch": batch, "steps": steps, "seed": seed},
                          states, report, extra5)
    w0, mo0, mn0 = problem.theta0
    ref = _reference(problem, p["reference"])
    m, sg = problem.mu_new_star, problem.sigma
    st = np.array([logit(w0), mo0, mn0], dtype=np.float64)
    keep = set(_record_index(steps).tolist())
    rec, beta_rec = [st.copy()], []
    rng = np.random.default_rng(seed) if batch is not None else None
    starved_groups = starved_batches = 0
    for t in range(steps):
        report_steps(t, steps)
        if batch is None:
            b = (adaptive_beta(st[0], st[1], st[2], eps=p["kl_budget"], m=m, sigma=sg)
                 if p["kl_budget"] > 0.0 else p["beta"])
            st = tttd_step(st, beta=b, gamma=p["kl_coef"], eta=p["eta"], m=m, ref=ref,
                           sigma=sg, scale=p["objective"])
        else:
            g, b, ns, n_old = batch_gradient(rng, st, batch, beta=p["beta"], eps=p["kl_budget"],
                                             gamma=p["kl_coef"], m=m, ref=ref, sigma=sg,
                                             scale=p["objective"], group_size=p["group_size"])
            starved_groups += ns
            starved_batches += n_old == 0
            st = tttd_step(st, beta=b, gamma=0.0, eta=p["eta"], m=m, ref=ref, sigma=sg,
                           grad=g)
        if t + 1 in keep:
            rec.append(st.copy())
            beta_rec.append(b)
    arr = np.array(rec)
    idx = np.array(sorted(keep))
    sig = np.full(len(idx), sg)
    extra: dict[str, Any] = {"beta": [float(v) for v in beta_rec]}
    if batch is not None and steps > 0:
        extra["starved_group_fraction"] = starved_groups / (steps * (batch // p["group_size"]))
        extra["starved_batch_fraction"] = starved_batches / steps
    return MethodRun(NAME, problem, {**p, "batch": batch, "steps": steps, "seed": seed},
                     idx, expit(arr[:, 0]), arr[:, 1], arr[:, 2], sig, sig, extra=extra)
