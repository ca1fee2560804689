r"""Claims of §3 on the local geometry of the reverse KL (issue 3).

* ``rkl.local_geometry``: :math:`\nabla^2L_R(\theta^*) = I(\theta^*)`; in whitened
  (w, μo, μn), :math:`I(\theta^*)\to\mathrm{diag}(1/(\alpha(1-\alpha)), \alpha, 1-\alpha)` with an
  explicit :math:`e^{-\Delta^2/8}\,\mathrm{poly}(\Delta)` bound on the deviation; λ_min bounded
  away from 0 for separated modes.
* ``rkl.linear_convergence``: gradient descent with η < 2/λ_max contracts locally with factor
  :math:`\max_i|1-\eta\lambda_i(I(\theta^*))|`.

Targets are whitened: p* = α N(0, 1) + (1 − α) N(Δ, 1), θ* = (α, 0, Δ) — the coordinates of
:func:`symforget.model.fisher`. Derivations: :mod:`symforget.symbolic.geometry`.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .. import dynamics, model, precise
from ..numeric.compile import compile_exprs
from ..symbolic import geometry as sgeo
from ..symbolic.mixture import fisher_spec
from ..symbolic.symbols import alpha, delta, sigma, w
from . import register
from .base import Checks, Claim, Context, Evidence, as_expr, record_derivation

__all__ = ["check_local_geometry", "check_linear_convergence", "STATED_LIMIT"]

#: the separated limit as stated in CLAIMS.md §3 (whitened, at θ*)
STATED_LIMIT = sp.diag(1 / (alpha * (1 - alpha)), alpha, 1 - alpha)

_EPS = float(np.finfo(np.float64).eps)
#: round-off allowance of a double-precision Fisher entry, in units of eps·max|I_ij|
#: (the quadrature sums O(10²) terms; measured errors are ≲ 10 eps)
_ROUNDOFF_UNITS = 64.0


def _matrix_fn(mat: sp.Matrix, args: tuple[sp.Symbol, ...]):
    """Compile a 3×3 SymPy matrix into f(*arrays) -> (..., 3, 3)."""
    fn = compile_exprs(list(mat), args)

    def call(*vals: np.ndarray) -> np.ndarray:
        shape = np.broadcast(*vals).shape
        entries = [np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for v in fn(*vals)]
        return np.stack(entries, axis=-1).reshape(*shape, 3, 3)

    return call


def _grid(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """α × Δ grid (broadcast shapes (A, 1) and (1, D)); Δ ≤ 14 keeps the deviation above the
    round-off of a double-precision Fisher entry (e^{−Δ²/8} ≈ 2e-11 at Δ = 14)."""
    if ctx.full:
        alphas = np.concatenate([[0.01, 0.02], np.linspace(0.05, 0.95, 19), [0.98, 0.99]])
        deltas = np.arange(0.0, 14.0 + 1e-9, 0.25)
    else:
        alphas = np.array([0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98])
        deltas = np.arange(0.0, 14.0 + 1e-9, 0.5)
    return alphas[:, None], deltas[None, :]


def _finite_difference_hessian(a: np.ndarray, d: np.ndarray, h: float) -> np.ndarray:
    """Central differences of model.rkl_grad at θ* = (α, 0, Δ), steps h·(α(1−α), 1, 1)."""
    theta = np.stack([a, np.zeros_like(a), d], axis=-1)  # (N, 3)
    steps = np.stack([h * a * (1 - a), np.full_like(a, h), np.full_like(a, h)], axis=-1)
    n = a.size
    pts = np.repeat(theta[None], 6, axis=0)  # (6, N, 3): +e0, −e0, +e1, −e1, +e2, −e2
    for k in range(3):
        pts[2 * k, :, k] += steps[:, k]
        pts[2 * k + 1, :, k] -= steps[:, k]
    g = model.rkl_grad(pts[..., 0], pts[..., 1], pts[..., 2], alpha=a[None], target_old=0.0,
                       target_new=d[None])  # (6, N, 3)
    H = np.empty((n, 3, 3))
    for k in range(3):
        H[:, :, k] = (g[2 * k] - g[2 * k + 1]) / (2 * steps[:, k:k + 1])
    return H


def _precise_deviation_ratio(stated: sp.Matrix, exponent: sp.Expr, a: float, d: float,
                             dps: int) -> tuple[float, float]:
    """max_ij |I_ij − L_ij| / B_ij at one point, with I from the mpmath precise layer
    (value ± error estimate; the error is added to the deviation)."""
    val = precise.expect(fisher_spec(), [a, 0.0, d, 1.0], dps=dps)
    lim = compile_exprs(list(stated), (alpha,), "mpmath")
    bnd = compile_exprs(list(sgeo.deviation_bound(exponent)), (w, delta), "mpmath")
    with mpmath.workdps(dps):
        am, dm = mpmath.mpf(a), mpmath.mpf(d)
        L, B = lim(am), bnd(am, dm)
        ratios = [(abs(v - l_) + e) / b_ for v, e, l_, b_ in
                  zip(val.value, val.error, L, B, strict=True)]
        return float(max(ratios)), float(max(val.error))


def check_local_geometry(ctx: Context, limit: sp.Matrix | None = None,
                         bound_exponent: sp.Expr = sgeo.BOUND_EXPONENT, **_: Any) -> Evidence:
    r"""Hessian = Fisher at θ*; separated limit; explicit overlap bound; eigenvalues.

    ``limit`` (a 3×3 matrix in α) and ``bound_exponent`` (c in :math:`e^{c\Delta^2}`) are the
    statement's constants; the defaults are the derived ones.
    """
    stated = STATED_LIMIT if limit is None else sp.Matrix(limit)
    chk = Checks()
    # --- symbolic -----------------------------------------------------------------------------
    record_derivation(chk, "symbolic_hessian_is_fisher", sgeo.hessian_is_fisher_derivation())
    record_derivation(chk, "symbolic_separated_limit", sgeo.separated_limit_derivation())
    record_derivation(chk, "symbolic_deviation_bound", sgeo.deviation_bound_derivation())
    derived = sgeo.separated_limit().subs({w: alpha, sigma: 1})
    diff = (derived - stated).applyfunc(sp.simplify)
    chk.true("symbolic_limit_matches_statement", diff == sp.zeros(3, 3),
             f"derived {list(derived)} vs stated {list(stated)}")

    # --- numeric: Hessian of L_R at θ* vs Fisher ----------------------------------------------
    a2, d2 = _grid(ctx)
    a, d = np.broadcast_arrays(a2, d2)
    fisher = model.fisher(a, d)  # (A, D, 3, 3)
    hess = model.rkl_hessian(a, 0.0, d, alpha=a, target_old=0.0, target_new=d)
    scale = np.abs(fisher).max(axis=(-2, -1))
    err_h = float((np.abs(hess - fisher).max(axis=(-2, -1)) / scale).max())
    chk.le("max_rel_err_hessian_vs_fisher", err_h, 1e-10,
           f"model.rkl_hessian vs model.fisher on {a.size} (α, Δ) points")
    # central finite differences of the gradient (an independent integrand), with the h² rate
    sel_a = np.array([0.1, 0.3, 0.5, 0.8, 0.3, 0.6])
    sel_d = np.array([0.7, 1.5, 2.5, 4.0, 6.0, 9.0])
    f_sel = model.fisher(sel_a, sel_d)
    errs = []
    hs = (4e-3, 2e-3, 1e-3)
    for h in hs:
        H = _finite_difference_hessian(sel_a, sel_d, h)
        errs.append(float((np.abs(H - f_sel).max(axis=(-2, -1))
                           / np.abs(f_sel).max(axis=(-2, -1))).max()))
    rate = float(np.polyfit(np.log(hs), np.log(errs), 1)[0])
    chk.le("max_rel_err_fd_hessian_vs_fisher", errs[-1], 1e-6,
           f"central differences of model.rkl_grad, h = {hs[-1]}")
    chk.close("fd_error_rate_in_h", rate, 2.0, rtol=0.0, atol=0.15,
              detail=f"log-log slope of FD error vs h over h = {hs} (Taylor remainder ~ h²)")

    # --- limit and explicit deviation bound -----------------------------------------------------
    L = _matrix_fn(stated, (alpha,))(a)
    B = _matrix_fn(sgeo.deviation_bound(as_expr(bound_exponent)), (w, delta))(a, d)
    dev = np.abs(fisher - L)
    allowance = _ROUNDOFF_UNITS * _EPS * scale[..., None, None]
    ratio = dev / (B + allowance)
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    where = (f"α={a[worst[:2]]:.3g}, Δ={d[worst[:2]]:.3g}, entry "
             f"{tuple(int(k) for k in worst[2:])}")
    chk.le("max_ratio_deviation_to_bound", float(ratio.max()), 1.0,
           f"worst at {where}: |I−L|={dev[worst]:.3g}, bound={B[worst]:.3g}")
    chk.metric("max_ratio_deviation_to_bound_at", where)
    sep = d >= 6.0
    chk.metric("max_ratio_deviation_to_bound_delta_ge_6", float(ratio[sep].max()))
    # the bound vanishes like e^{−Δ²/8}·poly(Δ): at the largest Δ the deviation is tiny
    d_max = float(d.max())
    chk.metric("max_deviation_at_largest_delta", float(dev[d == d_max].max()))
    chk.metric("delta_max", d_max)

    # --- eigenvalues: Weyl interval from the bound, conditioning --------------------------------
    lam = np.linalg.eigvalsh(fisher)  # ascending
    lam_L = np.sort(np.linalg.eigvalsh(L), axis=-1)
    b_frob = np.sqrt((B**2).sum(axis=(-2, -1)))
    weyl = np.abs(lam - lam_L).max(axis=-1) / (b_frob + _ROUNDOFF_UNITS * _EPS * scale)
    chk.le("max_ratio_eigen_shift_to_frobenius_bound", float(weyl.max()), 1.0,
           "|λ_k(I) − λ_k(L)| ≤ ‖B‖_F (Weyl)")
    # separated modes: wherever the derived bound is at most half the smallest limit
    # eigenvalue, λ_min(I) ≥ ½ λ_min(L) > 0 (well conditioned)
    lam_min_L = lam_L[..., 0]
    separated = b_frob <= 0.5 * lam_min_L
    chk.true("separated_region_nonempty", bool(separated.any()))
    chk.le("max_ratio_half_lambda_min_limit_to_lambda_min",
           float((0.5 * lam_min_L[separated] / lam[..., 0][separated]).max()), 1.0,
           "λ_min(I) ≥ ½ λ_min(L) wherever ‖B‖_F ≤ ½ λ_min(L)")
    first_sep = [float(d[i][separated[i]].min()) for i in range(a.shape[0])]
    chk.metric("largest_delta_where_bound_certifies_separation", max(first_sep))
    with np.errstate(divide="ignore"):  # λ_min = 0 at Δ = 0 (μo, μn not identifiable)
        cond = lam[..., -1] / lam[..., 0]
    i_a = int(np.argmin(np.abs(a[:, 0] - 0.3)))
    for dv in (1.0, 2.0, 4.0, 8.0, 14.0):
        j = int(np.argmin(np.abs(d[0] - dv)))
        chk.metric(f"alpha0.3_delta{dv:g}_lambda_min", float(lam[i_a, j, 0]))
        chk.metric(f"alpha0.3_delta{dv:g}_lambda_max", float(lam[i_a, j, -1]))
        chk.metric(f"alpha0.3_delta{dv:g}_condition", float(cond[i_a, j]))
    chk.metric("grid_points", int(a.size))
    if ctx.full:  # beyond double precision: the deviation at Δ = 20 is ~1e-22
        prat, perr = _precise_deviation_ratio(stated, as_expr(bound_exponent), 0.3, 20.0,
                                              max(ctx.dps, 40))
        chk.le("precise_max_ratio_deviation_to_bound_delta20", prat, 1.0,
               f"α = 0.3, Δ = 20 at {max(ctx.dps, 40)} digits (error estimate {perr:.1e})")
    return chk.evidence(
        f"∇²L_R(θ*) = I(θ*) (rel err {err_h:.1e}; FD {errs[-1]:.1e}, rate {rate:.2f}); "
        f"|I − limit| ≤ e^(−Δ²/8)·poly bound, worst ratio {float(ratio.max()):.3f}")


register(Claim(
    id="rkl.local_geometry",
    statement="∇²L_R(θ*) = I(θ*); in whitened (w, μo, μn), I(θ*) → diag(1/(α(1−α)), α, 1−α) "
              "as Δ → ∞ with |I − limit|_ij ≤ ½√(α(1−α)) e^{−Δ²/8} √(M_ij(Δ)) (M polynomial, "
              "degree ≤ 4); λ_min(I) bounded away from 0 for separated modes",
    check=check_local_geometry,
    derivations=lambda: [sgeo.hessian_is_fisher_derivation(), sgeo.separated_limit_derivation(),
                         sgeo.deviation_bound_derivation()],
    assumptions=("whitened 1-D coordinates: μo* = 0, μn* = Δ, σ = 1",
                 "θ* = (α, μo*, μn*) is the global minimiser (q = p*)"),
    mutants={
        "limit_without_1_minus_alpha": {"limit": sp.diag(1 / alpha, alpha, 1 - alpha)},
        "bound_exponent_quarter": {"bound_exponent": sp.Rational(-1, 4)},
    },
    issue=3,
))


# ---------------------------------------------------------------------------------------------
# rkl.linear_convergence
# ---------------------------------------------------------------------------------------------

#: (α, Δ, c) with η = c · 2/λ_max. Chosen so the two largest factors |1 − ηλ_i| are well
#: separated (the late-run norm ratio then converges to the largest one within the run):
#: c ≤ 0.7 gives a λ_min-dominated rate, c ≥ 0.95 a λ_max-dominated (oscillating) one.
_CONFIGS_QUICK = ((0.3, 2.5, 0.7), (0.3, 4.0, 0.5), (0.5, 3.0, 0.7), (0.7, 6.0, 0.5),
                  (0.5, 6.0, 0.95), (0.3, 6.0, 0.98))
_CONFIGS_FULL = (*_CONFIGS_QUICK, (0.5, 2.0, 0.3), (0.7, 2.5, 0.9), (0.5, 4.0, 0.95),
                 (0.8, 5.0, 0.5), (0.2, 8.0, 0.6))


def _gd_batch(a: np.ndarray, d: np.ndarray, eta: np.ndarray, theta0: np.ndarray,
              max_steps: int, stop: float) -> np.ndarray:
    """Gradient descent θ ← θ − η∇L_R(θ) (raw w), all configurations at once.

    Returns the error norms ‖θ_t − θ*‖ of shape (steps + 1, N); stops when every
    configuration is below ``stop``.
    """
    star = np.stack([a, np.zeros_like(a), d], axis=-1)
    th = theta0.copy()
    norms = [np.linalg.norm(th - star, axis=-1)]
    for _ in range(max_steps):
        g = model.rkl_grad(th[:, 0], th[:, 1], th[:, 2], alpha=a, target_old=0.0, target_new=d)
        th = th - eta[:, None] * g
        norms.append(np.linalg.norm(th - star, axis=-1))
        if norms[-1].max() < stop:
            break
    return np.array(norms)


def _late_factor(norms: np.ndarray, lo: float, hi: float) -> tuple[float, int]:
    """Geometric-mean ratio ‖e_{t+1}‖/‖e_t‖ over the steps with lo ≤ ‖e_t‖ ≤ hi."""
    idx = np.nonzero((norms[:-1] >= lo) & (norms[:-1] <= hi) & (norms[1:] > 0))[0]
    if idx.size < 3:
        return float("nan"), int(idx.size)
    return float(np.exp(np.mean(np.log(norms[idx + 1] / norms[idx])))), int(idx.size)


def _predicted(lam: np.ndarray, eta: np.ndarray, lambda_max_scale: float,
               min_only: bool) -> np.ndarray:
    """max_i |1 − ηλ_i| (the statement), or a wrong variant of it (mutants)."""
    lam = np.array(lam, dtype=np.float64, copy=True)
    lam[..., -1] *= lambda_max_scale
    factors = np.abs(1.0 - np.asarray(eta)[..., None] * lam)
    return factors[..., 0] if min_only else factors.max(axis=-1)


def check_linear_convergence(ctx: Context, lambda_max_scale: float = 1.0,
                             min_only: bool = False, **_: Any) -> Evidence:
    r"""Measured late-run contraction of GD near θ* vs :math:`\max_i|1-\eta\lambda_i(I(\theta^*))|`.

    ``lambda_max_scale`` and ``min_only`` exist only to state wrong predictions (mutants).
    """
    chk = Checks()
    record_derivation(chk, "symbolic_derivation", sgeo.linear_convergence_derivation())
    configs = np.array(_CONFIGS_FULL if ctx.full else _CONFIGS_QUICK)
    a, d, c = configs[:, 0], configs[:, 1], configs[:, 2]
    lam = np.linalg.eigvalsh(model.fisher(a, d))  # (N, 3) ascending: H = I(θ*) (claim above)
    eta = c * 2.0 / lam[:, -1]
    predicted = _predicted(lam, eta, lambda_max_scale, min_only)
    # start near θ*: a seeded random direction of length 1e-3 (w scaled into (0, 1) safely)
    rng = ctx.rng(31)
    u = rng.normal(size=(a.size, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    star = np.stack([a, np.zeros_like(a), d], axis=-1)
    theta0 = star + 1e-3 * u
    norms = _gd_batch(a, d, eta, theta0, max_steps=3000, stop=1e-10)
    measured = np.empty(a.size)
    worst = 0.0
    for i in range(a.size):
        measured[i], n_used = _late_factor(norms[:, i], 1e-9, 1e-7)
        err = abs(measured[i] - predicted[i])
        worst = max(worst, err) if np.isfinite(err) else float("inf")
        chk.metric(f"config{i}_alpha{a[i]:g}_delta{d[i]:g}_eta{eta[i]:.4g}_measured",
                   measured[i])
        chk.metric(f"config{i}_predicted", predicted[i])
        chk.metric(f"config{i}_window_steps", n_used)
        top2 = np.sort(np.abs(1.0 - eta[i] * lam[i]))[::-1][:2]
        chk.metric(f"config{i}_factor_gap", float(top2[1] / top2[0]))
    chk.le("max_abs_err_contraction_factor", worst, 1e-3,
           f"{a.size} configurations; measured = geometric-mean ‖e_(t+1)‖/‖e_t‖ over "
           "1e-9 ≤ ‖e_t‖ ≤ 1e-7")
    chk.true("all_converge", bool((norms[-1] < 1e-9).all()),
             f"final errors {np.array2string(norms[-1], precision=2)}")
    chk.metric("steps", int(norms.shape[0] - 1))
    # library route: dynamics.gradient_descent(param="raw") is the same iteration
    obj = dynamics.rkl_objective(float(a[0]), 0.0, float(d[0]))
    traj = dynamics.gradient_descent(obj, theta0[0], float(eta[0]), 40, param="raw")
    lib_norms = np.linalg.norm(traj.theta - star[0], axis=1)
    diff = float(np.abs(lib_norms - norms[:41, 0]).max())
    chk.le("max_abs_diff_dynamics_gradient_descent", diff, 1e-14,
           "dynamics.gradient_descent(param='raw') vs the batched iteration, 40 steps")
    # sharpness of the threshold: η slightly above 2/λ_max grows like ηλ_max − 1
    a1, d1 = 0.5, 4.0
    lam1 = np.linalg.eigvalsh(model.fisher(a1, d1))
    eta1 = 1.05 * 2.0 / lam1[-1]
    grow_pred = float(_predicted(lam1, eta1, lambda_max_scale, min_only))
    th0 = np.array([a1, 0.0, d1]) + 1e-9 * u[0]
    traj = dynamics.gradient_descent(dynamics.rkl_objective(a1, 0.0, d1), th0, eta1, 80)
    gn = np.linalg.norm(traj.theta - np.array([a1, 0.0, d1]), axis=1)
    grow = float(np.exp(np.mean(np.log(gn[61:] / gn[60:-1]))))
    chk.close("divergence_factor_eta_above_threshold", grow, grow_pred, rtol=0.0, atol=1e-3,
              detail=f"η = 1.05·2/λ_max = {eta1:.4g}: ‖e_t‖ grows by ηλ_max − 1")
    return chk.evidence(
        f"GD contraction = max|1 − ηλ_i(I(θ*))| within {worst:.1e} over {a.size} (α, Δ, η); "
        f"η > 2/λ_max grows by {grow:.4f}")


register(Claim(
    id="rkl.linear_convergence",
    statement="Gradient descent on L_R in raw (w, μo, μn) with step η < 2/λ_max converges "
              "locally linearly with contraction factor max_i |1 − η λ_i(I(θ*))| (to 1e-3)",
    check=check_linear_convergence,
    derivations=lambda: [sgeo.linear_convergence_derivation()],
    assumptions=("whitened 1-D coordinates: μo* = 0, μn* = Δ, σ = 1",
                 "start within 1e-3 of θ*; the rate is read off where ‖θ_t − θ*‖ ∈ [1e-9, 1e-7]"),
    mutants={
        "lambda_max_halved": {"lambda_max_scale": 0.5},
        "lambda_min_only": {"min_only": True},
    },
    issue=3,
))
