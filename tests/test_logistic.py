"""symforget.numeric.logistic: logistic moments of a quadratic, against mpmath.

The reference integrates t^k φ(t) softplus(z(t)) and t^k φ(t) σ(z(t)) directly (no split into
step part and remainder) with mpmath's tanh–sinh at 22 digits, on [−40, 40] split at the roots
and level points of z, and shares no code with the module under test.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from symforget.numeric import logistic as L

RNG = np.random.default_rng(20261204)

EDGE = [
    (0.0, 1.0, 0.0), (0.0, 0.0, 3.0), (0.0, 0.0, -50.0), (0.0, 0.0, 0.0), (0.5, 0.0, 0.0),
    (-0.5, 1.0, 2.0), (1e-9, 2.0, 1.0), (2.0, -3.0, -40.0), (-0.01, 0.3, -1.0),
    (0.0, 20.0, 3.0), (12.0, 0.0, -0.1), (-12.0, 0.0, 0.1), (0.3, 0.0, -0.2),
    (-1.256, -0.118, -9.64), (6.52, 0.947, -12.65), (0.0, -0.0004, -1.29), (1e-12, 1e-6, 0.5),
    (3.0, 0.0, 0.0), (-3.0, 6.0, -3.0),  # double roots
]


def _reference(A: float, B: float, C: float, kind: str) -> list[float]:
    with mp.workdps(22):
        a, b, c = mp.mpf(A), mp.mpf(B), mp.mpf(C)

        def z(t):
            return a * t * t + b * t + c

        def f(t):
            v = z(t)
            if kind == "softplus":
                return mp.log1p(mp.exp(v)) if v < 0 else v + mp.log1p(mp.exp(-v))
            return 1 / (1 + mp.exp(-v))

        pts = {mp.mpf(p) for p in (-40, -9, -6, -3, 0, 3, 6, 9, 40)}
        for lev in (0, 1, 3, 6, 10, 20, 36, -1, -3, -6, -10, -20, -36):
            if a != 0:
                d = b * b - 4 * a * (c - lev)
                if d >= 0:
                    pts |= {(-b + mp.sqrt(d)) / (2 * a), (-b - mp.sqrt(d)) / (2 * a)}
            elif b != 0:
                pts.add((lev - c) / b)
        grid = sorted(p for p in pts if -40 <= p <= 40)
        return [float(mp.quad(lambda t, k=k: t**k * f(t) * mp.npdf(t), grid)) for k in range(3)]


def _cases(n: int) -> list[tuple[float, float, float]]:
    out = list(EDGE)
    for _ in range(n):
        A = float(RNG.choice([0.0, 1.0]) * RNG.normal() * RNG.choice([0.01, 1.0, 5.0]))
        out.append((A, float(RNG.normal() * RNG.choice([0.1, 1.0, 10.0])),
                    float(RNG.normal() * RNG.choice([1.0, 10.0]))))
    return out


CASES = _cases(25)
#: the edge cases and a few random ones run by default; all of them with --run-slow
QUICK = CASES[: len(EDGE) + 4]


def _ids(c):
    return "A{:.3g}_B{:.3g}_C{:.3g}".format(*c)


@pytest.mark.parametrize("abc", QUICK, ids=_ids)
def test_moments_match_mpmath(abc):
    _check(abc)


@pytest.mark.slow
@pytest.mark.parametrize("abc", CASES[len(QUICK):], ids=_ids)
def test_moments_match_mpmath_random(abc):
    _check(abc)


def _check(abc):
    A, B, C = abc
    F = L.softplus_moments(A, B, C)
    Gp, Gm = L.sigmoid_moments(A, B, C)
    scale = 1.0 + abs(A) + abs(B) + abs(C)
    for k, (rf, rg, rm) in enumerate(zip(_reference(A, B, C, "softplus"),
                                         _reference(A, B, C, "sigmoid"),
                                         _reference(-A, -B, -C, "sigmoid"), strict=True)):
        assert abs(F[k] - rf) <= 1e-14 * scale, (k, F[k], rf)
        assert abs(Gp[k] - rg) <= 5e-14, (k, Gp[k], rg)
        assert abs(Gm[k] - rm) <= 5e-14, (k, Gm[k], rm)


def test_batch_equals_single_rows_and_broadcasts():
    A = np.array([c[0] for c in CASES])
    B = np.array([c[1] for c in CASES])
    C = np.array([c[2] for c in CASES])
    F = L.softplus_moments(A, B, C)
    G = L.sigmoid_moments(A, B, C)[0]
    for i in (0, 5, len(CASES) - 1):
        assert np.array_equal(F[:, i], L.softplus_moments(A[i], B[i], C[i]))
        assert np.array_equal(G[:, i], L.sigmoid_moments(A[i], B[i], C[i])[0])
    assert L.softplus_moments(np.zeros((2, 3)), 1.0, 0.0).shape == (3, 2, 3)


def test_symmetries():
    """G_k(z) + G_k(−z) = E t^k; E[softplus(z)] − E[softplus(−z)] = E z (softplus(z) −
    softplus(−z) = z); reflecting t ↦ −t flips B and the odd moments."""
    A, B, C = RNG.normal(size=200) * 0.7, RNG.normal(size=200) * 3, RNG.normal(size=200) * 5
    gp, gm = L.sigmoid_moments(A, B, C)
    np.testing.assert_allclose(gp + gm, np.array([1.0, 0.0, 1.0])[:, None] + 0 * A, atol=2e-15)
    fp, fm = L.softplus_moments(A, B, C), L.softplus_moments(-A, -B, -C)
    ez = np.array([A + C, B, 3 * A + C])  # E[t^k z], k = 0, 1, 2
    np.testing.assert_allclose(fp - fm, ez, atol=2e-14 * (1 + np.abs(C)).max())
    fr = L.softplus_moments(A, -B, C)
    np.testing.assert_allclose(fr * np.array([1, -1, 1])[:, None], fp, atol=2e-14 * 50)


def test_a_rule_without_the_remainder_or_the_root_breakpoints_is_rejected(monkeypatch):
    """The accuracy test can fail: dropping the remainder, or the level set z = 0 from the
    breakpoints (the kink of softplus, the jump of the sigmoid), is caught."""
    A, B, C = 0.3, 1.1, -0.4
    ref = _reference(A, B, C, "sigmoid")
    step_only = L._step_moments(np.array([A]), np.array([B]), np.array([C]))[:3, 0]
    assert max(abs(step_only[k] - ref[k]) for k in range(3)) > 1e-3
    monkeypatch.setattr(L, "_SIGNED_LEVELS", L._SIGNED_LEVELS[1:])  # no roots as breakpoints
    monkeypatch.setattr(L, "_MAX_WIDTH", 16.0)
    G = L.sigmoid_moments(A, B, C)[0]
    assert max(abs(G[k] - ref[k]) for k in range(3)) > 1e-10
