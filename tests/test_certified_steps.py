"""Certified inequality steps (symforget.certified.steps): the SymPy → Arb translator, the branch
and bound, and every boxed ``kind="le"`` step of the derivations.

The translator must *contain* the exact range (checked against 30-digit mpmath at points of the
cell, end points included); every step with a box must certify; for every certified step,
deliberately wrong variants (wrong sign, wrong constant, a bound without its factor) must be
refused with a counterexample cell — a full-dimensional cell on which the enclosure of the
margin is < 0, confirmed here with mpmath at its centre.
"""

from __future__ import annotations

import dataclasses
import random
import re
from fractions import Fraction
from functools import cache
from pathlib import Path

import mpmath
import pytest
import sympy as sp

from symforget.certified.steps import (
    UnsupportedExpressionError,
    certify,
    certify_step,
    compile_enclosure,
    enclose,
    parse_box,
)
from symforget.claims import get
from symforget.claims.base import Claim, Evidence
from symforget.runners.render import render_claim
from symforget.symbolic.derivation import Derivation, Step

x, y = sp.symbols("x y", real=True)
p, q = sp.symbols("p q", positive=True)

#: the claims whose derivations hold inequality steps (guarded against the sources below)
LE_CLAIMS = ("beyond.k_modes", "replay.fkl_optimum", "rkl.drift_bc_bound", "rkl.global_optimum",
             "rkl.local_geometry", "rkl.weight_convergence", "tttd.kl_retains")
SYMBOLIC = Path(__file__).resolve().parent.parent / "symforget" / "symbolic"


@cache
def le_steps() -> tuple[tuple[str, Step], ...]:
    out = []
    for cid in LE_CLAIMS:
        for d in get(cid).derivations():
            out += [(f"{cid}: {s.rule}", s) for s in d.steps if s.kind == "le"]
    return tuple(out)


def _mp(expr: sp.Expr, point: dict[str, Fraction]) -> mpmath.mpf:
    vals = {s: sp.Rational(point[s.name].numerator, point[s.name].denominator)
            for s in expr.free_symbols}
    with mpmath.workdps(40):
        return mpmath.mpf(sp.N(expr.subs(vals), 40))


# --------------------------------------------------------------------------------------------
# the translator


TRANSLATED = [
    (sp.exp(x) * sp.pi - sp.erf(y), {"x": (-3, 2), "y": (-1, 2)}),
    (sp.log(p) / (1 + q**2) + sp.sqrt(p * q), {"p": ("0.01", 5), "q": ("1e-3", 3)}),
    ((x - y) ** 2 - (x + y) ** 3 / 7, {"x": (-2, 1), "y": (-1, "0.5")}),
    (sp.erfc(x) * sp.tanh(y) + sp.cosh(x) - sp.sinh(y), {"x": (-2, 3), "y": (-1, 1)}),
    (sp.Abs(x - y) + p ** sp.Rational(-3, 2) + p ** sp.Rational(1, 3), {"x": (-1, 1),
                                                                         "y": (0, 2),
                                                                         "p": ("0.1", 4)}),
    (1 / (x**2 + 1) - sp.E * sp.exp(-(x - y) ** 2 / 2) / sp.sqrt(2 * sp.pi),
     {"x": (-4, 4), "y": (-1, 3)}),
]


@pytest.mark.parametrize("expr, cell", TRANSLATED)
def test_enclosure_contains_the_exact_values_over_random_cells(expr, cell):
    rng = random.Random(16)
    box = parse_box([(k, lo, hi) for k, (lo, hi) in cell.items()])
    for _ in range(12):  # random sub-cells of the box, and points in them (end points too)
        sub = {}
        for name, lo, hi in box:
            a, b = sorted(lo + (hi - lo) * Fraction(rng.randint(0, 64), 64) for _ in range(2))
            sub[name] = (a, b)
        enc = enclose(expr, sub)
        assert enc is not None
        for k in range(6):
            pt = {n: (a if k == 0 else b if k == 1 else
                      a + (b - a) * Fraction(rng.randint(0, 1000), 1000))
                  for n, (a, b) in sub.items()}
            with mpmath.workdps(40):  # the end points are exact: printed with 45 digits
                lo, hi = (mpmath.mpf(e.str(45, radius=False)) for e in (enc.lo, enc.hi))
                v = _mp(expr, pt)
                tol = mpmath.mpf("1e-25") * (1 + abs(v))
                assert lo - tol <= v <= hi + tol, (sub, pt, v, enc)


def test_enclosure_is_the_exact_range_when_each_symbol_occurs_once():
    """No dependency: end-point arithmetic gives the range itself (to rounding), so the
    enclosures are not merely valid but tight."""
    expr = sp.exp(x) * p - sp.log(q)  # x ∈ [−1, 2], p ∈ [1, 3], q ∈ [2, 5]
    enc = enclose(expr, {"x": (Fraction(-1), Fraction(2)), "p": (Fraction(1), Fraction(3)),
                         "q": (Fraction(2), Fraction(5))})
    assert enc is not None
    with mpmath.workdps(40):
        lo_true, hi_true = mpmath.exp(-1) - mpmath.log(5), 3 * mpmath.exp(2) - mpmath.log(2)
        assert abs(mpmath.mpf(enc.lo.str(45, radius=False)) - lo_true) < 1e-30
        assert abs(mpmath.mpf(enc.hi.str(45, radius=False)) - hi_true) < 1e-30
        assert mpmath.mpf(enc.lo.str(45, radius=False)) <= lo_true


def test_end_point_products_keep_signs_that_mid_radius_arithmetic_loses():
    # [0, 1]·[1e-6, 1e6] ≥ 0, and an even power of an interval around 0 is ≥ 0
    enc = enclose(x * p, {"x": (Fraction(0), Fraction(1)),
                          "p": (Fraction(1, 10**6), Fraction(10**6))})
    assert enc is not None and enc.lo >= 0
    enc = enclose((x - y) ** 2, {"x": (Fraction(-1), Fraction(1)), "y": (Fraction(0), Fraction(2))})
    assert enc is not None and enc.lo == 0


@pytest.mark.parametrize("expr, cell", [
    (1 / x, {"x": (-1, 1)}),
    (sp.log(x), {"x": (0, 1)}),
    (sp.sqrt(x), {"x": (-1, 1)}),
    (x ** sp.Rational(-1, 2), {"x": (0, 1)}),
])
def test_no_enclosure_outside_the_domain(expr, cell):
    cell = {k: (Fraction(a), Fraction(b)) for k, (a, b) in cell.items()}
    assert enclose(expr, cell) is None
    # so a margin through it is never certified there (erf(·) + 2 > 0 wherever defined)
    assert certify(sp.erf(expr) + 2, parse_box([("x", *cell["x"])]),
                   max_cells=50).status != "certified"


@pytest.mark.parametrize("expr, words", [
    (sp.Integral(x, (x, 0, 1)), "Integral"),
    (sp.sin(x), "sin"),
    (sp.Function("f")(x), "f"),
    (sp.Piecewise((x, x > 0), (0, True)), "Piecewise"),
    (x**y, "non-rational exponent"),
    (x + sp.Symbol("z"), "'z' has no interval"),
    (sp.zoo * x, "cannot enclose"),
])
def test_unsupported_expressions_are_refused_with_a_clear_error(expr, words):
    with pytest.raises(UnsupportedExpressionError, match=re.escape(words)):
        compile_enclosure(expr, ["x", "y"])


def test_strings_and_floats_are_never_taken():
    with pytest.raises(TypeError):
        compile_enclosure("exp(x)", ["x"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exact rational"):
        parse_box([("x", 0.1, 1)])
    with pytest.raises(ValueError, match="lo > hi"):
        parse_box([("x", "2", "1")])
    assert parse_box([("x", "1e-6", "3/4")]) == (("x", Fraction(1, 10**6), Fraction(3, 4)),)


def test_step_box_fields_are_validated():
    with pytest.raises(ValueError, match="only for inequality steps"):
        Step(x, x, "r", "w", box=(("x", 0, 1),))
    with pytest.raises(ValueError, match="needs a box"):
        Step(x, x + 1, "r", "w", kind="le", margin=sp.Integer(1))
    with pytest.raises(ValueError, match="lo > hi"):
        Step(x, x + 1, "r", "w", kind="le", box=(("x", 1, 0),))
    with pytest.raises(TypeError):
        Step(x, x + 1, "r", "w", kind="le", box=(("x", 0.5, 1),))
    with pytest.raises(ValueError, match="positive symbol"):  # the box must respect assumptions
        certify_step(Step(p, 2 * p, "r", "w", kind="le", box=(("p", 0, 1),)))


# --------------------------------------------------------------------------------------------
# branch and bound


def test_mean_value_form_closes_a_margin_that_vanishes_at_a_point():
    u = sp.Symbol("u", positive=True)
    box = parse_box([("u", "1e-6", "1e6")])
    cert = certify(u - sp.log(u) - 1, box)
    assert cert.ok and cert.mean_value_cells >= 1
    # without it the cells around u = 1 never close
    assert certify(u - sp.log(u) - 1, box, max_cells=300, mean_value=False).status == "undecided"
    bad = certify(u - sp.log(u) - 1 - sp.Rational(1, 100), box)
    assert bad.status == "refuted" and bad.counterexample is not None


def test_budget_exhausted_is_undecided_never_certified():
    # true (margin (x−y)² ≥ 0 on a 2-box) but written so that enclosures cannot see it
    cert = certify(x**2 + y**2 - 2 * x * y, parse_box([("x", -1, 1), ("y", -1, 1)]),
                   max_cells=40)
    assert cert.status == "undecided" and "did not close within 40 cells" in cert.reason


# --------------------------------------------------------------------------------------------
# the derivations' inequality steps


def test_every_inequality_step_of_the_derivations_is_listed_here():
    """A new ``kind="le"`` step in symforget/symbolic must be added to LE_CLAIMS (and be
    certified, or say why not)."""
    in_sources = sum(p.read_text(encoding="utf-8").count('kind="le"')
                     for p in SYMBOLIC.glob("*.py") if p.name != "derivation.py")
    assert in_sources == len(le_steps()) == 9


@pytest.mark.parametrize("i", range(9))
def test_every_boxed_inequality_step_certifies(i):
    name, step = le_steps()[i]
    assert step.box, f"{name}: no box (certify it, or state why it stays sampled)"
    cert = certify_step(step)
    assert cert.ok, f"{name}: {cert.status} {cert.reason} {cert.counterexample}"
    assert cert.form_ok in (None, True) and cert.cells >= 1


def _mutants(step: Step) -> dict[str, Step]:
    """Deliberately wrong variants: the inequality reversed, a constant added to the smaller
    side, and (for the bounds with a factor in front) the bound times 9/10."""
    out = {"wrong_sign": dataclasses.replace(step, lhs=step.rhs, rhs=step.lhs, margin=None),
           "plus_one_hundredth": dataclasses.replace(step, lhs=step.lhs + sp.Rational(1, 100))}
    if step.lhs != 0 and step.rule in ("AM-GM", "apply", "drop a term"):
        out["bound_times_0.9"] = dataclasses.replace(step, rhs=step.rhs * sp.Rational(9, 10))
    return out


def _centre(cell: dict[str, str]) -> dict[str, Fraction]:
    out = {}
    for k, v in cell.items():
        m = re.fullmatch(r"\[(.+), (.+)\]", v)
        out[k] = (Fraction(m.group(1)) + Fraction(m.group(2))) / 2 if m else Fraction(v)
    return out


@pytest.mark.parametrize("i", range(9))
def test_wrong_variants_of_every_certified_step_are_refused_with_a_counterexample_cell(i):
    name, step = le_steps()[i]
    for label, bad in _mutants(step).items():
        cert = certify_step(bad, max_cells=2000)
        assert cert.status == "refuted" and not cert.ok, f"{name} / {label}: {cert.status}"
        if step.margin is not None and label != "wrong_sign":
            assert cert.form_ok is False  # the stated form no longer matches: searched directly
        cell = cert.counterexample["cell"]
        assert all(v.startswith("[") for v in cell.values()), cell  # a cell, not only a point
        enc = cert.counterexample["enclosure"]
        assert float(enc.strip("[]").split(",")[1]) < 0
        lhs, rhs = bad.prepared_sides()
        assert _mp(rhs - lhs, _centre(cell)) < 0, f"{name} / {label}: not a counterexample"


# --------------------------------------------------------------------------------------------
# rendering


def _claim(*steps: Step) -> Claim:
    def check(ctx, **_):
        """Nothing to check."""
        return Evidence(True, {}, "ok")

    return Claim("fake.le", "inequalities", check,
                 lambda: [Derivation("Inequalities", (), tuple(steps))], issue=16)


def test_rendered_verdicts_say_certified_sampled_or_not_confirmed():
    A, B = sp.symbols("A B", positive=True)
    amgm = dict(box=(("A", "1e-6", "1e6"), ("B", "1e-6", "1e6")),
                margin=sp.sqrt(A) * (sp.sqrt(A) - sp.sqrt(B)) ** 2 / (2 * sp.sqrt(B) * (A + B)))
    good = Step(A / (A + B), sp.sqrt(A / B) / 2, "AM-GM", "w", kind="le", **amgm)
    sampled = Step(x**2, x**2 + 1, "bound", "w", kind="le", sampled="x ranges over all of ℝ")
    text = render_claim(_claim(good, sampled)).text
    assert ("Certified on $A \\in [10^{-6}, 10^{6}]$, $B \\in [10^{-6}, 10^{6}]$ by ball "
            "arithmetic (python-flint/Arb), 1 cell") in text
    assert "`sympy.simplify` proves equal to rhs − lhs" in text
    assert "sampled only, not certified: x ranges over all of ℝ." in text
    tex = render_claim(_claim(good, sampled), "latex").text
    assert "Certified on" in tex and "sampled only" in tex
    # a bound 1e-4 % too small, with the (now wrong) form: false only near A = B, so the
    # 50-digit spot checks pass; the certification fails it, with its counterexample cell
    wrong = dataclasses.replace(good, rhs=sp.sqrt(A / B) / 2 * sp.Rational(999999, 1000000))
    assert wrong.check().ok
    rendered = render_claim(_claim(wrong))
    assert not rendered.ok and "NOT CONFIRMED" in rendered.text
    assert "not equal to rhs − lhs" in rendered.failed_steps[0]
    assert "certification refuted: rhs − lhs < 0 on the cell A = [" in rendered.failed_steps[0]


def test_module_examples_run():
    import doctest

    import symforget.certified.steps as steps

    res = doctest.testmod(steps)
    assert res.failed == 0 and res.attempted >= 8
