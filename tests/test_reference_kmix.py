"""``symforget.kl_grad`` for K ≥ 3 against the independent 30-digit reference
``tests/reference_kmix.py`` (mpmath only, the unreduced definitions; no symforget code), on the
issue-13 box: weights 0.02–0.98 (normalised), means ±6, scales log-uniform with pairwise ratios
0.2–5. Bar: relative error ≤ 1e-10 with a floor of 1e-3 of the largest entry (measured ≤ 2e-14).
"""

from __future__ import annotations

import numpy as np
import pytest
import reference_kmix as R

import symforget as sf

RTOL, FLOOR = 1e-10, 1e-3
SCALES = (np.log(np.sqrt(0.2)), np.log(np.sqrt(5.0)))


def _case(seed: int, K: int, J: int):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.02, 0.98, K)
    a = rng.uniform(0.02, 0.98, J)
    return ((w / w.sum(), rng.uniform(-6, 6, K), np.exp(rng.uniform(*SCALES, K))),
            (a / a.sum(), rng.uniform(-6, 6, J), np.exp(rng.uniform(*SCALES, J))))


def _err(value: np.ndarray, ref: tuple) -> float:
    r = np.concatenate([[float(v) for v in part] for part in ref])
    den = np.maximum(np.abs(r), FLOOR * np.abs(r).max())
    return float((np.abs(value - r) / den).max())


def _ours(q, p, direction: str) -> np.ndarray:
    g = sf.kl_grad(sf.Mixture(*q), sf.Mixture(*p), direction=direction)
    return np.concatenate([g.weights, g.means, g.scales])


QUICK = [(0, 3, 3)]
SLOW = [(1, 3, 2), (2, 2, 3), (3, 4, 3), (4, 3, 3), (5, 5, 2)]


@pytest.mark.parametrize("direction", ["reverse", "forward"])
@pytest.mark.parametrize(("seed", "K", "J"), QUICK)
def test_kl_grad_matches_the_reference(seed, K, J, direction):
    q, p = _case(seed, K, J)
    assert _err(_ours(q, p, direction), R.grad(q, p, direction)) <= RTOL


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["reverse", "forward"])
@pytest.mark.parametrize(("seed", "K", "J"), SLOW)
def test_kl_grad_matches_the_reference_more(seed, K, J, direction):
    q, p = _case(seed, K, J)
    assert _err(_ours(q, p, direction), R.grad(q, p, direction)) <= RTOL


def test_the_comparison_rejects_a_wrong_scale_gradient():
    """Dropping the −1/σ of ∂σ log φ (a plausible slip) is caught far above the bar."""
    q, p = _case(0, 3, 3)
    ref = R.grad(q, p, "forward")
    g = sf.kl_grad(sf.Mixture(*q), sf.Mixture(*p), direction="forward")
    # −E_p[r_k(−1/σ_k)] = E_p[r_k]/σ_k is what the slip removes
    r_k = np.array([1 - float(v) for v in ref[0]]) * q[0]  # E_p[r_k] = π_k E_p[φ_k/q]
    wrong = np.concatenate([g.weights, g.means, g.scales - r_k / q[2]])
    assert _err(wrong, ref) > 1e-3
