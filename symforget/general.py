r"""Evaluators of the general two-component model: every component has its own scale.

The public entry points are the keyword-only scale arguments of :func:`symforget.rkl_grad`,
:func:`symforget.fkl_grad`, :func:`symforget.rkl_loss` and :func:`symforget.fkl_loss`
(``sigma_old``, ``sigma_new``, ``target_sigma_old``, ``target_sigma_new``, ``data_sigma``,
``replay_sigma``, ``with_scales``); this module evaluates the SymPy specs of
:mod:`symforget.symbolic.general` by the kink-aware quadrature with *quadratic* kinks (both
responsibility switches of every component pair are breakpoints).

Coordinates: means are standardised to :math:`(m - c)/s` with c the midpoint of all means and
s the smallest scale, scales to :math:`\sigma/s`; a gradient entry in a mean or a scale is
divided by s on the way back (:mod:`symforget.numeric.frame`). Domain: the spread of the means at
most 1e4 smallest scales and the ratio of the largest to the smallest scale at most 1e4
(``PrecisionError`` beyond). Accuracy: see docs/guide/precision.md, "Accuracy and domains"
(measured against the independent 30-digit reference ``tests/reference_general.py``).
"""

from __future__ import annotations

import numpy as np

from .numeric.compile import compile_exprs, compile_spec
from .numeric.frame import SCALE_RATIO_LIMIT, smallest_scale, standardize
from .numeric.logistic import NORMAL_MOMENTS, sigmoid_moments, softplus_moments
from .numeric.quadrature import expect, expect_by_variant, nearer_second
from .symbolic import general as G
from .symbolic import general_reduced as GR
from .symbolic.symbols import GENERAL_FKL_ARGS, GENERAL_RKL_ARGS

__all__ = ["rkl_grad", "rkl_loss", "rkl_hessian", "fkl_grad", "fkl_loss", "fkl_hessian",
           "fisher_matrix", "SCALE_RATIO_LIMIT"]

def _frame(means: dict[str, np.ndarray], scales: dict[str, np.ndarray], function: str):
    """Standard coordinates: means (m − c)/s, scales σ/s with s the smallest scale."""
    smin = smallest_scale(np.stack(list(scales.values())), function)
    std, frame = standardize(means, smin, family="general", function=function)
    return std, {k: v / smin for k, v in scales.items()}, frame


def _rkl_std(w, mo, so, mn, sn, al, no, to, nn, tn, function):
    m, s, frame = _frame({"mu_old": mo, "mu_new": mn, "target_old": no, "target_new": nn},
                         {"sigma_old": so, "sigma_new": sn, "target_sigma_old": to,
                          "target_sigma_new": tn}, function)
    p = [w, m["mu_old"], s["sigma_old"], m["mu_new"], s["sigma_new"], al, m["target_old"],
         s["target_sigma_old"], m["target_new"], s["target_sigma_new"]]
    refs = [nearer_second(p[1], p[6], p[8]), nearer_second(p[3], p[6], p[8])]
    return p, refs, frame


_MOM = tuple(float(v) for v in NORMAL_MOMENTS)  # E t^j of N(0, 1), j = 0..4


_METHODS = ("reduced", "quadrature")


def _check_method(method: str) -> None:
    if method not in _METHODS:
        raise ValueError(f"method={method!r} must be one of {_METHODS}")


def _flat(p: list[np.ndarray]) -> tuple[list[np.ndarray], tuple[int, ...]]:
    shape = np.broadcast_shapes(*(np.shape(v) for v in p))
    return [np.broadcast_to(v, shape).ravel().astype(np.float64) for v in p], shape


def _rkl_grad_reduced(p: list[np.ndarray], refs: list[np.ndarray]) -> np.ndarray:
    r"""Reduced form (:mod:`symforget.symbolic.general_reduced`): per student component c,
    :math:`\mathbb E_c[t^k\ell_c] = \sum_l a_l\mathbb E t^{k+l} + F_k(z_q) - F_k(z_p)` and the
    gradient :math:`\sum_c\sum_k h_{ik}\mathbb E_c[t^k\ell_c]`; the four softplus-moment
    sets of a point are one batched call of :func:`symforget.numeric.logistic.softplus_moments`."""
    flat, shape = _flat(p)
    n = flat[0].size
    parts = []
    for c in (0, 1):
        ref = np.broadcast_to(refs[c], shape).ravel()
        vals = []
        for b in (0, 1):
            P = GR.rkl_parts(c, b)
            fn = compile_exprs((*P["h"], *P["a"], *P["zq"], *P["zp"]), GENERAL_RKL_ARGS)
            vals.append([np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))
                         for v in fn(*flat)])
        parts.append([np.where(ref == 1, v1, v0) for v0, v1 in zip(*vals, strict=True)])
    # softplus moments of zq and zp for both components: one call on 4n rows
    quads = [np.concatenate([parts[c][18 + 3 * j + i] for c in (0, 1) for j in (0, 1)])
             for i in range(3)]
    F = softplus_moments(*quads).reshape(3, 2, 2, n)  # (k, c, q/p, n)
    g = np.zeros((n, 5))
    for c in (0, 1):
        h = np.stack(parts[c][:15]).reshape(5, 3, n)
        a = parts[c][15:18]
        lk = [sum(a[l] * _MOM[k + l] for l in range(3)) + F[k, c, 0] - F[k, c, 1]
              for k in range(3)]
        g += sum(h[:, k, :] * lk[k] for k in range(3)).T
    return g.reshape((*shape, 5))


def _fkl_grad_reduced(p: list[np.ndarray]) -> np.ndarray:
    r"""Reduced form: under training component d,
    :math:`\mathbb E_d[-\nabla\log q] = \sum_k P_k\mathbb E t^k + Q_{+,k}G_k(z) +
    Q_{-,k}G_k(-z)` (:func:`symforget.symbolic.general_reduced.fkl_parts`), weighted by
    1 − ρ and ρ (the replay component only where ρ > 0)."""
    flat, shape = _flat(p)
    n = flat[0].size
    rho = flat[9]
    g = np.zeros((n, 5))
    for d, weight in ((0, 1.0 - rho), (1, rho)):
        rows = np.arange(n) if d == 0 else np.nonzero(rho > 0)[0]
        if rows.size == 0:
            continue
        P = GR.fkl_parts(d)
        fn = compile_exprs((*P["z"], *P["P"], *P["Qp"], *P["Qm"]), GENERAL_FKL_ARGS)
        m = rows.size
        v = [np.broadcast_to(np.asarray(e, dtype=np.float64), (m,))
             for e in fn(*[f[rows] for f in flat])]
        Gp, Gm = sigmoid_moments(v[0], v[1], v[2])
        Pc, Qp, Qm = (np.stack(v[3 + 15 * j:18 + 15 * j]).reshape(5, 3, m) for j in range(3))
        e = sum(Pc[:, k, :] * _MOM[k] + Qp[:, k, :] * Gp[k] + Qm[:, k, :] * Gm[k]
                for k in range(3))
        g[rows] += (weight[rows] * e).T
    _refine_weight_entry(flat, g)
    return g.reshape((*shape, 5))


#: absolute accuracy of the logistic moments G (numeric.logistic: ≤ 5e-14 measured) and the
#: unit roundoff, for the error bounds that choose a form of the w-entry
_DELTA_G, _EPS = 1e-13, 2.3e-16
#: relative error bound of the reduced w-entry above which the other forms are tried (about
#: w(1 − w)|∂_w L_F| < 1e-2: small w, or a small entry)
_REFINE = 1e-11
#: largest log C_k for which the tilted forms are evaluated
_LOG_C_MAX = 600.0


def _refine_weight_entry(flat: list[np.ndarray], g: np.ndarray) -> None:
    r"""Where the reduced w-entry :math:`(w - \mathbb E r_o)/(w(1-w))` has a rounding-error
    bound above :data:`_REFINE` relative (w → 0: G carries an absolute error, the difference
    cancels), replace it (in place) by the form of :func:`_dw_forms` with the smallest bound."""
    w = flat[0]
    G0 = w - g[:, 0] * w * (1.0 - w)  # E r_o recovered from the entry
    with np.errstate(divide="ignore", invalid="ignore"):
        err = (_DELTA_G + _EPS * np.maximum(np.abs(w), np.abs(G0))) / (w * (1.0 - w))
        flag = (w < 0.5) & ~(err <= _REFINE * np.abs(g[:, 0]))
    rows = np.flatnonzero(flag)
    if rows.size == 0:
        return
    sub = [f[rows] for f in flat]
    rho = sub[9]
    vals, errs = _dw_forms(sub[0], sub[1], sub[2], sub[3], sub[4], sub[5], sub[6])
    vals, errs = (1.0 - rho) * vals, (1.0 - rho) * errs
    rep = rho > 0
    if rep.any():
        v2, e2 = _dw_forms(sub[0], sub[1], sub[2], sub[3], sub[4], sub[7], sub[8])
        vals = np.where(rep, vals + rho * v2, vals)
        errs = np.where(rep, errs + rho * e2, errs)
    best = np.argmin(errs, axis=0)
    pick = np.arange(rows.size)
    better = errs[best, pick] < err[rows]
    g[rows[better], 0] = vals[best, pick][better]


def _log_c1(mo, so, mn, sn, m, sd) -> np.ndarray:
    r""":math:`\log C_1 = \log\mathbb E_{N(m,s_d^2)}[\varphi_o/\varphi_n]` without cancellation
    (exactly 0 when the data are the new component): with :math:`a = \sigma^{-2}`,
    :math:`\delta = a_d - a_n = (\sigma_n^2 - s_d^2)/(s_d^2\sigma_n^2)`,
    :math:`\lambda = a_o + \delta`, :math:`D = \mu_o - \mu_n`, :math:`u = \mu_n - m`,

    .. math:: \log C_1 = \tfrac12\operatorname{log1p}(\delta/a_n)
              - \tfrac12\operatorname{log1p}(\delta/a_o)
              - \frac{a_o\delta D^2 + 2a_oa_dDu + a_d(a_o-a_n)u^2}{2\lambda}

    (complete the square in :math:`y = x - \mu_n`; the constant terms cancel in closed form)."""
    a_o, a_n, a_d = 1.0 / so**2, 1.0 / sn**2, 1.0 / sd**2
    delta = (sn * sn - sd * sd) / (sd * sd * sn * sn)
    lam = a_o + delta
    D, u = mo - mn, mn - m
    q = (a_o * delta * D * D + 2.0 * a_o * a_d * D * u + a_d * (a_o - a_n) * u * u) / lam
    return 0.5 * np.log1p(delta / a_n) - 0.5 * np.log1p(delta / a_o) - 0.5 * q


def _dw_forms(w, mo, so, mn, sn, m, sd) -> tuple[np.ndarray, np.ndarray]:
    r"""Two forms of :math:`\partial_w L_F` for data :math:`P = N(m, s_d^2)` that do not
    cancel as w → 0, with rounding-error bounds: arrays of shape (2, n) (value NaN and bound
    ∞ where a form does not apply).

    With :math:`\rho = \varphi_o/\varphi_n`, :math:`\epsilon = w/(1-w)`,
    :math:`q = \varphi_n(1 - w + w\rho)` and :math:`\sigma(-z) = 1/(1+\epsilon\rho)`:
    :math:`\partial_w L_F = -\mathbb E_P[(\varphi_o-\varphi_n)/q]
    = \frac{1}{1-w}\mathbb E_P[(1-\rho)\,\sigma(-z)]`. Let :math:`C_k = \mathbb E_P\rho^k`
    and :math:`P_k\propto\varphi_d\rho^k` (Gaussian, precision
    :math:`\lambda_k = s_d^{-2} + k(\sigma_o^{-2}-\sigma_n^{-2})`, required > 0; mean
    :math:`h_k/\lambda_k`), :math:`S_k = \mathbb E_{P_k}[\sigma(-z)]` (→ 1 as w → 0, needed
    to absolute accuracy only). Then

    .. math:: \text{(a)}\quad \partial_w L_F = \frac{S_0 - C_1S_1}{1-w},\qquad
              \text{(b)}\quad \partial_w L_F = \frac{1 - C_1}{1-w}
              + \frac{w}{(1-w)^2}\,(C_2S_2 - C_1S_1),

    (b) from :math:`\frac{1-\rho}{1+\epsilon\rho} = (1-\rho) +
    \frac{\epsilon\rho(\rho-1)}{1+\epsilon\rho}`, with :math:`1 - C_1` by ``expm1``. (a)
    needs :math:`\lambda_1 > 0` and has absolute error :math:`\approx\delta_G(1+C_1)`; (b) needs
    :math:`\lambda_2 > 0` (:math:`\mathbb E_P\rho^2 < \infty`) and its error is
    :math:`O(w)\,\delta_G` plus the roundoff of its terms — relatively accurate as w → 0 when
    the data sit on the new mode (:math:`C_1 = 1`).
    """
    a_o, a_n, a_d = 1.0 / so**2, 1.0 / sn**2, 1.0 / sd**2
    ell = np.log(w) - np.log1p(-w) + np.log(sn / so)
    n = w.shape[0]
    vals = np.full((2, n), np.nan)
    errs = np.full((2, n), np.inf)
    logC = np.full((3, n), np.nan)
    S = np.full((3, n), np.nan)
    for k in (0, 1, 2):
        lk = a_d + k * (a_o - a_n)
        ok = (lk > 0.0) & (w > 0.0) & (w < 0.5)
        if not ok.any():
            continue
        lk = lk[ok]
        h = m[ok] * a_d[ok] + k * (mo[ok] * a_o[ok] - mn[ok] * a_n[ok])
        if k == 1:  # the form that cancels exactly when the data are the new component
            logC[1, ok] = _log_c1(mo[ok], so[ok], mn[ok], sn[ok], m[ok], sd[ok])
        elif k == 2:
            kappa = -0.5 * (m[ok]**2 * a_d[ok] + 2 * mo[ok]**2 * a_o[ok]
                            - 2 * mn[ok]**2 * a_n[ok])
            logC[2, ok] = (kappa + h * h / (2.0 * lk) - 0.5 * np.log(lk * sd[ok]**2)
                           + 2 * np.log(sn[ok] / so[ok]))
        # k = 0: C₀ = 1 (log C₀ is not used)
        M, sk = h / lk, 1.0 / np.sqrt(lk)
        A = 0.5 * sk * sk * (a_n[ok] - a_o[ok])
        B = sk * ((M - mn[ok]) * a_n[ok] - (M - mo[ok]) * a_o[ok])
        C = ell[ok] + 0.5 * ((M - mn[ok])**2 * a_n[ok] - (M - mo[ok])**2 * a_o[ok])
        S[k, ok] = sigmoid_moments(A, B, C)[1][0]
    one_m = 1.0 - w
    with np.errstate(over="ignore", invalid="ignore"):
        C1 = np.exp(np.minimum(logC[1], _LOG_C_MAX))
        C2 = np.exp(np.minimum(logC[2], _LOG_C_MAX))
        a = (S[0] - C1 * S[1]) / one_m
        ea = (_DELTA_G + _EPS) * (1.0 + C1) / one_m
        t1 = -np.expm1(logC[1]) / one_m
        u, v = w / one_m**2 * C2 * S[2], w / one_m**2 * C1 * S[1]
        b = t1 + (u - v)
        eb = _EPS * (np.abs(t1) + u + v) + _DELTA_G * w / one_m**2 * (C1 + C2)
    for row, (val, e, lc) in enumerate(((a, ea, logC[1]), (b, eb, logC[2]))):
        good = np.isfinite(val) & np.isfinite(e) & (lc <= _LOG_C_MAX)
        vals[row, good] = val[good]
        errs[row, good] = e[good]
    return vals, errs


def rkl_grad(w, mo, so, mn, sn, al, no, to, nn, tn, *, method: str = "reduced") -> np.ndarray:
    """∇_(w, μo, σo, μn, σn) KL(q ‖ p*) at validated, broadcast arrays; shape (..., 5).

    ``method="reduced"`` (default): the reduced form (Gaussian moments and logistic moments
    of quadratics); ``"quadrature"``: the kink-aware quadrature of the unreduced spec (kept as
    a second, independent route for the tests)."""
    _check_method(method)
    p, refs, frame = _rkl_std(w, mo, so, mn, sn, al, no, to, nn, tn, "rkl_grad")
    if method == "reduced":
        g = _rkl_grad_reduced(p, refs)
    else:
        g = expect_by_variant(lambda a, b: G.rkl_grad_spec((a, b)), refs, p)
    return frame.gradient(g, mean_slots=(1, 2, 3, 4), function="rkl_grad")


def rkl_loss(w, mo, so, mn, sn, al, no, to, nn, tn) -> np.ndarray:
    """KL(q ‖ p*) at validated, broadcast arrays."""
    p, refs, _ = _rkl_std(w, mo, so, mn, sn, al, no, to, nn, tn, "rkl_loss")
    return expect_by_variant(lambda a, b: G.rkl_loss_spec((a, b)), refs, p)[..., 0]


def _fkl_std(w, mo, so, mn, sn, md, sd, mr, sr, rho, function):
    mr = np.where(rho > 0, mr, md)  # a replay component without weight plays no part
    sr = np.where(rho > 0, sr, sd)
    m, s, frame = _frame({"mu_old": mo, "mu_new": mn, "data_mean": md, "replay_mean": mr},
                         {"sigma_old": so, "sigma_new": sn, "data_sigma": sd,
                          "replay_sigma": sr}, function)
    p = [w, m["mu_old"], s["sigma_old"], m["mu_new"], s["sigma_new"], m["data_mean"],
         s["data_sigma"], m["replay_mean"], s["replay_sigma"], rho]
    return p, frame


def fkl_grad(w, mo, so, mn, sn, md, sd, mr, sr, rho, *, method: str = "reduced") -> np.ndarray:
    """∇_(w, μo, σo, μn, σn) KL(P ‖ q) at validated, broadcast arrays; shape (..., 5)
    (``method`` as in :func:`rkl_grad`)."""
    _check_method(method)
    p, frame = _fkl_std(w, mo, so, mn, sn, md, sd, mr, sr, rho, "fkl_grad")
    if method == "reduced":
        g = _fkl_grad_reduced(p)
    else:
        g = expect(compile_spec(G.fkl_grad_spec()), p)
    return frame.gradient(g, mean_slots=(1, 2, 3, 4), function="fkl_grad")


def fkl_loss(w, mo, so, mn, sn, md, sd, mr, sr, rho) -> np.ndarray:
    """KL(P ‖ q) at validated, broadcast arrays (ρ = 0 points use P = N(m_d, s_d²))."""
    p, _ = _fkl_std(w, mo, so, mn, sn, md, sd, mr, sr, rho, "fkl_loss")
    has = (p[9] > 0).astype(np.int8)
    keys = [has, nearer_second(p[5], p[1], p[3]), np.where(has, nearer_second(p[7], p[1], p[3]), 1)]
    return expect_by_variant(lambda r, a, b: G.fkl_loss_spec(bool(r), (a, b) if r else (a, 1)),
                    keys, p)[..., 0]


def rkl_hessian(w, mo, so, mn, sn, al, no, to, nn, tn) -> np.ndarray:
    """∇² KL(q ‖ p*) in (w, μo, σo, μn, σn) at validated, broadcast arrays; shape (..., 5, 5)."""
    p, refs, frame = _rkl_std(w, mo, so, mn, sn, al, no, to, nn, tn, "rkl_hessian")
    h = expect_by_variant(lambda a, b: G.rkl_hess_spec((a, b)), refs, p)
    return frame.hessian(h.reshape(*h.shape[:-1], 5, 5), mean_slots=(1, 2, 3, 4),
                         function="rkl_hessian")


def fkl_hessian(w, mo, so, mn, sn, md, sd, mr, sr, rho) -> np.ndarray:
    """∇² KL(P ‖ q) in (w, μo, σo, μn, σn) at validated, broadcast arrays; shape (..., 5, 5)."""
    p, frame = _fkl_std(w, mo, so, mn, sn, md, sd, mr, sr, rho, "fkl_hessian")
    h = expect(compile_spec(G.fkl_hess_spec()), p)
    return frame.hessian(h.reshape(*h.shape[:-1], 5, 5), mean_slots=(1, 2, 3, 4),
                         function="fkl_hessian")


def fisher_matrix(w, mo, so, mn, sn) -> np.ndarray:
    """Fisher information of q in (w, μo, σo, μn, σn); shape (..., 5, 5)."""
    m, s, frame = _frame({"mu_old": mo, "mu_new": mn}, {"sigma_old": so, "sigma_new": sn},
                         "fisher_matrix")
    one = np.ones_like(w)
    # the spec's argument order is the reverse-KL one; the target entries are not used
    p = [w, m["mu_old"], s["sigma_old"], m["mu_new"], s["sigma_new"], 0.5 * one, 0 * one, one,
         0 * one, one]
    h = expect(compile_spec(G.fisher_spec()), p)
    return frame.hessian(h.reshape(*h.shape[:-1], 5, 5), mean_slots=(1, 2, 3, 4),
                         function="fisher_matrix")
