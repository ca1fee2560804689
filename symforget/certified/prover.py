r"""Branch and bound over a box: certify a claim's margin cell by cell, or find a counterexample.

A cell (a box with exact rational end points) is *certified* when the Arb enclosure of the
claim's margin over the whole cell is ≥ 0 (> 0 for a strict claim) — in practice ≥ 10⁻⁶
(:data:`ACCEPT`), so that the independent checker's re-enclosure also clears 0; *refuted* when
the enclosure is < 0 (the claim is false everywhere in the cell — a counterexample); otherwise it is
split in two along the widest split axis (widths relative to the axis's scale), and its midpoint
is checked as a degenerate cell (so a counterexample is found without waiting for a small
cell). Cells inside the region of a local argument that holds are covered by that argument.
The rounds are embarrassingly parallel: each round's undecided cells are evaluated in batches
on any :class:`concurrent.futures.Executor`.

Resumable: with ``state_path``, the decided cells and the pending ones are written atomically
after every round; a rerun with the same claim, box and mutant continues from them.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..errors import ParameterError, SymforgetError
from .enclose import PREC, Cell
from .statements import Local, ball_json, get

__all__ = ["Certificate", "prove", "evaluate_cells", "frac_str", "DEFAULT_MAX_CELLS",
           "ProofError", "FORMAT"]

#: certificate format name and version
FORMAT = "symforget-certificate/1"
DEFAULT_MAX_CELLS = 2_000_000
#: cells per batch sent to one worker (at most; a round is split into ≥ 8 batches)
BATCH = 256
#: a cell is accepted when the lower end of its margin enclosure is ≥ this (not just ≥ 0), so
#: that an independent re-enclosure (other formula order, other rounding) also clears 0
ACCEPT = 1e-6

Progress = Callable[[int, int, int, float], None]


class ProofError(SymforgetError):
    """A proof cannot start or resume (mismatched state file)."""


def frac_str(q: Fraction) -> str:
    """Exact text of a rational: a finite decimal when the denominator is 2^a·5^b, else p/q."""
    q = Fraction(q)
    d = q.denominator
    k2 = k5 = 0
    while d % 2 == 0:
        d //= 2
        k2 += 1
    while d % 5 == 0:
        d //= 5
        k5 += 1
    if d != 1:
        return f"{q.numerator}/{q.denominator}"
    k = max(k2, k5)
    if k == 0:
        return str(q.numerator)
    scaled = q * 10**k
    assert scaled.denominator == 1
    n = scaled.numerator
    sign = "-" if n < 0 else ""
    digits = str(abs(n)).rjust(k + 1, "0")
    return f"{sign}{digits[:-k]}.{digits[-k:]}"


def _cell_json(cell: Cell) -> dict[str, dict[str, str]]:
    return {"lo": {k: frac_str(v[0]) for k, v in cell.items()},
            "hi": {k: frac_str(v[1]) for k, v in cell.items()}}


def _cell_from_json(rec: dict[str, Any]) -> Cell:
    return {k: (Fraction(rec["lo"][k]), Fraction(rec["hi"][k])) for k in rec["lo"]}


@dataclass
class Certificate:
    """The outcome of :func:`prove`: a certificate (status ``certified``), a counterexample
    (``refuted``) or an unfinished search (``undecided``: the cell budget ran out).

    Examples
    --------
    >>> from symforget import certified
    >>> cert = certified.prove("rkl.drift_bc_bound", {"w": ("1/1000", "1/5"), "delta": (1, 30)})
    >>> cert.ok, cert.status, cert.counterexample
    (True, 'certified', None)
    >>> record = cert.to_json()
    >>> record["format"], record["box"]
    ('symforget-certificate/1', {'w': ['0.001', '0.2'], 'delta': ['1', '30']})
    """

    claim: str
    box: Cell
    mutant: str | None
    status: str
    cells: list[dict[str, Any]] = field(default_factory=list)
    local: list[Local] = field(default_factory=list)
    counterexample: dict[str, Any] | None = None
    seconds: float = 0.0
    evaluations: int = 0
    strict: bool = False

    @property
    def ok(self) -> bool:
        """True iff the whole box is certified."""
        return self.status == "certified"

    def to_json(self) -> dict[str, Any]:
        """The certificate as JSON (exact rational end points as strings)."""
        import flint

        from .. import __version__

        return {
            "format": FORMAT,
            "claim": self.claim,
            "mutant": self.mutant,
            "status": self.status,
            "strict": self.strict,
            "box": {k: [frac_str(lo), frac_str(hi)] for k, (lo, hi) in self.box.items()},
            "cells": self.cells,
            "local": [loc.to_json() for loc in self.local],
            "counterexample": self.counterexample,
            "stats": {"cells": len(self.cells), "evaluations": self.evaluations,
                      "seconds": round(self.seconds, 3)},
            "versions": {"symforget": __version__, "python-flint": flint.__version__,
                         "python": platform.python_version(), "prec_bits": PREC},
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temporary file in the same directory, then ``os.replace``)."""
        from ..numeric.files import atomic_write_bytes

        data = json.dumps(self.to_json(), indent=1, ensure_ascii=False, allow_nan=False)
        atomic_write_bytes(path, (data + "\n").encode())

    def summary(self) -> str:
        """One line: status, cells, time."""
        extra = ""
        if self.counterexample:
            ce = self.counterexample
            extra = f"; counterexample {ce['where']} margin ⊂ {ce['margin']}"
        return (f"{self.claim}{'' if self.mutant is None else ' [' + self.mutant + ']'}: "
                f"{self.status} ({len(self.cells)} cells, {self.evaluations} enclosures, "
                f"{self.seconds:.2f} s){extra}")


def evaluate_cells(claim_id: str, mutant: str | None,
                   cells: list[dict[str, list[str]]]) -> list[list[float]]:
    """Margin enclosures ``[lo, hi]`` of cells given as ``{name: [lo, hi]}`` (exact strings).

    A top-level function of picklable arguments, so any executor (process pool, Dask) can run
    it."""
    from flint import ctx

    c = get(claim_id)
    variant = c.variant(mutant)
    out = []
    with ctx.workprec(PREC):
        for rec in cells:
            cell = {k: (Fraction(v[0]), Fraction(v[1])) for k, v in rec.items()}
            out.append(ball_json(c.margin(cell, variant)))
    return out


def _inside(cell: Cell, region: dict[str, list[str]]) -> bool:
    for k, (lo, hi) in cell.items():
        if k not in region:
            continue
        rlo, rhi = region[k]
        if lo < Fraction(rlo) or (rhi != "inf" and hi > Fraction(rhi)):
            return False
    return True


def _split(cell: Cell, axes: tuple[str, ...], scales: dict[str, Fraction]) -> tuple[Cell, Cell]:
    name = max(axes, key=lambda k: (cell[k][1] - cell[k][0]) / scales[k])
    lo, hi = cell[name]
    mid = (lo + hi) / 2
    a, b = dict(cell), dict(cell)
    a[name] = (lo, mid)
    b[name] = (mid, hi)
    return a, b


def _midpoint(cell: Cell) -> Cell:
    return {k: ((lo + hi) / 2, (lo + hi) / 2) for k, (lo, hi) in cell.items()}


def _check_box(claim_id: str, box: Cell | None) -> Cell:
    c = get(claim_id)
    full = c.default_box()
    if box:
        for k, (lo, hi) in box.items():
            if k not in full:
                raise ParameterError(f"box: unknown parameter {k!r} for {claim_id}; "
                                     f"parameters: {', '.join(c.names)}")
            lo, hi = Fraction(lo), Fraction(hi)
            if lo > hi:
                raise ParameterError(f"box {k}: lower bound {lo} > upper bound {hi}")
            full[k] = (lo, hi)
    for a in c.axes:
        lo, hi = full[a.name]
        dlo, dhi = a.domain
        bad = (lo < dlo or hi > dhi or (a.open_lo and lo == dlo) or (a.open_hi and hi == dhi))
        if bad:
            rng = f"{'(' if a.open_lo else '['}{dlo}, {dhi}{')' if a.open_hi else ']'}"
            raise ParameterError(f"box {a.name}: [{lo}, {hi}] must lie in {rng}")
    return full


def _key(claim_id: str, box: Cell, mutant: str | None) -> dict[str, Any]:
    return {"claim": claim_id, "mutant": mutant,
            "box": {k: [frac_str(lo), frac_str(hi)] for k, (lo, hi) in box.items()}}


def _load_state(path: str, key: dict[str, Any]) -> tuple[list[dict], list[Cell], int] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            state = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ProofError(f"{path}: unreadable proof state ({exc})") from None
    if state.get("key") != key:
        raise ProofError(f"{path}: a proof state of another run ({state.get('key')}); "
                         "remove it or choose another --out")
    pending = [_cell_from_json(r) for r in state["pending"]]
    return state["done"], pending, int(state.get("evaluations", 0))


def _save_state(path: str, key: dict[str, Any], done: list[dict], pending: list[Cell],
                evaluations: int) -> None:
    from ..numeric.files import atomic_write_bytes

    data = {"key": key, "done": done, "pending": [_cell_json(c) for c in pending],
            "evaluations": evaluations}
    atomic_write_bytes(path, json.dumps(data).encode())


def prove(claim_id: str, box: Cell | None = None, mutant: str | None = None, *,
          progress: Progress | None = None, executor: cf.Executor | None = None,
          max_cells: int = DEFAULT_MAX_CELLS, state_path: str | None = None) -> Certificate:
    r"""Certify ``claim_id`` over ``box`` (default: the claim's box) by branch and bound.

    Parameters
    ----------
    claim_id
        A certifiable claim (:func:`symforget.certified.list_certifiable`).
    box
        ``{name: (lo, hi)}`` with exact rationals (``Fraction``, int, or decimal strings);
        parameters not given keep the default box.
    mutant
        A mutant of the claim (a deliberately wrong statement): the proof must fail.
    progress
        Called as ``progress(decided, pending, evaluations, seconds)`` after every round.
    executor
        Evaluates the batches of a round (default: in this process).
    max_cells
        Budget of enclosures; when exhausted the status is ``undecided``.
    state_path
        Resumable state file (written atomically after every round; removed at the end).

    Returns
    -------
    Certificate
        status ``certified`` (every cell's margin ≥ 0, > 0 if strict, or covered by a local
        argument that holds, and every point argument holds), ``refuted`` (a cell or point whose
        margin enclosure is < 0, or a local argument refuted) or ``undecided``.

    Examples
    --------
    The drift bound m(w, Δ) ≤ ½√((1−w)/w)e^{−Δ²/8} over w ∈ [1/1000, 1/5], Δ ∈ [1, 30] (and,
    by the asymptotic argument, every Δ beyond): certified; the mutant with the constant ¼
    instead of ½ is refuted with a counterexample cell:

    >>> from symforget import certified
    >>> box = {"w": ("1/1000", "1/5"), "delta": (1, 30)}
    >>> certified.prove("rkl.drift_bc_bound", box).status
    'certified'
    >>> bad = certified.prove("rkl.drift_bc_bound", box, mutant="prefactor_quarter")
    >>> bad.status, bad.counterexample["margin"][1] < 0
    ('refuted', True)
    """
    from flint import ctx

    c = get(claim_id)
    if mutant is not None and mutant not in c.mutants:
        raise ParameterError(f"mutant={mutant!r} is not a mutant of {claim_id}; mutants: "
                             f"{', '.join(c.mutants) or 'none'}")
    full = _check_box(claim_id, box)
    variant = c.variant(mutant)
    t0 = time.perf_counter()
    with ctx.workprec(PREC):
        local = c.local(full, variant)
    cert = Certificate(claim_id, full, mutant, "undecided", local=local, strict=c.strict)
    for loc in local:
        if loc.refuted:
            cert.status = "refuted"
            cert.counterexample = {"where": loc.region, "margin": loc.enclosures,
                                   "argument": loc.name, "detail": loc.detail}
            cert.seconds = time.perf_counter() - t0
            return cert
    covering = [loc for loc in local if loc.covers and loc.ok]
    split_axes = tuple(a for a in c.split_axes if full[a][0] < full[a][1])
    scales = {a.name: a.scale for a in c.axes}
    key = _key(claim_id, full, mutant)

    done: list[dict[str, Any]] = []
    pending: list[Cell] = [full]
    evaluations = 0
    if state_path is not None:
        loaded = _load_state(state_path, key)
        if loaded is not None:
            done, pending, evaluations = loaded

    def ok_margin(lo: float) -> bool:
        return lo >= ACCEPT

    while pending:
        # cells covered by a local argument
        todo: list[Cell] = []
        for cell in pending:
            cover = next((loc for loc in covering if _inside(cell, loc.region)), None)
            if cover is not None:
                done.append({**_cell_json(cell), "margin": None, "by": f"local:{cover.name}"})
            else:
                todo.append(cell)
        if not todo:
            pending = []
            break
        if evaluations + 2 * len(todo) > max_cells:
            cert.status = "undecided"
            cert.cells = done
            cert.evaluations = evaluations
            cert.seconds = time.perf_counter() - t0
            if state_path is not None:
                _save_state(state_path, key, done, todo, evaluations)
            return cert
        mids = [_midpoint(cell) for cell in todo]
        batch_cells = [{k: [frac_str(v[0]), frac_str(v[1])] for k, v in cell.items()}
                       for cell in (*todo, *mids)]
        size = max(1, min(BATCH, -(-len(batch_cells) // 8)))
        chunks = [batch_cells[i:i + size] for i in range(0, len(batch_cells), size)]
        results = []
        futs = None if executor is None else [
            executor.submit(evaluate_cells, claim_id, mutant, ch) for ch in chunks]
        for i, ch in enumerate(chunks):  # progress within a round too (rounds can be long)
            results.append(evaluate_cells(claim_id, mutant, ch) if futs is None
                           else futs[i].result())
            if progress is not None and i + 1 < len(chunks):
                so_far = sum(len(r) for r in results)
                progress(len(done), len(todo), evaluations + so_far,
                         time.perf_counter() - t0)
        margins = [m for r in results for m in r]
        evaluations += len(margins)
        cell_m, mid_m = margins[:len(todo)], margins[len(todo):]
        new_pending: list[Cell] = []
        for cell, m, mid, mm in zip(todo, cell_m, mids, mid_m, strict=True):
            bad = (m, cell) if m[1] < 0 else (mm, mid) if mm[1] < 0 else None
            if bad is not None:
                cert.status = "refuted"
                cert.counterexample = {"where": {k: [frac_str(lo), frac_str(hi)]
                                                 for k, (lo, hi) in bad[1].items()},
                                       "margin": bad[0], "argument": "margin"}
                cert.cells = done
                cert.evaluations = evaluations
                cert.seconds = time.perf_counter() - t0
                return cert
            if ok_margin(m[0]):
                done.append({**_cell_json(cell), "margin": m})
            else:
                width = max((cell[k][1] - cell[k][0]) / scales[k] for k in split_axes) \
                    if split_axes else 0
                if not split_axes or width < Fraction(1, 2**60):
                    cert.status = "undecided"
                    cert.counterexample = None
                    cert.cells = done
                    cert.evaluations = evaluations
                    cert.seconds = time.perf_counter() - t0
                    return cert
                new_pending.extend(_split(cell, split_axes, scales))
        pending = new_pending
        if state_path is not None:
            _save_state(state_path, key, done, pending, evaluations)
        if progress is not None:
            progress(len(done), len(pending), evaluations, time.perf_counter() - t0)

    points_ok = all(loc.ok for loc in local if loc.kind == "point")
    cert.status = "certified" if points_ok else "undecided"
    cert.cells = done
    cert.evaluations = evaluations
    cert.seconds = time.perf_counter() - t0
    if state_path is not None:
        try:
            os.unlink(state_path)
        except FileNotFoundError:
            pass
    return cert
