"""Unequal scales: BC(Δ, r), m(w, Δ, r) and the certified m against the independent reference
(``reference_general.py``, 30-digit mpmath sharing no code with symforget); claim
``beyond.any_family`` (its pass and its mutants run in ``test_claims_all.py``)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import reference_general as R

import symforget as sf
from symforget import precise

POINTS = [(0.5, 0.0, 2.0), (0.5, 3.0, 2.0), (0.3, 20.0, 0.5), (1e-6, 10.0, 5.0),
          (0.9, 7.5, 0.2), (0.02, 1.0, 0.01), (0.7, 25.0, 100.0)]


@pytest.mark.parametrize(("w", "d", "r"), POINTS)
def test_misassignment_unequal_against_reference(w: float, d: float, r: float) -> None:
    ref = float(R.misassignment(w, d, r).value)
    assert float(sf.misassignment(w, d, ratio=r)) == pytest.approx(ref, rel=1e-12)
    assert float(sf.log_misassignment(w, d, ratio=r)) == pytest.approx(math.log(ref),
                                                                      rel=1e-12, abs=1e-13)
    assert float(sf.misassignment(w, -d, ratio=r)) == float(sf.misassignment(w, d, ratio=r))


@pytest.mark.parametrize(("w", "d", "r"), POINTS[:4])
def test_precise_misassignment_unequal(w: float, d: float, r: float) -> None:
    v, err = precise.misassignment(w, d, dps=30, ratio=r)
    ref = R.misassignment(w, d, r, dps=30)
    with mpmath.workdps(40):
        assert err <= abs(v) * mpmath.mpf("1e-29")
        assert abs(v - ref.value) <= abs(v) * mpmath.mpf("1e-25")


def test_precise_ratio_one_is_the_equal_scale_path() -> None:
    a, _ = precise.misassignment(0.3, 4.0, dps=30)
    b, _ = precise.misassignment(0.3, 4.0, dps=30, ratio=1.0)
    assert a == b


def test_far_rate_against_claims_lead() -> None:
    """log m/Δ² → −1/(2(1+r)²) (the responsibility switches at Δ/(1+r)); at r = ½, Δ = 160 the
    certified value is −0.22242 (−2/9 in the limit)."""
    v, _ = precise.misassignment(0.5, 160.0, dps=30, ratio=0.5)
    assert float(mpmath.log(v)) / 160.0**2 == pytest.approx(-0.22242, abs=2e-5)


@pytest.mark.parametrize("r", [0.2, 0.7, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("d", [0.0, 2.0, 9.0, 40.0])
def test_bhattacharyya_ratio_against_reference(d: float, r: float) -> None:
    ref = float(R.bhattacharyya(0.0, 1.0, d, r).value)
    assert float(sf.bhattacharyya(d, ratio=r)) == pytest.approx(ref, rel=1e-13)


def test_bhattacharyya_ratio_one_and_symmetry() -> None:
    d = np.linspace(0, 30, 31)
    np.testing.assert_allclose(sf.bhattacharyya(d, ratio=1.0 + 0 * d), sf.bhattacharyya(d),
                               rtol=1e-14)
    # BC is symmetric: swapping the Gaussians maps (Δ, r) to (Δ/r, 1/r)
    np.testing.assert_allclose(sf.bhattacharyya(d, ratio=2.0), sf.bhattacharyya(d / 2, ratio=0.5),
                               rtol=1e-14)


def test_ratio_validation() -> None:
    with pytest.raises(sf.ParameterError, match="ratio"):
        sf.misassignment(0.3, 1.0, ratio=-1.0)
    with pytest.raises(sf.PrecisionError, match="ratio"):
        sf.misassignment(0.3, 1.0, ratio=1e3)
    with pytest.raises(sf.ParameterError, match="ratio"):
        sf.bhattacharyya(1.0, ratio="2")
    with pytest.raises(sf.PrecisionError, match="1e-300"):
        sf.log_misassignment(0.5, 160.0, ratio=2.0)



# the reflection identity behind the certificate of beyond.any_family for r < 1 (issue 16):
# w φ_o r_n = (1−w) φ_n r_o pointwise, so m(w, Δ, r) = ((1−w)/w)·E_{φ_n}[r_o], and x → (Δ−x)/r
# maps N(Δ, r²) to N(0, 1) and N(0, 1) to N(Δ/r, 1/r²): E_{φ_n}[r_o] = m(1−w, Δ/r, 1/r)
REFLECTION_POINTS = [("3/10", "3", "1/2"), ("9/10", "15/2", "1/5"), ("1/20", "1", "4/5"),
                     ("1/4", "0", "1/3"), ("1/2", "1/2", "1/3"), ("7/10", "20", "1/2"),
                     ("999/1000", "2", "9/10")]


def _m30(w, d, r):
    v, err = precise.misassignment(w, d, dps=30, ratio=r)
    assert err <= abs(v) * mpmath.mpf("1e-29")
    return v


def _bound(w, d, r):
    w, d, r = (mpmath.mpf(v.numerator) / v.denominator for v in (w, d, r))
    return mpmath.sqrt((1 - w) / w) / 2 * mpmath.sqrt(2 * r / (1 + r * r)) \
        * mpmath.exp(-d * d / (4 * (1 + r * r)))


@pytest.mark.parametrize(("w", "d", "r"), REFLECTION_POINTS)
def test_any_family_reflection_identity(w: str, d: str, r: str) -> None:
    """m(w, Δ, r) = ((1−w)/w)·m(1−w, Δ/r, 1/r) to 25 digits (30-digit precise values at exact
    rational points), m/bound invariant; the variants without (1−w)/w, with Δ·r, or with r
    kept are off by more than 10⁻³."""
    from fractions import Fraction as F  # noqa: N817

    w_, d_, r_ = F(w), F(d), F(r)
    with mpmath.workdps(40):
        lhs = _m30(w_, d_, r_)
        image = _m30(1 - w_, d_ / r_, 1 / r_)
        factor = mpmath.mpf((1 - w_).numerator) / (1 - w_).denominator \
            * w_.denominator / w_.numerator
        assert abs(lhs - factor * image) <= abs(lhs) * mpmath.mpf("1e-25")
        assert abs(lhs / _bound(w_, d_, r_) - image / _bound(1 - w_, d_ / r_, 1 / r_)) \
            <= abs(lhs / _bound(w_, d_, r_)) * mpmath.mpf("1e-25")
        if w_ != F(1, 2):
            assert abs(lhs - image) > abs(lhs) * mpmath.mpf("1e-3")
        if d_ != 0:
            assert abs(lhs - factor * _m30(1 - w_, d_ * r_, 1 / r_)) > abs(lhs) * 1e-3
        assert abs(lhs - factor * _m30(1 - w_, d_ / r_, r_)) > abs(lhs) * 1e-3
