"""Dynamics: gradient flow, gradient descent, EM iteration (seconds)."""

from __future__ import annotations

import numpy as np
import pytest

from symforget import dynamics as dyn
from symforget import model
from symforget.errors import ParameterError, SymforgetError


@pytest.fixture(scope="module")
def rkl():
    return dyn.rkl_objective(0.3, 0.0, 3.0)


@pytest.fixture(scope="module")
def fkl_new():
    """P_train = P_new = N(3, 1): the mass-forgetting setting."""
    return dyn.fkl_objective(3.0)


def test_objectives_wrap_the_model(rkl, fkl_new):
    th = (0.6, 0.2, 2.5)
    np.testing.assert_array_equal(
        rkl.grad(*th), model.rkl_grad(*th, alpha=0.3, target_old=0.0, target_new=3.0))
    np.testing.assert_array_equal(fkl_new.grad(*th), model.fkl_grad(*th, data_mean=3.0))
    assert rkl.loss(*th) == model.rkl_loss(*th, alpha=0.3, target_old=0.0, target_new=3.0)
    assert rkl.hessian(*th).shape == (3, 3) and fkl_new.hessian(*th).shape == (3, 3)


def test_objective_constructors_validate_early():
    with pytest.raises(ParameterError, match=r"^alpha"):
        dyn.rkl_objective(1.2, 0.0, 1.0)
    with pytest.raises(ParameterError, match=r"^sigma"):
        dyn.fkl_objective(0.0, sigma=-1.0)
    with pytest.raises(ParameterError, match="replay_mean"):
        dyn.fkl_objective(0.0, replay=0.5)


def test_gradient_descent_basics_and_loss_decreases(rkl):
    traj = dyn.gradient_descent(rkl, (0.8, 0.1, 2.8), eta=0.2, steps=15)
    assert traj.theta.shape == (16, 3) and traj.t.shape == (16,)
    np.testing.assert_array_equal(traj.theta[0], [0.8, 0.1, 2.8])
    np.testing.assert_array_equal(traj.t, np.arange(16.0))
    np.testing.assert_array_equal(traj.w, traj.theta[:, 0])
    np.testing.assert_array_equal(traj.final, traj.theta[-1])
    losses = np.array([rkl.loss(*th) for th in traj.theta])
    assert (np.diff(losses) < 0).all()
    # the first step is exactly θ − η∇L
    np.testing.assert_allclose(traj.theta[1], traj.theta[0] - 0.2 * rkl.grad(0.8, 0.1, 2.8),
                               rtol=1e-15)


def test_gradient_descent_zero_steps_and_frozen_coordinates(rkl):
    traj = dyn.gradient_descent(rkl, (0.8, 0.1, 2.8), eta=0.2, steps=0)
    assert traj.theta.shape == (1, 3)
    frozen = dyn.gradient_descent(rkl, (0.8, 0.1, 2.8), eta=0.2, steps=5, free=(True, False, False))
    assert (frozen.theta[:, 1] == 0.1).all() and (frozen.theta[:, 2] == 2.8).all()
    assert (np.diff(frozen.w) < 0).all()  # w moves towards α = 0.3


@pytest.mark.parametrize("kwargs, name", [
    (dict(eta=0.0, steps=3), "eta"), (dict(eta=-1.0, steps=3), "eta"),
    (dict(eta=float("nan"), steps=3), "eta"), (dict(eta=float("inf"), steps=3), "eta"),
    (dict(eta=0.1, steps=-1), "steps"), (dict(eta=0.1, steps=2.5), "steps"),
])
def test_gradient_descent_bad_eta_or_steps(rkl, kwargs, name):
    with pytest.raises(ParameterError, match=rf"^{name}="):
        dyn.gradient_descent(rkl, (0.5, 0.0, 3.0), **kwargs)


@pytest.mark.parametrize("theta0, name", [
    ((1.0, 0.0, 3.0), "w"), ((0.0, 0.0, 3.0), "w"), ((float("nan"), 0.0, 3.0), "w"),
    ((0.5, float("nan"), 3.0), "theta0"), ((0.5, 0.0, float("inf")), "theta0"),
    ((0.5, 0.0), "theta0"), ((0.5, 0.0, 3.0, 1.0), "theta0"),
])
def test_bad_theta0(rkl, theta0, name):
    with pytest.raises(ParameterError, match=rf"^{name}"):
        dyn.gradient_descent(rkl, theta0, eta=0.1, steps=1)
    with pytest.raises(ParameterError, match=rf"^{name}"):
        dyn.gradient_flow(rkl, theta0, 1.0)
    with pytest.raises(ParameterError, match=rf"^{name}"):
        dyn.iterate(lambda th: th, theta0, 1)


def test_bad_flow_arguments(rkl):
    for t_end in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ParameterError, match=r"^t_end="):
            dyn.gradient_flow(rkl, (0.5, 0.0, 3.0), t_end)
    with pytest.raises(ParameterError, match=r"^param="):
        dyn.gradient_flow(rkl, (0.5, 0.0, 3.0), 1.0, param="tanh")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="free"):
        dyn.gradient_descent(rkl, (0.5, 0.0, 3.0), eta=0.1, steps=1, free=(True, False))


def test_raw_gradient_step_leaving_unit_interval_raises(fkl_new):
    """∂_w L_F > 0 with P = P_new; a large raw step pushes w below 0 — an error, not a clip."""
    g_w = fkl_new.grad(0.5, 0.0, 3.0)[0]
    assert g_w > 0
    eta = 1.5 * 0.5 / g_w  # w − η g_w = −0.25
    with pytest.raises(SymforgetError, match="left \\(0, 1\\)"):
        dyn.gradient_descent(fkl_new, (0.5, 0.0, 3.0), eta=eta, steps=3)
    # the logit parametrisation takes the same step size safely
    traj = dyn.gradient_descent(fkl_new, (0.5, 0.0, 3.0), eta=eta, steps=3, param="logit")
    assert ((traj.w > 0) & (traj.w < 1)).all() and traj.w[-1] < 0.5


def test_rkl_logit_gradient_descent_converges_to_alpha(rkl):
    """Means at the truth, only w free: logit-GD converges to α (claim rkl.weight_convergence)."""
    for w0 in (0.02, 0.97):
        traj = dyn.gradient_descent(rkl, (w0, 0.0, 3.0), eta=4.0, steps=60, param="logit",
                                    free=(True, False, False))
        assert abs(traj.w[-1] - 0.3) < 1e-12, traj.w[-5:]
        gaps = np.abs(traj.w - 0.3)
        assert (np.diff(gaps) <= 1e-15).all()  # monotone approach


def test_gradient_flow_raw_and_logit(rkl):
    t_eval = np.r_[np.linspace(0.0, 3.0, 9), 40.0]
    raw = dyn.gradient_flow(rkl, (0.8, 0.0, 3.0), 40.0, free=(True, False, False),
                            t_eval=t_eval)
    np.testing.assert_array_equal(raw.t, t_eval)
    assert raw.theta.shape == (10, 3)
    assert raw.w[0] == pytest.approx(0.8, rel=1e-14)
    assert (raw.theta[:, 1:] == [0.0, 3.0]).all()
    assert abs(raw.w[-1] - 0.3) < 1e-8
    assert (np.diff(np.abs(raw.w - 0.3)) < 0).all()
    logit = dyn.gradient_flow(rkl, (0.8, 0.0, 3.0), 40.0, param="logit",
                              free=(True, False, False), t_eval=t_eval)
    # a different, slower flow (u̇ = −w(1−w)·∂_w L; linear rate ≈ α(1−α)), same limit
    assert abs(logit.w[-1] - 0.3) < 1e-3
    assert (np.diff(np.abs(logit.w - 0.3)) < 0).all()
    assert not np.allclose(logit.w[1:4], raw.w[1:4], rtol=1e-3)


def test_gradient_flow_all_free_decreases_loss(rkl):
    traj = dyn.gradient_flow(rkl, (0.6, -0.5, 2.0), 10.0, t_eval=np.linspace(0, 10, 6))
    losses = np.array([rkl.loss(*th) for th in traj.theta])
    assert (np.diff(losses) < 0).all() and losses[-1] < 1e-2 * losses[0]


def test_iterate_em_map_mass_forgetting():
    """EM with P_train = P_new drives w to 0 monotonically (claim fkl.mass_forgetting)."""
    def step(th):
        return model.em_step(*th, data_mean=3.0)

    traj = dyn.iterate(step, (0.5, 0.0, 3.0), 30)
    assert traj.theta.shape == (31, 3)
    assert (np.diff(traj.w) < 0).all() and traj.w[-1] < 0.1
    with pytest.raises(ParameterError, match=r"^steps="):
        dyn.iterate(step, (0.5, 0.0, 3.0), -2)
