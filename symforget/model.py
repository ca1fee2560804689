r"""Public numeric evaluators of the two-mode model (the DESIGN.md public contract).

All functions are vectorised: parameters broadcast against each other (NumPy rules) and the
result carries the broadcast shape (plus trailing vector/matrix axes). Units are 1-D with a
shared scale σ (``sigma``, default 1: whitened units), or d-dimensional with ``cov=`` and vector
means (collinear means reduce exactly to the 1-D model, :mod:`symforget.multivariate`). Every
integrand is compiled from a SymPy derivation: :func:`rkl_grad` and :func:`fkl_grad` from the
reduced forms of :mod:`symforget.symbolic.fastgrad` (evaluated by
:mod:`symforget.numeric.fastgrad`),
the other expectations from :mod:`symforget.symbolic.mixture` by the kink-aware quadrature of
:mod:`symforget.numeric.quadrature`.

Parameters out of domain raise :class:`~symforget.errors.ParameterError` naming the parameter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import equal, multivariate
from .errors import ParameterError, PrecisionError
from .numeric import validate as V
from .numeric.compile import compile_exprs
from .symbolic import gauss
from .symbolic.symbols import delta as _delta

__all__ = [
    "bhattacharyya",
    "kl_gauss",
    "chi2_gauss",
    "hellinger2_gauss",
    "fkl_grad",
    "fkl_hessian",
    "fkl_loss",
    "fkl_iw_grad",
    "em_step",
    "rkl_grad",
    "rkl_hessian",
    "rkl_loss",
    "fisher",
    "fisher_matrix",
]


def _closed(name: str, delta: Any) -> np.ndarray:
    d = V.finite("delta", delta)
    fn = compile_exprs(gauss.STATED[name], (_delta,))
    with np.errstate(over="ignore", under="ignore"):
        out = np.asarray(fn(np.abs(d)), dtype=np.float64) * np.ones_like(d)
    bad = ~np.isfinite(out)
    if np.any(bad):
        first = float(np.abs(d)[bad].ravel()[0]) if d.ndim else float(abs(d))
        raise PrecisionError(f"{name}_gauss: delta={first!r} is too large: the value "
                             "overflows double precision (use the closed form's logarithm)")
    return out


def bhattacharyya(delta: Any, *, ratio: Any = 1.0) -> np.ndarray:
    r"""Bhattacharyya coefficient of two equal-covariance Gaussians, :math:`e^{-\Delta^2/8}`.

    With ``ratio`` = r = s_b/s_a ≠ 1 (Δ = (b − a)/s_a in the first Gaussian's units): the
    unequal-scale form :math:`\sqrt{2r/(1+r^2)}\,e^{-\Delta^2/(4(1+r^2))}`, derived by SymPy
    integration (claim ``beyond.any_family``); every finite Δ and r > 0, a few ulps.

    ``delta`` is the Mahalanobis separation (any sign; only Δ² matters).
    Claim ``gauss.closed_forms``. Domain: every finite Δ; correctly rounded up to a relative
    error of a few ulps of Δ²/8 (so ~1e-16·Δ²/8 relative), and 0.0 once
    :math:`e^{-\Delta^2/8}` is below the smallest double (\|Δ\| > 77.2).

    Examples
    --------
    >>> import symforget as sf
    >>> float(sf.bhattacharyya(2.0))  # e^{-4/8} = e^{-1/2}
    0.6065306597126334
    >>> float(bhattacharyya(0.0))
    1.0
    >>> round(float(bhattacharyya(0.0, ratio=2.0)), 12)  # √(2·2/5)
    0.894427191
    """
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and ratio == 1.0:
        return _closed("bc", delta)
    from .symbolic import beyond

    d, r = V.broadcast(delta=V.finite("delta", delta), ratio=V.positive("ratio", ratio))
    fn = compile_exprs(beyond.bc_log(), (beyond.D, beyond.r))
    with np.errstate(under="ignore"):
        return np.exp(np.asarray(fn(np.abs(d), r), dtype=np.float64))


def kl_gauss(delta: Any) -> np.ndarray:
    r""":math:`\mathrm{KL}(\varphi_a\Vert\varphi_b) = \Delta^2/2` (claim ``gauss.closed_forms``).

    Domain \|Δ\| ≤ 1.8e154 (beyond, Δ²/2 overflows: :class:`PrecisionError`); correctly rounded.

    Examples
    --------
    >>> import symforget as sf
    >>> float(sf.kl_gauss(3.0))  # 3²/2
    4.5
    """
    return _closed("kl", delta)


def chi2_gauss(delta: Any) -> np.ndarray:
    r""":math:`\chi^2(\varphi_a\Vert\varphi_b) = e^{\Delta^2} - 1` (``gauss.closed_forms``).

    Domain \|Δ\| ≤ 26.64 (beyond, the value overflows: :class:`PrecisionError`); relative error a
    few ulps of Δ² (``expm1``, so accurate at small Δ too).

    Examples
    --------
    >>> import symforget as sf
    >>> float(sf.chi2_gauss(1.0))  # e - 1 = 1.71828182845904523536..., correctly rounded
    1.7182818284590453
    """
    return _closed("chi2", delta)


def hellinger2_gauss(delta: Any) -> np.ndarray:
    r"""Squared Hellinger distance :math:`1 - e^{-\Delta^2/8}` (claim ``gauss.closed_forms``).

    Every finite Δ; ``-expm1(-Δ²/8)``, accurate to a few ulps also for small Δ.

    Examples
    --------
    >>> import symforget as sf
    >>> float(sf.hellinger2_gauss(2.0))  # 1 - e^{-1/2}
    0.3934693402873666
    """
    return _closed("hellinger2", delta)


def fkl_grad(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, sigma: Any = None,
    replay: Any = 0.0, replay_mean: Any = None, cov: Any = None,
    data_sigma: Any = None, replay_sigma: Any = None, sigma_old: Any = None,
    sigma_new: Any = None, with_scales: bool = False,
) -> np.ndarray:
    r"""Gradient of the forward KL :math:`L_F = \mathrm{KL}(P_{\rm train}\Vert q_\theta)`.

    :math:`\nabla_{(w,\mu_o,\mu_n)} L_F = -\mathbb E_{P_{\rm train}}[\nabla\log q_\theta]` with
    :math:`P_{\rm train} = (1-\rho)\mathcal N(m_d,\sigma^2) + \rho\,\mathcal N(m_r,\sigma^2)`,
    ρ = ``replay``. In particular :math:`\partial_w L_F = (w - \mathbb E_P[r_o])/(w(1-w))`
    (claim ``fkl.em_identity``); where that difference cancels (w → 0 with the data on the new
    mode) the entry is re-formed by exponential tilting, so it stays relatively accurate down
    to w = 1e-12 (:func:`symforget.numeric.fastgrad.fkl_dw_small`; with component scales
    ≤ 5e-12, ``symforget.general``).

    Returns an array of shape ``broadcast_shape + (3,)``. With ``cov`` (d×d) the means are
    vectors ``(..., d)`` and the result is ``(..., 1 + 2d)``, see :mod:`symforget.multivariate`.

    **Domain and accuracy.** Means within 1e8σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-12 with a floor of 1e-3·‖g‖∞
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py, tests/test_fastgrad.py).

    Examples
    --------
    Training on the new component only, P_train = N(2, 1); the w entry is
    :math:`-\mathbb E_P[(\varphi_{\mu_o}-\varphi_{\mu_n})/q_\theta]` (QUADPACK: 1.32327707204):

    >>> import symforget as sf
    >>> g = sf.fkl_grad(0.3, -2.0, 2.0, data_mean=2.0)
    >>> g.shape, round(float(g[0]), 10)
    ((3,), 1.323277072)

    With replay λ = 0.2 of the old task and w = λ, q_θ equals P_train: the gradient vanishes
    (claim ``replay.fkl_optimum``):

    >>> g = sf.fkl_grad(0.2, -2.0, 2.0, data_mean=2.0, replay=0.2, replay_mean=-2.0)
    >>> bool(abs(g).max() < 1e-12)
    True
    """
    if _general(sigma_old, sigma_new, data_sigma, replay_sigma) or with_scales:
        args = _general_fkl(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean, sigma_old,
                            sigma_new, data_sigma, replay_sigma, cov=cov, function="fkl_grad")
        return _via_general("fkl_grad", args, with_scales)
    if cov is not None:
        return multivariate.fkl_grad(w, mu_old, mu_new, data_mean=data_mean,
                                     cov=cov, replay=replay, replay_mean=replay_mean, sigma=sigma)
    return equal.fkl_grad(w, mu_old, mu_new, data_mean=data_mean, sigma=sigma,
                          replay=replay, replay_mean=replay_mean)


def fkl_hessian(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, sigma: Any = None,
    replay: Any = 0.0, replay_mean: Any = None, cov: Any = None,
    data_sigma: Any = None, replay_sigma: Any = None, sigma_old: Any = None,
    sigma_new: Any = None, with_scales: bool = False,
) -> np.ndarray:
    r"""Hessian :math:`-\mathbb E_{P}[\nabla^2\log q_\theta]`, shape ``(..., 3, 3)``
    (with ``cov``: ``(..., 1 + 2d, 1 + 2d)``, :func:`symforget.multivariate.fkl_hessian`).

    **Domain and accuracy.** Means within 1e7σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-10 with a floor of 1e-3 of the largest entry
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py).

    Examples
    --------
    Training on N(2, 1): the w–w entry is :math:`\mathbb E_P[((\varphi_{\mu_o} -
    \varphi_{\mu_n})/q_\theta)^2]` (QUADPACK on the definition: 1.97251986962):

    >>> import symforget as sf
    >>> H = sf.fkl_hessian(0.3, -2.0, 2.0, data_mean=2.0)
    >>> H.shape, round(float(H[0, 0]), 10)
    ((3, 3), 1.9725198696)
    >>> import numpy as np
    >>> bool(np.allclose(H, H.T, rtol=0, atol=1e-14))  # symmetric
    True
    """
    if _general(sigma_old, sigma_new, data_sigma, replay_sigma) or with_scales:
        args = _general_fkl(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean, sigma_old,
                            sigma_new, data_sigma, replay_sigma, cov=cov, function="fkl_hessian")
        return _via_general("fkl_hessian", args, with_scales)
    if cov is not None:
        return multivariate.fkl_hessian(w, mu_old, mu_new, data_mean=data_mean, cov=cov,
                                        replay=replay, replay_mean=replay_mean, sigma=sigma)
    return equal.fkl_hessian(w, mu_old, mu_new, data_mean=data_mean, sigma=sigma,
                             replay=replay, replay_mean=replay_mean)


def fkl_loss(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, sigma: Any = None,
    replay: Any = 0.0, replay_mean: Any = None, cov: Any = None,
    data_sigma: Any = None, replay_sigma: Any = None, sigma_old: Any = None,
    sigma_new: Any = None,
) -> np.ndarray:
    r""":math:`\mathrm{KL}(P_{\rm train}\Vert q_\theta) = \mathbb E_P[\log P - \log q_\theta]`.

    **Domain and accuracy.** Means within 1e7σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-12 with a floor of 1e-3 of the largest entry
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py).

    Examples
    --------
    Training on N(2, 1) (QUADPACK on the definition: 0.319829713550):

    >>> import symforget as sf
    >>> round(float(sf.fkl_loss(0.3, -2.0, 2.0, data_mean=2.0)), 11)
    0.31982971355

    With the old component 40σ away, :math:`q_\theta \approx (1-w)P` on the data and the loss
    is :math:`-\log(1-w)` (the mass cost of forgetting, claim ``fkl.mass_forgetting``):

    >>> import math
    >>> L = float(sf.fkl_loss(0.3, -40.0, 0.0, data_mean=0.0))
    >>> math.isclose(L, -math.log(0.7), rel_tol=1e-14)
    True
    """
    if _general(sigma_old, sigma_new, data_sigma, replay_sigma):
        args = _general_fkl(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean, sigma_old,
                            sigma_new, data_sigma, replay_sigma, cov=cov, function="fkl_loss")
        return _via_general("fkl_loss", args, False)
    if cov is not None:
        return multivariate.fkl_loss(w, mu_old, mu_new, data_mean=data_mean,
                                     cov=cov, replay=replay, replay_mean=replay_mean, sigma=sigma)
    return equal.fkl_loss(w, mu_old, mu_new, data_mean=data_mean, sigma=sigma,
                          replay=replay, replay_mean=replay_mean)


def fkl_iw_grad(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, replay: Any, replay_mean: Any,
    sigma: Any = None, cov: Any = None,
) -> np.ndarray:
    r"""Importance-weighted replay gradient :math:`-\mathbb E_{P_{\rm train}}
    [(P_{\rm new}/P_{\rm train})\nabla\log q_\theta]` (claim ``replay.fkl_iw_no_effect``).
    With ``cov``: :func:`symforget.multivariate.fkl_iw_grad`.

    **Domain and accuracy.** Means within 1e7σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-10 with a floor of 1e-3 of the largest entry
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py).

    Examples
    --------
    Replay importance-weighted back to :math:`P_{\rm new}` gives exactly the gradient without
    replay, whatever the replay fraction (claim ``replay.fkl_iw_no_effect``):

    >>> import numpy as np
    >>> import symforget as sf
    >>> g_iw = sf.fkl_iw_grad(0.3, -2.0, 2.0, data_mean=2.0, replay=0.4, replay_mean=-2.0)
    >>> g = sf.fkl_grad(0.3, -2.0, 2.0, data_mean=2.0)
    >>> bool(np.allclose(g_iw, g, rtol=1e-12, atol=0))
    True
    """
    if cov is not None:
        return multivariate.fkl_iw_grad(w, mu_old, mu_new, data_mean=data_mean, cov=cov,
                                        replay=replay, replay_mean=replay_mean, sigma=sigma)
    return equal.fkl_iw_grad(w, mu_old, mu_new, data_mean=data_mean, sigma=sigma,
                             replay=replay, replay_mean=replay_mean)


def em_step(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, sigma: Any = None,
    replay: Any = 0.0, replay_mean: Any = None, cov: Any = None,
) -> np.ndarray:
    r"""One population EM step for :math:`\mathrm{KL}(P_{\rm train}\Vert q_\theta)`.

    :math:`w' = \mathbb E_P[r_o]`, :math:`\mu_o' = \mathbb E_P[r_o x]/\mathbb E_P[r_o]`,
    :math:`\mu_n' = \mathbb E_P[r_n x]/\mathbb E_P[r_n]` (σ fixed). Returns ``(..., 3)``
    (with ``cov``: ``(..., 1 + 2d)``, :func:`symforget.multivariate.em_step`).

    **Domain and accuracy.** Means within 1e7σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-10 with a floor of 1e-3 of the largest entry
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py).

    Examples
    --------
    On new data only, the old weight becomes :math:`\mathbb E_P[r_o]` (QUADPACK:
    0.0221118148721): EM drives it towards 0 (claim ``fkl.mass_forgetting``):

    >>> import symforget as sf
    >>> round(float(sf.em_step(0.3, -2.0, 2.0, data_mean=2.0)[0]), 12)
    0.022111814872

    With replay λ = 0.2 and q_θ = P_train (w = λ, means at the truth) EM is at its fixed point
    (claim ``replay.fkl_optimum``):

    >>> [round(float(v), 12) for v in
    ...  sf.em_step(0.2, -2.0, 2.0, data_mean=2.0, replay=0.2, replay_mean=-2.0)]
    [0.2, -2.0, 2.0]
    """
    if cov is not None:
        return multivariate.em_step(w, mu_old, mu_new, data_mean=data_mean,
                                    cov=cov, replay=replay, replay_mean=replay_mean, sigma=sigma)
    return equal.em_step(w, mu_old, mu_new, data_mean=data_mean, sigma=sigma,
                         replay=replay, replay_mean=replay_mean)


def rkl_grad(
    w: Any, mu_old: Any, mu_new: Any, *, alpha: Any, target_old: Any, target_new: Any,
    sigma: Any = None, cov: Any = None, sigma_old: Any = None, sigma_new: Any = None,
    target_sigma_old: Any = None, target_sigma_new: Any = None, with_scales: bool = False,
) -> np.ndarray:
    r"""Gradient of the reverse KL :math:`L_R = \mathrm{KL}(q_\theta\Vert p^*)`.

    :math:`\nabla L_R = \sum_c \mathbb E_{\varphi_c}[g_c \log(q_\theta/p^*)]` with
    :math:`\nabla_\theta q = \sum_c\varphi_c g_c` (score-function identity; the ``+1`` of
    :math:`\nabla\int q\log(q/p^*)` integrates to zero). ``p* = α N(target_old) +
    (1−α) N(target_new)``. Returns ``broadcast_shape + (3,)``. With ``cov`` (d×d) the means
    are vectors ``(..., d)`` and the result is ``(..., 1 + 2d)``, see :mod:`symforget.multivariate`.

    **Domain and accuracy.** Means within 1e8σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-12 with a floor of 1e-3·‖g‖∞
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py).

    Examples
    --------
    Means at the truth, w = 0.3 below α = 0.5: the w entry is negative (gradient flow raises w
    toward α, claim ``rkl.weight_convergence``); central differences of a QUADPACK integral of
    :math:`\mathrm{KL}(q_\theta\Vert p^*)` give −0.78773323501:

    >>> import symforget as sf
    >>> g = sf.rkl_grad(0.3, -2.0, 2.0, alpha=0.5, target_old=-2.0, target_new=2.0)
    >>> round(float(g[0]), 7)
    -0.7877332

    At θ = θ* (q_θ = p*) the gradient vanishes (claim ``rkl.global_optimum``):

    >>> g = sf.rkl_grad(0.5, -2.0, 2.0, alpha=0.5, target_old=-2.0, target_new=2.0)
    >>> bool(abs(g).max() < 1e-12)
    True
    """
    if _general(sigma_old, sigma_new, target_sigma_old, target_sigma_new) or with_scales:
        args = _general_rkl(w, mu_old, mu_new, alpha, target_old, target_new, sigma, sigma_old,
                            sigma_new, target_sigma_old, target_sigma_new, cov=cov,
                            function="rkl_grad")
        return _via_general("rkl_grad", args, with_scales)
    if cov is not None:
        return multivariate.rkl_grad(w, mu_old, mu_new, alpha=alpha, target_old=target_old,
                              target_new=target_new, cov=cov, sigma=sigma)
    return equal.rkl_grad(w, mu_old, mu_new, alpha=alpha, target_old=target_old,
                          target_new=target_new, sigma=sigma)


def rkl_hessian(
    w: Any, mu_old: Any, mu_new: Any, *, alpha: Any, target_old: Any, target_new: Any,
    sigma: Any = None, cov: Any = None, sigma_old: Any = None, sigma_new: Any = None,
    target_sigma_old: Any = None, target_sigma_new: Any = None, with_scales: bool = False,
) -> np.ndarray:
    r"""Hessian of :math:`L_R`: :math:`\sum_c\mathbb E_{\varphi_c}[H_c\log(q/p^*)] + I(\theta)`.

    With ``cov``: ``(..., 1 + 2d, 1 + 2d)``, :func:`symforget.multivariate.rkl_hessian`.

    **Domain and accuracy.** Means within 1e7σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-10 with a floor of 1e-3 of the largest entry
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py).

    Examples
    --------
    At the optimum θ* the Hessian of the reverse KL is the Fisher information (claim
    ``rkl.local_geometry``):

    >>> import numpy as np
    >>> import symforget as sf
    >>> H = sf.rkl_hessian(0.3, -1.0, 1.0, alpha=0.3, target_old=-1.0, target_new=1.0)
    >>> bool(np.allclose(H, sf.fisher_matrix(0.3, -1.0, 1.0), rtol=1e-12, atol=1e-14))
    True
    """
    if _general(sigma_old, sigma_new, target_sigma_old, target_sigma_new) or with_scales:
        args = _general_rkl(w, mu_old, mu_new, alpha, target_old, target_new, sigma, sigma_old,
                            sigma_new, target_sigma_old, target_sigma_new, cov=cov,
                            function="rkl_hessian")
        return _via_general("rkl_hessian", args, with_scales)
    if cov is not None:
        return multivariate.rkl_hessian(w, mu_old, mu_new, alpha=alpha, target_old=target_old,
                                 target_new=target_new, cov=cov, sigma=sigma)
    return equal.rkl_hessian(w, mu_old, mu_new, alpha=alpha, target_old=target_old,
                          target_new=target_new, sigma=sigma)


def rkl_loss(
    w: Any, mu_old: Any, mu_new: Any, *, alpha: Any, target_old: Any, target_new: Any,
    sigma: Any = None, cov: Any = None, sigma_old: Any = None, sigma_new: Any = None,
    target_sigma_old: Any = None, target_sigma_new: Any = None,
) -> np.ndarray:
    r""":math:`\mathrm{KL}(q_\theta\Vert p^*) = \mathbb E_{q_\theta}[\log(q_\theta/p^*)]`.

    **Domain and accuracy.** Means within 1e7σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-12 with a floor of 1e-3 of the largest entry
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py).

    Examples
    --------
    >>> import symforget as sf
    >>> loss = sf.rkl_loss(0.3, -2.0, 2.0, alpha=0.5, target_old=-2.0, target_new=2.0)
    >>> round(float(loss), 12)  # QUADPACK on the definition: 0.0765705097245
    0.076570509725
    """
    if _general(sigma_old, sigma_new, target_sigma_old, target_sigma_new):
        args = _general_rkl(w, mu_old, mu_new, alpha, target_old, target_new, sigma, sigma_old,
                            sigma_new, target_sigma_old, target_sigma_new, cov=cov,
                            function="rkl_loss")
        return _via_general("rkl_loss", args, False)
    if cov is not None:
        return multivariate.rkl_loss(w, mu_old, mu_new, alpha=alpha, target_old=target_old,
                              target_new=target_new, cov=cov, sigma=sigma)
    return equal.rkl_loss(w, mu_old, mu_new, alpha=alpha, target_old=target_old,
                          target_new=target_new, sigma=sigma)


def fisher_matrix(w: Any, mu_old: Any, mu_new: Any, *, sigma: Any = None,
                  cov: Any = None, sigma_old: Any = None, sigma_new: Any = None,
                  with_scales: bool = False) -> np.ndarray:
    r"""Fisher information :math:`\mathbb E_q[\nabla\log q\,\nabla\log q^\top]`, ``(..., 3, 3)``.

    With ``cov`` (d×d): vector means and shape ``(..., 1 + 2d, 1 + 2d)``
    (:func:`symforget.multivariate.fisher_matrix`).

    **Domain and accuracy.** Means within 1e7σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-10 with a floor of 1e-3 of the largest entry
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py).

    Examples
    --------
    The w–w entry is :math:`\int(\varphi_{\mu_o} - \varphi_{\mu_n})^2/q_\theta` (QUADPACK:
    2.50969762998); far-apart modes give :math:`\mathrm{diag}(1/(w(1-w)), w, 1-w)`:

    >>> import numpy as np
    >>> import symforget as sf
    >>> round(float(sf.fisher_matrix(0.3, -1.0, 1.0)[0, 0]), 10)
    2.50969763
    >>> bool(np.allclose(sf.fisher_matrix(0.5, 0.0, 40.0), np.diag([4.0, 0.5, 0.5]),
    ...                  rtol=0, atol=1e-12))
    True
    """
    if _general(sigma_old, sigma_new) or with_scales:
        _no_cov(cov, "fisher_matrix")
        sg = V.positive("sigma", 1.0 if sigma is None else sigma)
        args = V.broadcast(w=V.open_unit("w", w), mu_old=V.finite("mu_old", mu_old),
                           sigma_old=_scale("sigma_old", sigma_old, sg),
                           mu_new=V.finite("mu_new", mu_new),
                           sigma_new=_scale("sigma_new", sigma_new, sg))
        return _via_general("fisher_matrix", args, with_scales)
    if cov is not None:
        return multivariate.fisher_matrix(w, mu_old, mu_new, cov=cov, sigma=sigma)
    return equal.fisher_matrix(w, mu_old, mu_new, sigma=sigma)


def fisher(alpha: Any, delta: Any) -> np.ndarray:
    r"""Fisher information at :math:`\theta^* = (\alpha, 0, \Delta)` in whitened (w, μo, μn).

    Equals :math:`\nabla^2 L_R(\theta^*)` (claim ``rkl.local_geometry``). Shape ``(..., 3, 3)``.

    **Domain and accuracy.** Means within 1e7σ of each other (``PrecisionError`` beyond, naming
    the two means); relative error ≤ 1e-10 with a floor of 1e-3 of the largest entry
    (docs/guide/precision.md, "Accuracy and domains"; tests/test_domain.py,
    tests/test_metamorphic.py).

    Examples
    --------
    Well-separated modes: :math:`I(\theta^*) \to \mathrm{diag}(1/(\alpha(1-\alpha)),
    \alpha, 1-\alpha)` up to :math:`O(e^{-\Delta^2/8})` (claim ``rkl.local_geometry``):

    >>> import numpy as np
    >>> import symforget as sf
    >>> bool(np.allclose(sf.fisher(0.5, 40.0), np.diag([4.0, 0.5, 0.5]), rtol=0, atol=1e-12))
    True
    """
    al = V.open_unit("alpha", alpha)
    d = V.finite("delta", delta)
    al, d = V.broadcast(alpha=al, delta=d)
    return fisher_matrix(al, np.zeros_like(d), d)


# --------------------------------------------------------------------------------------------
# the general model: per-component scales (symforget.general)


def _general(*scales: Any) -> bool:
    """Whether any per-component scale was given (the general, unequal-scale path)."""
    return any(v is not None for v in scales)


def _no_cov(cov: Any, function: str) -> None:
    if cov is not None:
        raise ParameterError(f"{function}: per-component scales are 1-D; cov= (a shared "
                             "covariance) and sigma_old/sigma_new/... cannot be combined")


def _scale(name: str, value: Any, default: np.ndarray) -> np.ndarray:
    return default if value is None else V.positive(name, value)


def _via_general(name: str, args: list[np.ndarray], with_scales: bool) -> np.ndarray:
    """``symforget.general.<name>(*args)``; without ``with_scales`` the scale entries (σo, σn:
    slots 2 and 4 of (w, μo, σo, μn, σn)) are dropped from gradients and Hessians."""
    from . import general

    out = getattr(general, name)(*args)
    keep = [0, 1, 3]
    if with_scales or out.ndim == np.ndim(args[0]):  # a loss has nothing to drop
        return out
    if out.ndim == np.ndim(args[0]) + 2:
        return out[..., keep, :][..., :, keep]
    return out[..., keep]


def _general_rkl(w, mu_old, mu_new, alpha, target_old, target_new, sigma, sigma_old, sigma_new,
                 target_sigma_old, target_sigma_new, *, cov: Any = None,
                 function: str = "rkl_grad") -> list[np.ndarray]:
    _no_cov(cov, function)
    sg = V.positive("sigma", 1.0 if sigma is None else sigma)
    vals = dict(
        w=V.open_unit("w", w), mu_old=V.finite("mu_old", mu_old),
        sigma_old=_scale("sigma_old", sigma_old, sg), mu_new=V.finite("mu_new", mu_new),
        sigma_new=_scale("sigma_new", sigma_new, sg), alpha=V.open_unit("alpha", alpha),
        target_old=V.finite("target_old", target_old),
        target_sigma_old=_scale("target_sigma_old", target_sigma_old, sg),
        target_new=V.finite("target_new", target_new),
        target_sigma_new=_scale("target_sigma_new", target_sigma_new, sg))
    return V.broadcast(**vals)


def _general_fkl(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean, sigma_old, sigma_new,
                 data_sigma, replay_sigma, *, cov: Any = None,
                 function: str = "fkl_grad") -> list[np.ndarray]:
    _no_cov(cov, function)
    sg = V.positive("sigma", 1.0 if sigma is None else sigma)
    dm, rp, rm = equal.training(data_mean, replay, replay_mean)
    ds = _scale("data_sigma", data_sigma, sg)
    vals = dict(
        w=V.open_unit("w", w), mu_old=V.finite("mu_old", mu_old),
        sigma_old=_scale("sigma_old", sigma_old, sg), mu_new=V.finite("mu_new", mu_new),
        sigma_new=_scale("sigma_new", sigma_new, sg), data_mean=dm, data_sigma=ds,
        replay_mean=rm, replay_sigma=_scale("replay_sigma", replay_sigma, ds), replay=rp)
    return V.broadcast(**vals)
