r"""The paper's special case: two components with one shared σ, in one dimension.

The equal-scale evaluators behind :mod:`symforget.model` (which adds the per-component-scale
route through :mod:`symforget.general` and the shared-covariance route through
:mod:`symforget.multivariate`; both of those reduce to, or sit beside, the functions here).
Every function works in problem-centred standard coordinates (:mod:`symforget.numeric.frame`):
gradients by the reduced closed forms of :mod:`symforget.numeric.fastgrad`, the rest by the
kink-aware quadrature of :mod:`symforget.numeric.quadrature` on specs derived in
:mod:`symforget.symbolic`. The maths, domains and accuracy are documented on the public
functions of :mod:`symforget.model`; arguments are validated here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParameterError
from .numeric import validate as V
from .numeric.compile import compile_spec
from .numeric.fastgrad import fkl_grad as _fast_fkl
from .numeric.fastgrad import rkl_grad as _fast_rkl
from .numeric.frame import Frame, standardize
from .numeric.quadrature import expect, expect_by_variant, nearer_second
from .symbolic import mixture, stein


def _student(w: Any, mu_old: Any, mu_new: Any, sigma: Any) -> list[np.ndarray]:
    return [V.open_unit("w", w), V.finite("mu_old", mu_old), V.finite("mu_new", mu_new),
            V.positive("sigma", 1.0 if sigma is None else sigma)]


def training(data_mean: Any, replay: Any, replay_mean: Any) -> tuple[np.ndarray, ...]:
    """(data_mean, replay, replay_mean) of P_train, validated; replay_mean defaults to the data
    mean and is required when replay > 0."""
    dm = V.finite("data_mean", data_mean)
    rp = V.half_open_unit("replay", replay)
    if replay_mean is None:
        if np.any(rp > 0):
            raise ParameterError("replay_mean is required when replay > 0")
        return dm, rp, dm
    return dm, rp, V.finite("replay_mean", replay_mean)


def _fkl_params(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean) -> list[np.ndarray]:
    w_, mo, mn, sg = _student(w, mu_old, mu_new, sigma)
    dm, rp, rm = training(data_mean, replay, replay_mean)
    b = V.broadcast(w=w_, mu_old=mo, mu_new=mn, data_mean=dm, replay_mean=rm, replay=rp, sigma=sg)
    # a replay mean without replay plays no part: it must not widen the problem's spread
    b[4] = np.where(b[5] > 0, b[4], b[3])
    return b


_FKL_MEANS = ("mu_old", "mu_new", "data_mean", "replay_mean")
_RKL_MEANS = ("mu_old", "mu_new", "target_old", "target_new")


def _std_fkl(p: list[np.ndarray], family: str, function: str) -> tuple[list[np.ndarray], Frame]:
    """FKL parameters in standard coordinates (:mod:`symforget.numeric.frame`), σ = 1."""
    m, frame = standardize(dict(zip(_FKL_MEANS, p[1:5], strict=True)), p[6], family=family,
                           function=function)
    return [p[0], m["mu_old"], m["mu_new"], m["data_mean"], m["replay_mean"], p[5],
            np.ones_like(p[6])], frame


def _std_rkl(p: list[np.ndarray], family: str, function: str) -> tuple[list[np.ndarray], Frame]:
    """RKL parameters in standard coordinates (:mod:`symforget.numeric.frame`), σ = 1."""
    m, frame = standardize(dict(zip(_RKL_MEANS, (p[1], p[2], p[4], p[5]), strict=True)), p[6],
                           family=family, function=function)
    return [p[0], m["mu_old"], m["mu_new"], p[3], m["target_old"], m["target_new"],
            np.ones_like(p[6])], frame


def _fkl_loss_std(p: list[np.ndarray]) -> np.ndarray:
    """KL(P_train ‖ q) at standard parameters; ρ = 0 points use the single-Gaussian form."""
    b_d = nearer_second(p[3], p[1], p[2])
    b_r = nearer_second(p[4], p[1], p[2])
    has_replay = (p[5] > 0).astype(np.int8)
    return expect_by_variant(
        lambda r, bd, br: mixture.fkl_loss_spec_ref(bool(r), (bd, br if r else 1)),
        [has_replay, b_d, np.where(has_replay, b_r, 1)], p)


def _rkl_params(w, mu_old, mu_new, alpha, target_old, target_new, sigma) -> list[np.ndarray]:
    w_, mo, mn, sg = _student(w, mu_old, mu_new, sigma)
    al = V.open_unit("alpha", alpha)
    to = V.finite("target_old", target_old)
    tn = V.finite("target_new", target_new)
    return V.broadcast(w=w_, mu_old=mo, mu_new=mn, alpha=al, target_old=to, target_new=tn,
                       sigma=sg)


def fkl_grad(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, sigma: Any = 1.0, replay: Any = 0.0,
    replay_mean: Any = None,
) -> np.ndarray:
    """Forward-KL gradient (w, μo, μn), see :func:`symforget.model.fkl_grad`."""
    p, frame = _std_fkl(_fkl_params(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean),
                        "grad", "fkl_grad")
    return frame.gradient(_fast_fkl(p), function="fkl_grad")


def fkl_hessian(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, sigma: Any = 1.0, replay: Any = 0.0,
    replay_mean: Any = None,
) -> np.ndarray:
    """Forward-KL Hessian (3×3), see :func:`symforget.model.fkl_hessian`."""
    p, frame = _std_fkl(_fkl_params(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean),
                        "quadrature", "fkl_hessian")
    out = expect(compile_spec(mixture.fkl_hess_spec()), p)
    return frame.hessian(out.reshape(*out.shape[:-1], 3, 3), function="fkl_hessian")


def fkl_loss(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, sigma: Any = 1.0, replay: Any = 0.0,
    replay_mean: Any = None,
) -> np.ndarray:
    """KL(P_train ‖ q_θ), see :func:`symforget.model.fkl_loss`."""
    p, _ = _std_fkl(_fkl_params(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean),
                    "quadrature", "fkl_loss")
    return _fkl_loss_std(p)[..., 0]


def fkl_iw_grad(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, sigma: Any = 1.0, replay: Any = 0.0,
    replay_mean: Any = None,
) -> np.ndarray:
    """Importance-weighted replay gradient, see :func:`symforget.model.fkl_iw_grad`."""
    p = _fkl_params(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean)
    if np.any(p[5] <= 0):
        raise ParameterError("replay must be > 0 for an importance-weighted replay gradient")
    p, frame = _std_fkl(p, "quadrature", "fkl_iw_grad")
    return frame.gradient(expect(compile_spec(mixture.fkl_iw_grad_spec()), p),
                          function="fkl_iw_grad")


def em_step(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, sigma: Any = 1.0, replay: Any = 0.0,
    replay_mean: Any = None,
) -> np.ndarray:
    """One population EM step (w', μo', μn'), see :func:`symforget.model.em_step`."""
    p, frame = _std_fkl(_fkl_params(w, mu_old, mu_new, data_mean, sigma, replay, replay_mean),
                        "quadrature", "em_step")
    s = expect(compile_spec(mixture.em_spec()), p)
    with np.errstate(divide="ignore", invalid="ignore"):
        mo = np.where(s[..., 0] > 0, s[..., 1] / s[..., 0], p[1])
        mn = np.where(s[..., 2] > 0, s[..., 3] / s[..., 2], p[2])
    return np.stack([s[..., 0], frame.means(mo), frame.means(mn)], axis=-1)


def rkl_grad(
    w: Any, mu_old: Any, mu_new: Any, *, alpha: Any, target_old: Any, target_new: Any,
    sigma: Any = 1.0,
) -> np.ndarray:
    """Reverse-KL gradient (w, μo, μn), see :func:`symforget.model.rkl_grad`."""
    p, frame = _std_rkl(_rkl_params(w, mu_old, mu_new, alpha, target_old, target_new, sigma),
                        "grad", "rkl_grad")
    return frame.gradient(_fast_rkl(p), function="rkl_grad")


def rkl_hessian(
    w: Any, mu_old: Any, mu_new: Any, *, alpha: Any, target_old: Any, target_new: Any,
    sigma: Any = 1.0,
) -> np.ndarray:
    """Reverse-KL Hessian (3×3, Stein-reduced), see :func:`symforget.model.rkl_hessian`."""
    p, frame = _std_rkl(_rkl_params(w, mu_old, mu_new, alpha, target_old, target_new, sigma),
                        "quadrature", "rkl_hessian")
    out = expect(compile_spec(stein.rkl_hess_stein_spec()), p)
    return frame.hessian(out.reshape(*out.shape[:-1], 3, 3), function="rkl_hessian")


def rkl_loss(
    w: Any, mu_old: Any, mu_new: Any, *, alpha: Any, target_old: Any, target_new: Any,
    sigma: Any = 1.0,
) -> np.ndarray:
    """KL(q_θ ‖ p*), see :func:`symforget.model.rkl_loss`."""
    p, _ = _std_rkl(_rkl_params(w, mu_old, mu_new, alpha, target_old, target_new, sigma),
                    "quadrature", "rkl_loss")
    refs = [nearer_second(p[1], p[4], p[5]), nearer_second(p[2], p[4], p[5])]
    return expect_by_variant(lambda a, b: mixture.rkl_loss_spec_ref((a, b)), refs, p)[..., 0]


def fisher_matrix(w: Any, mu_old: Any, mu_new: Any, *, sigma: Any = 1.0) -> np.ndarray:
    """Fisher matrix of q_θ in (w, μo, μn), see :func:`symforget.model.fisher_matrix`."""
    p = V.broadcast(**dict(zip(("w", "mu_old", "mu_new", "sigma"),
                               _student(w, mu_old, mu_new, sigma), strict=True)))
    m, frame = standardize({"mu_old": p[1], "mu_new": p[2]}, p[3], family="quadrature",
                           function="fisher_matrix")
    out = expect(compile_spec(mixture.fisher_spec()),
                 [p[0], m["mu_old"], m["mu_new"], np.ones_like(p[3])])
    return frame.hessian(out.reshape(*out.shape[:-1], 3, 3), function="fisher_matrix")
