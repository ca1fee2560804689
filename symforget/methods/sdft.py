r"""SDFT — self-distillation fine-tuning (arXiv 2601.19897) as an update map (CLAIMS.md §5).

The student samples on-policy and minimises a KL (reverse by default, SDFT's loss) to a teacher
that is the same model conditioned on a demonstration, with EMA-averaged weights ϑ. The two-mode
problem has no prompts or demonstrations, so the teacher is a modelling choice, named by
``teacher`` (:data:`PARAMS`):

* ``"tilt"`` (default): :math:`T_t\propto q_{\vartheta_t}e^{\kappa R}`, R the new task's
  log-density (:func:`tilt_teacher`) — SDFT's own justification (the demonstration-conditioned
  model approximates the trust-region step :math:`\pi_{k+1}\propto\pi_k e^{r/\beta}`); the
  reward R and its strength κ (``tilt_strength``) are symforget's assumptions;
* ``"anchored"``: :math:`T_t = (1-\lambda)\,q_{\vartheta_t} + \lambda A` (the abstraction the
  analysis paper appears to use; λ = ``anchor_weight`` and A = ``anchor`` are assumptions, and
  A = p* puts the old task into the teacher, i.e. builds retention in).

One step (network coordinates, u = logit w; D the chosen KL direction):

.. math::
   u_{t+1} = u_t - \eta\,w_t(1-w_t)\,\partial_w D(q_{\theta_t}, T_t),\quad
   \mu_{t+1} = \mu_t - \eta\,\partial_\mu D(q_{\theta_t}, T_t),

   \vartheta_{t+1} = (1-\epsilon)\,\vartheta_t + \epsilon\,\theta_{t+1}\quad
   (\epsilon = \texttt{ema}; \epsilon = 0: \text{frozen teacher}).

Steps are taken in u = logit w because plain steps in w with a fixed η are unstable as w → 0
(the w-gradient of a reverse KL grows like log w); the logit step is stable for η I_u < 1, I_u
the Fisher information in u. The lower-level functions keep the internal names ``lam``
(= anchor_weight) and ``beta`` (= ema) the ``sdft.*`` claims were derived with.

The gradient is the compiled SymPy spec :func:`symforget.symbolic.sdft.target_grad_spec`
(reverse KL against a general K-component teacher; zero-weight components are dropped, so
K = 2, 3 or 4), integrated by :func:`symforget.numeric.quadrature.expect`. Other teachers
and the forward direction use :func:`general_kl_grad` (Gauss–Hermite quadrature, 240 nodes).

Five-parameter runs (a :class:`~symforget.training.stepping.Stepping`, an overlap grid or
per-component scales; :class:`FiveDirection`): student θ = (w, μo, σo, μn, σn), teacher the EMA
of θ in the stepped coordinates; the tilt teacher of components with their own scales is again
a two-component mixture (:func:`tilt_teacher5`, R with the new task's scale σn*), the anchored
teacher takes p*'s component scales (:func:`anchored_teacher5`); the gradient in all five
entries is :func:`five_kl_grad` (batch: :func:`five_batch_grad`, same estimators).

Finite batches (B draws x_i ∼ q_θ per step), ``kl_estimator``:

* ``"analytic"`` (default): mean_i ∇log q(x_i)(log q(x_i) − log T(x_i)) with both densities in
  closed form (:func:`analytic_batch_grad`) — the analogue of SDFT's per-token KL computed
  over the whole vocabulary: exactly zero when T = q_θ;
* ``"reinforce"``: mean_i ∇log q(x_i)(log q(x_i) − log T(x_i) + 1), the gradient of the
  sampled surrogate loss with its score-function term; the +1 has mean zero but carries noise
  even when T = q_θ (the random walk of ``sdft.no_anchor_neutral`` is a property of this
  estimator, not of SDFT).
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
from ..symbolic import tilt as T
from ..symbolic.symbols import x as _x
from .base import MethodRun, Problem, renamed_hint

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "ANCHORS", "TEACHERS", "DIRECTIONS", "ESTIMATORS",
           "teacher", "tilt_teacher", "anchored_components", "kl_grad", "general_kl_grad",
           "analytic_batch_grad", "sdft_step", "run", "run_chains", "check_params",
           "teacher_weights", "tilt_teacher5", "anchored_teacher5", "five_kl_grad",
           "five_batch_grad", "FiveDirection", "five_direction"]

NAME = "sdft"
DESCRIPTION = ("self-distillation: on-policy KL (reverse by default) to the EMA student as a "
               "teacher, tilted towards the demonstration (teacher=tilt) or blended with an "
               "anchor (teacher=anchored)")
#: The defaults and where they come from: ema 0.01 = the reference trainer's teacher mix-up rate
#: (SDFT, arXiv 2601.19897, idanshen/Self-Distillation; METHODS.md), ema 0 = a frozen teacher
#: (reported there to work comparably); kl reverse = the paper's loss (the trainer's JSD knob
#: defaults to reverse); kl_estimator analytic = the paper's per-token KL evaluated in closed form.
#: teacher, tilt_strength, anchor_weight, anchor and eta are symforget's own abstractions.
PARAMS: dict[str, tuple[type, Any, str]] = {
    "teacher": (str, "tilt", "teacher model (symforget's abstraction): tilt (EMA student tilted "
                             "by the demonstration's reward, T ~ q_ema exp(-k (x-mu_new*)^2 / "
                             "(2 sigma_new*^2)), SDFT's own justification) or anchored "
                             "((1-lam) q_ema + lam A, the analysis paper's abstraction)"),
    "ema": (float, 0.01, "EMA rate of the teacher weights in [0, 1] (reference 0.01; 0: frozen "
                         "teacher = the initial student)"),
    "kl": (str, "reverse", "divergence: reverse KL(q||T) (SDFT's loss), forward KL(T||q) or "
                           "jsd (generalised JSD of the reference trainer, weight jsd_beta)"),
    "jsd_beta": (float, 0.5, "kl=jsd: beta in (0, 1) of JSD_b = b KL(T||M) + (1-b) KL(q||M), "
                             "M = b T + (1-b) q (TRL's convention: b -> 1 reverse-like, "
                             "b -> 0 forward-like)"),
    "kl_estimator": (str, "analytic", "finite-batch estimator: analytic (per-sample log-ratio in "
                                   "closed form, exactly 0 when T = q) or reinforce (with the "
                                   "+1 score term: noise at T = q)"),
    "tilt_strength": (float, 1.0, "teacher=tilt: strength k > 0 of the demonstration's reward "
                                  "(symforget's own)"),
    "anchor_weight": (float, 0.5, "teacher=anchored: anchor strength lam in [0, 1] (symforget's "
                                  "own assumption)"),
    "anchor": (str, "target", "teacher=anchored: demonstration behaviour A: target (p*: an "
                              "assumption that builds retention in), new, old"),
    "eta": (float, 0.5, "step size eta > 0 (logit-w parametrisation; symforget's own)"),
}
#: parameters renamed in issue 15 (old name → new name), named in the error for an old name
RENAMED: dict[str, str] = {"lam": "anchor_weight", "beta": "ema"}
ANCHORS = ("target", "new", "old")
TEACHERS = ("tilt", "anchored")
DIRECTIONS = ("reverse", "forward", "jsd")
ESTIMATORS = ("analytic", "reinforce")
#: logit clip: w stays a positive double (expit(-600) ≈ 1e-261); documented, never silent NaN
_U_MAX = 600.0
_MAX_RECORDS = 500


def check_params(teacher: Any = PARAMS["teacher"][1], ema: Any = PARAMS["ema"][1],
                 kl: Any = PARAMS["kl"][1], jsd_beta: Any = PARAMS["jsd_beta"][1],
                 kl_estimator: Any = PARAMS["kl_estimator"][1],
                 tilt_strength: Any = PARAMS["tilt_strength"][1],
                 anchor_weight: Any = PARAMS["anchor_weight"][1],
                 anchor: Any = PARAMS["anchor"][1], eta: Any = PARAMS["eta"][1]
                 ) -> dict[str, Any]:
    """Validate the SDFT parameters (ParameterError naming the parameter and its range).

    Defaults: :data:`PARAMS` (the one source of defaults)."""
    if teacher not in TEACHERS:
        raise ParameterError(f"teacher={teacher!r} must be one of {', '.join(TEACHERS)}")
    if kl not in DIRECTIONS:
        raise ParameterError(f"kl={kl!r} must be one of {', '.join(DIRECTIONS)}")
    if kl_estimator not in ESTIMATORS:
        raise ParameterError(f"kl_estimator={kl_estimator!r} must be one of "
                             f"{', '.join(ESTIMATORS)}")
    if kl_estimator == "reinforce" and (teacher != "anchored" or kl != "reverse"):
        raise ParameterError("kl_estimator='reinforce' is implemented for teacher='anchored' "
                             "with kl='reverse' only")
    jb = float(V.finite("jsd_beta", jsd_beta).reshape(()))
    if not 0.0 < jb < 1.0:
        raise ParameterError(f"jsd_beta={jb!r} must lie in (0, 1) (0 and 1 are kl=forward and "
                             "kl=reverse up to scale)")
    ema_ = float(V.finite("ema", ema).reshape(()))
    if not 0.0 <= ema_ <= 1.0:
        raise ParameterError(f"ema={ema_!r} must lie in [0, 1] (0: frozen teacher)")
    lam_ = float(V.finite("anchor_weight", anchor_weight).reshape(()))
    if not 0.0 <= lam_ <= 1.0:
        raise ParameterError(f"anchor_weight={lam_!r} must lie in [0, 1]")
    kappa = float(V.positive("tilt_strength", tilt_strength).reshape(()))
    eta_ = float(V.positive("eta", eta).reshape(()))
    if anchor not in ANCHORS:
        raise ParameterError(f"anchor={anchor!r} must be one of {', '.join(ANCHORS)}")
    return {"teacher": teacher, "ema": ema_, "kl": kl, "jsd_beta": jb,
            "kl_estimator": kl_estimator, "tilt_strength": kappa, "anchor_weight": lam_,
            "anchor": anchor, "eta": eta_}


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


# --------------------------------------------------------------------------------------------
# general teachers (components with their own scales): the tilt teacher, the forward direction,
# the analytic finite-batch estimator. Expectations under Gaussian components by Gauss-Hermite
# quadrature (the integrands are smooth: logs of Gaussian mixtures).

_GH_T, _GH_H = np.polynomial.hermite.hermgauss(240)
_GH_H = _GH_H / math.sqrt(math.pi)


def tilt_teacher(problem: Problem, ubar: np.ndarray, *,
                 tilt_strength: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Components (log-weights, means, scales), each (..., 2), of the tilt teacher

    .. math::
       T \propto q_{\bar\vartheta}(x)\,e^{\kappa R(x)},\qquad
       R(x) = -\frac{(x-\mu_n^*)^2}{2\sigma^2},

    SDFT's own justification of the demonstration-conditioned teacher (the trust-region
    optimum :math:`\pi_{k+1}\propto\pi_k e^{r/\beta}`) with the demonstration's reward taken
    as the new task's log-density, κ = ``tilt_strength`` (both symforget's choices). Component
    c of :math:`q_{\bar\vartheta}` becomes :math:`N(\frac{\bar\mu_c+\kappa\mu_n^*}{1+\kappa},
    \frac{\sigma^2}{1+\kappa})` with weight :math:`\propto\bar w_c Z_c`,
    :math:`\log Z_c = -\tfrac12\log(1+\kappa) - \frac{\kappa(\bar\mu_c-\mu_n^*)^2}
    {2\sigma^2(1+\kappa)}`.
    """
    vb = np.asarray(ubar, dtype=np.float64)
    lw = np.stack([-np.logaddexp(0.0, -vb[..., 0]), -np.logaddexp(0.0, vb[..., 0])], axis=-1)
    return _tilted(lw, vb[..., 1:3], np.full(vb[..., 1:3].shape, problem.sigma),
                   problem.mu_new_star, problem.sigma, tilt_strength)


@cache
def _tilt_fn() -> Any:
    return compile_exprs(T.quadratic_tilt().as_tuple(), T.QUAD_ARGS)


def _tilted(lw: np.ndarray, mus: np.ndarray, sds: np.ndarray, m: float, s_reward: float,
            tilt_strength: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Components (log-weights, means, scales) of :math:`\propto q\,e^{\kappa R}`,
    :math:`R = -(x-m)^2/(2s_R^2)`, for a mixture with components (``lw``, ``mus``, ``sds``)
    (last axis): each component tilted by the one Gaussian-tilt definition
    :func:`symforget.symbolic.tilt.quadratic_tilt` (curvature 1/s_R², temperature 1/κ), its
    weight times Z_c, renormalised."""
    log_z, mean, var = _tilt_fn()(mus, sds, m, 1.0 / (s_reward * s_reward), 0.0,
                                  1.0 / float(tilt_strength))
    lw = lw + log_z
    lw = lw - np.logaddexp(lw[..., :1], lw[..., 1:2])
    return lw, np.asarray(mean, dtype=np.float64), np.sqrt(np.asarray(var, dtype=np.float64))


def anchored_components(problem: Problem, ubar: np.ndarray, *, lam: float,
                        anchor: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The anchored teacher :func:`teacher` as (log-weights, means, scales), each (..., K)."""
    ells, ms = teacher(problem, ubar, lam=lam, anchor=anchor)
    lead = np.asarray(ubar).shape[:-1]
    lw = np.stack([np.broadcast_to(e, lead) for e in ells], axis=-1)
    mu = np.stack([np.broadcast_to(np.asarray(v, dtype=np.float64), lead) for v in ms], axis=-1)
    return lw, mu, np.full(mu.shape, problem.sigma)


def _log_mix(x: np.ndarray, lw: np.ndarray, mu: np.ndarray, sc: np.ndarray) -> np.ndarray:
    """log Σ_k e^{lw_k} N(x; mu_k, sc_k²); x (..., n), components (..., K) → (..., n)."""
    z = (x[..., None] - mu[..., None, :]) / sc[..., None, :]
    terms = lw[..., None, :] - 0.5 * z * z - np.log(sc[..., None, :]) - 0.5 * math.log(2 * math.pi)
    return np.logaddexp.reduce(terms, axis=-1)


def _student(th: np.ndarray, x: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """log q_θ(x) and the score ∇_{(w,μo,μn)} log q_θ(x); th (..., 3), x (..., n)."""
    w, mo, mn = th[..., 0:1], th[..., 1:2], th[..., 2:3]
    c = -0.5 * math.log(2 * math.pi) - math.log(sigma)
    lpo = c - 0.5 * ((x - mo) / sigma) ** 2
    lpn = c - 0.5 * ((x - mn) / sigma) ** 2
    with np.errstate(divide="ignore"):
        lq = np.logaddexp(np.log(w) + lpo, np.log1p(-w) + lpn)
    po, pn = np.exp(lpo - lq), np.exp(lpn - lq)  # φ_c/q
    score = np.stack([po - pn, w * po * (x - mo) / sigma**2,
                      (1.0 - w) * pn * (x - mn) / sigma**2], axis=-1)
    return lq, score


def _log_target(lq: np.ndarray, lt: np.ndarray, kl: str, jsd_beta: float) -> np.ndarray:
    """log T (reverse) or, for the generalised JSD, log M = log(b T + (1 − b) q)."""
    if kl == "jsd":
        return np.logaddexp(math.log(jsd_beta) + lt, math.log1p(-jsd_beta) + lq)
    return lt


def general_kl_grad(th: np.ndarray, comps: tuple[np.ndarray, np.ndarray, np.ndarray], *,
                    sigma: float, kl: str = "reverse", jsd_beta: float = 0.5) -> np.ndarray:
    r"""Population gradient in (w, μo, μn) of the KL between the student and a teacher with
    components of their own scales (``comps`` = log-weights, means, scales, each (..., K)).

    reverse: :math:`\nabla\mathrm{KL}(q_\theta\Vert T) = \mathbb E_q[\nabla\log q\,
    (\log q - \log T)]`; forward: :math:`\nabla\mathrm{KL}(T\Vert q_\theta) =
    -\mathbb E_T[\nabla\log q]`; jsd (b = ``jsd_beta``, M = bT + (1−b)q):
    :math:`\nabla[b\,\mathrm{KL}(T\Vert M) + (1-b)\mathrm{KL}(q_\theta\Vert M)] =
    (1-b)\,\mathbb E_q[\nabla\log q\,(\log q - \log M)]` (the terms in ∂M cancel because
    ∫∂q = 0). Expectations over each Gaussian component by 240-node Gauss–Hermite quadrature;
    vectorised over the leading axes of ``th`` (..., 3).
    """
    th = np.asarray(th, dtype=np.float64)
    lw, mu, sc = (np.asarray(c, dtype=np.float64) for c in comps)
    if kl in ("reverse", "jsd"):
        w = th[..., 0:1]
        nodes = [th[..., 1:2] + sigma * math.sqrt(2.0) * _GH_T,
                 th[..., 2:3] + sigma * math.sqrt(2.0) * _GH_T]
        out = 0.0
        for cw, x in zip((w, 1.0 - w), nodes, strict=True):
            lq, score = _student(th, x, sigma)
            f = score * (lq - _log_target(lq, _log_mix(x, lw, mu, sc), kl, jsd_beta))[..., None]
            out = out + cw * np.einsum("...nj,n->...j", f, _GH_H)
        return np.asarray(out) * ((1.0 - jsd_beta) if kl == "jsd" else 1.0)
    out = 0.0
    for k in range(lw.shape[-1]):
        x = mu[..., k:k + 1] + sc[..., k:k + 1] * math.sqrt(2.0) * _GH_T
        _, score = _student(th, x, sigma)
        out = out - np.exp(lw[..., k:k + 1]) * np.einsum("...nj,n->...j", score, _GH_H)
    return np.asarray(out)


def analytic_batch_grad(rng: np.random.Generator, th: np.ndarray,
                        comps: tuple[np.ndarray, np.ndarray, np.ndarray], batch: int, *,
                        sigma: float, kl: str = "reverse", jsd_beta: float = 0.5) -> np.ndarray:
    r"""Finite-batch gradient from B on-policy draws x_i ∼ q_θ per chain, th (N, 3) → (N, 3).

    The per-sample term is evaluated in closed form (log-densities of student and teacher,
    the analogue of SDFT's per-token KL summed analytically over the vocabulary):

    * reverse: :math:`\hat g = \frac1B\sum_i\nabla\log q(x_i)\,(\log q - \log T)(x_i)`;
    * forward: :math:`\hat g = \frac1B\sum_i\nabla\log q(x_i)\,(1 - T/q)(x_i)`
      (unbiased for :math:`-\mathbb E_T\nabla\log q`, as :math:`\mathbb E_q\nabla\log q = 0`);
    * jsd: :math:`\hat g = \frac{1-b}{B}\sum_i\nabla\log q(x_i)\,(\log q - \log M)(x_i)`.

    All are exactly zero when T = q_θ (every sample), unlike the REINFORCE estimator with the
    +1 score term. Unbiased for :func:`general_kl_grad`.
    """
    n = th.shape[0]
    old = rng.random((n, batch)) < th[:, :1]
    xs = np.where(old, th[:, 1:2], th[:, 2:3]) + sigma * rng.standard_normal((n, batch))
    lq, score = _student(th, xs, sigma)
    lt = _log_mix(xs, *comps)
    if kl == "forward":
        coef = -np.expm1(lt - lq)
    elif kl == "jsd":
        coef = (1.0 - jsd_beta) * (lq - _log_target(lq, lt, kl, jsd_beta))
    else:
        coef = lq - lt
    return (score * coef[..., None]).mean(axis=1)


def run_chains(problem: Problem, theta0: np.ndarray, *, steps: int, lam: float | np.ndarray,
               beta: float, eta: float, anchor: str, batch: int | None = None, seed: int = 0,
               free: tuple[bool, bool, bool] = (True, True, True), record_every: int = 1,
               with_teacher: bool = False, teacher: str = "anchored",
               tilt_strength: float = 1.0, kl: str = "reverse", jsd_beta: float = 0.5,
               estimator: str = "reinforce") -> tuple[np.ndarray, ...]:
    """Iterate the SDFT map for N independent chains started at ``theta0`` (N, 3) with the
    teacher at the student (ϑ_0 = θ_0). Returns (recorded steps (R,), θ (R, N, 3)) and, with
    ``with_teacher``, also the EMA teacher in network coordinates (R, N, 3).

    ``beta`` is the EMA rate (``ema`` of :data:`PARAMS`; 0 freezes the teacher), ``lam`` the
    anchor weight (``anchor_weight``). The keyword defaults (anchored teacher, reverse KL,
    REINFORCE estimator) are the map the ``sdft.*`` claims were derived for; :func:`run` uses
    :data:`PARAMS`' defaults.
    """
    th = np.array(theta0, dtype=np.float64).reshape(-1, 3)
    ub = th.copy()
    ub[:, 0] = logit(th[:, 0])
    rng = np.random.default_rng(seed)
    rec_steps, rec, rec_t = [0], [th.copy()], [ub.copy()]
    compiled = teacher == "anchored" and kl == "reverse"
    for k in range(steps):
        report_steps(k, steps)
        g = None
        if compiled and (batch is None or estimator == "reinforce"):
            if batch is not None:
                g = _reinforce_grad(rng, problem, th, ub, batch, lam, anchor)
        else:
            comps = (tilt_teacher(problem, ub, tilt_strength=tilt_strength)
                     if teacher == "tilt" else
                     anchored_components(problem, ub, lam=lam, anchor=anchor))
            g = (general_kl_grad(th, comps, sigma=problem.sigma, kl=kl, jsd_beta=jsd_beta)
                 if batch is None else
                 analytic_batch_grad(rng, th, comps, batch, sigma=problem.sigma, kl=kl,
                                     jsd_beta=jsd_beta))
        th, ub = sdft_step(problem, th, ub, lam=lam, beta=beta, eta=eta, anchor=anchor,
                           free=free, grad=g)
        if (k + 1) % record_every == 0 or k + 1 == steps:
            rec_steps.append(k + 1)
            rec.append(th.copy())
            rec_t.append(ub.copy())
    if with_teacher:
        return np.array(rec_steps), np.array(rec), np.array(rec_t)
    return np.array(rec_steps), np.array(rec)


# --------------------------------------------------------------------------------------------
# five-parameter runs: student θ = (w, μo, σo, μn, σn), teacher = EMA of θ in the coordinates
# the Stepping steps (logit w or raw w, the means, the scales)


def teacher_weights(teacher_state: np.ndarray, weight_param: str) -> tuple[float, float]:
    """(log w̄, log(1 − w̄)) of a five-parameter teacher state whose first entry is ū = logit w̄
    (``weight_param="logit"``) or w̄ itself (``"raw"``)."""
    v = float(teacher_state[0])
    if weight_param == "logit":
        return -float(np.logaddexp(0.0, -v)), -float(np.logaddexp(0.0, v))
    return math.log(v), math.log1p(-v)


def tilt_teacher5(problem: Problem, teacher_state: np.ndarray, *, tilt_strength: float,
                  weight_param: str = "logit") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The tilt teacher of a five-parameter EMA state (w̄, μ̄o, s̄o, μ̄n, s̄n) as
    (log-weights, means, scales), each (2,).

    .. math::
       T \propto q_{\bar\vartheta}(x)\,e^{\kappa R(x)},\qquad
       R(x) = -\frac{(x-\mu_n^*)^2}{2\sigma_n^{*2}}

    (the new task's log-density up to a constant; σn* = σ for equal scales). A Gaussian times
    the exponential of a concave quadratic is Gaussian, so T is again a two-component mixture
    (no projection): with a = κ/σn*², component c becomes
    :math:`N\big(\frac{\bar\mu_c/\bar s_c^2 + a\mu_n^*}{1/\bar s_c^2 + a},
    \frac1{1/\bar s_c^2 + a}\big)` with weight :math:`\propto\bar w_c Z_c`,
    :math:`\log Z_c = -\tfrac12\log(1 + a\bar s_c^2) - \frac{a(\bar\mu_c-\mu_n^*)^2}
    {2(1 + a\bar s_c^2)}`. With s̄c = σn* = σ this is :func:`tilt_teacher`.
    """
    lwo, lwn = teacher_weights(teacher_state, weight_param)
    mus = np.array([teacher_state[1], teacher_state[3]], dtype=np.float64)
    sds = np.array([teacher_state[2], teacher_state[4]], dtype=np.float64)
    return _tilted(np.array([lwo, lwn]), mus, sds, problem.mu_new_star, problem.scales[1],
                   tilt_strength)


def anchored_teacher5(problem: Problem, teacher_state: np.ndarray, *, lam: float, anchor: str,
                      weight_param: str = "logit") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The anchored teacher :math:`T = (1-\lambda)q_{\bar\vartheta} + \lambda A` of a
    five-parameter EMA state, A = p* = α N(μo*, σo*²) + (1 − α) N(μn*, σn*²) (``target``),
    N(μn*, σn*²) (``new``) or N(μo*, σo*²) (``old``), as (log-weights, means, scales);
    zero-weight components (λ = 0 or 1) are left out."""
    so_star, sn_star, _, _ = problem.scales
    lw: list[float] = []
    mu: list[float] = []
    sc: list[float] = []
    if lam < 1.0:
        lwo, lwn = teacher_weights(teacher_state, weight_param)
        l1 = math.log1p(-lam)
        lw += [l1 + lwo, l1 + lwn]
        mu += [float(teacher_state[1]), float(teacher_state[3])]
        sc += [float(teacher_state[2]), float(teacher_state[4])]
    if lam > 0.0:
        ll = math.log(lam)
        if anchor == "target":
            lw += [ll + math.log(problem.alpha), ll + math.log1p(-problem.alpha)]
            mu += [problem.mu_old_star, problem.mu_new_star]
            sc += [so_star, sn_star]
        elif anchor == "new":
            lw.append(ll)
            mu.append(problem.mu_new_star)
            sc.append(sn_star)
        else:
            lw.append(ll)
            mu.append(problem.mu_old_star)
            sc.append(so_star)
    return np.array(lw), np.array(mu), np.array(sc)


def _student5(th: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log q_θ(x) and the five-parameter score ∇_θ log q_θ(x), shape (n, 5)."""
    from ..training.estimators import _log_q, score5

    return _log_q(x, th)[0], score5(x, th)


def five_kl_grad(state: np.ndarray, comps: tuple[np.ndarray, np.ndarray, np.ndarray], *,
                 kl: str = "reverse", jsd_beta: float = 0.5) -> np.ndarray:
    r"""Population gradient in θ = (w, μo, σo, μn, σn) of the divergence between the student
    :math:`q_\theta = wN(\mu_o,\sigma_o^2) + (1-w)N(\mu_n,\sigma_n^2)` and a fixed teacher T
    (``comps`` = log-weights, means, scales; the teacher is not differentiated, as in SDFT).

    reverse: :math:`\nabla\mathrm{KL}(q_\theta\Vert T) = \mathbb E_q[\nabla\log q\,
    (\log q - \log T)]`; forward: :math:`\nabla\mathrm{KL}(T\Vert q_\theta) =
    -\mathbb E_T[\nabla\log q]`; jsd: :math:`(1-b)\,\mathbb E_q[\nabla\log q\,(\log q -
    \log M)]`, M = bT + (1 − b)q (as :func:`general_kl_grad`). The score has
    :math:`\partial_{\sigma_c}\log q = r_c((x-\mu_c)^2/\sigma_c^3 - 1/\sigma_c)`
    (:func:`symforget.training.estimators.score5`). Expectations over each Gaussian component by
    240-node Gauss–Hermite quadrature at that component's own mean and scale. Returns (5,).
    """
    th = np.asarray(state, dtype=np.float64)
    lw, mu, sc = (np.asarray(c, dtype=np.float64) for c in comps)
    root2 = math.sqrt(2.0)
    out = np.zeros(5)
    if kl in ("reverse", "jsd"):
        for cw, m, s in ((th[0], th[1], th[2]), (1.0 - th[0], th[3], th[4])):
            x = m + s * root2 * _GH_T
            lq, score = _student5(th, x)
            lt = _log_target(lq, _log_mix(x, lw, mu, sc), kl, jsd_beta)
            out += cw * (score * (lq - lt)[:, None]).T @ _GH_H
        return out * ((1.0 - jsd_beta) if kl == "jsd" else 1.0)
    for k in range(len(lw)):
        x = mu[k] + sc[k] * root2 * _GH_T
        _, score = _student5(th, x)
        out -= math.exp(lw[k]) * (score.T @ _GH_H)
    return out


def five_batch_grad(rng: np.random.Generator, state: np.ndarray,
                    comps: tuple[np.ndarray, np.ndarray, np.ndarray], batch: int, *,
                    kl: str = "reverse", jsd_beta: float = 0.5,
                    estimator: str = "analytic") -> np.ndarray:
    r"""Finite-batch estimate of :func:`five_kl_grad` from B on-policy draws x_i ∼ q_θ
    (component c_i chosen with probability w, then x_i = μ_{c_i} + σ_{c_i} ε_i; the draws are
    made in the order of :func:`analytic_batch_grad`, so equal scales give the same draws).

    ``analytic``: the per-sample terms of :func:`analytic_batch_grad` with the five-parameter
    score (reverse ∇log q (log q − log T), forward ∇log q (1 − T/q), jsd (1 − b) ∇log q
    (log q − log M)); ``reinforce`` (reverse only): ∇log q (log q − log T + 1), the gradient of
    the sampled surrogate with its score-function term. Both unbiased; the analytic one is
    exactly zero at T = q_θ.
    """
    th = np.asarray(state, dtype=np.float64)
    old = rng.random(batch) < th[0]
    xs = (np.where(old, th[1], th[3])
          + np.where(old, th[2], th[4]) * rng.standard_normal(batch))
    lq, score = _student5(th, xs)
    lt = _log_mix(xs, *(np.asarray(c, dtype=np.float64) for c in comps))
    if kl == "forward":
        coef = -np.expm1(lt - lq)
    elif kl == "jsd":
        coef = (1.0 - jsd_beta) * (lq - _log_target(lq, lt, kl, jsd_beta))
    else:
        coef = lq - lt + (1.0 if estimator == "reinforce" else 0.0)
    return (score * coef[:, None]).mean(axis=0)


class FiveDirection:
    r"""SDFT's descent direction on the five-parameter state with its EMA teacher
    (:class:`symforget.training.runs.Direction`).

    The teacher's weights ϑ̄ are an EMA of the student's in the coordinates the Stepping steps
    (ū = logit w̄ or w̄, μ̄o, s̄o, μ̄n, s̄n): ϑ̄_0 = θ_0 and, before step t ≥ 1,
    :math:`\bar\vartheta_t = (1-\epsilon)\bar\vartheta_{t-1} + \epsilon\,\theta_t`
    (ε = ``ema``; the update :func:`sdft_step` makes after each step). The teacher T_t is
    :func:`tilt_teacher5` or :func:`anchored_teacher5` of ϑ̄_t; the direction is
    :func:`five_kl_grad` (exact) or :func:`five_batch_grad` (a batch).
    """

    def __init__(self, problem: Problem, p: dict[str, Any], batch: int | None,
                 weight_param: str, name: str) -> None:
        self.problem, self.p, self.batch = problem, p, batch
        self.weight_param = weight_param
        self.name, self.eta = name, p["eta"]
        self.expected: list[np.ndarray] = []
        self.teacher_state: np.ndarray | None = None

    def _coords(self, th: np.ndarray) -> np.ndarray:
        out = np.array(th, dtype=np.float64)
        if self.weight_param == "logit":
            out[0] = logit(th[0])
        return out

    def __call__(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        th = np.asarray(state, dtype=np.float64)
        net = self._coords(th)
        eps = self.p["ema"]
        self.teacher_state = (net if self.teacher_state is None
                              else (1.0 - eps) * self.teacher_state + eps * net)
        p = self.p
        if p["teacher"] == "tilt":
            comps = tilt_teacher5(self.problem, self.teacher_state,
                                  tilt_strength=p["tilt_strength"], weight_param=self.weight_param)
        else:
            comps = anchored_teacher5(self.problem, self.teacher_state, lam=p["anchor_weight"],
                                      anchor=p["anchor"], weight_param=self.weight_param)
        from ..training.runs import expected_direction

        exact = expected_direction(lambda: five_kl_grad(th, comps, kl=p["kl"],
                                                        jsd_beta=p["jsd_beta"]),
                                   self.batch is not None)
        self.expected.append(exact)
        if self.batch is None:
            return exact
        return five_batch_grad(rng, th, comps, self.batch, kl=p["kl"], jsd_beta=p["jsd_beta"],
                               estimator=p["kl_estimator"])


def five_direction(problem: Problem, p: dict[str, Any], *, batch: int | None,
                   weight_param: str = "logit", estimator: str | None = None) -> FiveDirection:
    """The :class:`FiveDirection` of validated parameters ``p`` (:func:`check_params`)."""
    from ..training.runs import direction_estimator

    name = direction_estimator(NAME, batch, estimator, p["kl_estimator"], "kl_estimator")
    return FiveDirection(problem, p, batch, weight_param, name)


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
        stepping: Any = None, grid: tuple[float, float, int] | None = None,
        estimator: str | None = None, **params: Any) -> MethodRun:
    """Run SDFT on ``problem`` (population map if ``batch`` is None, else B on-policy draws per
    step with the chosen ``kl_estimator``). Parameters and defaults: :data:`PARAMS`.

    With ``stepping`` (a :class:`symforget.training.stepping.Stepping`), an overlap ``grid``,
    ``estimator="exact"`` or a problem with component scales: the five-parameter run
    (:class:`FiveDirection` through :func:`symforget.training.runs.run_direction`), learned or
    fixed scales, measurements and theory in ``MethodRun.report``."""
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise ParameterError(f"unknown SDFT parameter(s) {sorted(unknown)}; known: "
                             f"{', '.join(PARAMS)}{renamed_hint(unknown, RENAMED)}")
    p = check_params(**params)
    steps = _check_steps(steps)
    batch = _check_batch(batch)
    from .sft import states_run, wants_five

    if wants_five(problem, stepping, grid, estimator):
        from ..training.runs import run_direction

        weight_param = getattr(stepping, "weight_param", "logit")
        direction = five_direction(problem, p, batch=batch, weight_param=weight_param,
                                   estimator=estimator)
        states, report = run_direction(NAME, problem, direction, steps=steps, seed=seed,
                                       stepping=stepping, grid=grid)
        return states_run(NAME, problem, {**p, "batch": batch, "seed": seed}, states, report)
    every = max(1, -(-steps // _MAX_RECORDS))
    rec_steps, rec = run_chains(problem, np.array(problem.theta0), steps=steps, batch=batch,
                                seed=seed, record_every=every, lam=p["anchor_weight"],
                                beta=p["ema"], eta=p["eta"], anchor=p["anchor"],
                                teacher=p["teacher"], tilt_strength=p["tilt_strength"],
                                kl=p["kl"], jsd_beta=p["jsd_beta"],
                                estimator=p["kl_estimator"])
    th = rec[:, 0, :]
    sig = np.full(len(rec_steps), problem.sigma)
    return MethodRun(NAME, problem, {**p, "batch": batch, "seed": seed}, rec_steps,
                     th[:, 0], th[:, 1], th[:, 2], sig, sig.copy())
