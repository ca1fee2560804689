"""Metamorphic relations of the two-mode model, shared by ``test_metamorphic.py``.

A relation maps a problem P to a transformed problem T(P) and predicts the evaluator's output
at T(P) from its output at P. They are *exact* invariances of the model (not numerical
approximations), so every deviation beyond the evaluator's stated accuracy is a defect:

* ``translate(S)``  — every mean + S: KL values and gradients unchanged, EM means + S;
* ``scale(k)``      — every mean and σ times k: a mean-gradient entry / k, a Hessian entry
  / k per mean index, EM means × k;
* ``reflect``       — x → −x, every mean negated: mean-gradient entries negated;
* ``swap``          — the student's labels (w, μo, μn) → (1 − w, μn, μo): the w-entry negated,
  the mean entries exchanged; EM (w', μo', μn') → (1 − w', μn', μo');
* ``target_swap``   — the target's labels (α, νo, νn) → (1 − α, νn, νo): nothing changes;
* ``replay_swap``   — the training mixture's labels (ρ, m_d, m_r) → (1 − ρ, m_r, m_d).

Problems are dicts with keys ``w, mo, mn, sigma`` and ``alpha, to, tn`` (reverse KL) or
``dm, rho, rm`` (forward KL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import symforget as sf

MEANS = {"rkl": ("mo", "mn", "to", "tn"), "fkl": ("mo", "mn", "dm", "rm"), "fisher": ("mo", "mn")}


@dataclass(frozen=True)
class Evaluator:
    """A public evaluator seen through a problem dict."""

    name: str
    kind: str  # "rkl" | "fkl" | "fisher"
    out: str  # "scalar" | "vec" | "mat" | "em"
    fn: Callable[[dict], np.ndarray]
    family: str  # "grad" | "quadrature": the declared spread limit (symforget.numeric.frame)
    replay: bool = False  # needs replay > 0


def _rkl(f: Callable) -> Callable[[dict], np.ndarray]:
    return lambda p: f(p["w"], p["mo"], p["mn"], alpha=p["alpha"], target_old=p["to"],
                       target_new=p["tn"], sigma=p["sigma"])


def _fkl(f: Callable) -> Callable[[dict], np.ndarray]:
    return lambda p: f(p["w"], p["mo"], p["mn"], data_mean=p["dm"], replay=p["rho"],
                       replay_mean=p["rm"], sigma=p["sigma"])


EVALUATORS = (
    Evaluator("rkl_loss", "rkl", "scalar", _rkl(sf.rkl_loss), "quadrature"),
    Evaluator("rkl_grad", "rkl", "vec", _rkl(sf.rkl_grad), "grad"),
    Evaluator("rkl_hessian", "rkl", "mat", _rkl(sf.rkl_hessian), "quadrature"),
    Evaluator("fkl_loss", "fkl", "scalar", _fkl(sf.fkl_loss), "quadrature"),
    Evaluator("fkl_grad", "fkl", "vec", _fkl(sf.fkl_grad), "grad"),
    Evaluator("fkl_hessian", "fkl", "mat", _fkl(sf.fkl_hessian), "quadrature"),
    Evaluator("em_step", "fkl", "em", _fkl(sf.em_step), "quadrature"),
    Evaluator("fkl_iw_grad", "fkl", "vec", _fkl(sf.fkl_iw_grad), "quadrature", replay=True),
    Evaluator("fisher_matrix", "fisher", "mat",
              lambda p: sf.fisher_matrix(p["w"], p["mo"], p["mn"], sigma=p["sigma"]),
              "quadrature"),
)
BY_NAME = {e.name: e for e in EVALUATORS}

_SWAP = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def _linear(out: str, A: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Apply the cotangent map A (gradients transform as A g, Hessians as A H Aᵀ)."""
    if out == "scalar":
        return value
    if out == "vec":
        return A @ value
    if out == "mat":
        return A @ value @ A.T
    raise ValueError(out)


def transform(ev: Evaluator, p: dict, relation: str, arg: float = 0.0
              ) -> tuple[dict, Callable[[np.ndarray], np.ndarray]]:
    """(T(P), prediction) for one relation; ``prediction(f(P))`` should equal ``f(T(P))``."""
    q = dict(p)
    means = MEANS[ev.kind]
    if relation == "translate":
        for k in means:
            q[k] = p[k] + arg
        if ev.out == "em":
            return q, lambda v: v + np.array([0.0, arg, arg])
        return q, lambda v: v
    if relation == "scale":
        for k in means:
            q[k] = p[k] * arg
        q["sigma"] = p["sigma"] * arg
        if ev.out == "em":
            return q, lambda v: v * np.array([1.0, arg, arg])
        A = np.diag([1.0, 1.0 / arg, 1.0 / arg])
        return q, lambda v: _linear(ev.out, A, v)
    if relation == "reflect":
        for k in means:
            q[k] = -p[k]
        if ev.out == "em":
            return q, lambda v: v * np.array([1.0, -1.0, -1.0])
        A = np.diag([1.0, -1.0, -1.0])
        return q, lambda v: _linear(ev.out, A, v)
    if relation == "swap":
        q["w"], q["mo"], q["mn"] = 1.0 - p["w"], p["mn"], p["mo"]
        if ev.out == "em":
            return q, lambda v: np.array([1.0 - v[0], v[2], v[1]])
        return q, lambda v: _linear(ev.out, _SWAP, v)
    if relation == "target_swap":
        q["alpha"], q["to"], q["tn"] = 1.0 - p["alpha"], p["tn"], p["to"]
        return q, lambda v: v
    if relation == "replay_swap":
        q["rho"], q["dm"], q["rm"] = 1.0 - p["rho"], p["rm"], p["dm"]
        return q, lambda v: v
    raise ValueError(relation)


def relations(ev: Evaluator) -> tuple[str, ...]:
    """The relations that apply to an evaluator."""
    base = ("translate", "scale", "reflect", "swap")
    if ev.kind == "rkl":
        return (*base, "target_swap")
    if ev.kind == "fkl" and not ev.replay:
        return (*base, "replay_swap")
    return base


#: stated accuracy of every evaluator (docs/guide/precision.md, "Accuracy and domains"): an
#: error of at most RTOL·max(|v|, FLOOR·‖v‖∞) + NATURAL·N, where N is the entry's natural scale (see
#: :func:`natural_scale`): relative accuracy for entries of normal size, and for entries that
#: cancel to ~0 an absolute accuracy of a few ulps of the terms that cancel
RTOL, FLOOR, NATURAL = 1e-10, 1e-3, 1e-14


def natural_scale(ev: Evaluator, p: dict) -> np.ndarray:
    r"""The size of the terms an entry is formed from, :math:`(1 + D^2)` times its units.

    D = spread of the means in units of σ. A w-derivative carries :math:`1/\min(w, 1-w)`, a
    mean derivative 1/σ (per index for Hessians); an EM mean the position of the problem,
    |centre| + σ(1 + D).
    """
    ms = [p[k] for k in MEANS[ev.kind]]
    hi, lo = max(ms), min(ms)
    D = (hi - lo) / p["sigma"]
    size = 1.0 + D * D
    u = np.array([1.0 / min(p["w"], 1.0 - p["w"]), 1.0 / p["sigma"], 1.0 / p["sigma"]])
    if ev.out == "scalar":
        return np.array(size)
    if ev.out == "vec":
        return u * size
    if ev.out == "mat":
        return np.outer(u, u) * size
    where = abs(0.5 * hi + 0.5 * lo) + p["sigma"] * (1.0 + D)
    return np.array([1.0, where, where])


def discrepancy(actual: np.ndarray, expected: np.ndarray, natural: np.ndarray,
                rtol: float = RTOL) -> float:
    """max |a − e| / tolerance (see :data:`RTOL`): ≤ 1 means the relation holds."""
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    if a.shape != e.shape:
        raise AssertionError(f"shapes differ: {a.shape} vs {e.shape}")
    scale = np.max(np.abs(e)) if e.size else 0.0
    tol = rtol * np.maximum(np.abs(e), FLOOR * scale) + NATURAL * natural
    gap = np.abs(a - e)
    ratio = np.divide(gap, tol, out=np.where(gap > 0, np.inf, 0.0), where=tol > 0)
    return float(np.max(ratio))


def check(ev: Evaluator, p: dict, relation: str, arg: float = 0.0,
          fn: Callable[[dict], np.ndarray] | None = None) -> float:
    """The discrepancy of one relation at one problem (``fn`` overrides the evaluator).

    Where the predicted value overflows double precision (e.g. a Hessian after scaling σ by
    2^-900, entries ∝ 1/σ²), the evaluator must refuse with ``PrecisionError``: returns 0 then.
    """
    f = ev.fn if fn is None else fn
    q, predict = transform(ev, p, relation, arg)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = predict(np.asarray(f(p), dtype=float))
    if not np.isfinite(expected).all():
        try:
            f(q)
        except sf.PrecisionError:
            return 0.0
        raise AssertionError(f"{ev.name} returned a value where the true one overflows")
    with np.errstate(over="ignore"):
        nat = natural_scale(ev, q)
    return discrepancy(f(q), expected, nat)
