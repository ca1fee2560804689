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
most
1e4 smallest scales and the ratio of the largest to the smallest scale at most 1e4
(``PrecisionError`` beyond). Accuracy: see README "Accuracy and domains" (measured against the
independent 30-digit reference ``tests/reference_general.py``).
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
    return g.reshape((*shape, 5))


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
