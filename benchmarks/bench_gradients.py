r"""Quick timing + accuracy check of the reduced gradients (issue 8), self-contained.

``python -m benchmarks.bench_gradients [--nref 200] [--nbatch 10000] [--rounds 5]``

Compares, in one process, interleaved over several rounds (medians of *CPU* time per point,
``time.process_time``: on a shared, oversubscribed machine wall time mostly measures the
other jobs):

* ``fast``      — :mod:`symforget.numeric.fastgrad` through the public API (``model.rkl_grad``,
  ``model.fkl_grad``), batched (``--nbatch`` points) and single-point calls;
* ``quadrature``— the previous path: :func:`symforget.numeric.quadrature.expect` on the unreduced
  ``mixture`` specs (validation included for single calls);
* ``gl``        — an accurate composite Gauss–Legendre baseline written here (DESIGN.md
  "Numerics": split at the component mean, at each responsibility transition and ±1/Δ, ±4/Δ
  around it, plus ±2.5, ±5; 14 panels × 15 nodes ≈ 210 nodes per component; fused
  hand-written integrand);
* ``scipy``     — ``scipy.integrate.quad`` per point and integral (epsrel 1e-12, same splits).

Accuracy: worst componentwise relative error (floor 1e-3·‖ref‖∞ per point) against 30-digit
mpmath integrals of the *definitions* (∇KL(q‖p*) = ∫∇q log(q/p*), ∇KL(P‖q) = −∫P∇q/q),
written out here independently of symforget, on the first ``--nref`` points of each box. A
reference is accepted only if mpmath's error estimate is below 1e-20·‖ref‖∞; references are
cached in ``benchmarks/results/bench_gradients_reference.json``.

Boxes (σ = 1): **A** — μo, μn, ν_o, ν_n, m_d uniform on [−6, 6], w, α on [0.05, 0.95];
**B** — separated: centre U[−3, 3], Δ = ±U[4, 12], μo = c − Δ/2, μn = c + Δ/2, targets within
±1 of the student means, data within ±1.5 of μn.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import warnings
from pathlib import Path

import mpmath
import numpy as np
from scipy import integrate

CACHE = Path(__file__).resolve().parent / "results" / "bench_gradients_reference.json"
SEEDS = {"A": 801, "B": 802}
SQ2PI = np.sqrt(2 * np.pi)


# ------------------------------------------------------------------ boxes


def box(name: str, n: int) -> np.ndarray:
    """(n, 7) rows w, μo, μn, α, ν_o, ν_n, m_d (prefix-stable in n)."""
    u = np.random.default_rng(SEEDS[name]).uniform(size=(n, 8))
    if name == "A":
        mo, mn, to, tn, md = (-6 + 12 * u[:, j] for j in (1, 2, 4, 5, 6))
    else:
        c = -3 + 6 * u[:, 1]
        d = (4 + 8 * u[:, 2]) * np.where(u[:, 7] < 0.5, -1, 1)
        mo, mn = c - d / 2, c + d / 2
        to, tn, md = mo - 1 + 2 * u[:, 4], mn - 1 + 2 * u[:, 5], mn - 1.5 + 3 * u[:, 6]
    return np.stack([0.05 + 0.9 * u[:, 0], mo, mn, 0.05 + 0.9 * u[:, 3], to, tn, md], axis=1)


# ------------------------------------------------------------------ mpmath reference


def _log_mix(x, wt, m1, m2):
    a = mpmath.log(wt) - (x - m1) ** 2 / 2
    b = mpmath.log(1 - wt) - (x - m2) ** 2 / 2
    hi = max(a, b)
    return hi + mpmath.log(mpmath.exp(a - hi) + mpmath.exp(b - hi))


def _pts(means, pairs):
    pts = set(means)
    for wt, m1, m2 in pairs:
        if m1 != m2:
            d = m1 - m2
            x_t = (m1 + m2) / 2 - mpmath.log(wt / (1 - wt)) / d
            if abs(x_t) < 200:
                pts |= {x_t + g / abs(d) for g in (0, 1, -1, 4, -4)}
    return [mpmath.ninf, *sorted(pts), mpmath.inf]


def _quad_vec(vec, pts):
    """(value, error) of ∫vec(x)_i for each i, the vector memoised per node (mpmath's nodes
    are the same for every component on the same intervals)."""
    memo: dict = {}

    def comp(i):
        def f(x):
            v = memo.get(x)
            if v is None:
                v = memo[x] = vec(x)
            return v[i]
        return f

    return [mpmath.quad(comp(i), pts, error=True) for i in range(3)]


def mp_point(row) -> tuple[list[float], list[float], float]:
    """(rkl, fkl, worst relative error estimate) at 30 digits."""
    with mpmath.workdps(30):
        w, mo, mn, al, to, tn, md = (mpmath.mpf(float(v)) for v in row)
        c = 1 / mpmath.sqrt(2 * mpmath.pi)
        po = lambda x: c * mpmath.exp(-(x - mo) ** 2 / 2)  # noqa: E731
        pn = lambda x: c * mpmath.exp(-(x - mn) ** 2 / 2)  # noqa: E731
        h = lambda x: _log_mix(x, w, mo, mn) - _log_mix(x, al, to, tn)  # noqa: E731
        pts = _pts([mo, mn], [(w, mo, mn), (al, to, tn)])

        def fr(x):
            hx, a_, b_ = h(x), po(x), pn(x)
            return (a_ - b_) * hx, w * a_ * (x - mo) * hx, (1 - w) * b_ * (x - mn) * hx

        def r_o(x):
            return 1 / (1 + mpmath.exp(-(mpmath.log(w / (1 - w)) - (x - mo) ** 2 / 2
                                         + (x - mn) ** 2 / 2)))

        pd = lambda x: c * mpmath.exp(-(x - md) ** 2 / 2)  # noqa: E731

        def ff(x):
            d, r = pd(x), r_o(x)
            return -d * (r / w - (1 - r) / (1 - w)), -d * r * (x - mo), -d * (1 - r) * (x - mn)

        out, worst = [], mpmath.mpf(0)
        for fs, p in ((fr, pts), (ff, _pts([md], [(w, mo, mn)]))):
            vals = _quad_vec(fs, p)
            scale = max(abs(v) for v, _ in vals)
            worst = max(worst, max(e for _, e in vals) / scale)
            out.append([float(v) for v, _ in vals])
        return out[0], out[1], float(worst)


def references(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    cache = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    key = f"{name}:{SEEDS[name]}:v1"
    have = cache.get(key, [])
    rows = box(name, n)
    for i in range(len(have), n):
        rkl, fkl, err = mp_point(rows[i])
        if err > 1e-20:
            raise RuntimeError(f"reference refused at box {name} point {i}: error {err:.1e}")
        have.append([rkl, fkl])
        if (i + 1) % 25 == 0 or i == n - 1:
            cache[key] = have
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            CACHE.write_text(json.dumps(cache))
    arr = np.array(have[:n])
    return arr[:, 0], arr[:, 1]


# ------------------------------------------------------------------ baselines


_GL_U, _GL_W = np.polynomial.legendre.leggauss(15)


def _gl_nodes(kinks_t, kinks_w):
    """Nodes/weights (N, K) in t for breakpoints −L, 0, ±2.5, ±5, L and t_k + {0, ±1, ±4}w_k."""
    n = kinks_t[0].shape[0]
    L = np.full(n, 10.0)
    pieces = [np.broadcast_to(np.array([-2.5, 2.5, -5.0, 5.0, 0.0]), (n, 5)), -L[:, None],
              L[:, None]]
    for t_k, w_k in zip(kinks_t, kinks_w, strict=True):
        pieces.append(t_k[:, None] + w_k[:, None] * np.array([0.0, 1.0, -1.0, 4.0, -4.0]))
    bp = np.clip(np.concatenate(pieces, axis=1), -L[:, None], L[:, None])
    bp.sort(axis=1)
    lo, hi = bp[:, :-1], bp[:, 1:]
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    t = (mid[:, :, None] + half[:, :, None] * _GL_U).reshape(n, -1)
    wt = (half[:, :, None] * _GL_W).reshape(n, -1) * np.exp(-0.5 * t * t) / SQ2PI
    return t, wt


def _kink(wt, m1, m2, m):
    """Transition of log-odds z = logit(wt) + (m1 − m2)(x − (m1+m2)/2) in t = x − m."""
    d = m1 - m2
    safe = np.where(d == 0, 1.0, d)
    t_k = np.where(d == 0, 0.0, (m1 + m2) / 2 - np.log(wt / (1 - wt)) / safe - m)
    return t_k, np.where(d == 0, 0.0, 1 / np.abs(safe))


def gl_rkl(P: np.ndarray) -> np.ndarray:
    w, mo, mn, al, to, tn, _ = P.T
    out = np.zeros((len(w), 3))
    lw, l1w, la, l1a = np.log(w), np.log1p(-w), np.log(al), np.log1p(-al)
    for c, m in ((0, mo), (1, mn)):
        ks = [_kink(w, mo, mn, m), _kink(al, to, tn, m)]
        t, wt = _gl_nodes([k[0] for k in ks], [k[1] for k in ks])
        x = m[:, None] + t
        lq = np.logaddexp(lw[:, None] - 0.5 * (x - mo[:, None]) ** 2,
                          l1w[:, None] - 0.5 * (x - mn[:, None]) ** 2)
        lp = np.logaddexp(la[:, None] - 0.5 * (x - to[:, None]) ** 2,
                          l1a[:, None] - 0.5 * (x - tn[:, None]) ** 2)
        h = (lq - lp) * wt
        eh, eth = h.sum(axis=1), (h * t).sum(axis=1)
        if c == 0:
            out[:, 0] += eh
            out[:, 1] = w * eth
        else:
            out[:, 0] -= eh
            out[:, 2] = (1 - w) * eth
    return out


def gl_fkl(P: np.ndarray) -> np.ndarray:
    w, mo, mn, _, _, _, md = P.T
    t, wt = _gl_nodes(*[[v] for v in _kink(w, mo, mn, md)])
    x = md[:, None] + t
    z = np.log(w / (1 - w))[:, None] + (mo - mn)[:, None] * (x - ((mo + mn) / 2)[:, None])
    ro = 1 / (1 + np.exp(-z))
    rn = 1 / (1 + np.exp(z))
    e_ro, e_rn = (ro * wt).sum(1), (rn * wt).sum(1)
    return -np.stack([e_ro / w - e_rn / (1 - w), (ro * (x - mo[:, None]) * wt).sum(1),
                      (rn * (x - mn[:, None]) * wt).sum(1)], axis=1)


def scipy_rkl(row) -> list[float]:
    warnings.simplefilter("ignore", integrate.IntegrationWarning)
    w, mo, mn, al, to, tn, _ = (float(v) for v in row)

    def lmix(x, a, m1, m2):
        return np.logaddexp(np.log(a) - (x - m1) ** 2 / 2, np.log1p(-a) - (x - m2) ** 2 / 2)

    def h(x):
        return lmix(x, w, mo, mn) - lmix(x, al, to, tn)

    out = []
    fs = [lambda x: (np.exp(-(x - mo) ** 2 / 2) - np.exp(-(x - mn) ** 2 / 2)) / SQ2PI * h(x),
          lambda x: w * np.exp(-(x - mo) ** 2 / 2) / SQ2PI * (x - mo) * h(x),
          lambda x: (1 - w) * np.exp(-(x - mn) ** 2 / 2) / SQ2PI * (x - mn) * h(x)]
    pts = sorted({mo, mn, to, tn})
    lo, hi = min(pts) - 14, max(pts) + 14
    for f in fs:
        out.append(integrate.quad(f, lo, hi, points=pts, epsabs=0, epsrel=1e-12, limit=200)[0])
    return out


def scipy_fkl(row) -> list[float]:
    warnings.simplefilter("ignore", integrate.IntegrationWarning)
    w, mo, mn, _, _, _, md = (float(v) for v in row)

    def ro(x):
        return 1 / (1 + np.exp(-(np.log(w / (1 - w)) + (mo - mn) * (x - (mo + mn) / 2))))

    def pd(x):
        return np.exp(-(x - md) ** 2 / 2) / SQ2PI

    fs = [lambda x: -pd(x) * (ro(x) / w - (1 - ro(x)) / (1 - w)),
          lambda x: -pd(x) * ro(x) * (x - mo), lambda x: -pd(x) * (1 - ro(x)) * (x - mn)]
    pts = sorted({md, mo, mn})
    return [integrate.quad(f, md - 14, md + 14, points=pts, epsabs=0, epsrel=1e-12,
                           limit=200)[0] for f in fs]


# ------------------------------------------------------------------ harness


def worst_rel(got, ref) -> float:
    got, ref = np.atleast_2d(got), np.atleast_2d(ref)
    floor = 1e-3 * np.abs(ref).max(axis=-1, keepdims=True)
    return float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), floor)))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nref", type=int, default=200)
    ap.add_argument("--nbatch", type=int, default=10_000)
    ap.add_argument("--nsingle", type=int, default=200)
    ap.add_argument("--nquad", type=int, default=1000, help="points for the old quadrature path")
    ap.add_argument("--nscipy", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from symforget import model
    from symforget.numeric.compile import compile_spec
    from symforget.numeric.quadrature import expect
    from symforget.symbolic import mixture

    def fast(kind, P):
        w, mo, mn, al, to, tn, md = P.T
        if kind == "rkl":
            return model.rkl_grad(w, mo, mn, alpha=al, target_old=to, target_new=tn)
        return model.fkl_grad(w, mo, mn, data_mean=md)

    def fast_single(kind, P):
        fn = model.rkl_grad if kind == "rkl" else model.fkl_grad
        out = []
        for w, mo, mn, al, to, tn, md in P.tolist():
            kw = (dict(alpha=al, target_old=to, target_new=tn) if kind == "rkl"
                  else dict(data_mean=md))
            out.append(fn(w, mo, mn, **kw))
        return np.array(out)

    def quad(kind, P):
        w, mo, mn, al, to, tn, md = P.T
        one = np.ones_like(w)
        if kind == "rkl":
            return expect(compile_spec(mixture.rkl_grad_spec()), [w, mo, mn, al, to, tn, one])
        return expect(compile_spec(mixture.fkl_grad_spec()), [w, mo, mn, md, md, 0 * w, one])

    def quad_single(kind, P):
        return np.array([quad(kind, row[None, :])[0] for row in P])

    def gl(kind, P):
        return gl_rkl(P) if kind == "rkl" else gl_fkl(P)

    def sci(kind, P):
        fn = scipy_rkl if kind == "rkl" else scipy_fkl
        return np.array([fn(r) for r in P])

    methods = {"fast": (fast, args.nbatch), "fast_single": (fast_single, args.nsingle),
               "quadrature": (quad, args.nquad), "quadrature_single": (quad_single, 30),
               "gl": (gl, args.nbatch), "scipy": (sci, args.nscipy)}
    result: dict = {"machine": f"{platform.machine()} {platform.processor()} "
                    f"{platform.python_version()} numpy {np.__version__}",
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "boxes": {}}
    for name in ("A", "B"):
        ref_r, ref_f = references(name, args.nref)
        P_ref = box(name, args.nref)
        P_big = box(name, max(args.nbatch, args.nref))
        times: dict = {(k, m): [] for k in ("rkl", "fkl") for m in methods}
        for kind in ("rkl", "fkl"):  # warm-up (compile caches)
            for fn, _ in methods.values():
                fn(kind, P_big[:3])
        for _ in range(args.rounds):
            for kind in ("rkl", "fkl"):
                for m, (fn, n) in methods.items():
                    t0 = time.process_time()
                    fn(kind, P_big[:n])
                    times[(kind, m)].append((time.process_time() - t0) / n * 1e6)
        rows = {}
        for kind, ref in (("rkl", ref_r), ("fkl", ref_f)):
            for m, (fn, _) in methods.items():
                n_acc = args.nref if m not in ("scipy", "quadrature_single") else min(
                    args.nref, methods[m][1])
                err = worst_rel(fn(kind, P_ref[:n_acc]), ref[:n_acc])
                rows[f"{kind}/{m}"] = {"us_per_point": statistics.median(times[(kind, m)]),
                                       "worst_rel_err": err, "n_acc": n_acc}
            base = rows[f"{kind}/fast"]["us_per_point"]
            for m in methods:
                rows[f"{kind}/{m}"]["ratio_vs_fast"] = rows[f"{kind}/{m}"]["us_per_point"] / base
        result["boxes"][name] = rows
    print(f"# bench_gradients  {result['date']}  {result['machine']}")
    print("| box | gradient/method | CPU µs/point | worst rel err | × fast |")
    print("|---|---|---:|---:|---:|")
    for name, rows in result["boxes"].items():
        for key, r in rows.items():
            print(f"| {name} | {key} | {r['us_per_point']:.2f} | {r['worst_rel_err']:.1e} "
                  f"| {r['ratio_vs_fast']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
