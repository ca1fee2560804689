r"""Render claims and their derivations to Markdown (with LaTeX) or LaTeX fragments.

``symforget derive`` writes one file per claim plus an index; the checked-in ``proofs/`` directory
is exactly that output, and a test regenerates it and compares byte for byte. So the output is
deterministic: no timestamps, no dependence on hash or set order, stable ``sympy.latex`` printing,
``\n`` line endings, and every step's verdict is the *method* that decided it (``simplify``,
``equals``, ``numeric-50`` — see :class:`symforget.symbolic.derivation.Step`), not a
floating-point residue that could change with the SymPy version. A step that is not checked
(a definition, the output of a SymPy algorithm, an argument in words) says so and says why.

An inequality step that states a box is also *certified* on it with ball arithmetic
(:func:`symforget.certified.steps.certify_step`: interval branch and bound with Arb, exact
rational cells); its verdict names the box, the number of cells and, when the step certifies an
equivalent form of its margin, that form (SymPy proves it equal to rhs − lhs). The cell count
is deterministic (breadth-first bisection, fixed precision). An inequality step without a box
says that it is only sampled, and why; a refuted certification or a stated form that is not
equal to the margin makes the step fail like a failed check.

A claim file holds: the id, the statement, the assumptions, every derivation step as
``lhs = rhs`` (or ``lhs ≤ rhs``, or a relation in words) in display math with its rule,
justification and the method that checked it, the derivation's result and notes, how the numeric
check works (the check function's docstring), the wrong variants the check must reject, and the
command that verifies the claim. It refers only to what a reader of the repository can find:
claim ids, modules and functions, commands.

A :class:`sympy.Symbol` whose name contains a backslash, brace, parenthesis, bar, ``=`` or a space
is treated as raw LaTeX (derivations use such symbols for notation such as ``\mathrm{BC}`` and for
statements in words); every other symbol goes through ``sympy.latex``.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

import sympy as sp

from ..claims.base import Claim
from ..numeric.files import atomic_write_bytes
from ..symbolic.derivation import Derivation, Step, StepCheck

if TYPE_CHECKING:
    from ..certified.steps import StepCertification

__all__ = [
    "FORMATS",
    "RenderedClaim",
    "atomic_write_text",
    "claim_filename",
    "index_filename",
    "render_claim",
    "render_index",
]

Format = Literal["md", "latex"]
FORMATS: tuple[str, ...] = ("md", "latex")
_EXT = {"md": ".md", "latex": ".tex"}
INDEX_STEM = "index"

#: what each checking method means, in words (rendered beside every step)
_METHOD_TEXT = {
    "simplify": "`sympy.simplify(lhs - rhs)` returns 0",
    "equals": "`(lhs - rhs).equals(0)` is True (SymPy's simplify could not, `equals` could)",
    "numeric-50": "50-digit evaluation at fixed pseudo-random points of the domain "
                  "(SymPy could not decide it symbolically, or the step is marked numeric-only)",
}
#: said once per claim file, before its derivations
_HOW_STEPS_ARE_CHECKED = (
    "Each step is checked as displayed: a named quantity stands for the model's own expression, "
    "and derivatives, substitutions, sums and expectations are carried out before the two sides "
    "are compared. A step that is not checked says what it is and what confirms it instead.")
_METHOD_TEXT_LE = {
    "numeric-50": "lhs ≤ rhs in 50-digit evaluation at fixed pseudo-random points of the domain",
}


# --------------------------------------------------------------------------------------------
# files


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line endings) to ``path`` atomically
    (see :func:`symforget.numeric.files.atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def claim_filename(claim_id: str, fmt: str = "md") -> str:
    """The file a claim is rendered to, e.g. ``fkl.em_identity.md``."""
    return claim_id + _EXT[_check_format(fmt)]


def index_filename(fmt: str = "md") -> str:
    """The index file, ``index.md`` or ``index.tex``."""
    return INDEX_STEM + _EXT[_check_format(fmt)]


def _check_format(fmt: str) -> str:
    if fmt not in _EXT:
        raise ValueError(f"format={fmt!r} must be one of {', '.join(FORMATS)}")
    return fmt


# --------------------------------------------------------------------------------------------
# text helpers

_SPANS = re.compile(r"(\$\$.*?\$\$|\$[^$]*\$|`[^`]*`)", re.S)


def _split(text: str) -> list[tuple[str, str]]:
    """Split ``text`` into ("math" | "code" | "text", chunk) pieces.

    Math is ``$…$`` or ``$$…$$`` (LaTeX, passed through); code is a Markdown code span.
    reStructuredText in docstrings is converted first: ``:math:`x` `` becomes ``$x$``, a
    cross-reference role such as ``:func:`~a.b` `` and a double-backtick literal become code
    spans.
    """
    text = re.sub(r":math:`([^`]*)`", r"$\1$", text)
    text = re.sub(r":[a-z]+:`(~?)([^`]+)`",
                  lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`",
                  text)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _SPANS.finditer(text):
        if m.start() > pos:
            out.append(("text", text[pos:m.start()]))
        out.append(("code" if m.group(0).startswith("`") else "math", m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append(("text", text[pos:]))
    return out


def _md_text(text: str) -> str:
    """Markdown prose: escape emphasis, table pipes, HTML-tag openers (not in math or code)."""
    return "".join(re.sub(r"([*_|]|<(?=[A-Za-z/!?]))", r"\\\1", chunk) if kind == "text" else chunk
                   for kind, chunk in _split(text))


_TEX_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def _tex_text(text: str) -> str:
    """Plain text for LaTeX: escape special characters outside math; code spans to texttt."""
    parts = []
    for kind, chunk in _split(text):
        if kind == "text":
            chunk = _tex_escape(chunk)
        elif kind == "code":
            chunk = _tex_tt(chunk[1:-1])
        parts.append(chunk)
    return "".join(parts)


def _tex_tt(text: str) -> str:
    return r"\texttt{" + _tex_escape(text) + "}"


#: a symbol name holding any of these characters is LaTeX already (SymPy's name parser would
#: split it at ``_``/``^`` and garble it)
_RAW_LATEX = re.compile(r"[\\{}()|= ]")


def latex_expr(expr: sp.Basic) -> str:
    """``sympy.latex`` with raw-LaTeX symbols (names containing a backslash, brace, parenthesis,
    bar, ``=`` or a space) kept verbatim."""
    if isinstance(expr, str):  # never parse strings: SymPy's parser evaluates code
        raise TypeError("latex_expr takes a SymPy expression, not a string")
    expr = sp.sympify(expr)  # safe: internal
    raw = {s: s.name for s in expr.atoms(sp.Symbol) if _RAW_LATEX.search(s.name)}
    return sp.latex(expr, symbol_names=raw) if raw else sp.latex(expr)


def _relation(step: Step) -> str:
    if step.kind == "le":
        return r"\le"
    return step.relation or "="


_E_NOTATION = re.compile(r"([+-]?\d+(?:\.\d+)?)[eE]([+-]?\d+)")


def _tex_bound(v: object) -> str:
    """A box bound as written in the step, in LaTeX (``"1e-6"`` → ``10^{-6}``)."""
    if isinstance(v, str):
        m = _E_NOTATION.fullmatch(v.strip())
        if m:
            mant, exp = m.group(1), int(m.group(2))
            return f"10^{{{exp}}}" if mant in ("1", "+1") else rf"{mant} \cdot 10^{{{exp}}}"
        return v.strip()
    q = Fraction(v)  # int or Fraction (Step validated the type)
    if q.denominator == 1:
        return str(q.numerator)
    return rf"{'-' if q < 0 else ''}\tfrac{{{abs(q.numerator)}}}{{{q.denominator}}}"


def _domain_text(step: Step) -> str:
    r"""The step's box as prose with inline math: ``$A \in [10^{-6}, 10^{6}]$, …``."""
    lhs, rhs = step.prepared_sides()
    syms = {s.name: s for s in (lhs - rhs).free_symbols if isinstance(s, sp.Symbol)}
    parts = []
    for name, lo, hi in step.box:
        sym = syms.get(name, sp.Symbol(name))
        parts.append(rf"${latex_expr(sym)} \in [{_tex_bound(lo)}, {_tex_bound(hi)}]$")
    return ", ".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _certified_text(step: Step, cert: StepCertification) -> str:
    """The certification sentence of an inequality step (prose with inline math)."""
    if cert.status == "sampled":
        return (f"Checked (numeric-50): {_METHOD_TEXT_LE['numeric-50']}; sampled only, not "
                f"certified: {cert.reason}.")
    if cert.status != "certified":
        return (f"Checked (numeric-50): {_METHOD_TEXT_LE['numeric-50']}; not certified on "
                f"{_domain_text(step)}: {cert.reason}.")
    cells = _plural(cert.cells, "cell")
    if cert.mean_value_cells:
        cells += (f" ({cert.mean_value_cells} of them by the mean-value form "
                  r"$M(c) + \nabla M(X)\cdot(X - c)$ at a corner c of the cell X, M = rhs − lhs)")
    text = (f"Certified on {_domain_text(step)} by ball arithmetic (python-flint/Arb), {cells}: "
            "the margin rhs − lhs is enclosed ≥ 0 on every cell")
    if cert.form is not None:
        text += (f", written as $ {latex_expr(cert.form)} $ (a rewrite that "
                 "`sympy.simplify` proves equal to rhs − lhs, in which the sign of every factor "
                 "is visible)")
    return text + f". Also checked (numeric-50): {_METHOD_TEXT_LE['numeric-50']}."


def _verdict(step: Step, check: StepCheck, cert: StepCertification | None = None) -> str:
    """One sentence on what decided a step that checked, or what an unchecked step is and what
    confirms it instead (prose; code spans in backticks). ``cert``: the certification of an
    inequality step (:func:`symforget.certified.steps.certify_step`)."""
    if step.kind == "cas":  # the output of a SymPy algorithm, confirmed elsewhere
        return f"Not re-checked here: {step.unchecked_reason}."
    if not step.checked:
        return f"Not checked: {step.unchecked_reason}."
    if step.kind == "le" and cert is not None and check.method == "numeric-50":
        return _certified_text(step, cert)
    if step.kind == "le" and check.method in _METHOD_TEXT_LE:
        return f"Checked ({check.method}): {_METHOD_TEXT_LE[check.method]}."
    if check.method in _METHOD_TEXT:
        return f"Checked ({check.method}): {_METHOD_TEXT[check.method]}."
    return f"Checked: {check.method}."


def _check_doc(claim: Claim) -> str:
    """The check function's docstring, without numpydoc sections (Parameters, Returns …)."""
    doc = inspect.getdoc(claim.check) or ""
    lines = doc.splitlines()
    for i in range(len(lines) - 1):
        if lines[i + 1].strip() and set(lines[i + 1].strip()) == {"-"} and lines[i].strip():
            lines = lines[:i]
            break
    return "\n".join(lines).strip()


def _paragraphs(text: str) -> list[str]:
    """Docstring paragraphs joined into single lines."""
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def _verify_command(claim_id: str) -> str:
    return f"symforget verify {claim_id}"


# --------------------------------------------------------------------------------------------
# rendering


@dataclass(frozen=True)
class RenderedClaim:
    """A rendered claim: file name, text, number of steps, and the steps that did not check."""

    claim_id: str
    filename: str
    text: str
    steps: int
    failed_steps: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True iff every derivation step checked."""
        return not self.failed_steps


def _checked(derivations: Sequence[Derivation]) -> list[list[StepCheck]]:
    return [[step.check() for step in d.steps] for d in derivations]


Certs = list[list["StepCertification | None"]]


def _certified(derivations: Sequence[Derivation]) -> Certs:
    """The certification of every inequality step (None for the other kinds)."""
    if not any(s.kind == "le" for d in derivations for s in d.steps):
        return [[None] * len(d.steps) for d in derivations]
    from ..certified.steps import certify_step  # python-flint: loaded on first use

    return [[certify_step(s) if s.kind == "le" else None for s in d.steps] for d in derivations]


def _cert_failure(cert: StepCertification | None) -> str:
    """Why a certification makes its step fail (empty when it does not)."""
    if cert is None:
        return ""
    parts = []
    if cert.form_ok is False:
        parts.append(f"certification: {cert.reason}")
    if cert.status == "refuted" and cert.counterexample is not None:
        cell = ", ".join(f"{k} = {v}" for k, v in cert.counterexample["cell"].items())
        parts.append(f"certification refuted: rhs − lhs < 0 on the cell {cell} (enclosure "
                     f"{cert.counterexample['enclosure']})")
    return "; ".join(parts)


def render_claim(claim: Claim, fmt: str = "md",
                 derivations: Sequence[Derivation] | None = None) -> RenderedClaim:
    """Render one claim (its derivations are built and every step is checked).

    Parameters
    ----------
    claim : Claim
        The registered claim.
    fmt : {"md", "latex"}
        Markdown with ``$$…$$`` display math, or a LaTeX fragment.
    derivations : sequence of Derivation, optional
        Use these instead of ``claim.derivations()`` (they are checked all the same).
    """
    fmt = _check_format(fmt)
    derivs = list(claim.derivations() if derivations is None else derivations)
    checks = _checked(derivs)
    certs = _certified(derivs)
    failed = tuple(
        f"{d.title}, step {j + 1} ({s.rule}): "
        + (f"{c.method} {c.detail}".strip() if not c.ok else _cert_failure(ct))
        for d, cs, cts in zip(derivs, checks, certs, strict=True)
        for j, (s, c, ct) in enumerate(zip(d.steps, cs, cts, strict=True))
        if not c.ok or _cert_failure(ct))
    render = _render_md if fmt == "md" else _render_tex
    text = render(claim, derivs, checks, certs)
    return RenderedClaim(claim.id, claim_filename(claim.id, fmt), text,
                         sum(len(d.steps) for d in derivs), failed)


def _render_md(claim: Claim, derivs: list[Derivation], checks: list[list[StepCheck]],
               certs: Certs) -> str:
    out: list[str] = [
        "<!-- generated by `symforget derive`; do not edit (regenerate: "
        "symforget derive --out proofs) -->",
        f"# `{claim.id}`",
        "",
        f"**Statement.** {_md_text(claim.statement)}",
        "",
    ]
    if claim.assumptions:
        out += ["**Assumptions.**", ""]
        out += [f"- {_md_text(a)}" for a in claim.assumptions]
        out.append("")
    out += ["**Verify.**", "", "```sh", _verify_command(claim.id), "```", ""]
    out += ["## Derivations", ""]
    if not derivs:
        out += ["No symbolic derivation is attached to this claim; it is established by the "
                "numeric checks below.", ""]
    else:
        out += [_md_text(_HOW_STEPS_ARE_CHECKED), ""]
    for i, (d, cs, cts) in enumerate(zip(derivs, checks, certs, strict=True), start=1):
        out += [f"### {i}. {_md_text(d.title)}", ""]
        if d.assumptions:
            out += ["*Assumptions:*", ""]
            out += [f"- {_md_text(a)}" for a in d.assumptions]
            out.append("")
        for j, (step, chk, cert) in enumerate(zip(d.steps, cs, cts, strict=True), start=1):
            out += [f"**Step {j}** — *{_md_text(step.rule)}*: {_md_text(step.why)}", "",
                    "$$", f"{latex_expr(step.lhs)} {_relation(step)} {latex_expr(step.rhs)}",
                    "$$", ""]
            if not chk.ok:
                out += [f"**NOT CONFIRMED** ({chk.method}): {_md_text(chk.detail)}", ""]
            elif _cert_failure(cert):
                out += [f"**NOT CONFIRMED** ({_md_text(_cert_failure(cert))})", ""]
            else:
                out += [_md_text(_verdict(step, chk, cert)), ""]
        if d.result is not None:
            out += ["**Result.**", "", "$$", latex_expr(d.result), "$$", ""]
        if d.notes:
            out += ["*Notes:*", ""]
            out += [f"- {_md_text(n)}" for n in d.notes]
            out.append("")
    doc = _check_doc(claim)
    out += ["## How the check works", ""]
    out += [_md_text(p) + "\n" for p in _paragraphs(doc)] or ["(no description)", ""]
    if claim.mutants:
        out += ["Deliberately wrong variants that the same check must reject "
                "(a test enforces it):", ""]
        out += [f"- `{name}`" for name in claim.mutants]
        out.append("")
    return _finish(out)


def _render_tex(claim: Claim, derivs: list[Derivation], checks: list[list[StepCheck]],
                certs: Certs) -> str:
    out: list[str] = [
        "% generated by `symforget derive --format latex`; do not edit by hand",
        "% UTF-8 text: compile with xelatex/lualatex (or pdflatex with inputenc/newunicodechar)",
        rf"\subsection*{{{_tex_tt(claim.id)}}}\label{{claim:{claim.id}}}",
        "",
        rf"\paragraph{{Statement.}} {_tex_text(claim.statement)}",
        "",
    ]
    if claim.assumptions:
        out += [r"\paragraph{Assumptions.}", r"\begin{itemize}"]
        out += [rf"  \item {_tex_text(a)}" for a in claim.assumptions]
        out += [r"\end{itemize}", ""]
    out += [rf"\paragraph{{Verify.}} {_tex_tt(_verify_command(claim.id))}", ""]
    if not derivs:
        out += ["No symbolic derivation is attached to this claim; it is established by the "
                "numeric checks below.", ""]
    else:
        out += [_tex_text(_HOW_STEPS_ARE_CHECKED), ""]
    for i, (d, cs, cts) in enumerate(zip(derivs, checks, certs, strict=True), start=1):
        out += [rf"\subsubsection*{{{i}. {_tex_text(d.title)}}}", ""]
        if d.assumptions:
            out += [r"\emph{Assumptions:}", r"\begin{itemize}"]
            out += [rf"  \item {_tex_text(a)}" for a in d.assumptions]
            out += [r"\end{itemize}", ""]
        for j, (step, chk, cert) in enumerate(zip(d.steps, cs, cts, strict=True), start=1):
            if not chk.ok:
                verdict = (rf"\textbf{{NOT CONFIRMED}} ({_tex_text(chk.method)}): "
                           rf"{_tex_text(chk.detail)}")
            elif _cert_failure(cert):
                verdict = rf"\textbf{{NOT CONFIRMED}} ({_tex_text(_cert_failure(cert))})"
            else:
                verdict = _tex_text(_verdict(step, chk, cert))
            out += [rf"\noindent\textbf{{Step {j}}} --- \emph{{{_tex_text(step.rule)}}}: "
                    f"{_tex_text(step.why)}",
                    r"\begin{equation*}",
                    f"{latex_expr(step.lhs)} {_relation(step)} {latex_expr(step.rhs)}",
                    r"\end{equation*}",
                    verdict, ""]
        if d.result is not None:
            out += [r"\noindent\textbf{Result.}", r"\begin{equation*}", latex_expr(d.result),
                    r"\end{equation*}", ""]
        if d.notes:
            out += [r"\emph{Notes:}", r"\begin{itemize}"]
            out += [rf"  \item {_tex_text(n)}" for n in d.notes]
            out += [r"\end{itemize}", ""]
    out += [r"\paragraph{How the check works.}", ""]
    out += [_tex_text(p) + "\n" for p in _paragraphs(_check_doc(claim))]
    if claim.mutants:
        out += ["Deliberately wrong variants that the same check must reject:", r"\begin{itemize}"]
        out += [rf"  \item {_tex_tt(name)}" for name in claim.mutants]
        out += [r"\end{itemize}", ""]
    return _finish(out)


def _finish(lines: list[str]) -> str:
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)  # at most one blank line
    return text.rstrip("\n") + "\n"


def render_index(claims: Iterable[Claim], fmt: str = "md") -> str:
    """The index: every claim with its one-line statement and a link to its file."""
    fmt = _check_format(fmt)
    claims = list(claims)
    if fmt == "md":
        out = ["<!-- generated by `symforget derive`; do not edit (regenerate: "
               "symforget derive --out proofs) -->",
               "# symforget claims", "",
               "One file per claim: statement, assumptions, the derivation steps with what checked "
               "each of them, how the numeric check works, and the command that verifies it. "
               "Verify them all with `symforget verify`.", "",
               "| claim | statement |", "|---|---|"]
        for c in claims:
            statement = _md_text(c.statement)
            out.append(f"| [`{c.id}`]({claim_filename(c.id, fmt)}) | {statement} |")
        out.append("")
        return _finish(out)
    out = ["% generated by `symforget derive --format latex`; do not edit by hand",
           r"\section*{symforget claims}", r"\begin{description}"]
    for c in claims:
        out.append(rf"  \item[{_tex_tt(c.id)}] {_tex_text(c.statement)}")
    out += [r"\end{description}", ""]
    out += [rf"\input{{{claim_filename(c.id, fmt)}}}" for c in claims]
    return _finish(out)
