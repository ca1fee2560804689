"""Estimators of the five-parameter gradient against exact expectations, at one point.

Bias: the mean of N independent batch means must lie within 4 standard errors of the exact
expectation (fixed seeds; a 4-SE band fails by chance with probability ~6e-5 per entry).
Variance: the batch-mean variance scales as 1/B where the second moment is finite. The
``chen`` estimator's w and old-component entries have infinite variance at Chen et al.'s start
(σo² ≥ 2σn²): their typical value is far from the expectation — pinned, as it is what makes
their on-policy variant move more than its expectation says.
"""

import numpy as np
import pytest
from scipy.integrate import quad

from symforget.training import estimators as E

TH = np.array([0.75, -3.5, 1.0, 0.5, 0.7])  # Chen et al.'s start
TGT = E.Target(0.75, -3.0, 1.0, 3.5, 0.7)


def _log_q(x, th):
    w, mo, so, mn, sn = th
    return np.log(w * np.exp(-0.5 * ((x - mo) / so) ** 2) / so
                  + (1 - w) * np.exp(-0.5 * ((x - mn) / sn) ** 2) / sn) - 0.5 * np.log(2 * np.pi)


def test_score_is_the_gradient_of_log_q():
    x = np.linspace(-6, 5, 23)
    s = E.score5(x, TH)
    h = 1e-6
    for i in range(5):
        e = np.zeros(5)
        e[i] = h
        fd = (_log_q(x, TH + e) - _log_q(x, TH - e)) / (2 * h)
        np.testing.assert_allclose(s[:, i], fd, rtol=1e-6, atol=1e-7)


def _batch_means(terms, n, rng):
    return np.array([terms(rng).mean(axis=0) for _ in range(n)])


def _within(means, exact, k=4.0):
    se = means.std(axis=0, ddof=1) / np.sqrt(len(means))
    return np.abs(means.mean(axis=0) - exact) <= k * se + 1e-12


def test_fkl_mc_unbiased_with_1_over_B_variance():
    exact = E.fkl_exact(TH, 3.5, 0.7)
    rng = np.random.default_rng(11)
    m = _batch_means(lambda r: E.fkl_mc(r, 100, TH, 3.5, 0.7), 400, rng)
    assert np.all(_within(m, exact))
    m10 = _batch_means(lambda r: E.fkl_mc(r, 10, TH, 3.5, 0.7), 400, rng)
    ratio = m10[:, 3].var() / m[:, 3].var()  # μn entry, finite variance
    assert 7.0 < ratio < 14.0


def test_rkl_score_unbiased_with_1_over_B_variance():
    exact = E.rkl_exact(TH, TGT)
    rng = np.random.default_rng(12)
    m = _batch_means(lambda r: E.rkl_score(r, 200, TH, TGT), 400, rng)
    assert np.all(_within(m, exact))
    m20 = _batch_means(lambda r: E.rkl_score(r, 20, TH, TGT), 400, rng)
    ratio = m20.var(axis=0) / m.var(axis=0)
    assert np.all((ratio > 6.0) & (ratio < 16.0)), ratio


def test_rkl_pathwise_unbiased_and_less_variable_for_the_means():
    exact = E.rkl_exact(TH, TGT)
    rng = np.random.default_rng(15)
    m = _batch_means(lambda r: E.rkl_pathwise(r, 200, TH, TGT), 400, rng)
    assert np.all(_within(m, exact))
    s = _batch_means(lambda r: E.rkl_score(r, 200, TH, TGT), 400, rng)
    assert m[:, 1].var() < s[:, 1].var() and m[:, 2].var() < s[:, 2].var()


def test_chen_expectation_matches_independent_quadrature():
    got = E.chen_expectation(TH, TGT, 0.1)
    w, mo, so, mn, sn = TH

    def phi(x, m, s):
        return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))

    def reward(x):
        return np.log(phi(x, 3.5, 0.7) / (0.1 * (1 - w) * phi(x, mn, sn)))

    grads = [lambda x: phi(x, mo, so) - phi(x, mn, sn),
             lambda x: w * phi(x, mo, so) * (x - mo) / so ** 2,
             lambda x: w * phi(x, mo, so) * ((x - mo) ** 2 / so ** 3 - 1 / so),
             lambda x: (1 - w) * phi(x, mn, sn) * (x - mn) / sn ** 2,
             lambda x: (1 - w) * phi(x, mn, sn) * ((x - mn) ** 2 / sn ** 3 - 1 / sn)]
    ref = [-quad(lambda x, g=g: reward(x) * g(x), -20, 20, points=[mo, mn], limit=200,
                 epsabs=1e-13)[0] / (1 - w) for g in grads]
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    # by hand: the ∂w entry is (E_φo[R] − E_φn[R])·(−1/(1−w)); here ≈ 97.96
    assert got[0] == pytest.approx(97.959, abs=1e-3)


def test_chen_new_component_entries_unbiased():
    exact = E.chen_expectation(TH, TGT, 0.1)
    m = _batch_means(lambda r: E.chen_sampled(r, 1000, TH, TGT, 0.1), 300,
                     np.random.default_rng(13))
    assert np.all(_within(m, exact)[3:])


def test_chen_w_entry_typical_batch_far_from_expectation():
    """Infinite variance of φo/φn under φn (σo² = 1 ≥ 2σn² = 0.98): the median batch mean of
    the w entry has the opposite sign of the expectation (−16.9 vs +97.96 as descent
    directions at B = 1000), so typical steps *raise* w where the expectation lowers it; rare
    batches with a draw far on the old side carry the difference."""
    exact = E.chen_expectation(TH, TGT, 0.1)
    m = _batch_means(lambda r: E.chen_sampled(r, 1000, TH, TGT, 0.1), 300,
                     np.random.default_rng(14))
    med = np.median(m[:, 0])
    assert exact[0] > 90 and -25 < med < -10
    assert m[:, 0].max() > 10 * abs(med)  # the heavy tail shows up within 300 batches


def test_estimator_choice_errors():
    with pytest.raises(Exception, match="unknown estimator"):
        E.estimator("sgd", batch=1)
    with pytest.raises(Exception, match="batch >= 1"):
        E.estimator("mc", batch=None, data=(0.0, 1.0))
    with pytest.raises(Exception, match="needs beta"):
        E.estimator("chen", batch=10, target=TGT)
    with pytest.raises(Exception, match="no beta"):
        E.estimator("pathwise", batch=10, target=TGT, beta=0.1)
