"""Metamorphic suite: the model's exact invariances hold for every public evaluator (issue 12).

Relations (``metamorphic.py``): translation of all means, common scaling of means and σ,
reflection x → −x, the student's label swap, the target's and the training mixture's label
swaps. Inputs come from the shipped strategies for exact transformations
(``symforget.strategies.exact_weights / grid_means / shifts / binary_scales``), so a transformed
problem is the *same* problem in other coordinates: weights within 2^-40 ≈ 9e-13 of 0 and 1,
separations up to the edge of each evaluator's declared domain (``symforget.numeric.frame``), shifts
up to 2^40 ≈ 1.1e12 and scales over 2^±900. Each relation is shown able to fail on a
deliberately broken evaluator (``test_*_rejects_*``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from metamorphic import BY_NAME, EVALUATORS, check, relations

import symforget as sf
from symforget import strategies as sfs
from symforget.numeric.compile import compile_spec
from symforget.numeric.frame import SPREAD_LIMIT
from symforget.numeric.quadrature import expect
from symforget.symbolic import mixture

CASES = [(ev.name, rel) for ev in EVALUATORS for rel in relations(ev)]


@st.composite
def problems(draw, kind: str, spread: float, replay: bool = False) -> dict:
    """A problem of the given kind with every mean on the grid and σ a power of two."""
    n = 4 if kind in ("rkl", "fkl") else 2
    means = draw(sfs.grid_means(n, max_spread=spread))
    j = draw(st.integers(-8, 8))
    sigma = math.ldexp(1.0, j)
    p = {"w": draw(sfs.exact_weights()), "mo": means[0] * sigma, "mn": means[1] * sigma,
         "sigma": sigma}
    if kind == "rkl":
        p.update(alpha=draw(sfs.exact_weights()), to=means[2] * sigma, tn=means[3] * sigma)
    elif kind == "fkl":
        rho_min = 2.0**-20 if replay else 0.0
        rho = draw(st.one_of(st.just(rho_min), sfs.exact_weights(20)))
        p.update(dm=means[2] * sigma, rho=max(rho, rho_min), rm=means[3] * sigma)
    return p


def _arg(draw_shift: float, draw_scale: float, relation: str) -> float:
    return {"translate": draw_shift, "scale": draw_scale}.get(relation, 0.0)


@pytest.mark.parametrize(("name", "relation"), CASES)
@given(data=st.data())
def test_relation_holds(name: str, relation: str, data: st.DataObject) -> None:
    ev = BY_NAME[name]
    # up to the edge of the declared domain (one grid step of margin for the σ rounding)
    edge = SPREAD_LIMIT[ev.family] * 0.999
    p = data.draw(problems(ev.kind, edge, replay=ev.replay), label="problem")
    if relation == "replay_swap":
        assume(p["rho"] > 0)
    shift = data.draw(sfs.shifts(), label="shift") * p["sigma"]
    scale = data.draw(st.one_of(sfs.binary_scales(), st.floats(0.1, 10.0)), label="scale")
    if relation == "translate":  # S + m must be exact: the same problem, moved
        for k in ("mo", "mn", "to", "tn", "dm", "rm"):
            if k in p:
                assume((p[k] + shift) - shift == p[k])
    d = check(ev, p, relation, _arg(shift, scale, relation))
    assert d <= 1.0, f"{name} {relation}: discrepancy {d:.3g} × tolerance at {p}"


# explicit edges (STYLE.md): the four defects of issue 12 and the domain corners
@pytest.mark.parametrize("name", [ev.name for ev in EVALUATORS])
@pytest.mark.parametrize("w", [2.0**-40, 0.5, 1.0 - 2.0**-40])
def test_relations_at_extremes(name: str, w: float) -> None:
    ev = BY_NAME[name]
    edge = SPREAD_LIMIT[ev.family]
    half = math.ldexp(1.0, int(math.log2(edge)) - 1)  # spread 2^k ≤ edge
    p = {"w": w, "mo": -half, "mn": half, "sigma": 1.0}
    if ev.kind == "rkl":
        p.update(alpha=0.25, to=0.0, tn=1.0)
    elif ev.kind == "fkl":
        p.update(dm=half, rho=0.25, rm=-half / 2)
    for relation in relations(ev):
        arg = {"translate": 2.0**30, "scale": 2.0**-900}.get(relation, 0.0)
        d = check(ev, p, relation, arg)
        assert d <= 1.0, f"{name} {relation} at spread {2 * half:g}, w={w}: {d:.3g}"


@pytest.mark.parametrize("S", [1e6, 1e8, 2.0**40])
def test_issue12_translation_example(S: float) -> None:
    """rkl_loss(0.3, S+.5, S+3.5, α=.4, S, S+4) was 0.671 at S = 1e8 (0.13338 at S = 0)."""
    ref = float(sf.rkl_loss(0.3, 0.5, 3.5, alpha=0.4, target_old=0.0, target_new=4.0))
    got = float(sf.rkl_loss(0.3, S + 0.5, S + 3.5, alpha=0.4, target_old=S, target_new=S + 4))
    assert got == pytest.approx(ref, rel=1e-12)
    for f in (sf.fkl_loss, sf.fkl_hessian, sf.fkl_grad):
        a = f(0.3, 0.5, 3.5, data_mean=4.0)
        b = f(0.3, S + 0.5, S + 3.5, data_mean=S + 4.0)
        np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-13)


# ----------------------------------------------------------------- each relation can fail

def _legacy_rkl_loss(p: dict) -> np.ndarray:
    """The pre-issue-12 evaluator: quadrature in absolute coordinates (no centring)."""
    return expect(compile_spec(mixture.rkl_loss_spec()),
                  [np.asarray(float(p[k])) for k in ("w", "mo", "mn", "alpha", "to", "tn",
                                                     "sigma")])[..., 0]


def _wrong_jacobian_fkl_grad(p: dict) -> np.ndarray:
    """Mean entries multiplied by σ instead of divided (a wrong chain rule)."""
    g = BY_NAME["fkl_grad"].fn(p)
    return g * np.array([1.0, p["sigma"] ** 2, p["sigma"] ** 2])


def _biased_w_rkl_grad(p: dict) -> np.ndarray:
    """A constant bias in ∂/∂w (e.g. the derivative of log w taken for that of logit w)."""
    return BY_NAME["rkl_grad"].fn(p) + np.array([1e-6, 0.0, 0.0])


def _sorted_targets_rkl_grad(p: dict) -> np.ndarray:
    """Assumes νo < νn: sorts the target means but keeps α with the first one."""
    q = dict(p, to=min(p["to"], p["tn"]), tn=max(p["to"], p["tn"]))
    return BY_NAME["rkl_grad"].fn(q)


_P = {"w": 0.3, "mo": 0.5, "mn": 3.5, "sigma": 1.0, "alpha": 0.4, "to": 0.0, "tn": 4.0}
_PF = {"w": 0.3, "mo": 0.5, "mn": 3.5, "sigma": 1.0, "dm": 4.0, "rho": 0.25, "rm": -1.0}


def test_translation_rejects_uncentred_evaluator() -> None:
    ev = BY_NAME["rkl_loss"]
    assert check(ev, _P, "translate", 2.0**40) <= 1.0
    assert check(ev, _P, "translate", 2.0**40, fn=_legacy_rkl_loss) > 10.0


def test_scaling_rejects_wrong_jacobian() -> None:
    ev = BY_NAME["fkl_grad"]
    assert check(ev, _PF, "scale", 2.0**10) <= 1.0
    assert check(ev, _PF, "scale", 2.0**10, fn=_wrong_jacobian_fkl_grad) > 1e3


def test_swap_rejects_biased_weight_gradient() -> None:
    ev = BY_NAME["rkl_grad"]
    assert check(ev, _P, "swap") <= 1.0
    assert check(ev, _P, "swap", fn=_biased_w_rkl_grad) > 1e3


def test_reflection_and_target_swap_reject_ordered_targets() -> None:
    ev = BY_NAME["rkl_grad"]
    for rel in ("reflect", "target_swap"):
        assert check(ev, _P, rel) <= 1.0
        assert check(ev, _P, rel, fn=_sorted_targets_rkl_grad) > 1e3


def test_replay_swap_rejects_fixed_replay_label() -> None:
    ev = BY_NAME["fkl_loss"]

    def minority_replay(p: dict) -> np.ndarray:  # assumes replay is the minority: ρ ≤ ½
        return ev.fn(dict(p, rho=min(p["rho"], 0.5)))

    assert check(ev, _PF, "replay_swap") <= 1.0
    assert check(ev, _PF, "replay_swap", fn=minority_replay) > 1e3


# ----------------------------------------------------------------- misassignment and closed forms

@given(w=sfs.exact_weights(),
       delta=st.one_of(st.floats(0.0, 60.0), st.floats(60.0, 1e150)))
@example(w=2.0**-40, delta=0.0).via("edge")
@example(w=1.0 - 2.0**-40, delta=1e150).via("edge")
@example(w=0.5, delta=1e9).via("edge")
def test_misassignment_swap_and_reflection(w: float, delta: float) -> None:
    """w m(w, Δ) = (1 − w) m(1 − w, Δ) (in logs) and m(w, −Δ) = m(w, Δ), up to Δ = 1e150."""
    lm = float(sf.log_misassignment(w, delta))
    lm_swap = float(sf.log_misassignment(1.0 - w, delta))
    lhs, rhs = math.log(w) + lm, math.log1p(-w) + lm_swap
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs)) + 1e-12
    assert float(sf.log_misassignment(w, -delta)) == lm
    ex, ex_swap = (float(sf.log_misassignment_excess(v, delta)) for v in (w, 1.0 - w))
    assert abs((math.log(w) + ex) - (math.log1p(-w) + ex_swap)) <= 1e-12 * max(1, abs(ex)) + 1e-12
    if delta <= 37.0:
        m, m_swap = float(sf.misassignment(w, delta)), float(sf.misassignment(1.0 - w, delta))
        assert w * m == pytest.approx((1.0 - w) * m_swap, rel=1e-12, abs=1e-300)


def test_misassignment_relations_reject_mislabelled_and_one_sided() -> None:
    w, delta = 0.2, 3.0

    def mislabelled(w_, d_):  # the components' labels confused: m(1 − w, Δ)
        return float(sf.log_misassignment(1.0 - w_, d_))

    def one_sided(w_, d_):  # Δ clipped at 0 instead of |Δ|
        return float(sf.log_misassignment(w_, max(d_, 0.0)))

    def swap_gap(L):  # log w + L(w) − log(1 − w) − L(1 − w): 0 for the true log m
        return math.log(w) + L(w, delta) - math.log1p(-w) - L(1.0 - w, delta)

    assert abs(swap_gap(lambda w_, d_: float(sf.log_misassignment(w_, d_)))) < 1e-12
    assert abs(swap_gap(mislabelled)) > 1e-3
    assert abs(one_sided(w, -delta) - one_sided(w, delta)) > 1e-3


@pytest.mark.parametrize("f", [sf.bhattacharyya, sf.kl_gauss, sf.hellinger2_gauss,
                               sf.chi2_gauss])
@given(delta=st.floats(0.0, 26.0))
def test_closed_forms_even(f, delta: float) -> None:
    assert float(f(-delta)) == float(f(delta))


def test_fisher_is_fisher_matrix_at_the_truth() -> None:
    """fisher(α, Δ) is fisher_matrix(α, 0, Δ); swap, reflection and translation map
    fisher(1 − α, Δ) back onto fisher(α, Δ)."""
    a = sf.fisher(0.3, 2.5)
    np.testing.assert_array_equal(a, sf.fisher_matrix(0.3, 0.0, 2.5))
    b = sf.fisher(0.7, 2.5)  # = I at (0.7, 0, 2.5); swap → (0.3, 2.5, 0); reflect → (0.3, −2.5, 0)
    P = np.array([[-1.0, 0, 0], [0, 0, 1], [0, 1, 0]])
    D = np.diag([1.0, -1.0, -1.0])
    np.testing.assert_allclose(P @ b @ P.T, sf.fisher_matrix(0.3, 2.5, 0.0), rtol=1e-10,
                               atol=1e-13)
    np.testing.assert_allclose(D @ P @ b @ P.T @ D, a, rtol=1e-10, atol=1e-13)  # + translate
