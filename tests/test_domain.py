"""Every public evaluator is right on its declared domain, or raises (issue 12).

The four defects of issue 12, each against an independent reference, and the domain edges:

* ``rkl_hessian`` at means ±M (M up to 1e6) — was −3.65 for an entry ≈ w = 0.3; reference:
  central differences of ``rkl_grad`` (the reduced-form path, different code) and a 40-digit
  mpmath integration of the *unreduced* Hessian spec (a second representation);
* losses under translation — the value at S = 0 against ``scipy.integrate.quad`` of
  q log(q/p*) written with ``scipy.stats.norm`` (no symforget code), then at S up to 2^40;
* the ``rkl.drift_bc_bound`` sweep metric for Δ ≥ 1e9 — was exactly 1; reference: the leading
  asymptotic √(2π)/Δ of m/bound (``rkl.drift_asymptotics``);
* ``log_misassignment``: relative accuracy against ``precise.misassignment`` up to Δ = 1e20
  (1e150 in the slow set);
* extreme inputs (σ = 1e-300 or 1e300, |μ| ≥ 1e160) end in a ``SymforgetError`` that names a
  parameter, or a correct value — never ``ZeroDivisionError``/``OverflowError``/a warning.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

import symforget as sf
from symforget import precise
from symforget.claims import pointwise
from symforget.numeric.frame import SPREAD_LIMIT
from symforget.symbolic import mixture

KW = {"alpha": 0.5, "target_old": 0.0, "target_new": 1.0}


def _fd_hessian(w: float, mo: float, mn: float, **kw) -> np.ndarray:
    """Central differences of rkl_grad (steps 1e-5 in w, 1e-4 in the means)."""
    x0, h = np.array([w, mo, mn]), np.array([1e-5, 1e-4, 1e-4])
    cols = []
    for j in range(3):
        e = np.zeros(3)
        e[j] = h[j]
        cols.append((sf.rkl_grad(*(x0 + e), **kw) - sf.rkl_grad(*(x0 - e), **kw)) / (2 * h[j]))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("M", [1e5, 3e5, 1e6])
def test_rkl_hessian_far_means(M: float) -> None:
    """H[μo, μo] ≈ w (was 0.298, 0.427, −3.65); agrees with differences of the gradient."""
    H = sf.rkl_hessian(0.3, M, -M, **KW)
    F = _fd_hessian(0.3, M, -M, **KW)
    assert H[1, 1] == pytest.approx(F[1, 1], abs=1e-6)
    assert H[1, 1] == pytest.approx(0.3, abs=1e-6)
    np.testing.assert_allclose(H, F, rtol=1e-5, atol=1e-6 * np.abs(F).max())


def test_rkl_hessian_far_means_mpmath() -> None:
    """The Stein-reduced Hessian against 40-digit quadrature of the unreduced spec at Δ = 1e6.

    Standard coordinates (centre 0): student at ±5e5, targets at −5e5 and −5e5 + 1.
    """
    p = [0.3, 0.5e6, -0.5e6, 0.5, -0.5e6, -0.5e6 + 1.0, 1.0]
    ref = precise.expect(mixture.rkl_hess_spec(), p, dps=40)
    got = sf.rkl_hessian(*p[:3], alpha=p[3], target_old=p[4], target_new=p[5]).ravel()
    want = np.array(ref.as_floats())
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12 * np.abs(want).max())


def _scipy_rkl_loss(w, mo, mn, a, to, tn) -> float:
    def integrand(x: float) -> float:
        lq = np.logaddexp(np.log(w) + norm.logpdf(x, mo), np.log1p(-w) + norm.logpdf(x, mn))
        lp = np.logaddexp(np.log(a) + norm.logpdf(x, to), np.log1p(-a) + norm.logpdf(x, tn))
        return math.exp(lq) * (lq - lp)

    pts = sorted({mo, mn, to, tn})
    val, err = integrate.quad(integrand, pts[0] - 40, pts[-1] + 40, points=pts, limit=400,
                              epsabs=1e-14, epsrel=1e-13)
    assert err < 1e-11
    return val


@pytest.mark.parametrize("S", [0.0, 1e6, 1e8, 2.0**40])
def test_rkl_loss_translation_against_scipy(S: float) -> None:
    """rkl_loss(0.3, S+.5, S+3.5, α=.4, S, S+4): 0.13338 at every S (was 0.671 at S = 1e8)."""
    ref = _scipy_rkl_loss(0.3, 0.5, 3.5, 0.4, 0.0, 4.0)
    got = float(sf.rkl_loss(0.3, S + 0.5, S + 3.5, alpha=0.4, target_old=S, target_new=S + 4))
    assert got == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("delta", [1e9, 1e20, 1e50, 1e150])
@pytest.mark.parametrize("w", [1e-6, 0.5, 1 - 1e-6])
def test_drift_sweep_metric_at_huge_separation(delta: float, w: float) -> None:
    """m/bound → √(2π)/Δ·(1 + O(Δ⁻²)); it came out as exactly 1 for every Δ ≳ 1e9."""
    k = pointwise.kernel("rkl.drift_bc_bound")
    ratio, ok = k.evaluate({"w": np.array([w]), "delta": np.array([delta])})
    assert ok.all()
    assert float(ratio[0]) == pytest.approx(math.sqrt(2 * math.pi) / delta, rel=1e-12)


def test_drift_sweep_mutant_still_fails_at_huge_separation() -> None:
    """The exponent mutant (−1/6 instead of −1/8) is rejected far out too."""
    k = pointwise.kernel("rkl.drift_bc_bound")
    _, ok = k.evaluate({"w": np.array([0.5]), "delta": np.array([1e9])}, mutant="exponent_1/6")
    assert not ok.any()


@pytest.mark.parametrize("delta", [50.0, 1e3, 1e9])
@pytest.mark.parametrize("w", [1e-9, 0.5, 1 - 1e-6])
def test_log_misassignment_relative_accuracy(delta: float, w: float) -> None:
    """|Δ log m| ≤ 4e-16 |log m| (a few ulps) against 30-digit mpmath."""
    v, err = precise.misassignment(w, delta, dps=30)
    with mpmath.workdps(40):
        ref = mpmath.log(v)
        assert err / v < mpmath.mpf("1e-25")
        got = float(sf.log_misassignment(w, delta))
        assert abs(got - ref) <= 4e-16 * abs(ref)
        excess = float(sf.log_misassignment_excess(w, delta))
        want = ref + mpmath.mpf(delta) ** 2 / 8
        assert abs(excess - want) <= 1e-14 * max(1, abs(want))


@pytest.mark.slow
@pytest.mark.parametrize("delta", [1e20, 1e150])
def test_log_misassignment_relative_accuracy_far(delta: float) -> None:
    v, _ = precise.misassignment(0.5, delta, dps=30)
    with mpmath.workdps(40):
        ref = mpmath.log(v)
        assert abs(float(sf.log_misassignment(0.5, delta)) - ref) <= 4e-16 * abs(ref)


# ------------------------------------------------------------------ extreme inputs

def _cov(sigma: float) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore"):  # σ² may overflow: cov must refuse inf
        return np.diag(np.square([sigma, sigma]))


def _calls(sigma: float, big: float) -> dict:
    r = {"alpha": 0.4, "target_old": 0.0, "target_new": 4.0 * sigma, "sigma": sigma}
    f = {"data_mean": 4.0 * sigma, "sigma": sigma}
    mo, mn = big + 0.5 * sigma, 3.5 * sigma
    return {
        "rkl_grad": lambda: sf.rkl_grad(0.3, mo, mn, **r),
        "rkl_loss": lambda: sf.rkl_loss(0.3, mo, mn, **r),
        "rkl_hessian": lambda: sf.rkl_hessian(0.3, mo, mn, **r),
        "fkl_grad": lambda: sf.fkl_grad(0.3, mo, mn, **f),
        "fkl_loss": lambda: sf.fkl_loss(0.3, mo, mn, **f),
        "fkl_hessian": lambda: sf.fkl_hessian(0.3, mo, mn, **f),
        "em_step": lambda: sf.em_step(0.3, mo, mn, **f),
        "fkl_iw_grad": lambda: sf.fkl_iw_grad(0.3, mo, mn, replay=0.2, replay_mean=mo, **f),
        "fisher_matrix": lambda: sf.fisher_matrix(0.3, mo, mn, sigma=sigma),
        "fisher": lambda: sf.fisher(0.3, big / sigma if big else 3.0),
        "misassignment": lambda: sf.misassignment(0.3, big / sigma if big else 3.0),
        "log_misassignment": lambda: sf.log_misassignment(0.3, big / sigma if big else 3.0),
        "chi2_gauss": lambda: sf.chi2_gauss(big / sigma if big else 3.0),
        "kl_gauss": lambda: sf.kl_gauss(big / sigma if big else 3.0),
        "rkl_grad_cov": lambda: sf.rkl_grad(0.3, [mo, 0.0], [mn, 0.0], alpha=0.4,
                                            target_old=[0.0, 0.0], target_new=[4 * sigma, 0.0],
                                            cov=_cov(sigma)),
    }


_EXTREMES = [(1e-300, 0.0), (1e300, 0.0), (1.0, 1e160), (1.0, 1e300), (1e-150, 1e160)]


@pytest.mark.parametrize(("sigma", "big"), _EXTREMES)
@pytest.mark.parametrize("name", list(_calls(1.0, 0.0)))
def test_extreme_inputs_value_or_named_refusal(name: str, sigma: float, big: float) -> None:
    call = _calls(sigma, big)[name]
    try:
        out = call()
    except sf.SymforgetError as exc:
        msg = str(exc)
        assert any(p in msg for p in ("sigma", "mu_old", "mu_new", "target", "data_mean",
                                      "delta", "replay_mean", "cov", "overflows")), msg
        return
    assert np.isfinite(out).all()


def test_spread_limits_are_declared_and_enforced() -> None:
    assert SPREAD_LIMIT == {"grad": 1e8, "quadrature": 1e7, "general": 1e4}
    with pytest.raises(sf.PrecisionError, match=r"mu_new=.* apart"):
        sf.rkl_loss(0.3, 0.0, 2e7, alpha=0.5, target_old=0.0, target_new=1.0)
    with pytest.raises(sf.PrecisionError, match=r"apart"):
        sf.fkl_grad(0.3, 0.0, 2e8, data_mean=1.0)
    # just inside: each student mode sits on a target mode (the new one 3σ off), 9e6σ apart, so
    # up to e^{-Δ²/8} the KL is the categorical KL plus (1 − w)·3²/2 — an independent value
    # (the old evaluator, log q and log p* relative to the far component, was 1.1e-3 off)
    p = [0.3, -4.5e6, 4.5e6, 0.5, -4.5e6, 4.5e6 - 3.0, 1.0]
    want = 0.3 * math.log(0.3 / 0.5) + 0.7 * math.log(0.7 / 0.5) + 0.7 * 4.5
    got = float(sf.rkl_loss(*p[:3], alpha=p[3], target_old=p[4], target_new=p[5]))
    assert got == pytest.approx(want, rel=1e-13)
    # forward KL likewise: data on the new mode 3σ from the student's new mean, and with
    # replay ρ = 0.3 of the old mode: KL = −log(1 − w)... + the mean offset
    got_f = float(sf.fkl_loss(0.3, -4.5e6, 4.5e6, data_mean=4.5e6 - 3.0))
    assert got_f == pytest.approx(-math.log(0.7) + 4.5, rel=1e-13)
    got_r = float(sf.fkl_loss(0.3, -4.5e6, 4.5e6, data_mean=4.5e6 - 3.0, replay=0.3,
                              replay_mean=-4.5e6))
    want_r = 0.3 * math.log(0.3 / 0.3) + 0.7 * math.log(0.7 / 0.7) + 0.7 * 4.5
    assert got_r == pytest.approx(want_r, rel=1e-13)


@pytest.mark.parametrize("refs", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_loss_reference_forms_agree(refs: tuple[int, int]) -> None:
    """Two routes, one truth: every reference choice of the loss integrands equals the
    historical spec (both relative to the new components) where both are accurate."""
    rng = np.random.default_rng(12)
    n = 64
    p = [rng.uniform(0.05, 0.95, n), rng.uniform(-4, 4, n), rng.uniform(-4, 4, n),
         rng.uniform(0.05, 0.95, n), rng.uniform(-4, 4, n), rng.uniform(-4, 4, n), np.ones(n)]
    from symforget.numeric.compile import compile_spec
    from symforget.numeric.quadrature import expect
    a = expect(compile_spec(mixture.rkl_loss_spec_ref(refs)), p)
    b = expect(compile_spec(mixture.rkl_loss_spec()), p)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    pf = [p[0], p[1], p[2], p[4], p[5], p[3] * 0.9, p[6]]
    for replay in (False, True):
        a = expect(compile_spec(mixture.fkl_loss_spec_ref(replay, refs)), pf)
        b = expect(compile_spec(mixture.fkl_loss_spec(replay)), pf)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


_EDGE_SPECS = {
    "rkl_loss": (mixture.rkl_loss_spec, "rkl", 1e-12),
    "rkl_hessian": (mixture.rkl_hess_spec, "rkl", 1e-10),
    "fkl_loss": (lambda: mixture.fkl_loss_spec(True), "fkl", 1e-12),
    "fkl_hessian": (mixture.fkl_hess_spec, "fkl", 1e-10),
    "em_step": (mixture.em_spec, "fkl", 1e-10),
    "fisher_matrix": (mixture.fisher_spec, "fisher", 1e-10),
    "rkl_grad": (mixture.rkl_grad_spec, "rkl", 1e-12),
    "fkl_grad": (mixture.fkl_grad_spec, "fkl", 1e-12),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(_EDGE_SPECS))
@pytest.mark.parametrize("spread", [1e3, 1e7])
def test_accuracy_at_domain_edge(name: str, spread: float) -> None:
    """docs/guide/precision.md, "Accuracy and domains": each evaluator against the 40-digit
    quadrature of its unreduced spec at random standard-coordinate points of the given spread."""
    spec_fn, kind, rtol = _EDGE_SPECS[name]
    rng = np.random.default_rng(int(spread) % 1000 + len(name))
    for _ in range(2):
        m = rng.uniform(-0.5, 0.5, 4) * spread
        m[0], m[1] = -spread / 2, spread / 2
        rng.shuffle(m)
        w, a = rng.uniform(0.05, 0.95, 2)
        if kind == "rkl":
            p = [w, m[0], m[1], a, m[2], m[3], 1.0]
            got = getattr(sf, name)(w, m[0], m[1], alpha=a, target_old=m[2], target_new=m[3])
        elif kind == "fkl":
            p = [w, m[0], m[1], m[2], m[3], a, 1.0]
            got = getattr(sf, name)(w, m[0], m[1], data_mean=m[2], replay=a, replay_mean=m[3])
        else:
            p = [w, m[0], m[1], 1.0]
            got = sf.fisher_matrix(w, m[0], m[1])
        ref = np.array(precise.expect(spec_fn(), p, dps=50, rtol=1e-20).as_floats())
        if name == "em_step":  # statistics → the EM map
            # (a component with no responsibility keeps its mean, as em_step documents)
            ref = np.array([ref[0], ref[1] / ref[0] if ref[0] > 0 else p[1],
                            ref[3] / ref[2] if ref[2] > 0 else p[2]])
        got = np.ravel(got)
        floor = 1e-3 * np.abs(ref).max()
        np.testing.assert_array_less(np.abs(got - ref), rtol * np.maximum(np.abs(ref), floor)
                                     + 1e-300)
