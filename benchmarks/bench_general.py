r"""Benchmark group ``general``: the unequal-scale two-component gradients (issue 13).

``python -m benchmarks --only general [--quick] [--rounds N]``

Box (:func:`benchmarks.boxes.general_box`, seeded, prefix-stable): every scale log-uniform on
[0.2, 5], every mean uniform on [−6, 6], w, α and the replay weight ρ uniform on [0.02, 0.98].
Gradients are with respect to θ = (w, μo, σo, μn, σn):

* RKL  ∇KL(q‖p*) = ∫ ∇q · log(q/p*) dx,  q = w N(μo, σo²) + (1−w) N(μn, σn²),
  p* = α N(νo, τo²) + (1−α) N(νn, τn²);
* FKL  ∇KL(P‖q) = −∫ P ∇q / q dx,  P = (1−ρ) N(m_d, s_d²) + ρ N(m_r, s_r²);

with ∂q/∂w = φo − φn, ∂q/∂μ_c = w_c φ_c (x−μ_c)/σ_c², ∂q/∂σ_c = w_c φ_c ((x−μ_c)²/σ_c² − 1)/σ_c.

Contenders, timed interleaved in one process (:func:`benchmarks.harness.run_interleaved`):

* ``symforget.rkl_grad`` / ``symforget.fkl_grad`` with per-component scales and
  ``with_scales=True``, one batched call (µs/point = call time / points);
* :func:`scipy_quad` — ``scipy.integrate.quad`` per point and per gradient entry (5 integrals),
  the integrand written out in ``math`` (log-sum-exp log-densities, no density ratios), with
  ``points=`` at every component mean and at the real roots of the student's (and, for RKL, the
  target's) log-odds quadratic; tolerances calibrated in the run to the loosest of
  :data:`QUAD_TOLERANCES` reaching ≤ 1e-10 on the reference sample;
* the equal-scale fast path: ``symforget.rkl_grad`` / ``fkl_grad`` *without* scales (σ = 1,
  replay 0) on the equal-scale version of the same points, and the same call of the symforget
  *before* issue 13 (the parent of the commit that added ``symforget/general.py``, extracted with
  ``git archive`` into a temporary directory and imported as ``symforget_before``): the
  same-run ratio shows whether the fast path got slower. These two are interleaved as a pair,
  apart from the general path and scipy (see :func:`group_general`);
* full mode only: the first scaled call in a fresh process (it compiles the SymPy specs).

Accuracy: worst componentwise relative error (floor 1e-3·‖ref‖∞ per point) against the
independent 30-digit reference ``tests/reference_general.py``, cached by
:func:`benchmarks.reference.load_or_compute` (kind ``general``; first run ≈ 4 s per point).
The equal-scale contenders are checked against each other (they must agree to rounding).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from scipy import integrate

from . import boxes, reference
from .harness import Contender, log, ratio, run_interleaved, worst_rel

Box = dict[str, np.ndarray]
ROOT = Path(__file__).resolve().parent.parent

T = 12.0  # integrate each density over ±12 of its scales: tail mass e^{-72} ≈ 5e-32
#: (epsrel, epsabs) tried in this order (loosest first); the first reaching ≤ 1e-10 on every
#: reference point is timed
QUAD_TOLERANCES = ((1e-8, 1e-11), (1e-9, 1e-12), (1e-10, 1e-13), (1e-11, 1e-14),
                   (1e-12, 1e-15), (1e-13, 1e-300))
QUAD_LIMIT = 200
#: calls of the equal-scale fast path per timing (one batch takes only a few ms: a timer tick of
#: the scheduler would decide the "before/now" ratio)
FAST_CALLS = 10
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# ---------------------------------------------------------------------- symforget calls --

def sf_general(sf: Any, kind: str, b: Box) -> np.ndarray:
    """symforget's general path, (n, 5) ordered (w, μo, σo, μn, σn)."""
    if kind == "rkl":
        return sf.rkl_grad(b["w"], b["mu_old"], b["mu_new"], alpha=b["alpha"],
                           target_old=b["target_old"], target_new=b["target_new"],
                           sigma_old=b["sigma_old"], sigma_new=b["sigma_new"],
                           target_sigma_old=b["target_sigma_old"],
                           target_sigma_new=b["target_sigma_new"], with_scales=True)
    return sf.fkl_grad(b["w"], b["mu_old"], b["mu_new"], data_mean=b["data_mean"],
                       data_sigma=b["data_sigma"], replay=b["replay"],
                       replay_mean=b["replay_mean"], replay_sigma=b["replay_sigma"],
                       sigma_old=b["sigma_old"], sigma_new=b["sigma_new"], with_scales=True)


def sf_equal(sf: Any, kind: str, b: Box) -> np.ndarray:
    """The equal-scale fast path (no scale arguments: σ = 1; FKL without replay), (n, 3)."""
    if kind == "rkl":
        return sf.rkl_grad(b["w"], b["mu_old"], b["mu_new"], alpha=b["alpha"],
                           target_old=b["target_old"], target_new=b["target_new"])
    return sf.fkl_grad(b["w"], b["mu_old"], b["mu_new"], data_mean=b["data_mean"])


# ------------------------------------------------------------------ scipy.quad baseline --

def _roots(w1: float, m1: float, s1: float, w2: float, m2: float, s2: float) -> list[float]:
    """Real roots of the log-odds g(x) = log(w1 φ(x; m1, s1)) − log(w2 φ(x; m2, s2))
    = A x² + B x + C (A = k2 − k1, B = 2(k1 m1 − k2 m2), k = 1/(2s²)), stable formula."""
    k1, k2 = 0.5 / (s1 * s1), 0.5 / (s2 * s2)
    a = k2 - k1
    b = 2.0 * (k1 * m1 - k2 * m2)
    c = math.log(w1 / s1) - math.log(w2 / s2) - k1 * m1 * m1 + k2 * m2 * m2
    if a == 0.0:
        return [] if b == 0.0 else [-c / b]
    disc = b * b - 4.0 * a * c
    if disc < 0.0:
        return []
    q = -0.5 * (b + math.copysign(math.sqrt(disc), b))
    return [q / a] if q == 0.0 else [q / a, c / q]


def _lse(a: float, b: float) -> float:
    return a + math.log1p(math.exp(b - a)) if a >= b else b + math.log1p(math.exp(a - b))


def _quad(f: Any, lo: float, hi: float, pts: list[float], tol: tuple[float, float]) -> float:
    inner = sorted({p for p in pts if lo < p < hi})
    return integrate.quad(f, lo, hi, points=inner or None, epsrel=tol[0], epsabs=tol[1],
                          limit=QUAD_LIMIT)[0]


def _quad_rkl(p: dict[str, float], tol: tuple[float, float]) -> list[float]:
    w, mo, so, mn, sn = p["w"], p["mu_old"], p["sigma_old"], p["mu_new"], p["sigma_new"]
    al, no, to, nn, tn = (p["alpha"], p["target_old"], p["target_sigma_old"], p["target_new"],
                          p["target_sigma_new"])
    ko, kn, kto, ktn = (0.5 / (s * s) for s in (so, sn, to, tn))
    co = math.log(w / so) - _HALF_LOG_2PI  # log(w φo) = co − ko (x − μo)²
    cn = math.log((1 - w) / sn) - _HALF_LOG_2PI
    cto = math.log(al / to) - _HALF_LOG_2PI
    ctn = math.log((1 - al) / tn) - _HALF_LOG_2PI
    no_, nn_ = 1.0 / (so * math.sqrt(2 * math.pi)), 1.0 / (sn * math.sqrt(2 * math.pi))

    def L(x: float) -> float:
        return (_lse(co - ko * (x - mo) ** 2, cn - kn * (x - mn) ** 2)
                - _lse(cto - kto * (x - no) ** 2, ctn - ktn * (x - nn) ** 2))

    def f_w(x: float) -> float:
        return (no_ * math.exp(-ko * (x - mo) ** 2) - nn_ * math.exp(-kn * (x - mn) ** 2)) * L(x)

    def f_mo(x: float) -> float:
        z = (x - mo) / so
        return w * no_ * math.exp(-0.5 * z * z) * z / so * L(x)

    def f_so(x: float) -> float:
        z = (x - mo) / so
        return w * no_ * math.exp(-0.5 * z * z) * (z * z - 1.0) / so * L(x)

    def f_mn(x: float) -> float:
        z = (x - mn) / sn
        return (1 - w) * nn_ * math.exp(-0.5 * z * z) * z / sn * L(x)

    def f_sn(x: float) -> float:
        z = (x - mn) / sn
        return (1 - w) * nn_ * math.exp(-0.5 * z * z) * (z * z - 1.0) / sn * L(x)

    pts = [mo, mn, no, nn, *_roots(w, mo, so, 1 - w, mn, sn), *_roots(al, no, to, 1 - al, nn, tn)]
    ro, rn = (mo - T * so, mo + T * so), (mn - T * sn, mn + T * sn)
    rw = (min(ro[0], rn[0]), max(ro[1], rn[1]))
    return [_quad(f, *rng, pts, tol) for f, rng in
            ((f_w, rw), (f_mo, ro), (f_so, ro), (f_mn, rn), (f_sn, rn))]


def _quad_fkl(p: dict[str, float], tol: tuple[float, float]) -> list[float]:
    w, mo, so, mn, sn = p["w"], p["mu_old"], p["sigma_old"], p["mu_new"], p["sigma_new"]
    md, sd, rho, mr, sr = (p["data_mean"], p["data_sigma"], p["replay"], p["replay_mean"],
                           p["replay_sigma"])
    ko, kn, kd, kr = (0.5 / (s * s) for s in (so, sn, sd, sr))
    c = math.log(w / so) - math.log((1 - w) / sn)  # g(x) = c − ko (x−μo)² + kn (x−μn)²
    nd = (1 - rho) / (sd * math.sqrt(2 * math.pi))
    nr = rho / (sr * math.sqrt(2 * math.pi))

    def P(x: float) -> float:
        return nd * math.exp(-kd * (x - md) ** 2) + nr * math.exp(-kr * (x - mr) ** 2)

    def r_o(x: float) -> float:  # responsibility of the old component, overflow-free
        g = c - ko * (x - mo) ** 2 + kn * (x - mn) ** 2
        if g >= 0:
            return 1.0 / (1.0 + math.exp(-g))
        e = math.exp(g)
        return e / (1.0 + e)

    def f_w(x: float) -> float:
        r = r_o(x)
        return -P(x) * (r / w - (1.0 - r) / (1 - w))

    def f_mo(x: float) -> float:
        return -P(x) * r_o(x) * (x - mo) / (so * so)

    def f_so(x: float) -> float:
        z = (x - mo) / so
        return -P(x) * r_o(x) * (z * z - 1.0) / so

    def f_mn(x: float) -> float:
        return -P(x) * (1.0 - r_o(x)) * (x - mn) / (sn * sn)

    def f_sn(x: float) -> float:
        z = (x - mn) / sn
        return -P(x) * (1.0 - r_o(x)) * (z * z - 1.0) / sn

    pts = [md, mr, mo, mn, *_roots(w, mo, so, 1 - w, mn, sn)]
    rng = (min(md - T * sd, mr - T * sr), max(md + T * sd, mr + T * sr))
    return [_quad(f, *rng, pts, tol) for f in (f_w, f_mo, f_so, f_mn, f_sn)]


def scipy_quad(b: Box, kind: str, tol: tuple[float, float]) -> np.ndarray:
    """``scipy.integrate.quad`` per point and gradient entry, (n, 5); tol = (epsrel, epsabs)."""
    fn = _quad_rkl if kind == "rkl" else _quad_fkl
    n = len(b["w"])
    out = np.empty((n, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for i in range(n):
            out[i] = fn({k: float(v[i]) for k, v in b.items()}, tol)
    return out


def calibrate_quad(kind: str, pts: Box, ref: np.ndarray, target: float = 1e-10
                   ) -> tuple[tuple[float, float], float, list[str]]:
    """The loosest of :data:`QUAD_TOLERANCES` whose worst error on the reference sample is
    ≤ target (else the tightest); also the trail of what was tried."""
    trail = []
    for tol in QUAD_TOLERANCES:
        err = worst_rel(scipy_quad(pts, kind, tol), ref)
        trail.append(f"epsrel {tol[0]:g}/epsabs {tol[1]:g}: {err:.2g}")
        if err <= target:
            return tol, err, trail
    return QUAD_TOLERANCES[-1], err, trail


# ------------------------------------------------------------- symforget before issue 13 --

BEFORE_NAME = "symforget_before"


@contextlib.contextmanager
def symforget_before(rev: str | None = None, name: str = BEFORE_NAME
                     ) -> Iterator[tuple[Any, str]]:
    """The symforget package as it was *before* the general path: the parent of the commit
    that added ``symforget/general.py`` (or the commit ``rev``), extracted by ``git archive``
    (the checkout is not touched) into a temporary directory and imported as ``name`` (its
    imports are all relative). Yields (module or None, description or reason)."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        yield None, "no git checkout"
        return

    def run(*args: str) -> bytes:
        return subprocess.run([git, "-C", str(ROOT), *args], check=True,
                              capture_output=True).stdout

    try:
        if rev is None:
            added = run("log", "-1", "--format=%H", "--diff-filter=A", "--",
                        "symforget/general.py").decode().strip()
            if not added:
                yield None, "symforget/general.py is not committed"
                return
            parent = run("rev-parse", "--short", f"{added}^").decode().strip()
            desc = f"symforget at {parent} (parent of {added[:7]}, which added general.py)"
        else:
            parent = run("rev-parse", "--short", rev).decode().strip()
            desc = f"symforget at {parent}"
        archive = run("archive", "--format=tar", parent, "symforget")
    except (subprocess.CalledProcessError, OSError) as exc:
        yield None, f"git failed: {exc}"
        return
    with tempfile.TemporaryDirectory(prefix="bench_before_") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        (Path(tmp) / "symforget").rename(Path(tmp) / name)
        sys.path.insert(0, tmp)
        try:
            yield importlib.import_module(name), desc
        finally:
            sys.path.remove(tmp)
            for mod in [m for m in sys.modules if m.split(".")[0] == name]:
                del sys.modules[mod]


# ------------------------------------------------------------------------------ the group --

def _refs(rep: Any, n: int) -> tuple[Box, dict[str, np.ndarray]]:
    data = reference.load_or_compute("general", n, log=log)
    rep.reference("general", data)
    ok = [r for r in data["records"] if not r["refused"]]
    if len(ok) < len(data["records"]):
        reasons = "; ".join(r.get("reason", "?") for r in data["records"] if r["refused"])
        rep.notes.append(f"general: {len(data['records']) - len(ok)} reference points refused "
                         f"({reasons}); not used.")
    pts = {k: np.array([r["inputs"][k] for r in ok]) for k in boxes.GENERAL_FIELDS}
    refs = {k: np.array([[float(x) for x in r[k]] for r in ok]) for k in ("rkl", "fkl")}
    return pts, refs


def group_general(rep: Any, a: argparse.Namespace) -> None:
    """The ``general`` group: see the module docstring."""
    import symforget as sf

    n_speed = 500 if a.quick else 2000
    n_quad = 10 if a.quick else 50
    n_ref = 30 if a.quick else 200
    ref_pts, refs = _refs(rep, n_ref)
    nref = f"{len(ref_pts['w'])} pts"
    pts = boxes.general_box(n_speed)
    sub = {k: v[:n_quad] for k, v in pts.items()}
    unit = {**ref_pts, **{k: np.ones_like(ref_pts["w"]) for k in (
        "sigma_old", "sigma_new", "target_sigma_old", "target_sigma_new", "data_sigma")},
        "replay": np.zeros_like(ref_pts["w"])}  # equal-scale version of the reference points
    with symforget_before() as (old, old_desc):
        if old is None:
            rep.notes.append(f"general: the pre-issue-13 symforget is unavailable ({old_desc}); "
                             "the equal-scale fast path is timed without its 'before' row.")
        else:
            rep.notes.append(f"general: 'before' = {old_desc}, extracted with git archive and "
                             f"imported as {BEFORE_NAME} in this process.")
        for kind in ("rkl", "fkl"):
            label = f"general {kind}_grad"
            log(f"{label}: calibrating the scipy.quad tolerances on {nref}")
            tol, e_quad, trail = calibrate_quad(kind, ref_pts, refs[kind])
            rep.notes.append(f"{label}: scipy.quad tolerance = the loosest reaching ≤ 1e-10 on "
                             f"the reference sample — tried {'; '.join(trail)}.")
            cs = {  # timed in two interleaved runs, see below
                "sf": Contender(f"symforget.{kind}_grad, per-component scales (batch {n_speed})",
                                lambda k=kind: sf_general(sf, k, pts), n_speed),
                "quad": Contender(f"scipy.integrate.quad loop, 5 integrals/point, epsrel "
                                  f"{tol[0]:g}, epsabs {tol[1]:g} ({n_quad} points)",
                                  lambda k=kind, t=tol: scipy_quad(sub, k, t), n_quad),
                "eq": Contender(f"equal-scale fast path symforget.{kind}_grad, no scales "
                                f"(batch {n_speed}, {FAST_CALLS} calls per timing)",
                                lambda k=kind: [sf_equal(sf, k, pts) for _ in range(FAST_CALLS)],
                                FAST_CALLS * n_speed, note="σ = 1, same w, means, α"
                                if kind == "rkl" else "σ = 1, no replay, same w, means, data mean"),
            }
            if old is not None:
                cs["before"] = Contender(
                    f"same, symforget before issue 13 (batch {n_speed}, {FAST_CALLS} calls per "
                    "timing)", lambda k=kind: [sf_equal(old, k, pts) for _ in range(FAST_CALLS)],
                    FAST_CALLS * n_speed, note=old_desc.split(" (")[0])
            log(f"{label}: timing ({n_speed} points/call, scipy.quad {n_quad})")
            run_interleaved([cs["sf"], cs["quad"]], a.rounds, label)
            # the fast path apart from the ~40 MB temporaries of the general path: a small call
            # right after a big one pays page faults for the trimmed heap, and a call after one
            # of its own size reuses the freed blocks — mixed in one rotation that state, not the
            # code, decided "before/now" (0.65× in one run, 1.0× timed as a pair)
            run_interleaved([c for k, c in cs.items() if k in ("eq", "before")], a.rounds,
                            f"{label} (equal-scale fast path)")
            e_sf = worst_rel(sf_general(sf, kind, ref_pts), refs[kind])
            eq_now = sf_equal(sf, kind, ref_pts)
            e_eq = worst_rel(eq_now, sf_general(sf, kind, unit)[:, [0, 1, 3]])
            sp_quad = ratio(cs["quad"], cs["sf"])
            rep.row(label, cs["sf"], speedup=1.0, error=e_sf, error_note=nref)
            rep.row(label, cs["quad"], speedup=sp_quad, error=e_quad, error_note=nref)
            rep.row(label, cs["eq"], error=e_eq,
                    error_note=f"vs the general path at σ = 1, {nref}")
            rep.target(f"general {kind}_grad worst rel. error (issue-13 box)", "≤ 1e-10", e_sf,
                       "{:.2g}", e_sf <= 1e-10)
            rep.target(f"general {kind}_grad speed-up vs scipy.quad loop at ≤ 1e-10", "≥ 50×",
                       sp_quad, "{:.1f}×", sp_quad >= 50 and e_quad <= 1e-10)
            rep.target(f"scipy.quad loop (baseline) worst rel. error, general {kind}_grad",
                       "≤ 1e-10 (honest bar)", e_quad, "{:.2g}", e_quad <= 1e-10)
            if old is not None:
                e_old = worst_rel(sf_equal(old, kind, ref_pts), eq_now)
                sp_old = ratio(cs["before"], cs["eq"])  # > 1: faster now than before
                rep.row(label, cs["before"], speedup=sp_old, error=e_old,
                        error_note=f"vs the fast path now, {nref}")
                rep.target(f"equal-scale {kind}_grad fast path: speed now vs before issue 13 "
                           "(before/now, same run)", "≥ 0.9× (not slower; 10 % noise margin)",
                           sp_old, "{:.2f}×", sp_old >= 0.9)
            if not a.quick:
                rep.row(label, first_call(kind))


_FIRST_CALL = """
import time
t0 = time.perf_counter()
import symforget as sf
from benchmarks import boxes, bench_general as G
b = {{k: v[:1] for k, v in boxes.general_box(1).items()}}
t1 = time.perf_counter()
G.sf_general(sf, {kind!r}, b)
print(time.perf_counter() - t1)
"""


def first_call(kind: str) -> Contender:
    """The first scaled call in a fresh process (one point): it compiles the SymPy specs."""
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL.format(kind=kind)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    c = Contender("first call in a fresh process (1 point, after import)", lambda: None, 1,
                  unit="s", note="compiles the SymPy specs (lambdify) once per process")
    c.times.append(float(out.split()[-1]))
    return c


def compare_with_grad(rep: Any) -> None:
    """If the ``grad`` group ran in the same process: a note setting the equal-scale fast path
    on the general box's points beside the grad group's box-A symforget rows."""
    def median_of(group: str, prefix: str) -> float | None:
        for r in rep.rows:
            if r["group"] == group and r["contender"].startswith(prefix):
                return r["median"]
        return None

    for kind in ("rkl", "fkl"):
        eq = median_of(f"general {kind}_grad", "equal-scale fast path")
        box_a = median_of(f"{kind}_grad box A", f"symforget.{kind}_grad (batch")
        if eq is not None and box_a is not None:
            rep.notes.append(f"equal-scale {kind}_grad in this run: {eq * 1e6:.2f} µs/point on the "
                             f"general box's means (σ = 1), {box_a * 1e6:.2f} µs/point on grad "
                             "box A (different rotations and points; the same-run before/now "
                             "ratio is the comparison to quote).")
