"""K-component mixtures: ``symforget.Mixture`` and ``symforget.kl_grad`` (issue 13).

Evidence, each from an independent route:

* K = 2: agreement with the two-component general evaluators ``rkl_grad``/``fkl_grad``
  (``with_scales=True``) on 50 points of the issue-13 box (their w-entry is
  ``weights[0] − weights[1]``);
* K = 3: central finite differences of the generalised KL computed in this file by adaptive
  quadrature (``scipy.integrate.quad_vec`` with ``scipy.stats.norm``, no symforget code);
* relabelling: permuting the student's components permutes the gradient, permuting the
  target's changes nothing; at q = p the whole gradient is zero;
* wrong variants (the Stein factor σ_c dropped from the scale entry; the ``+∫q`` term of the
  forward divergence dropped) are rejected by the same checks;
* the stable special functions against their textbook forms and mpmath; validation messages.
"""

from __future__ import annotations

import math
from functools import cache

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import norm

import symforget as sf
from symforget import kmix
from symforget.numeric.compile import compile_exprs
from symforget.symbolic import kmix as S
from symforget.symbolic.functions import (
    LogSumExp1,
    Softmax1,
    Softplus,
    complement_softmax,
    expand_special,
)

K2_RTOL, FLOOR = 1e-11, 1e-3
FD_RTOL = 1e-7


def _err(got, ref) -> float:
    """Largest entry-wise relative error, with a floor of 1e-3 of the largest |ref| per point."""
    got, ref = np.asarray(got, float), np.asarray(ref, float)
    floor = FLOOR * np.abs(ref).max(axis=-1, keepdims=True)
    return float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), floor)))


# --- K = 2 against rkl_grad / fkl_grad ------------------------------------------------------


def _box(n: int, seed: int) -> dict[str, np.ndarray]:
    """The issue-13 box: scale ratios 0.2–5, means within ±6, weights 0.02–0.98."""
    rng = np.random.default_rng(seed)
    r = lambda: np.exp(rng.uniform(math.log(0.2), math.log(5.0), n))  # noqa: E731
    u = lambda: rng.uniform(-6.0, 6.0, n)  # noqa: E731
    return {"w": rng.uniform(0.02, 0.98, n), "mo": u(), "so": r(), "mn": u(), "sn": r(),
            "a": rng.uniform(0.02, 0.98, n), "no": u(), "to": r(), "nn": u(), "tn": r()}


def _as_five(g: kmix.MixtureGrad) -> np.ndarray:
    """(w, μo, σo, μn, σn) of a K = 2 gradient, w = π_0 = 1 − π_1."""
    return np.stack([g.weights[..., 0] - g.weights[..., 1], g.means[..., 0], g.scales[..., 0],
                     g.means[..., 1], g.scales[..., 1]], axis=-1)


def _k2_errors(b: dict[str, np.ndarray]) -> tuple[float, float]:
    q = sf.Mixture(np.stack([b["w"], 1 - b["w"]], -1), np.stack([b["mo"], b["mn"]], -1),
                   np.stack([b["so"], b["sn"]], -1))
    p = sf.Mixture(np.stack([b["a"], 1 - b["a"]], -1), np.stack([b["no"], b["nn"]], -1),
                   np.stack([b["to"], b["tn"]], -1))
    rho = b["a"] / 2
    train = sf.Mixture(np.stack([1 - rho, rho], -1), np.stack([b["no"], b["nn"]], -1),
                       np.stack([b["to"], b["tn"]], -1))
    rkl = sf.rkl_grad(b["w"], b["mo"], b["mn"], alpha=b["a"], target_old=b["no"],
                      target_new=b["nn"], sigma_old=b["so"], sigma_new=b["sn"],
                      target_sigma_old=b["to"], target_sigma_new=b["tn"], with_scales=True)
    fkl = sf.fkl_grad(b["w"], b["mo"], b["mn"], data_mean=b["no"], data_sigma=b["to"],
                      replay=rho, replay_mean=b["nn"], replay_sigma=b["tn"], sigma_old=b["so"],
                      sigma_new=b["sn"], with_scales=True)
    return (_err(_as_five(sf.kl_grad(q, p, "reverse")), rkl),
            _err(_as_five(sf.kl_grad(q, train, "forward")), fkl))


BOX = _box(50, 1313)


def test_k2_agrees_with_the_two_component_evaluators():
    e_rev, e_fwd = _k2_errors(BOX)
    assert e_rev <= K2_RTOL and e_fwd <= K2_RTOL, (e_rev, e_fwd)


def test_k2_tangent_weights_are_half_the_w_derivative():
    b = {k: v[:5] for k, v in BOX.items()}
    q = sf.Mixture(np.stack([b["w"], 1 - b["w"]], -1), np.stack([b["mo"], b["mn"]], -1),
                   np.stack([b["so"], b["sn"]], -1))
    p = sf.Mixture(np.stack([b["a"], 1 - b["a"]], -1), np.stack([b["no"], b["nn"]], -1),
                   np.stack([b["to"], b["tn"]], -1))
    for d in ("reverse", "forward"):
        free, tan = sf.kl_grad(q, p, d), sf.kl_grad(q, p, d, simplex="tangent")
        dw = free.weights[:, 0] - free.weights[:, 1]
        np.testing.assert_allclose(tan.weights, np.stack([dw / 2, -dw / 2], -1), rtol=1e-14,
                                   atol=1e-15 * np.abs(dw).max())
        np.testing.assert_array_equal(tan.means, free.means)
        np.testing.assert_array_equal(tan.scales, free.scales)


# --- K = 3 against finite differences of scipy quadrature -----------------------------------


def _divergence_fd(direction: str, q: tuple, p: tuple, h: float = 1e-5) -> tuple[np.ndarray,
                                                                               float]:
    """Central differences (step h) of the generalised KL in the student's (π, μ, σ),
    π free: D(q‖p) = ∫ q log(q/p) − Σπ + Σα, D(p‖q) = ∫ p log(p/q) − Σα + Σπ. One adaptive
    vector quadrature evaluates the divergence at every perturbed parameter vector at once."""
    theta = np.concatenate(q)
    k, n = len(q[0]), theta.size
    thetas = np.repeat(theta[None], 2 * n, axis=0)
    for i in range(n):
        thetas[2 * i, i] += h
        thetas[2 * i + 1, i] -= h
    qw, qm, qs = thetas[:, :k], thetas[:, k:2 * k], thetas[:, 2 * k:]
    pw, pm, ps = (np.asarray(a, float)[None] for a in p)

    def f(x: float) -> np.ndarray:
        lq = logsumexp(norm.logpdf(x, qm, qs) + np.log(qw), axis=1)
        lp = logsumexp(norm.logpdf(x, pm, ps) + np.log(pw), axis=1)
        return np.exp(lq) * (lq - lp) if direction == "reverse" else np.exp(lp) * (lp - lq)

    reach = 16 * max(qs.max(), ps.max())
    lo, hi = min(qm.min(), pm.min()) - reach, max(qm.max(), pm.max()) + reach
    points = sorted(set(np.concatenate([q[1], p[1]]).tolist()))
    val, err = integrate.quad_vec(f, lo, hi, points=points, epsabs=1e-15, epsrel=1e-13,
                                  norm="max", limit=2000)
    mass = qw.sum(axis=1) - pw.sum()
    val = val - mass if direction == "reverse" else val + mass
    return (val[0::2] - val[1::2]) / (2 * h), float(err)


def _k3_case(i: int) -> tuple[tuple, tuple]:
    rng = np.random.default_rng(500 + i)
    q = (rng.dirichlet(2 * np.ones(3)), rng.uniform(-4, 4, 3), np.exp(rng.uniform(-1, 1, 3)))
    p = (rng.dirichlet(2 * np.ones(3)), rng.uniform(-4, 4, 3), np.exp(rng.uniform(-1, 1, 3)))
    return q, p


@cache
def _k3_reference(i: int, direction: str) -> np.ndarray:
    q, p = _k3_case(i)
    ref, err = _divergence_fd(direction, q, p)
    assert err < 1e-11
    return ref


def _k3_error(i: int, direction: str) -> float:
    q, p = _k3_case(i)
    got = sf.kl_grad(sf.Mixture(*q), sf.Mixture(*p), direction).as_array()
    ref = _k3_reference(i, direction)
    return float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))


@pytest.mark.parametrize("direction", ["reverse", "forward"])
@pytest.mark.parametrize("i", range(3))
def test_k3_against_finite_differences_of_scipy_quadrature(i, direction):
    assert _k3_error(i, direction) <= FD_RTOL


# --- wrong variants are rejected ------------------------------------------------------------


def _clear_specs() -> None:
    S.rkl_grad_spec.cache_clear()
    S.fkl_grad_spec.cache_clear()


@pytest.fixture
def variant(monkeypatch):
    """Install a broken piece of the derivation for one test; the specs are rebuilt before and
    after (their caches are cleared), so the correct specs are back afterwards."""
    _clear_specs()
    yield monkeypatch
    monkeypatch.undo()
    _clear_specs()


def test_dropping_the_stein_factor_of_the_scale_entry_is_rejected(variant):
    def stein_without_s(h, m, s, lr, d1, d2):
        c0, c1, c2 = S.stein_coefficients(h, m, s)
        return c0 * lr + c1 * s * d1 + c2 * s * d2  # should be c2 s² ℓ''

    variant.setattr(S, "stein_entry", stein_without_s)
    b = {k: v[:10] for k, v in BOX.items()}
    assert _k2_errors(b)[0] > 1e-3
    assert max(_k3_error(i, "reverse") for i in range(3)) > 1e-3


def test_dropping_the_mass_term_of_the_forward_divergence_is_rejected(variant):
    """The K = 2 check sees only differences of weight entries (blind to this variant); the
    finite differences of the generalised KL see every entry."""
    variant.setattr(S, "mass_gradient", lambda mix: (sp.S.Zero,) * (3 * mix.K))
    b = {k: v[:10] for k, v in BOX.items()}
    assert _k2_errors(b)[1] <= K2_RTOL
    assert min(_k3_error(i, "forward") for i in range(3)) > 0.1


# --- relabelling, the optimum, batches ------------------------------------------------------


def _random_mixture(rng: np.random.Generator, k: int, batch: tuple[int, ...] = ()) -> tuple:
    return (rng.dirichlet(np.ones(k), size=batch or None), rng.uniform(-5, 5, (*batch, k)),
            np.exp(rng.uniform(-1.2, 1.2, (*batch, k))))


@pytest.mark.parametrize("direction", ["reverse", "forward"])
def test_permuting_components_permutes_the_gradient(direction):
    rng = np.random.default_rng(7)
    q, p = _random_mixture(rng, 3, (4,)), _random_mixture(rng, 3, (4,))
    g = sf.kl_grad(sf.Mixture(*q), sf.Mixture(*p), direction)
    perm = np.array([2, 0, 1])
    gq = sf.kl_grad(sf.Mixture(*(a[..., perm] for a in q)), sf.Mixture(*p), direction)
    gp = sf.kl_grad(sf.Mixture(*q), sf.Mixture(*(a[..., perm] for a in p)), direction)
    scale = np.abs(g.as_array()).max()
    for name in ("weights", "means", "scales"):
        np.testing.assert_allclose(getattr(gq, name), getattr(g, name)[..., perm], rtol=1e-12,
                                   atol=1e-14 * scale)
        np.testing.assert_allclose(getattr(gp, name), getattr(g, name), rtol=1e-12,
                                   atol=1e-14 * scale)


@pytest.mark.parametrize("direction", ["reverse", "forward"])
def test_gradient_vanishes_at_the_target(direction):
    rng = np.random.default_rng(8)
    q = _random_mixture(rng, 3, (5,))
    g = sf.kl_grad(sf.Mixture(*q), sf.Mixture(*q), direction)
    assert np.abs(g.as_array()).max() < 1e-13


def test_batches_broadcast_and_equal_pointwise_calls():
    rng = np.random.default_rng(9)
    q = _random_mixture(rng, 3, (2, 3))
    p = _random_mixture(rng, 2)
    g = sf.kl_grad(sf.Mixture(*q), sf.Mixture(*p), "forward")
    assert g.weights.shape == g.means.shape == g.scales.shape == (2, 3, 3)
    assert g.batch_shape == (2, 3) and g.K == len(g) == 3 and g.as_array().shape == (2, 3, 9)
    one = sf.kl_grad(sf.Mixture(*(a[1, 2] for a in q)), sf.Mixture(*p), "forward")
    np.testing.assert_allclose(g.as_array()[1, 2], one.as_array(), rtol=1e-14, atol=1e-16)
    # K = 1 against itself with a shared batch: zero; a one-component target is allowed
    g1 = sf.kl_grad(sf.Mixture([1.0], [0.5], [2.0]), sf.Mixture([[1.0]], [[0.5]], [[2.0]]))
    assert g1.as_array().shape == (1, 3) and np.abs(g1.as_array()).max() < 1e-14


def test_tangent_weights_sum_to_zero():
    rng = np.random.default_rng(10)
    q, p = _random_mixture(rng, 4, (3,)), _random_mixture(rng, 2, (3,))
    g = sf.kl_grad(sf.Mixture(*q), sf.Mixture(*p), simplex="tangent")
    assert np.abs(g.weights.sum(axis=-1)).max() < 1e-14 * np.abs(g.weights).max() * 4


def test_translation_and_scaling_are_exact_up_to_the_jacobian():
    """Means on a binary grid, shift 2^20 and scale 2^-5: the standard coordinates are
    bit-identical, so the gradients agree exactly after the Jacobian (1/scale for μ and σ)."""
    rng = np.random.default_rng(11)
    q, p = _random_mixture(rng, 3), _random_mixture(rng, 3)
    q, p = [(w, np.round(m * 1024) / 1024, sd) for (w, m, sd) in (q, p)]
    g = sf.kl_grad(sf.Mixture(*q), sf.Mixture(*p))
    c, s = 2.0**20, 2.0**-5
    h = sf.kl_grad(*(sf.Mixture(w, c + s * m, s * sd) for (w, m, sd) in (q, p)))
    np.testing.assert_array_equal(h.weights, g.weights)
    np.testing.assert_array_equal(h.means * s, g.means)
    np.testing.assert_array_equal(h.scales * s, g.scales)


# --- the Mixture type and validation --------------------------------------------------------


def test_mixture_attributes_and_repr():
    q = sf.Mixture([0.2, 0.3, 0.5], [-2.0, 0.0, 2.0], [1.0, 0.5, 1.5])
    assert q.K == len(q) == 3 and q.batch_shape == ()
    assert repr(q) == "Mixture(weights=[0.2, 0.3, 0.5], means=[-2.0, 0.0, 2.0], " \
                      "scales=[1.0, 0.5, 1.5])"
    with pytest.raises(ValueError):
        q.means[0] = 1.0  # read-only
    b = sf.Mixture([0.5, 0.5], [[0.0, 1.0], [2.0, 3.0]], 1.0 * np.ones(2))
    assert b.means.shape == b.weights.shape == b.scales.shape == (2, 2)
    assert repr(b) == "Mixture(K=2, batch_shape=(2,))"
    g = sf.kl_grad(q, sf.Mixture([1.0], [0.0], [1.0]))
    assert repr(g).startswith("MixtureGrad(direction='reverse', simplex='free', weights=[")


@pytest.mark.parametrize(("args", "match"), [
    (([0.5, 0.6], [0, 1], [1, 1]), r"weights must sum to 1 .* 1\.1"),
    (([1.5, -0.5], [0, 1], [1, 1]), r"weights=-0\.5 must be a finite number > 0"),
    (([0.5, 0.5], [0, np.nan], [1, 1]), r"means contains NaN"),
    (([0.5, 0.5], [0, np.inf], [1, 1]), r"means=inf must be finite"),
    (([0.5, 0.5], [0, 1], [1, 0]), r"scales=0\.0 must be a finite number > 0"),
    (([0.5, 0.5], [0, 1, 2], [1, 1, 1]), r"means has 3 components .* weights has 2"),
    (([0.5, 0.5], [0, 1], [1, 1, 1]), r"scales has 3 components"),
    ((1.0, 0.0, 1.0), r"weights must be an array of shape \(\.\.\., K\)"),
    (([0.5, 0.5], np.zeros((2, 2)), np.ones((3, 2))), r"batch axes of weights"),
    ((["0.5", "0.5"], [0, 1], [1, 1]), r"weights=.* not strings"),
])
def test_mixture_validation_names_the_argument(args, match):
    with pytest.raises(sf.ParameterError, match=match):
        sf.Mixture(*args)


def test_weights_sum_tolerance_is_1e_12():
    sf.Mixture([0.5, 0.5 + 5e-13], [0, 1], [1, 1])
    with pytest.raises(sf.ParameterError, match="weights must sum to 1"):
        sf.Mixture([0.5, 0.5 + 5e-12], [0, 1], [1, 1])


def test_kl_grad_validation():
    q = sf.Mixture([0.5, 0.5], [0, 1], [1, 1])
    with pytest.raises(sf.ParameterError, match=r"target=.* must be a symforget\.Mixture"):
        sf.kl_grad(q, (0.5, 0.5))
    with pytest.raises(sf.ParameterError, match=r"direction='backward' must be one of"):
        sf.kl_grad(q, q, "backward")
    with pytest.raises(sf.ParameterError, match=r"simplex='softmax' must be one of"):
        sf.kl_grad(q, q, simplex="softmax")
    big = sf.Mixture(np.full(7, 1 / 7), np.arange(7.0), np.ones(7))
    with pytest.raises(sf.ParameterError, match="student has 7 components; kl_grad handles 1 to 6"):
        sf.kl_grad(big, q)
    qb = sf.Mixture([0.5, 0.5], np.zeros((3, 2)), [1, 1])
    pb = sf.Mixture([0.5, 0.5], np.zeros((4, 2)), [1, 1])
    with pytest.raises(sf.ParameterError, match=r"batch shapes of student \(3,\) and target"):
        sf.kl_grad(qb, pb)


def test_precision_errors_outside_the_domain():
    q = sf.Mixture([0.5, 0.5], [0.0, 1.0], [1.0, 1.0])
    far = sf.Mixture([0.5, 0.5], [0.0, 2e4], [1.0, 1.0])
    with pytest.raises(sf.PrecisionError, match=r"target\.means\[1\]=20000\.0 and .*means\[0\]"):
        sf.kl_grad(q, far)
    thin = sf.Mixture([0.5, 0.5], [0.0, 1.0], [1.0, 2e-5])
    with pytest.raises(sf.PrecisionError, match="scales differ by a factor 5e"):
        sf.kl_grad(thin, q, "forward")


# --- the stable special functions -----------------------------------------------------------


def test_logsumexp1_and_softmax1_derivatives_are_the_textbook_ones():
    a, b, c = sp.symbols("a b c", real=True)
    f = LogSumExp1(a, b, c)
    textbook = sp.log(1 + sp.exp(a) + sp.exp(b) + sp.exp(c))
    at = {a: 0.3, b: -1.2, c: 2.1}
    for vs in [(a,), (a, b), (a, a), (c, a, b), (b, b, b)]:
        d = expand_special(sp.diff(f, *vs)) - sp.diff(textbook, *vs)
        assert abs(float(d.subs(at))) < 1e-15, vs
    assert sp.simplify(expand_special(LogSumExp1(a) - Softplus(a))) == 0
    assert LogSumExp1() == 0 and Softmax1(sp.S.Zero) == 1
    pi0, pi1, pi2, x = sp.symbols("p0 p1 p2 x", positive=True)
    lq = sp.log(pi0) + LogSumExp1(sp.log(pi1 / pi0) + x, sp.log(pi2 / pi0) - x)
    (lse,) = lq.atoms(LogSumExp1)
    d = complement_softmax(sp.diff(lq, pi0))
    assert d == Softmax1(sp.S.Zero, *lse.args) / pi0


def test_numpy_and_mpmath_implementations_agree():
    rng = np.random.default_rng(12)
    z = [rng.normal(0, 10, 300) * rng.choice([1e-20, 1e-3, 1.0, 30.0], 300) for _ in range(3)]
    zs = sp.symbols("z1 z2 z3", real=True)
    exprs = [LogSumExp1(*zs), *(Softmax1(sp.Integer(k), *zs) for k in range(4))]
    got = compile_exprs(exprs, zs)(*z)
    mp_fn = compile_exprs(exprs, zs, backend="mpmath")
    with mpmath.workdps(40):
        ref = np.array([[float(v) for v in mp_fn(*(zz[i] for zz in z))] for i in range(300)]).T
    for g, r in zip(got, ref, strict=True):
        ok = np.abs(r) > 1e-300
        assert np.max(np.abs(g[ok] - r[ok]) / np.abs(r[ok])) < 1e-13
    assert np.max(np.abs(sum(got[1:]) - 1.0)) < 1e-15
