r"""Independent high-precision references for the benchmark boxes (mpmath, hand-written).

Run alone: ``python -m benchmarks.reference [--grad N] [--mis N] [--fisher N] [--general N]``;
the suite calls :func:`load_or_compute`. Nothing here calls symforget: the integrands below are
written out by hand from the definitions (CLAIMS.md), so agreement with symforget is evidence,
not self-consistency.

Definitions (σ = 1, φ the standard normal density, q = w φ(x−μo) + (1−w) φ(x−μn),
p* = α φ(x−t_old) + (1−α) φ(x−t_new), P = φ(x − data_mean)):

* RKL gradient ∇KL(q‖p*) = ∫ ∇q · log(q/p*) dx with ∇q = (φo − φn, w φo (x−μo),
  (1−w) φn (x−μn)) (the ∫∇q term vanishes);
* FKL gradient ∇KL(P‖q) = −∫ P ∇q / q dx;
* misassignment m(w, Δ) = ∫ φ(x) sigmoid(Δ(x − Δ/2) − c) dx, c = log(w/(1−w));
* Fisher information at θ* = (α, 0, Δ): I = ∫ ∇q ∇qᵀ / q dx.

Gradients and the Fisher matrix: a 30-digit composite Gauss–Legendre rule (Newton-refined
nodes) over [min centre − 10, max centre + 10], panels split at the means, at every
responsibility transition x_t and x_t ± {1, 4, 16}/|Δ|, and subdivided so a panel at distance
d from the nearest centre is at most min(2, 6/d) long; error estimate |I_24 − I_16| per vector
(a bound on the 16-node error, so conservative for the returned 24-node value).
Misassignment: :func:`mpmath.quad` (tanh–sinh, ``error=True``) split at 0, x0 and
x0 ± {1, 4, 16, 64}/Δ, integrand divided by its peak because mpmath's tolerance is absolute
(m reaches 1e-200 in the box).

A value is accepted only if (i) its discretisation estimate and (ii) its disagreement with a
re-evaluation at ``dps + 10`` digits are both below ``TOL`` = 1e-15 relative to the vector's
∞-norm; otherwise the point is **refused** (kept in the cache as refused, never used). Values
are cached in ``benchmarks/results/reference_<kind>.json`` keyed by box seeds, precision and a
definition version; a cache with fewer points is extended, never recomputed.

General (unequal-scale) box, kind ``general`` (issue 13): not computed here but by the
project's independent reference ``tests/reference_general.py`` (mpmath tanh–sinh split at every
mean, both real roots of each log-odds quadratic and root ± {1, 4}/|g'|; its own error estimate
max(Σ mpmath estimates, |value(30) − value(45 digits)|), raising when an output's estimate
exceeds 1e-15 of it). A point is refused if that module raises or its estimate exceeds ``TOL``
relative to the vector's ∞-norm. The cache key holds the SHA-256 of that file, so an edited
reference is recomputed, never mixed with old values.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import mpmath

from . import boxes

RESULTS = Path(__file__).resolve().parent / "results"
VERSION = 1
DPS = 30
GRADING = (0.0, 1.0, -1.0, 4.0, -4.0, 16.0, -16.0)
TOL = 1e-15  # refuse a reference whose estimated relative error exceeds this
GENERAL_REFERENCE = Path(__file__).resolve().parent.parent / "tests" / "reference_general.py"


def _transitions(w1: Any, m1: Any, m2: Any) -> list[Any]:
    """Breakpoints around x where w1 φ(x−m1) = (1−w1) φ(x−m2) (responsibility switch)."""
    d = m2 - m1
    if abs(d) < mpmath.mpf("1e-12"):
        return []
    xt = (m1 + m2) / 2 + mpmath.log(w1 / (1 - w1)) / d
    if abs(xt - (m1 + m2) / 2) > 80:
        return []
    return [xt + g / abs(d) for g in GRADING]


def _points(centres: list[Any], extra: list[Any]) -> list[Any]:
    """Breakpoints for :func:`mpmath.quad` over [min − 12, max + 12] of the centres (the
    misassignment integrand is below e^{−70} of its peak outside)."""
    pts = set()
    for c in centres:
        for k in (-8, -4, -1, 0, 1, 4, 8):
            pts.add(c + k)
    pts.update(extra)
    lo, hi = min(centres) - 12, max(centres) + 12
    return [lo, *sorted(p for p in pts if lo < p < hi), hi]


def _quad_vec(fns: list[Any], pts: list[Any]) -> tuple[list[Any], Any]:
    vals, err = [], mpmath.mpf(0)
    for f in fns:
        v, e = mpmath.quad(f, pts, error=True)
        vals.append(v)
        err = max(err, e)
    return vals, err


_GL: dict[tuple[int, int], list[tuple[Any, Any]]] = {}


def _gl(n: int) -> list[tuple[Any, Any]]:
    """n-point Gauss–Legendre nodes/weights on [−1, 1] at the current precision (Newton)."""
    key = (n, mpmath.mp.dps)
    if key not in _GL:
        out = []
        for k in range(1, n + 1):
            x = mpmath.cos(mpmath.pi * (k - mpmath.mpf(1) / 4) / (n + mpmath.mpf(1) / 2))
            for _ in range(100):
                p0, p1 = mpmath.mpf(1), x
                for j in range(2, n + 1):
                    p0, p1 = p1, ((2 * j - 1) * x * p1 - (j - 1) * p0) / j
                dp = n * (x * p1 - p0) / (x * x - 1)
                dx = p1 / dp
                x -= dx
                if abs(dx) < mpmath.mpf(10) ** (-mpmath.mp.dps - 3):
                    break
            out.append((x, 2 / ((1 - x * x) * dp * dp)))
        _GL[key] = out
    return _GL[key]


def _panels(centres: list[Any], extra: list[Any], reach: float = 10.0) -> list[tuple[Any, Any]]:
    """Panels over [min c − reach, max c + reach] split at ``extra`` and subdivided so a panel
    at distance d from the nearest centre has length ≤ min(2, 6/d) (Gaussian resolution)."""
    lo, hi = min(centres) - reach, max(centres) + reach
    bps = sorted({lo, hi, *centres, *(p for p in extra if lo < p < hi)})
    out = []
    for a, b in itertools.pairwise(bps):
        while a < b:
            d = min(min(abs(a - c), abs(b - c)) if not a <= c <= b else 0 for c in centres)
            h = min(2, 6 / d) if d > 0 else 2
            e = min(b, a + h)
            out.append((a, e))
            a = e
    return out


def _gl_vec(f: Any, panels: list[tuple[Any, Any]], k: int,
            estimate: bool = True) -> tuple[list[Any], Any]:
    """Σ over panels of the vector integrand f, with n = 24 nodes; error estimate
    |I_24 − I_16| (a bound on the 16-node error, hence conservative for I_24)."""
    tot = {16: [mpmath.mpf(0)] * k, 24: None}
    for n in ((16, 24) if estimate else (24,)):
        acc = [mpmath.mpf(0)] * k
        for a, b in panels:
            mid, half = (a + b) / 2, (b - a) / 2
            for u, g in _gl(n):
                vals = f(mid + half * u)
                acc = [s + half * g * v for s, v in zip(acc, vals, strict=True)]
        tot[n] = acc
    if not estimate:
        return tot[24], mpmath.mpf(0)
    err = max(abs(x - y) for x, y in zip(tot[16], tot[24], strict=True))
    return tot[24], err


def _gauss(x: Any, m: Any) -> Any:
    return mpmath.exp(-(x - m) ** 2 / 2) / mpmath.sqrt(2 * mpmath.pi)


def _grad_integrals(pt: dict[str, float], estimate: bool = True
                    ) -> tuple[list[Any], Any, list[Any], Any]:
    """(rkl, rkl_err, fkl, fkl_err) at the current mpmath precision."""
    w, mo, mn, al, to, tn, dm = (mpmath.mpf(pt[k]) for k in boxes.GRAD_FIELDS)

    def rkl_f(x: Any) -> tuple[Any, Any, Any]:
        po, pn = _gauss(x, mo), _gauss(x, mn)
        q = w * po + (1 - w) * pn
        p = al * _gauss(x, to) + (1 - al) * _gauss(x, tn)
        L = mpmath.log(q / p)
        return ((po - pn) * L, w * po * (x - mo) * L, (1 - w) * pn * (x - mn) * L)

    def fkl_f(x: Any) -> tuple[Any, Any, Any]:
        po, pn = _gauss(x, mo), _gauss(x, mn)
        s = -_gauss(x, dm) / (w * po + (1 - w) * pn)
        return (s * (po - pn), s * w * po * (x - mo), s * (1 - w) * pn * (x - mn))

    rkl, rkl_err = _gl_vec(rkl_f, _panels([mo, mn], _transitions(w, mo, mn)
                                          + _transitions(al, to, tn)), 3, estimate)
    fkl, fkl_err = _gl_vec(fkl_f, _panels([dm], [*_transitions(w, mo, mn), mo, mn]), 3,
                           estimate)
    return rkl, rkl_err, fkl, fkl_err


def _mis_integral(w: float, d: float, estimate: bool = True) -> tuple[list[Any], Any]:
    wm, dm = mpmath.mpf(w), mpmath.mpf(d)
    c = mpmath.log(wm / (1 - wm))
    if dm == 0:
        return [1 - wm], mpmath.mpf(0)

    def g(x: Any) -> Any:
        z = dm * (x - dm / 2) - c
        return _gauss(x, 0) / (1 + mpmath.exp(-z))

    # mpmath.quad's tolerance is absolute: integrate g/scale with scale ≈ the peak of g
    x0 = dm / 2 + c / dm
    scale = max(g(mpmath.mpf(0)), g(x0) if abs(x0) <= 40 else 0)

    def f(x: Any) -> Any:
        return g(x) / scale

    if abs(x0) > 40:  # the switch is far outside the Gaussian: smooth integrand
        vals, err = _quad_vec([f], _points([mpmath.mpf(0)], []))
    else:
        extra = [x0 + k / dm for k in (*GRADING, 64.0, -64.0)]
        vals, err = _quad_vec([f], _points([mpmath.mpf(0), x0], extra))
    return [vals[0] * scale], err * scale


def _fisher_integral(alpha: float, d: float, estimate: bool = True
                     ) -> tuple[list[Any], Any]:
    w, mo, mn = mpmath.mpf(alpha), mpmath.mpf(0), mpmath.mpf(d)

    def f(x: Any) -> list[Any]:
        po, pn = _gauss(x, mo), _gauss(x, mn)
        q = w * po + (1 - w) * pn
        g = (po - pn, w * po * (x - mo), (1 - w) * pn * (x - mn))
        return [g[i] * g[j] / q for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))]

    return _gl_vec(f, _panels([mo, mn], _transitions(w, mo, mn)), 6, estimate)


def _certified(fn: Any, args: tuple, dps: int = DPS) -> tuple[list[Any], float] | None:
    """Values at ``dps`` digits if the error estimate and the dps+10 re-evaluation agree."""
    with mpmath.workdps(dps):
        res = fn(*args)
    with mpmath.workdps(dps + 10):
        hi = fn(*args, estimate=False)
    pairs = [(res[i], hi[i], res[i + 1], hi[i + 1]) for i in range(0, len(res), 2)]
    out, worst = [], 0.0
    with mpmath.workdps(dps + 10):
        for lo_v, hi_v, lo_e, hi_e in pairs:
            scale = max(abs(v) for v in hi_v)
            if scale == 0:
                return None
            diff = max(abs(a - b) for a, b in zip(lo_v, hi_v, strict=True))
            err = max(diff, lo_e, hi_e) / scale
            worst = max(worst, float(err))
            out.append(hi_v)
    if worst > TOL:
        return None
    return out, worst


# -------------------------------------------------------------------------------- cache

def _cache_path(kind: str) -> Path:
    return RESULTS / f"reference_{kind}.json"


def _key(kind: str) -> dict[str, Any]:
    if kind == "general":
        return {"kind": kind, "version": VERSION, "dps": DPS, "seed": boxes.GENERAL_SEED,
                "reference_sha256": hashlib.sha256(GENERAL_REFERENCE.read_bytes()).hexdigest()}
    return {"kind": kind, "version": VERSION, "dps": DPS, "seeds": boxes.SEEDS}


def general_reference() -> Any:
    """The module ``tests/reference_general.py`` (FileNotFoundError if it is absent)."""
    if not GENERAL_REFERENCE.exists():
        raise FileNotFoundError(f"{GENERAL_REFERENCE} (the independent issue-13 reference)")
    folder = str(GENERAL_REFERENCE.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("reference_general")


def _general(i: int) -> dict[str, Any]:
    """RKL and FKL gradients (w, μo, σo, μn, σn) at point i of the general box."""
    R = general_reference()
    pts = boxes.general_box(i + 1)
    p = {k: float(v[i]) for k, v in pts.items()}
    rec: dict[str, Any] = {"index": i, "inputs": p, "refused": False}
    calls = {
        "rkl": lambda: R.rkl_grad(p["w"], p["mu_old"], p["sigma_old"], p["mu_new"],
                                  p["sigma_new"], p["alpha"], p["target_old"],
                                  p["target_sigma_old"], p["target_new"],
                                  p["target_sigma_new"], dps=DPS),
        "fkl": lambda: R.fkl_grad(p["w"], p["mu_old"], p["sigma_old"], p["mu_new"],
                                  p["sigma_new"], p["data_mean"], p["data_sigma"], p["replay"],
                                  p["replay_mean"], p["replay_sigma"], dps=DPS)}
    worst = 0.0
    for name, call in calls.items():
        try:
            ref = call()
        except ArithmeticError as exc:  # ReferenceAccuracyError: estimate above its bound
            return {**rec, "refused": True, "reason": f"{name}: {exc}"}
        with mpmath.workdps(DPS):
            scale = max(abs(v) for v in ref.value)
            err = float(max(ref.error) / scale) if scale else float("inf")
            worst = max(worst, err)
            rec[name] = [mpmath.nstr(v, DPS) for v in ref.value]
    if worst > TOL:
        return {**rec, "refused": True, "reason": f"estimate {worst:.1e} > {TOL:g}"}
    return {**rec, "rel_error_estimate": worst}


def _load(kind: str) -> dict[str, Any] | None:
    path = _cache_path(kind)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if data.get("key") == _key(kind) else None


def _save(kind: str, data: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = _cache_path(kind).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(_cache_path(kind))


def _compute(kind: str, i: int) -> dict[str, Any]:
    if kind == "general":
        return _general(i)
    if kind in ("grad_A", "grad_B"):
        pts = boxes.grad_box(kind[-1], i + 1)
        pt = {k: float(v[i]) for k, v in pts.items()}
        res = _certified(_grad_integrals, (pt,))
        names = ("rkl", "fkl")
        inputs: Any = pt
    elif kind == "misassignment":
        w, d = boxes.misassignment_box(i + 1)
        inputs = {"w": float(w[i]), "delta": float(d[i])}
        res = _certified(_mis_integral, (inputs["w"], inputs["delta"]))
        names = ("m",)
    elif kind == "fisher":
        a, d = boxes.fisher_box(i + 1)
        inputs = {"alpha": float(a[i]), "delta": float(d[i])}
        res = _certified(_fisher_integral, (inputs["alpha"], inputs["delta"]))
        names = ("fisher6",)
    else:
        raise ValueError(kind)
    if res is None:
        return {"index": i, "inputs": inputs, "refused": True}
    vals, err = res
    with mpmath.workdps(DPS):
        return {"index": i, "inputs": inputs, "refused": False, "rel_error_estimate": err,
                **{n: [mpmath.nstr(v, DPS) for v in vs] for n, vs in zip(names, vals,
                                                                       strict=True)}}


def load_or_compute(kind: str, n: int, log: Any = None) -> dict[str, Any]:
    """The first ``n`` reference records of ``kind`` (computing and caching missing ones)."""
    data = _load(kind) or {"key": _key(kind), "records": [], "seconds": 0.0}
    recs = data["records"]
    if len(recs) < n:
        t0 = time.perf_counter()
        for i in range(len(recs), n):
            recs.append(_compute(kind, i))
            if (i + 1) % 25 == 0 or i + 1 == n:  # save as we go: an interrupted run keeps them
                data["seconds"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                _save(kind, data)
                if log:
                    log(f"reference {kind}: {i + 1}/{n}")
    return {"key": data["key"], "records": recs[:n], "seconds": data["seconds"]}


KINDS = ("grad_A", "grad_B", "misassignment", "fisher", "general")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Compute/cache the mpmath benchmark references.")
    ap.add_argument("--grad", type=int, default=200)
    ap.add_argument("--mis", type=int, default=300)
    ap.add_argument("--fisher", type=int, default=100)
    ap.add_argument("--general", type=int, default=200,
                    help="points of the issue-13 general box (~4 s each)")
    args = ap.parse_args(argv)
    sizes = {"grad_A": args.grad, "grad_B": args.grad, "misassignment": args.mis,
             "fisher": args.fisher, "general": args.general}
    for kind, n in sizes.items():
        t0 = time.perf_counter()
        data = load_or_compute(kind, n, log=lambda s: print(s, file=sys.stderr))
        refused = sum(r["refused"] for r in data["records"])
        print(f"{kind}: {n} points ({refused} refused), {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
