"""Hypothesis properties of the public evaluators, drawn with :mod:`symforget.strategies`.

Every ``@given`` carries ``@example`` edges: w near 0 and 1, Δ = 0, large Δ. The strategies
themselves are tested at the bottom (bounds respected, bad arguments refused in one line).
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from symforget import (
    bhattacharyya,
    em_step,
    fkl_grad,
    fkl_loss,
    rkl_grad,
    rkl_loss,
)
from symforget import strategies as sfs
from symforget.errors import ParameterError

#: largest Δ whose e^{−Δ²/8} is still a (subnormal) float64 > 0: Δ²/8 < 744
DELTA_UNDERFLOW = math.sqrt(8 * 744.0)


def close(a, b, rtol, floor):
    """|a − b| ≤ rtol·max(|b_i|, floor) component-wise."""
    a, b = np.asarray(a), np.asarray(b)
    return bool((np.abs(a - b) <= rtol * np.maximum(np.abs(b), floor)).all())


# ------------------------------------------------------------------ Bhattacharyya


@given(sfs.separations(large=True), sfs.separations(large=True))
@example(0.0, 0.0)
@example(0.0, 1e-300)
@example(0.0, sfs.LARGE_SEPARATION)
@example(40.0, 1000.0)
@example(75.0, 78.0)
def test_bhattacharyya_in_unit_interval_and_decreasing(d1, d2):
    lo, hi = sorted((d1, d2))
    b_lo, b_hi = float(bhattacharyya(lo)), float(bhattacharyya(hi))
    for d, b in ((lo, b_lo), (hi, b_hi)):
        assert 0.0 <= b <= 1.0
        if d < DELTA_UNDERFLOW:
            assert b > 0.0, d  # in (0, 1] wherever float64 can represent it
        assert float(bhattacharyya(-d)) == b  # only Δ² matters
    if lo == 0.0:
        assert b_lo == 1.0
    assert b_lo >= b_hi
    if b_hi > 1e-300 and (hi * hi - lo * lo) / 8 > 1e-12:
        assert b_lo > b_hi
        # log BC(lo) − log BC(hi) = (hi² − lo²)/8 (hand-typed closed form)
        assert math.isclose(math.log(b_lo) - math.log(b_hi), (hi * hi - lo * lo) / 8,
                            rel_tol=1e-9, abs_tol=1e-12)


# ------------------------------------------------------------------ finiteness over the box


@given(sfs.students(), sfs.targets())
@example((0.01, -8.0, 8.0), (0.99, 8.0, -8.0))
@example((0.99, 8.0, -8.0), (0.01, -8.0, 8.0))
@example((0.01, 0.0, 0.0), (0.99, -8.0, 8.0))  # Δ = 0 for the student
@example((0.5, 8.0, 8.0), (0.5, -8.0, -8.0))  # Δ = 0 both, far apart
@example((0.99, -8.0, 8.0), (0.01, -8.0, 8.0))
def test_rkl_grad_finite(theta, target):
    alpha, nu_o, nu_n = target
    g = rkl_grad(*theta, alpha=alpha, target_old=nu_o, target_new=nu_n)
    assert g.shape == (3,) and np.isfinite(g).all()


@given(sfs.students(), sfs.means(), sfs.means(), sfs.replay_fractions())
@example((0.01, -8.0, 8.0), 8.0, -8.0, 0.0)
@example((0.99, -8.0, 8.0), 8.0, -8.0, 0.99)
@example((0.01, 3.0, 3.0), 3.0, 3.0, 0.5)  # Δ = 0 everywhere
@example((0.99, 8.0, -8.0), -8.0, 8.0, 0.0)
def test_fkl_grad_finite(theta, data_mean, replay_mean, replay):
    g = fkl_grad(*theta, data_mean=data_mean, replay=replay, replay_mean=replay_mean)
    assert g.shape == (3,) and np.isfinite(g).all()


# ------------------------------------------------------------------ losses are divergences


@given(sfs.students(), sfs.targets())
@example((0.3, -1.0, 2.0), (0.3, -1.0, 2.0))  # θ = θ*: L_R = 0
@example((0.01, -8.0, 8.0), (0.99, 8.0, -8.0))  # the label swap of θ*: L_R = 0
@example((0.99, 0.0, 0.0), (0.01, 0.0, 0.0))  # Δ = 0: q = p* whatever the weights
@example((0.01, -8.0, 8.0), (0.99, -8.0, 8.0))
def test_rkl_loss_nonnegative(theta, target):
    alpha, nu_o, nu_n = target
    loss = float(rkl_loss(*theta, alpha=alpha, target_old=nu_o, target_new=nu_n))
    # rounding: log(q/p*) is a difference of O(Δ²) ≤ 256 terms → |error| ≲ 1e-13
    assert loss >= -1e-12
    if theta == target or (theta[1] == theta[2] and target[1] == target[2] == theta[1]):
        assert abs(loss) <= 1e-12


@given(sfs.students(), sfs.means(), sfs.means(), sfs.replay_fractions())
@example((0.5, 1.0, 1.0), 1.0, 1.0, 0.0)  # q = P: zero
@example((0.01, -8.0, 8.0), 8.0, -8.0, 0.0)
@example((0.99, -8.0, 8.0), 8.0, -8.0, 0.99)
@example((0.3, -2.0, 5.0), 5.0, -2.0, 0.7)  # q = P_train exactly (ρ = 1 − w)
@example((0.01, -8.0, -8.0), 0.0, 2.225073858507e-311, 0.99)  # subnormal kink slope (was a bug)
def test_fkl_loss_nonnegative(theta, data_mean, replay_mean, replay):
    loss = float(fkl_loss(*theta, data_mean=data_mean, replay=replay, replay_mean=replay_mean))
    assert loss >= -1e-12


# ------------------------------------------------------------------ symmetries and signs


@given(sfs.students(), sfs.targets())
@example((0.01, -8.0, 8.0), (0.99, 8.0, -8.0))
@example((0.99, 2.0, 2.0), (0.01, -8.0, 8.0))
@example((0.5, 0.0, 0.0), (0.5, 0.0, 0.0))
def test_rkl_label_swap_symmetry(theta, target):
    """L_R(w, μo, μn; α, νo, νn) = L_R(1−w, μn, μo; 1−α, νn, νo);
    the gradient permutes as (−g_w, g_μn, g_μo)."""
    w, mo, mn = theta
    a, no, nn = target
    l1 = float(rkl_loss(w, mo, mn, alpha=a, target_old=no, target_new=nn))
    l2 = float(rkl_loss(1 - w, mn, mo, alpha=1 - a, target_old=nn, target_new=no))
    assert abs(l1 - l2) <= 1e-10 * max(abs(l1), 1.0)
    g1 = rkl_grad(w, mo, mn, alpha=a, target_old=no, target_new=nn)
    g2 = rkl_grad(1 - w, mn, mo, alpha=1 - a, target_old=nn, target_new=no)
    # 1 − w is rounded, so compare with a floor proportional to the vector's size
    floor = max(1e-3 * np.abs(g1).max(), 1e-4)
    assert close(g2, np.array([-g1[0], g1[2], g1[1]]), 1e-9, floor), (g1, g2)


@given(sfs.students())
@example((0.01, -8.0, 8.0))
@example((0.99, -8.0, 8.0))
@example((1 - 1e-6, 0.0, 0.5))
@example((0.5, 3.0, 3.0))  # Δ = 0: no preference, gradient 0
def test_fkl_w_gradient_points_to_mass_forgetting(theta):
    """P_train = P_new = φ_{μn}: ∂L_F/∂w > 0 for μo ≠ μn (descent lowers w; claim
    fkl.mass_forgetting), and = 0 when the components coincide."""
    w, mo, mn = theta
    g_w = float(fkl_grad(w, mo, mn, data_mean=mn)[0])
    if abs(mo - mn) >= 1e-3:
        assert g_w > 0, (theta, g_w)
    else:
        assert abs(g_w) <= 1e-8


@given(sfs.students(), sfs.means(), sfs.means(), sfs.replay_fractions())
@example((0.01, -8.0, 8.0), 8.0, -8.0, 0.0)
@example((0.99, 0.0, 0.0), 0.0, 5.0, 0.5)
@example((0.99, -8.0, 8.0), -8.0, 8.0, 0.99)
def test_fkl_w_gradient_is_em_residual(theta, data_mean, replay_mean, replay):
    """∂L_F/∂w = (w − E_P[r_o]) / (w(1−w)) with E_P[r_o] from the EM map (a second spec)."""
    w = theta[0]
    kw = dict(data_mean=data_mean, replay=replay, replay_mean=replay_mean)
    g_w = float(fkl_grad(*theta, **kw)[0])
    w_next = float(em_step(*theta, **kw)[0])
    ref = (w - w_next) / (w * (1 - w))
    assert abs(g_w - ref) <= 1e-9 * max(abs(ref), 1e-3 / (w * (1 - w)))


# ------------------------------------------------------------------ the strategies themselves


@given(sfs.weights())
def test_default_weights_in_open_interval(w):
    assert 0.0 < w < 1.0


@given(sfs.weights(min=0.2, max=0.3), sfs.means(min=-1.0, max=2.0),
       sfs.scales(min=0.5, max=4.0), sfs.replay_fractions(min=0.1, max=0.2),
       sfs.separations(min=1.0, max=2.0, large=True, large_max=50.0))
def test_strategy_bounds(w, m, s, r, d):
    assert 0.2 <= w <= 0.3 and -1.0 <= m <= 2.0 and 0.5 <= s <= 4.0 and 0.1 <= r <= 0.2
    assert 1.0 <= d <= 2.0 or 40.0 <= d <= 50.0


def test_strategies_reach_their_edges():
    """The edge cases are actually drawn (not just allowed): find them with Hypothesis."""
    from hypothesis import find

    assert find(sfs.weights(), lambda w: w < 1e-4) < 1e-4
    assert find(sfs.weights(), lambda w: w > 1 - 1e-4) > 1 - 1e-4
    assert find(sfs.separations(), lambda d: d == 0.0) == 0.0
    assert find(sfs.separations(large=True), lambda d: d >= 100.0) >= 100.0
    assert find(sfs.students(), lambda t: t[1] == t[2] != 0.0)[1] != 0.0
    assert find(sfs.replay_fractions(), lambda r: r == 0.0) == 0.0


@given(st.data())
def test_students_and_targets_shapes(data):
    w, mo, mn = data.draw(sfs.students())
    a, no, nn = data.draw(sfs.targets(alpha=sfs.weights(0.4, 0.6), mean=sfs.means(0.0, 1.0)))
    assert 0.01 <= w <= 0.99 and abs(mo) <= 8 and abs(mn) <= 8
    assert 0.4 <= a <= 0.6 and 0.0 <= no <= 1.0 and 0.0 <= nn <= 1.0


@pytest.mark.parametrize("build, pattern", [
    (lambda: sfs.weights(min=0.0), r"^min=0\.0 must lie in the open interval \(0, 1\)$"),
    (lambda: sfs.weights(max=1.0), r"^max=1\.0 must lie in the open interval \(0, 1\)$"),
    (lambda: sfs.weights(min=0.6, max=0.4), r"^min=0\.6 must be <= max=0\.4$"),
    (lambda: sfs.weights(min="0.1"), r"^min='0\.1' must be a real number$"),
    (lambda: sfs.weights(min=float("nan")), r"^min=nan must be finite$"),
    (lambda: sfs.means(min=3.0, max=-3.0), r"^min=3\.0 must be <= max=-3\.0$"),
    (lambda: sfs.means(max=float("inf")), r"^max=inf must be finite$"),
    (lambda: sfs.separations(min=-1.0), r"^min=-1\.0 must be >= 0"),
    (lambda: sfs.separations(large=1), r"^large=1 must be True or False$"),
    (lambda: sfs.separations(large=True, large_max=10.0), r"^large_max=10\.0 must be >= 40"),
    (lambda: sfs.scales(min=0.0), r"^min=0\.0 must be > 0"),
    (lambda: sfs.replay_fractions(max=1.0), r"^max=1\.0 must lie in the interval \[0, 1\)$"),
    (lambda: sfs.replay_fractions(min=-0.5), r"^min=-0\.5 must lie in the interval \[0, 1\)$"),
    (lambda: sfs.students(weight=0.5), r"^weight=0\.5 must be a Hypothesis strategy$"),
    (lambda: sfs.targets(alpha=[0.5]), r"^alpha=\[0\.5\] must be a Hypothesis strategy$"),
])
def test_strategy_arguments_validated_in_one_line(build, pattern):
    with pytest.raises(ParameterError, match=pattern):
        build()


def test_degenerate_ranges_are_constants():
    from hypothesis import find

    assert find(sfs.weights(0.25, 0.25), lambda _: True) == 0.25
    assert find(sfs.means(2.0, 2.0), lambda _: True) == 2.0
    assert find(sfs.replay_fractions(0.0, 0.0), lambda _: True) == 0.0


def test_strategies_doctests():
    result = doctest.testmod(sfs, verbose=False)
    assert result.attempted >= 8 and result.failed == 0
