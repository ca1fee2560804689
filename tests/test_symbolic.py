"""The SymPy layer: stable special functions, the cancellation rewrite, self-checking steps."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import mpmath
import pytest
import sympy as sp

import symforget.symbolic as symbolic_pkg
from symforget.symbolic import mixture
from symforget.symbolic.derivation import (
    Derivation,
    Mean,
    Named,
    Step,
    evaluate_held,
    spot_values,
)
from symforget.symbolic.functions import Sigmoid, Softplus, complement_sigmoids, expand_special
from symforget.symbolic.symbols import STUDENT, mu_n, mu_o, sigma, w, x

z = sp.Symbol("z", real=True)
SYMBOLIC_DIR = Path(symbolic_pkg.__file__).parent


# ---------------------------------------------------------------- Sigmoid / Softplus


def test_sigmoid_derivative_matches_exp_form():
    d = sp.diff(Sigmoid(z), z)
    assert d == Sigmoid(z) * (1 - Sigmoid(z))
    textbook = sp.diff(1 / (1 + sp.exp(-z)), z)
    assert sp.simplify(expand_special(d) - textbook) == 0


def test_softplus_derivative_is_sigmoid_and_matches_exp_form():
    d = sp.diff(Softplus(z), z)
    assert d == Sigmoid(z)
    assert sp.simplify(expand_special(d) - sp.diff(sp.log(1 + sp.exp(z)), z)) == 0
    # chain rule goes through the unevaluated function
    assert sp.diff(Softplus(3 * z), z) == 3 * Sigmoid(3 * z)


def test_rewrites_and_special_values():
    assert Sigmoid(z).rewrite(sp.exp) == 1 / (1 + sp.exp(-z))
    assert Softplus(z).rewrite(sp.exp) == sp.log(1 + sp.exp(z))
    assert Softplus(z).rewrite(sp.log) == sp.log(1 + sp.exp(z))
    assert Sigmoid(0) == sp.Rational(1, 2)
    assert Softplus(0) == sp.log(2)
    assert Sigmoid(sp.oo) == 1 and Sigmoid(-sp.oo) == 0
    assert isinstance(Sigmoid(z), Sigmoid)  # stays unevaluated for code generation
    assert Sigmoid(z).is_real and Sigmoid(z).is_positive and Softplus(z).is_positive
    assert r"\operatorname{sigmoid}" in sp.latex(Sigmoid(z))
    assert r"\operatorname{softplus}" in sp.latex(Softplus(z) ** 2)


def test_expand_special_removes_the_functions():
    e = expand_special(Softplus(Sigmoid(z)) + Sigmoid(z) ** 2)
    assert not e.atoms(Sigmoid) and not e.atoms(Softplus)
    with mpmath.workdps(30):
        val = sp.N(e.subs(z, sp.Rational(7, 10)), 30)
        s = 1 / (1 + mpmath.exp(-mpmath.mpf("0.7")))
        assert abs(val - (mpmath.log(1 + mpmath.exp(s)) + s * s)) < mpmath.mpf(10) ** -28


# ---------------------------------------------------------------- complement_sigmoids


@pytest.mark.parametrize("expr, expected", [
    (1 - Sigmoid(z), Sigmoid(-z)),
    (3 - 3 * Sigmoid(z), 3 * Sigmoid(-z)),
    (x * (1 - Sigmoid(z)), x * Sigmoid(-z)),
])
def test_complement_sigmoids_rewrites(expr, expected):
    out = complement_sigmoids(expr)
    assert sp.expand(out - expected) == 0  # structurally the complement, not just equal


def test_complement_sigmoids_leaves_other_forms_alone():
    for expr in (1 + Sigmoid(z), Sigmoid(z) ** 2 - 1, 2 - Sigmoid(z)):
        assert complement_sigmoids(expr) == expr


def test_complement_sigmoids_keeps_value_and_removes_cancellation():
    """50-digit value unchanged; in float64 the original loses every digit, the rewrite none."""
    from symforget.numeric.compile import compile_exprs

    original = 1 - Sigmoid(z)
    rewritten = complement_sigmoids(original)
    assert rewritten.atoms(Sigmoid) == {Sigmoid(-z)}
    for z0 in ("-3.7", "0.25", "12.5", "40"):
        with mpmath.workdps(50):
            exact = 1 / (1 + mpmath.exp(mpmath.mpf(z0)))  # 1 − sigmoid(z) by hand
            # evalf(subs=...) evaluates adaptively: 50 correct digits despite the cancellation
            a = expand_special(original).evalf(50, subs={z: sp.Float(z0, 50)})
            b = expand_special(rewritten).evalf(50, subs={z: sp.Float(z0, 50)})
            assert abs(mpmath.mpf(str(a)) - exact) <= mpmath.mpf(10) ** -45 * exact
            assert abs(mpmath.mpf(str(b)) - exact) <= mpmath.mpf(10) ** -45 * exact
    f_orig = compile_exprs(original, (z,))
    f_new = compile_exprs(rewritten, (z,))
    exact40 = float(1 / (1 + mpmath.exp(40)))  # ≈ 4.25e-18
    assert f_orig(40.0) == 0.0  # catastrophic cancellation: the naive form has no digit left
    assert abs(f_new(40.0) - exact40) <= 1e-15 * exact40


def test_score_has_no_leftover_complement():
    """Every entry of the derived score is a fixed point of complement_sigmoids (no 1 − σ(z))."""
    for entry in mixture.score():
        assert complement_sigmoids(entry) == entry


def test_stable_score_equals_textbook_score_at_50_digits():
    """d/dθ log(w φ_o + (1 − w) φ_n) by SymPy on the plain density vs the stable score."""
    plain = sp.log(mixture.mixture_pdf(w, mu_o, mu_n))
    rng = random.Random(7)
    for v, stable in zip(STUDENT, mixture.score(), strict=True):
        textbook = sp.diff(plain, v)
        for _ in range(3):
            pt = {w: sp.Float(rng.uniform(0.02, 0.98), 50), mu_o: sp.Float(rng.uniform(-5, 5), 50),
                  mu_n: sp.Float(rng.uniform(-5, 5), 50), sigma: sp.Float(rng.uniform(0.5, 2), 50),
                  x: sp.Float(rng.uniform(-8, 8), 50)}
            a = sp.N(textbook.subs(pt), 50)
            b = sp.N(expand_special(stable).subs(pt), 50)
            assert abs(a - b) <= sp.Float("1e-40") * max(abs(a), 1), (v, pt)


# ---------------------------------------------------------------- Step / Derivation


def test_step_true_by_simplify():
    res = Step(sp.sin(x) ** 2 + sp.cos(x) ** 2, sp.Integer(1), "trig", "Pythagoras").check()
    assert res.ok and res.method == "simplify"


def test_step_with_special_functions():
    res = Step(Sigmoid(z) + Sigmoid(-z), sp.Integer(1), "sym", "σ(z)+σ(−z)=1").check()
    assert res.ok and res.method == "simplify"


def test_wrong_step_rejected_and_method_named():
    res = Step(x + 1, x + 2, "bogus", "off by one").check()
    assert not res.ok and res.method == "equals" and "!= 0" in res.detail


def test_numeric_only_step_uses_50_digit_points():
    good = Step(sp.exp(sp.log(1 + x**2)), 1 + x**2, "exp-log", "inverse", numeric_only=True)
    r = good.check()
    assert r.ok and r.method == "numeric-50"
    bad = Step(sp.exp(x), 1 + x + x**2 / 2, "taylor", "truncated series is not equal",
               numeric_only=True)
    r = bad.check()
    assert not r.ok and r.method == "numeric-50"
    # a tiny error far below double precision is still caught at 50 digits
    tiny = Step(x**2, x**2 + sp.Float("1e-30"), "eps", "1e-30 off", numeric_only=True)
    assert not tiny.check().ok


def test_inequality_steps():
    r = Step(x**2, x**2 + 1, "le", "adding 1", kind="le").check()
    assert r.ok and r.method == "numeric-50"
    r = Step(x**2 + 1, x**2, "le", "wrong way", kind="le").check()
    assert not r.ok and r.method == "numeric-50" and "lhs=" in r.detail


def test_definition_steps_are_not_checked():
    r = Step(sp.Symbol("Q"), x + 1, "def", "notation", kind="def").check()
    assert r.ok and r.method == "definition" and r.detail == "a definition or notation"


def test_unchecked_steps_say_why_and_checked_ones_do_not_pretend():
    """An argued step must give its reason; def and cas steps have honest defaults; a checked
    step cannot carry a reason, and only argued steps may replace the rendered relation."""
    with pytest.raises(ValueError, match="must say why"):
        Step(sp.Symbol("A"), sp.Symbol("B"), "Gibbs", "KL >= 0", kind="argued")
    argued = Step(sp.Symbol("A"), sp.Symbol("B"), "Gibbs", "KL >= 0", kind="argued",
                  reason="Gibbs' inequality, in words", relation=r"\implies")
    res = argued.check()
    assert res.ok and res.method == "argued" and res.detail == "Gibbs' inequality, in words"
    assert not argued.checked and argued.unchecked_reason == "Gibbs' inequality, in words"
    cas = Step(sp.Integral(x, (x, 0, 1)), sp.Rational(1, 2), "integrate", "SymPy", kind="cas")
    assert "SymPy algorithm" in cas.unchecked_reason and cas.check().method == "sympy-output"
    with pytest.raises(ValueError, match="reason= is only for"):
        Step(x, x, "eq", "not a reason", reason="trust me")
    with pytest.raises(ValueError, match="relation= is only for argued"):
        Step(x, x + 0 * x, "eq", "x", relation=r"\implies")
    with pytest.raises(ValueError, match="kind="):
        Step(x, x, "eq", "x", kind="assumed")  # type: ignore[arg-type]


# ---------------------------------------------------------------- held forms


def test_held_derivative_is_shown_and_still_checked():
    """A held derivative prints as a derivative and the check differentiates it."""
    held = sp.Derivative(sp.log(w * x + 1 - w), w)
    assert r"\partial" in sp.latex(held)
    good = Step(held, (x - 1) / (w * x + 1 - w), "differentiate", "d/dw log")
    assert good.check().ok and good.check().method == "simplify"
    bad = Step(held, x / (w * x + 1 - w), "differentiate", "forgot the -1")
    assert not bad.check().ok


def test_held_substitution_is_simultaneous():
    """|_{a=b, b=a} swaps: the label swap of a mixture is the mixture with swapped components."""
    a_, b_ = sp.symbols("a b", positive=True)
    swap = sp.Subs(w * a_ + (1 - w) * b_, (w, a_, b_), (1 - w, b_, a_))
    assert Step(swap, w * a_ + (1 - w) * b_, "swap", "label swap").check().ok
    assert not Step(swap, (1 - w) * a_ + w * b_, "swap", "wrong").check().ok
    assert evaluate_held(sp.Subs(a_ * b_**2, (a_, b_), (b_, a_))) == b_ * a_**2


def test_named_quantity_prints_its_name_and_is_checked_through_its_value():
    value = sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)
    phi = Named(r"\varphi_0", value)
    assert sp.latex(phi) == r"\varphi_0" and sp.latex(2 * phi) == r"2 \varphi_0"
    assert sp.latex(phi**2) == r"\left(\varphi_0\right)^{2}"  # no double superscripts
    assert phi.free_symbols == {x}  # the name is not a symbol: nothing to sample
    assert evaluate_held(phi) == value
    assert Step(phi * sp.exp(x**2 / 2), 1 / sp.sqrt(2 * sp.pi), "cancel", "x").check().ok
    assert not Step(phi * sp.exp(x**2 / 2), 1 / sp.sqrt(sp.pi), "cancel", "x").check().ok
    # SymPy rebuilds it (subs, xreplace) without losing the name
    moved = phi.subs(x, x + 1)
    assert isinstance(moved, Named) and moved.name == r"\varphi_0"
    assert evaluate_held(moved) == value.subs(x, x + 1)
    with pytest.raises(TypeError):
        Named(r"\varphi_0", "exp(-x**2/2)")  # never a string (SymPy's parser evaluates code)


def test_mean_applies_linearity_only_where_it_holds():
    r_, m_ = sp.symbols("r m", positive=True)
    lin = Mean((r_ - w) / (w * (1 - w)), {r_: m_}, "P", x)
    assert r"\mathbb{E}_{P}" in sp.latex(lin)
    assert Step(-lin, (w - m_) / (w * (1 - w)), "linearity", "E linear").check().ok
    assert not Step(-lin, (m_ - w) / (w * (1 - w)), "linearity", "sign").check().ok
    squared = Step(Mean(r_**2, {r_: m_}, "P", x), m_**2, "linearity", "E[r^2] != E[r]^2").check()
    assert not squared.ok and squared.method == "held form" and "not affine" in squared.detail
    weighted = Step(Mean(x * r_, {r_: m_}, "P", x), x * m_, "linearity", "x is random").check()
    assert not weighted.ok and "depends on" in weighted.detail
    logged = Step(Mean(sp.log(r_), {r_: m_}, "P", x), sp.log(m_), "linearity", "Jensen").check()
    assert not logged.ok and "not polynomial" in logged.detail
    assert isinstance(lin.subs(w, sp.Rational(1, 3)), Mean)  # rebuilt by SymPy


def test_numeric_check_fails_when_a_side_is_not_a_number():
    """A side that does not evaluate to a number (here a symbolic product) is a failed check,
    not an exception and not a pass."""
    i, d = sp.Symbol("i", integer=True, positive=True), sp.Symbol("d", integer=True, positive=True)
    u = sp.IndexedBase("u")
    step = Step(sp.Product(sp.exp(-u[i] ** 2), (i, 1, d)), sp.exp(-sp.Sum(u[i] ** 2, (i, 1, d))),
                "exp-sum", "symbolic dimension", numeric_only=True)
    res = step.check()
    assert not res.ok and "finite number" in res.detail


def test_derivation_ok_iff_every_step_checks():
    good = Step(2 * x, x + x, "collect", "x + x = 2x")
    bad = Step(2 * x, x, "nonsense", "drops a term")
    d_ok = Derivation("fine", ("x real",), (good,), result=x + x)
    d_bad = Derivation("broken", ("x real",), (good, bad))
    assert d_ok.ok and [c.ok for c in d_ok.check()] == [True]
    assert not d_bad.ok and [c.ok for c in d_bad.check()] == [True, False]


def test_spot_values_respect_assumptions_and_are_deterministic():
    syms = {w, sp.Symbol("alpha", positive=True), sigma, mu_o}
    a, b = spot_values(syms, 3), spot_values(syms, 3)
    assert a == b and a != spot_values(syms, 4)
    assert 0.05 < a[w] < 0.95 and 0.3 < a[sigma] < 3 and -3 < a[mu_o] < 3
    assert all(isinstance(v, sp.Float) for v in a.values())


# ---------------------------------------------------------------- purity


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or ""))
    return out


def test_symbolic_sources_never_import_numpy():
    files = sorted(SYMBOLIC_DIR.glob("*.py"))
    assert len(files) >= 6
    for path in files:
        for level, mod in _imported_modules(path):
            root = mod.split(".")[0]
            assert not (level == 0 and root in {"numpy", "scipy"}), f"{path.name} imports {mod}"
