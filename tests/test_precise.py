"""The precise (mpmath) layer: values with error estimates, and refusal when uncertifiable."""

from __future__ import annotations

import mpmath
import pytest

from symforget import precise
from symforget.errors import PrecisionError
from symforget.symbolic import mixture


def test_kl_between_equal_means_matches_closed_form() -> None:
    # μo = μn = μ makes q = N(μ, 1) for every w, so KL(N(d)‖q) = (d − μ)²/2 exactly.
    w, mu, d = 0.37, -1.25, 2.5
    res = precise.expect(mixture.fkl_loss_spec(False), [w, mu, mu, d, d, 0.0, 1.0], dps=30)
    expected = mpmath.mpf(d - mu) ** 2 / 2
    assert abs(res.value[0] - expected) < mpmath.mpf(10) ** -25
    assert res.error[0] < mpmath.mpf(10) ** -15
    assert res.dps == 30


def test_rkl_loss_zero_at_target_and_positive_elsewhere() -> None:
    at = precise.expect(mixture.rkl_loss_spec(), [0.3, 0.0, 3.0, 0.3, 0.0, 3.0, 1.0], dps=25)
    assert abs(at.value[0]) < mpmath.mpf(10) ** -20
    off = precise.expect(mixture.rkl_loss_spec(), [0.5, 0.0, 3.0, 0.3, 0.0, 3.0, 1.0], dps=25)
    assert off.value[0] > 1e-3


def test_refuses_instead_of_returning_an_uncertified_value() -> None:
    # An error tolerance below the working precision cannot be certified: refuse, don't return.
    with pytest.raises(PrecisionError, match="refusing"):
        precise.expect(mixture.rkl_loss_spec(), [0.5, 0.0, 3.0, 0.3, 0.0, 3.0, 1.0], dps=20,
                       rtol=1e-40)


def test_wrong_number_of_parameters_is_an_error() -> None:
    with pytest.raises(ValueError, match="takes 7 parameters"):
        precise.expect(mixture.rkl_loss_spec(), [0.5, 0.0], dps=20)


def test_precise_value_formats_with_error() -> None:
    res = precise.expect(mixture.fkl_loss_spec(False), [0.5, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0],
                         dps=20)
    text = str(res)
    assert "±" in text and "20 digits" in text
    assert res.as_floats()[0] == pytest.approx(0.5, rel=1e-14)


@pytest.mark.parametrize("w, delta, dps", [(0.3, 3.0, 55), (0.3, 3.0, 50), (0.7, 1.5, 30),
                                           (0.05, 6.0, 20)])
def test_error_estimate_covers_the_returned_value(w, delta, dps):
    """The estimate bounds the error of the *returned* (rounded) value: checked against
    python-flint's ball enclosure (an independent method). Before the fix the rounding to
    ``dps`` digits was left out: at (0.3, 3, 55) the value was 7e-58 off with an estimate of
    3e-62."""
    from symforget import certified

    value, err = precise.misassignment(w, delta, dps=dps)
    lo, hi = certified.misassignment(w, delta, digits=dps + 20)
    with mpmath.workdps(dps + 40):
        lo, hi = mpmath.mpf(str(lo)), mpmath.mpf(str(hi))
        assert max(abs(value - lo), abs(value - hi)) <= err
        assert err <= mpmath.mpf(10) ** (-dps + 1) * abs(value)  # and it is not inflated
