"""Misassignment probability: double-precision evaluator vs 50-digit mpmath, identities,
properties, and the certified precise layer (issue 3, items 1, 2, 7).

References are the certified series of :mod:`symforget.numeric.precise_drift` at 50 digits — a
different representation (erfc series with a rigorous truncation bound) from every method the
double-precision evaluator uses (Gauss–Hermite, DE trapezoid of the cosh form, λ-resummed
asymptotic series). Closed forms (m = ½ at x0 = 0, m = ½e^{−Δ²/2} at x0 = Δ, m(w, 0) = 1 − w)
are checked against the evaluator directly.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import expit

from symforget.errors import ParameterError, PrecisionError
from symforget.numeric import precise_drift
from symforget.numeric.misassign import REGIMES, log_misassignment, misassignment, regime

try:  # the curated strategies ship with the package (symforget.strategies)
    from symforget import strategies as sfs
except ImportError:  # pragma: no cover - fallback if the module is absent
    sfs = None

W_EDGE = [1e-9, 1e-5, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-5, 1 - 1e-9]
D_EDGE = [0.0, 1e-10, 1e-4, 0.3, 0.999, 1.0, 1.001, 2.0, 2.5, 2.51, 4.0, 6.0, 6.01, 11.9,
          12.1, 19.9, 20.1, 29.9, 30.1, 45.0, 60.0]


def _ref(w: float, d: float, dps: int = 50) -> mpmath.mpf:
    val, err = precise_drift.misassignment(w, d, dps, cross_check=False)
    assert err <= abs(val) * mpmath.mpf(10) ** (-dps)
    return val


def _rel_errors(ws, ds) -> np.ndarray:
    got = misassignment(np.asarray(ws), np.asarray(ds))
    out = []
    with mpmath.workdps(30):
        for g, w, d in zip(got, ws, ds, strict=True):
            ref = _ref(float(w), float(d))
            out.append(float(abs(mpmath.mpf(float(g)) - ref) / ref))
    return np.array(out)


# ------------------------------------------------------------------ accuracy


def test_accuracy_corner_grid():
    """Relative error ≤ 1e-12 on the box corners/edges (w = 1e-9 … 1 − 1e-9, Δ = 0 … 60),
    including both sides of every regime boundary."""
    ws, ds = (a.ravel() for a in np.meshgrid(W_EDGE, D_EDGE))
    err = _rel_errors(ws, ds)
    worst = int(np.argmax(err))
    assert err[worst] <= 1e-12, (ws[worst], ds[worst], err[worst])


def test_accuracy_random_box():
    """Seeded points, c = logit w uniform on [−20.7, 20.7], Δ uniform on [0, 60] and
    log-uniform on [1e-4, 60]."""
    rng = np.random.default_rng(2024)
    n = 120
    ws = expit(rng.uniform(-20.72, 20.72, n))
    ds = np.where(rng.random(n) < 0.5, rng.uniform(0, 60, n), 10 ** rng.uniform(-4, 1.78, n))
    err = _rel_errors(ws, ds)
    assert err.max() <= 1e-12, (ws[err.argmax()], ds[err.argmax()], err.max())


def test_accuracy_at_reflection_and_band_boundaries():
    """Points placed on the method's internal boundaries: c = ±(k + ½)Δ² (reflection count
    changes), λ = 2|c|/Δ² at 0.2 and 0.35, K = 9 reflections (truncation)."""
    ws, ds = [], []
    for d in (1.0001, 1.3, 2.0, 2.49, 3.0, 4.5):
        for k in range(0, 12):
            for sign in (-1.0, 1.0):
                for eps in (-1e-9, 1e-9):
                    c = sign * (k + 0.5) * d * d + eps
                    if abs(c) <= 20.72:
                        ws.append(expit(c))
                        ds.append(d)
    for d in (7.0, 13.0, 20.5, 25.0):
        for lam in (0.199, 0.201, 0.349, 0.351):
            c = lam * d * d / 2
            if c <= 36:
                ws += [expit(c), expit(-c)]
                ds += [d, d]
    err = _rel_errors(ws, ds)
    assert err.max() <= 1e-12, (ws[err.argmax()], ds[err.argmax()], err.max())


def test_log_accuracy_up_to_delta_1000():
    """Absolute error of log m ≤ 1e-10 where m itself underflows (Δ ≥ 77) up to Δ = 1000,
    also for w at the ends of (0, 1) representable in double precision."""
    ws = [1e-9, 0.5, 1 - 1e-9, 1e-300, 1e-20]
    ds = [77.0, 100.0, 200.0, 500.0, 1000.0]
    worst = 0.0
    with mpmath.workdps(40):
        for w in ws:
            got = log_misassignment(w, ds)
            for g, d in zip(got, ds, strict=True):
                ref = mpmath.log(_ref(w, d))
                worst = max(worst, float(abs(mpmath.mpf(float(g)) - ref)))
    assert worst <= 1e-10


def test_log_extreme_weights_outside_box():
    """Extreme weights (|logit w| up to 745) stay finite and accurate (reflections, wide DE)."""
    ws = np.array([1e-300, 1e-200, 1e-100, 1e-50, 1e-20, 1 - 1e-16])
    ds = np.array([1.2, 3.0, 10.0, 35.0, 50.0, 80.0])
    W, D = np.meshgrid(ws, ds)
    got = log_misassignment(W, D)
    assert np.isfinite(got).all()
    with mpmath.workdps(40):
        errs = [float(abs(mpmath.mpf(float(g)) - mpmath.log(_ref(float(w), float(d)))))
                for g, w, d in zip(got.ravel(), W.ravel(), D.ravel(), strict=True)]
    assert max(errs) <= 1e-10


# ------------------------------------------------------------------ closed forms, identities


@pytest.mark.parametrize("d", [0.5, 1.0, 2.0, 3.7, 8.0, 15.0, 25.0, 36.0])
def test_transition_at_old_mean_gives_half(d):
    """c = −Δ²/2 puts x0 at the old mean: m = E[sigmoid(Δx)] = ½ exactly."""
    w = expit(-d * d / 2)
    assert misassignment(w, d) == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("d", [1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 8.4])
def test_transition_at_new_mean_fixed_point(d):
    """c = Δ²/2 (x0 = Δ, the reflection's fixed point): m = ½ e^{−Δ²/2}."""
    w = expit(d * d / 2)
    assert misassignment(w, d) == pytest.approx(0.5 * np.exp(-d * d / 2), rel=1e-12)


def test_zero_separation_is_one_minus_w():
    w = np.array([1e-300, 1e-9, 0.25, 0.5, 0.75, 1 - 1e-9])
    assert np.array_equal(misassignment(w, 0.0), 1 - w)
    assert np.array_equal(log_misassignment(w, 0.0), np.log1p(-w))


def test_small_separation_expansion():
    """m = (1 − w) − w(1 − w)²Δ² + O(Δ⁴) (derived: ∂_Δ m = −2Δ E[r_n² r_o])."""
    w = np.array([0.1, 0.5, 0.9, 1 - 1e-6])  # (small w: m − (1 − w) cancels in the test)
    d = 1e-3
    slope = (misassignment(w, d) - (1 - w)) / d**2
    assert slope == pytest.approx(-w * (1 - w) ** 2, rel=1e-5)


@pytest.mark.parametrize("w,d", [(0.3, 0.7), (0.5, 2.0), (0.05, 4.0), (0.9, 6.5)])
def test_delta_derivative_matches_stein_identity(w, d):
    """∂m/∂Δ = −2Δ E_{φ0}[r_n² r_o]: central differences vs QUADPACK of the right side."""
    h = 1e-4
    fd = (misassignment(w, d + h) - misassignment(w, d - h)) / (2 * h)
    c = np.log(w / (1 - w))

    def integrand(x: float) -> float:
        rn = expit(d * x - d * d / 2 - c)
        return np.exp(-x * x / 2) / np.sqrt(2 * np.pi) * rn * rn * (1 - rn)

    x0 = d / 2 + c / d
    rhs, _ = integrate.quad(integrand, -40, 40, points=[0.0, x0], epsabs=0, epsrel=1e-12,
                            limit=200)
    assert float(fd) == pytest.approx(-2 * d * rhs, rel=1e-7)


def test_even_in_delta():
    w = np.array([1e-9, 0.2, 0.5, 0.8])
    for d in (0.4, 3.0, 25.0, 300.0):
        assert np.array_equal(log_misassignment(w, -d), log_misassignment(w, d))


# ------------------------------------------------------------------ properties (Hypothesis)


def _weights():
    return sfs.weights(1e-12, 1 - 1e-12) if sfs else st.floats(1e-12, 1 - 1e-12)


def _separations():
    return sfs.separations(0.0, 16.0, large=True) if sfs else st.floats(0.0, 1000.0)


@settings(deadline=None)
@given(_weights(), _separations())
@example(0.5, 0.0).via("sharp corner: equality")
@example(1e-12, 0.0).via("w near 0")
@example(1 - 1e-12, 1e-8).via("w near 1")
@example(0.5, 40.0).via("large separation")
@example(1e-9, 1000.0).via("extreme separation")
def test_bound_never_exceeded(w, d):
    """log m ≤ log(½√((1−w)/w)) − Δ²/8 (claim rkl.drift_bc_bound), never NaN/inf."""
    lm = float(log_misassignment(w, d))
    assert np.isfinite(lm)
    bound = np.log(0.5) + 0.5 * (np.log1p(-w) - np.log(w)) - d * d / 8
    assert lm <= bound + 1e-12


@settings(deadline=None)
@given(_weights(), _separations())
@example(1e-12, 3.0).via("w near 0")
@example(0.5, 0.0).via("self-symmetric")
@example(1e-9, 60.0).via("large separation")
def test_swap_symmetry(w, d):
    """w·m(w, Δ) = (1 − w)·m(1 − w, Δ) (roles of the components swapped), in logs."""
    v = max(w, 1 - w)  # exact complements: for v ≥ ½, u = 1 − v is computed without rounding
    u = 1 - v
    lhs = np.log(u) + float(log_misassignment(u, d))
    rhs = np.log(v) + float(log_misassignment(v, d))
    assert lhs == pytest.approx(rhs, abs=1e-12 * max(1.0, d * d / 8))


@settings(deadline=None)
@given(_weights(), st.floats(0.0, 200.0), st.floats(1e-3, 5.0))
@example(0.5, 0.0, 1e-3).via("from Δ = 0")
@example(1 - 1e-12, 0.5, 0.01).via("w near 1")
@example(1e-12, 19.99, 0.02).via("across the asymptotic threshold")
def test_decreasing_in_delta(w, d, step):
    """m is strictly decreasing in Δ for every w (∂m/∂Δ = −2Δ E[r_n² r_o] < 0), wherever the
    decrease (≳ w(1−w)((Δ+h)² − Δ²) in log m) exceeds the evaluator's ~1e-14 resolution."""
    assume(w * (1 - w) * ((d + step) ** 2 - d**2) > 1e-11)
    a, b = log_misassignment(w, [d, d + step])
    assert b < a


def test_monotone_on_dense_grid():
    """No wiggle from regime switches: log m strictly decreasing on a fine Δ grid."""
    d = np.linspace(0.0, 80.0, 20001)
    for w in (1e-9, 1e-3, 0.3, 0.5, 0.9, 1 - 1e-9):
        lm = log_misassignment(w, d)
        # resolvable steps only: predicted decrease w(1−w)(Δ_{i+1}² − Δ_i²) > 1e-11
        big = w * (1 - w) * np.diff(d**2) > 1e-11
        assert np.all(np.diff(lm)[big] < 0), w
        assert big.mean() > 0.9


# ------------------------------------------------------------------ API


def test_broadcasting_and_shapes():
    w = np.array([[0.1], [0.5], [0.9]])
    d = np.array([0.0, 1.0, 10.0, 100.0])
    out = misassignment(w, d)
    assert out.shape == (3, 4) and out.dtype == np.float64
    assert np.isfinite(out).all() and (out >= 0).all() and (out < 1).all()
    assert misassignment(0.3, 2.0).shape == ()
    assert np.array_equal(regime(0.3, [0.0, 0.5, 5.0, 40.0]),
                          np.array(["zero", "hermite", "de", "asymptotic"], dtype=object))
    assert set(REGIMES) >= {"zero", "hermite", "de", "asymptotic"}


def test_underflow_is_zero_not_nan():
    out = misassignment([0.5, 1e-9], [200.0, 1e200])
    assert np.array_equal(out, [0.0, 0.0])


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, np.nan])
def test_rejects_weights(bad):
    with pytest.raises(ParameterError, match="w"):
        misassignment(bad, 1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_rejects_delta(bad):
    with pytest.raises(ParameterError, match="delta"):
        log_misassignment(0.5, bad)


def test_rejects_unrepresentable_log_and_bad_shapes():
    with pytest.raises(ParameterError, match="delta"):
        log_misassignment(0.5, 1e200)
    with pytest.raises(ParameterError, match="broadcast"):
        misassignment(np.ones(3) * 0.5, np.ones(2))


# ------------------------------------------------------------------ precise layer


@pytest.mark.parametrize("w,d", [(0.3, 7.0), (1e-9, 40.0), (1 - 1e-9, 0.01)])
def test_precise_three_representations_agree(w, d):
    val, err = precise_drift.misassignment(w, d, 50)
    assert err <= abs(val) * mpmath.mpf("1e-50")
    with mpmath.workdps(60):
        for fn in (precise_drift.cosh_quad, precise_drift.direct_quad):
            v2, e2 = fn(w, d, 50)
            assert abs(v2 - val) <= abs(val) * mpmath.mpf("1e-50")
            assert e2 <= abs(val) * mpmath.mpf("1e-50")


def test_precise_series_bound_holds_against_higher_precision():
    with mpmath.workdps(90):
        for w, d in ((0.5, 3.0), (1e-9, 60.0), (0.2, 200.0)):
            lo, err = precise_drift.series(w, d, 50)
            hi, _ = precise_drift.series(w, d, 80)
            assert abs(lo - hi) <= err


def test_precise_special_cases():
    v, e = precise_drift.misassignment(0.25, 0.0)
    assert v == mpmath.mpf("0.75") and e == 0
    v1, _ = precise_drift.misassignment(0.25, -3.0, 30, cross_check=False)
    v2, _ = precise_drift.misassignment(0.25, 3.0, 30, cross_check=False)
    assert v1 == v2
    with pytest.raises(ParameterError):
        precise_drift.misassignment(1.0, 1.0)
    with pytest.raises(ParameterError):
        precise_drift.misassignment(0.5, 1.0, dps=2)


@pytest.mark.parametrize("d,min_rel_err", [(40.0, 0.01), (200.0, 0.1)])
def test_naive_direct_integral_is_wrong_and_would_be_refused(d, min_rel_err):
    """CLAIMS.md pitfall: mpmath.quad of φ(x)·sigmoid(Δ(x − x0)) with breakpoints only at the
    means and the midpoint is off by ≥ 1 % (Δ = 40) and ≥ 10 % (Δ = 200); its own error
    estimate is large, and the precise layer's certification refuses it."""
    w = 0.3
    truth, _ = precise_drift.misassignment(w, d, 30, cross_check=False)
    with mpmath.workdps(30):
        D = mpmath.mpf(d)
        c = mpmath.log(mpmath.mpf(w) / (1 - mpmath.mpf(w)))
        x0 = D / 2 + c / D
        naive, est = mpmath.quad(lambda x: mpmath.npdf(x) / (1 + mpmath.exp(-D * (x - x0))),
                                 [mpmath.ninf, 0, D / 2, D, mpmath.inf], error=True)
        assert abs(naive - truth) / truth >= min_rel_err
        with pytest.raises(PrecisionError, match="refusing"):
            precise_drift.certify(naive, est, 30, "naive direct integral")
        # our layer certifies the same quantity
        assert precise_drift.certify(truth, abs(truth) * mpmath.mpf("1e-40"), 30) == truth


def test_precise_refuses_disagreeing_representation(monkeypatch):
    real = precise_drift.direct_quad

    def off(w, d, dps):
        v, e = real(w, d, dps)
        return v * (1 + mpmath.mpf(10) ** (-dps + 3)), e

    monkeypatch.setattr(precise_drift, "direct_quad", off)
    with pytest.raises(PrecisionError, match="disagrees"):
        precise_drift.misassignment(0.3, 2.0, 20)


def test_precise_refuses_large_error_estimate(monkeypatch):
    monkeypatch.setattr(precise_drift, "cosh_quad",
                        lambda w, d, dps: (mpmath.mpf("0.1"), mpmath.mpf("1e-5")))
    with pytest.raises(PrecisionError, match="cosh form"):
        precise_drift.misassignment(0.3, 2.0, 20)
