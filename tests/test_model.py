"""Public evaluators: shapes and broadcasting, bad input, closed forms, Fisher matrix."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import integrate

import symforget
from symforget import model
from symforget.errors import ParameterError

RKL_KW = dict(alpha=0.4, target_old=0.0, target_new=3.0)
FKL_KW = dict(data_mean=2.5)

# (function, positional θ, keyword arguments) for every θ-evaluator and its trailing shape
THETA_FUNCS = [
    (model.fkl_grad, FKL_KW, (3,)),
    (model.fkl_hessian, FKL_KW, (3, 3)),
    (model.fkl_loss, FKL_KW, ()),
    (model.em_step, FKL_KW, (3,)),
    (model.fkl_iw_grad, dict(data_mean=2.5, replay=0.3, replay_mean=-1.0), (3,)),
    (model.rkl_grad, RKL_KW, (3,)),
    (model.rkl_hessian, RKL_KW, (3, 3)),
    (model.rkl_loss, RKL_KW, ()),
    (model.fisher_matrix, {}, (3, 3)),
]
IDS = [f.__name__ for f, _, _ in THETA_FUNCS]


# ------------------------------------------------------------------ shapes


@pytest.mark.parametrize("fn, kw, tail", THETA_FUNCS, ids=IDS)
def test_shapes_scalar_vector_matrix(fn, kw, tail):
    scalar = fn(0.3, -0.5, 2.0, **kw)
    assert np.shape(scalar) == tail
    w = np.array([0.2, 0.5, 0.8])  # (n,)
    vec = fn(w, -0.5, 2.0, **kw)
    assert vec.shape == (3, *tail)
    mu_new = np.array([1.0, 2.0, 4.0, 6.0])  # (n, 1) × (m,) → (n, m)
    mat = fn(w[:, None], -0.5, mu_new, **kw)
    assert mat.shape == (3, 4, *tail)
    assert np.isfinite(mat).all()
    # broadcasting is pointwise evaluation
    np.testing.assert_allclose(mat[2, 1], fn(0.8, -0.5, 2.0, **kw), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(vec[0], fn(0.2, -0.5, 2.0, **kw), rtol=1e-14, atol=1e-15)


def test_keyword_parameters_broadcast_too():
    out = model.rkl_grad(0.3, 0.0, 2.0, alpha=np.array([[0.2], [0.7]]), target_old=0.0,
                         target_new=np.array([1.0, 2.0, 3.0]))
    assert out.shape == (2, 3, 3)
    out = model.fkl_grad(0.3, 0.0, 2.0, data_mean=np.array([0.0, 1.0]), replay=0.2,
                         replay_mean=np.array([[0.0], [-1.0], [5.0]]))
    assert out.shape == (3, 2, 3)


def test_closed_forms_keep_input_shape():
    d = np.array([[0.0, 1.0], [2.0, 3.0]])
    for fn in (model.bhattacharyya, model.kl_gauss, model.chi2_gauss, model.hellinger2_gauss):
        assert fn(d).shape == (2, 2)
        assert np.shape(fn(1.0)) == ()
    assert model.fisher(np.array([0.2, 0.5]), np.array([[1.0], [3.0], [6.0]])).shape == (3, 2, 3, 3)


# ------------------------------------------------------------------ bad input


BAD_W = [0.0, 1.0, -0.2, 1.5, float("nan"), float("inf")]


@pytest.mark.parametrize("fn, kw, tail", THETA_FUNCS, ids=IDS)
@pytest.mark.parametrize("w", BAD_W)
def test_w_outside_open_unit_interval(fn, kw, tail, w):
    with pytest.raises(ParameterError, match=r"^w"):
        fn(w, 0.0, 1.0, **kw)


@pytest.mark.parametrize("fn, kw, tail", THETA_FUNCS, ids=IDS)
@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf")])
def test_sigma_not_positive(fn, kw, tail, sigma):
    with pytest.raises(ParameterError, match=r"^sigma"):
        fn(0.5, 0.0, 1.0, sigma=sigma, **kw)


@pytest.mark.parametrize("fn, kw, tail", THETA_FUNCS, ids=IDS)
def test_nan_means_and_mismatched_shapes(fn, kw, tail):
    with pytest.raises(ParameterError, match=r"^mu_old"):
        fn(0.5, float("nan"), 1.0, **kw)
    with pytest.raises(ParameterError, match=r"^mu_new"):
        fn(0.5, 0.0, [1.0, float("inf")], **kw)
    with pytest.raises(ParameterError, match=r"w\(2,\).*mu_old\(3,\)"):
        fn([0.3, 0.6], [0.0, 1.0, 2.0], 1.0, **kw)


@pytest.mark.parametrize("name, value", [("alpha", 0.0), ("alpha", 1.0), ("alpha", float("nan")),
                                         ("target_old", float("nan")),
                                         ("target_new", float("-inf"))])
def test_rkl_target_parameters(name, value):
    kw = {**RKL_KW, name: value}
    for fn in (model.rkl_grad, model.rkl_loss, model.rkl_hessian):
        with pytest.raises(ParameterError, match=rf"^{name}"):
            fn(0.5, 0.0, 1.0, **kw)


@pytest.mark.parametrize("replay", [1.0, -0.1, 1.5, float("nan")])
def test_replay_outside_half_open_interval(replay):
    for fn in (model.fkl_grad, model.fkl_loss, model.fkl_hessian, model.em_step):
        with pytest.raises(ParameterError, match=r"^replay"):
            fn(0.5, 0.0, 1.0, data_mean=1.0, replay=replay, replay_mean=0.0)


def test_replay_mean_required_when_replay_positive():
    for fn in (model.fkl_grad, model.fkl_loss, model.em_step):
        with pytest.raises(ParameterError, match="replay_mean"):
            fn(0.5, 0.0, 1.0, data_mean=1.0, replay=0.2)
        with pytest.raises(ParameterError, match="replay_mean"):
            fn(0.5, 0.0, 1.0, data_mean=1.0, replay=[0.0, 0.2])
    # replay = 0 needs none
    assert np.isfinite(model.fkl_grad(0.5, 0.0, 1.0, data_mean=1.0, replay=0.0)).all()
    with pytest.raises(ParameterError, match="replay_mean"):
        model.fkl_grad(0.5, 0.0, 1.0, data_mean=1.0, replay=0.2, replay_mean=float("nan"))
    with pytest.raises(ParameterError, match="data_mean"):
        model.fkl_grad(0.5, 0.0, 1.0, data_mean=float("inf"))


def test_iw_gradient_needs_positive_replay():
    with pytest.raises(ParameterError, match="replay"):
        model.fkl_iw_grad(0.5, 0.0, 1.0, data_mean=1.0, replay=0.0, replay_mean=0.0)


def test_fisher_parameters():
    with pytest.raises(ParameterError, match=r"^alpha"):
        model.fisher(1.0, 2.0)
    with pytest.raises(ParameterError, match=r"^delta"):
        model.fisher(0.5, float("nan"))
    with pytest.raises(ParameterError, match=r"alpha\(2,\).*delta\(3,\)"):
        model.fisher([0.2, 0.3], [1.0, 2.0, 3.0])


@pytest.mark.parametrize("fn", [model.bhattacharyya, model.kl_gauss, model.chi2_gauss,
                                model.hellinger2_gauss])
def test_closed_forms_reject_non_finite(fn):
    for bad in (float("nan"), float("inf"), [0.0, float("-inf")]):
        with pytest.raises(ParameterError, match=r"^delta"):
            fn(bad)


# ------------------------------------------------------------------ closed forms


DELTAS = np.array([0.0, 0.5, 1.0, -2.5, 4.0, 10.0])


def test_closed_forms_against_hand_typed_formulas():
    """Independent values: formulas typed in this test (CLAIMS.md §1), not the SymPy ones."""
    d = DELTAS
    np.testing.assert_allclose(model.bhattacharyya(d), np.exp(-d**2 / 8), rtol=1e-15)
    np.testing.assert_allclose(model.kl_gauss(d), d**2 / 2, rtol=1e-15)
    np.testing.assert_allclose(model.chi2_gauss(d), np.expm1(d**2), rtol=1e-14)
    np.testing.assert_allclose(model.hellinger2_gauss(d), -np.expm1(-d**2 / 8), rtol=1e-14)


# Regression: compiled naively as exp(Δ²) − 1 and 1 − exp(−Δ²/8) these lost every digit as
# Δ → 0; the compile layer now rewrites them with expm1 (SymPy codegen optimisations).
def test_closed_forms_relative_accuracy_at_small_delta():
    d = np.array([1e-6, 1e-4, 1e-2])
    np.testing.assert_allclose(model.chi2_gauss(d), np.expm1(d**2), rtol=1e-13)
    np.testing.assert_allclose(model.hellinger2_gauss(d), -np.expm1(-d**2 / 8), rtol=1e-13)


@pytest.mark.parametrize("d", [0.3, 1.0, 2.7])
def test_closed_forms_against_direct_integration(d):
    """scipy quad of the defining integrals of two unit Gaussians at 0 and d."""
    def phi(x, m):
        return np.exp(-0.5 * (x - m) ** 2) / np.sqrt(2 * np.pi)

    def quad(f):
        return integrate.quad(f, -30, 30 + d, points=[0.0, d / 2, d], limit=200,
                              epsabs=1e-14, epsrel=1e-13)[0]

    bc = quad(lambda x: np.sqrt(phi(x, 0) * phi(x, d)))
    kl = quad(lambda x: phi(x, 0) * (0.5 * (x - d) ** 2 - 0.5 * x**2))
    chi2 = integrate.quad(lambda x: phi(x, 0) ** 2 / phi(x, d), -30 - d, 30, points=[-d],
                          limit=200, epsabs=1e-14, epsrel=1e-13)[0] - 1
    h2 = quad(lambda x: 0.5 * (np.sqrt(phi(x, 0)) - np.sqrt(phi(x, d))) ** 2)
    np.testing.assert_allclose(model.bhattacharyya(d), bc, rtol=1e-11)
    np.testing.assert_allclose(model.kl_gauss(d), kl, rtol=1e-11)
    np.testing.assert_allclose(model.chi2_gauss(d), chi2, rtol=1e-10)
    np.testing.assert_allclose(model.hellinger2_gauss(d), h2, rtol=1e-10)


def test_bhattacharyya_doctest():
    result = doctest.testmod(model, verbose=False)
    assert result.attempted >= 1 and result.failed == 0


def test_public_names_resolve_lazily():
    assert symforget.bhattacharyya is model.bhattacharyya
    assert symforget.rkl_grad is model.rkl_grad
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = symforget.nope


# ------------------------------------------------------------------ Fisher information


@pytest.mark.parametrize("alpha, delta", [(0.5, 0.0), (0.3, 0.5), (0.01, 2.0), (0.99, 8.0),
                                          (0.2, 16.0)])
def test_fisher_symmetric_positive_semidefinite(alpha, delta):
    f = model.fisher(alpha, delta)
    np.testing.assert_allclose(f, f.T, rtol=1e-13, atol=1e-15)
    eig = np.linalg.eigvalsh(f)
    if delta == 0.0:  # coincident means: the model is not identifiable, I is singular
        assert eig.min() <= 1e-10 * eig.max() and eig.min() >= -1e-10 * eig.max()
    else:
        assert eig.min() > 0


def test_fisher_separated_limit_is_diagonal():
    """Δ → ∞: I(θ*) → diag(1/(α(1−α)), α, 1−α) in whitened units (CLAIMS.md §3)."""
    for alpha in (0.1, 0.5, 0.85):
        f = model.fisher(alpha, 14.0)
        ref = np.diag([1 / (alpha * (1 - alpha)), alpha, 1 - alpha])
        np.testing.assert_allclose(f, ref, rtol=1e-9, atol=1e-9)


def test_fisher_equals_outer_product_of_hand_written_score():
    """I = E_q[s sᵀ] with the score written out by hand, scipy quad per entry."""
    w, mo, mn = 0.35, -0.4, 1.3

    def phi(x, m):
        return np.exp(-0.5 * (x - m) ** 2) / np.sqrt(2 * np.pi)

    def score(x):
        q = w * phi(x, mo) + (1 - w) * phi(x, mn)
        return np.array([(phi(x, mo) - phi(x, mn)) / q, w * phi(x, mo) * (x - mo) / q,
                         (1 - w) * phi(x, mn) * (x - mn) / q])

    def q_pdf(x):
        return w * phi(x, mo) + (1 - w) * phi(x, mn)

    ref = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            ref[i, j] = integrate.quad(
                lambda x, i=i, j=j: q_pdf(x) * score(x)[i] * score(x)[j], -25, 25,
                points=[mo, mn], limit=200, epsabs=1e-14, epsrel=1e-12)[0]
    np.testing.assert_allclose(model.fisher_matrix(w, mo, mn), ref, rtol=1e-10, atol=1e-13)


def test_rkl_hessian_at_optimum_equals_fisher():
    """∇²L_R(θ*) = I(θ*): two different specs (H_c·log(q/p*) + outer products vs E_q[ssᵀ])."""
    alpha, delta = 0.3, 1.7
    h = model.rkl_hessian(alpha, 0.0, delta, alpha=alpha, target_old=0.0, target_new=delta)
    np.testing.assert_allclose(h, model.fisher(alpha, delta), rtol=1e-11, atol=1e-13)
