"""symforget.training.sampling: samplers, importance weights, estimator, SGD, input validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from symforget import model
from symforget.errors import ParameterError
from symforget.training import sampling

TGT = dict(alpha=0.3, target_old=0.0, target_new=3.0)


def test_sample_mixture_labels_and_means() -> None:
    xs, old = sampling.sample_mixture(np.random.default_rng(1), 50_000, 0.3, -1.0, 2.0)
    n_old = int(old.sum())
    ci = stats.binomtest(n_old, 50_000).proportion_ci(confidence_level=0.999)
    assert ci.low <= 0.3 <= ci.high
    se = 1.0 / np.sqrt(n_old)
    assert abs(xs[old].mean() + 1.0) < 4 * se
    assert abs(xs[~old].mean() - 2.0) < 4 / np.sqrt(50_000 - n_old)


def test_samplers_are_deterministic() -> None:
    a = sampling.sample_behaviour(np.random.default_rng(7), 100, 0.4, 0.2, 0.0, 3.0, 0.0)
    b = sampling.sample_behaviour(np.random.default_rng(7), 100, 0.4, 0.2, 0.0, 3.0, 0.0)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def test_log_weights_match_direct_ratio() -> None:
    """log(q/b) in log space vs the densities evaluated directly with scipy."""
    xs = np.linspace(-6, 9, 301)
    rho, w, mo, mn, bm = 0.35, 0.2, 0.4, 2.5, -0.3
    q = w * stats.norm.pdf(xs, mo) + (1 - w) * stats.norm.pdf(xs, mn)
    b = (1 - rho) * q + rho * stats.norm.pdf(xs, bm)
    got = sampling.log_weights(xs, rho, w, mo, mn, bm)
    np.testing.assert_allclose(got, np.log(q / b), rtol=0, atol=1e-12)
    assert np.all(sampling.log_weights(xs, 0.0, w, mo, mn, bm) == 0.0)


def test_log_weights_far_tail_finite() -> None:
    """Far from every mean the ratio q/b is still finite and ≤ 1/(1−ρ) (no overflow)."""
    lw = sampling.log_weights(np.array([-400.0, 400.0]), 0.5, 0.1, 0.0, 3.0, 0.0)
    assert np.all(np.isfinite(lw))
    assert np.all(lw <= -np.log1p(-0.5) + 1e-12)


def test_on_policy_estimator_unbiased() -> None:
    n = 100_000
    t = sampling.rkl_estimator(np.random.default_rng(3), n, 0.3, 0.2, 2.7, **TGT)
    g = model.rkl_grad(0.3, 0.2, 2.7, **TGT)
    z = np.abs(t.mean(0) - g) / (t.std(0, ddof=1) / np.sqrt(n))
    assert np.all(z < 4)


def test_rkl_sgd_shapes_and_progress() -> None:
    run = sampling.rkl_sgd(np.random.default_rng(0), (0.05, 0.0, 3.0), rho=0.3, batch=4,
                           steps=300, lr=0.05, **TGT)
    assert run.theta.shape == (301, 3) and run.old_draws.shape == (300,)
    assert run.theta[-1, 0] > 0.15  # the reverse KL pulls w towards α = 0.3


@pytest.mark.parametrize("rho", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_rho(rho: float) -> None:
    with pytest.raises(ParameterError, match="rho"):
        sampling.sample_behaviour(np.random.default_rng(0), 10, rho, 0.2, 0.0, 3.0, 0.0)


@pytest.mark.parametrize("batch", [0, -3, 2.5, True, "4"])
def test_bad_batch(batch: object) -> None:
    with pytest.raises(ParameterError, match="batch"):
        sampling.rkl_sgd(np.random.default_rng(0), (0.2, 0.0, 3.0), batch=batch, **TGT)


@pytest.mark.parametrize("n", [-1, 3.0])
def test_bad_counts(n: object) -> None:
    with pytest.raises(ParameterError, match="n="):
        sampling.sample_mixture(np.random.default_rng(0), n, 0.2, 0.0, 3.0)
    with pytest.raises(ParameterError, match="steps"):
        sampling.rkl_sgd(np.random.default_rng(0), (0.2, 0.0, 3.0), steps=n, **TGT)


def test_zero_samples_allowed() -> None:
    xs, old = sampling.sample_mixture(np.random.default_rng(0), 0, 0.2, 0.0, 3.0)
    assert xs.shape == (0,) and old.shape == (0,)


def test_fkl_sgd_forgets_without_replay_and_keeps_replay_mass() -> None:
    """Finite-batch SFT: with no replay w is driven to the clip (mass forgetting, the population
    minimiser is w = 0); with replay fraction ρ the population minimiser is w = ρ
    (replay.fkl_optimum) and the late SGD iterates average near it."""
    from symforget.training.sampling import fkl_sgd

    no = fkl_sgd(np.random.default_rng(1), (0.3, 0.0, 3.0), data_mean=3.0, batch=16,
                 steps=1500, lr=0.02)
    # w is driven to the clip: most late steps sit there (raw-w SGD near 0 is jumpy — the
    # w-gradient (w − r̄_o)/(w(1−w)) is unbounded as w → 0 — so some batches kick it up)
    late = no.theta[100:500, 0]
    assert np.median(late) <= 1e-4 + 1e-12 and (late < 0.01).mean() > 0.5
    assert no.old_draws.sum() == 0
    rp = fkl_sgd(np.random.default_rng(2), (0.05, 0.0, 3.0), data_mean=3.0, rho=0.3,
                 replay_mean=0.0, batch=16, steps=1500, lr=0.02)
    assert abs(rp.theta[-500:, 0].mean() - 0.3) < 0.05
    assert (rp.theta[-500:, 0] < 0.01).mean() == 0.0  # replay: never near the clip
    assert abs(rp.old_draws.mean() / 16 - 0.3) < 0.03  # replayed share of the batches


def test_fkl_sgd_rejects_bad_input() -> None:
    from symforget.errors import ParameterError
    from symforget.training.sampling import fkl_sgd

    rng = np.random.default_rng(0)
    with pytest.raises(ParameterError, match="replay_mean"):
        fkl_sgd(rng, (0.3, 0.0, 3.0), data_mean=3.0, rho=0.2)
    with pytest.raises(ParameterError, match="rho"):
        fkl_sgd(rng, (0.3, 0.0, 3.0), data_mean=3.0, rho=1.0, replay_mean=0.0)
    with pytest.raises(ParameterError, match="w"):
        fkl_sgd(rng, (1.3, 0.0, 3.0), data_mean=3.0)
