r"""Peer methods for the 1-D RKL/FKL population gradients — for comparison only.

Hand-written NumPy/SciPy, deliberately *not* using symforget's compiled evaluators: they are
what a careful user would write instead. All take the box dict of :mod:`benchmarks.boxes`
(arrays ``w, mu_old, mu_new, alpha, target_old, target_new, data_mean``; σ = 1) and return
``(n, 3)`` arrays ∂/∂(w, μo, μn).

Maths (φ standard normal, Δ = μn − μo, x_m = (μo + μn)/2, c = log(w/(1−w))):

* log(q/p*)(x) = log((1−w)/(1−α)) + (μn − t_new)(x − (μn + t_new)/2) + sp(z_q) − sp(z_p),
  z_q = c − Δ(x − x_m) (and likewise z_p for p*), sp = softplus — no exp overflows, no
  cancellation of large Gaussian exponents;
* ∇KL(q‖p*) = (E_o[L] − E_n[L], w E_o[(x−μo)L], (1−w) E_n[(x−μn)L]) with E_c over
  N(μ_c, 1);
* ∇KL(P‖q) = −E_P[(r_o/w − r_n/(1−w), r_o (x−μo), r_n (x−μn))], r_o = sigmoid(z_q).

Methods: :func:`composite_gl` (the accurate bar — DESIGN.md "Numerics": panels split at the
component mean, at every responsibility transition and at ±1/Δ, ±4/Δ around it, plus
Gaussian panels at ±2, ±4, ±6, range ±9σ; 16 nodes per panel ≈ 200–290 nodes per
component; one fused, cache-blocked evaluation), :func:`gauss_hermite` (fixed 64 nodes),
:func:`monte_carlo` (1000 seeded samples per point), :func:`scipy_quad` (QUADPACK per point,
three integrals, epsrel 1e-10), and :func:`jax_available`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import integrate
from scipy.special import roots_hermitenorm

Box = dict[str, np.ndarray]

BLOCK = 256  # points per block (measured: 256 beats 64 and 128 here; per-block overhead)
T = 9.0  # ±9σ: tail mass e^{-40.5} ≈ 2.6e-18
_FIXED = np.array([-T, -6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, T])
_GRADE = np.array([0.0, 1.0, -1.0, 4.0, -4.0])
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _softplus(z: np.ndarray) -> np.ndarray:
    out = np.exp(-np.abs(z))
    np.log1p(out, out=out)
    out += np.maximum(z, 0.0)
    return out


def _sigmoid_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sigmoid(z), sigmoid(−z)) without overflow."""
    e = np.exp(-np.abs(z))
    s = 1.0 / (1.0 + e)
    es = e * s
    pos = z >= 0
    return np.where(pos, s, es), np.where(pos, es, s)


class _Coef:
    """Per-point constants of the two mixtures, shaped (n, 1) for broadcasting over nodes."""

    def __init__(self, b: Box) -> None:
        col = {k: np.asarray(v, dtype=float)[:, None] for k, v in b.items()}
        self.w, self.mo, self.mn = col["w"], col["mu_old"], col["mu_new"]
        self.al, self.to, self.tn = col["alpha"], col["target_old"], col["target_new"]
        self.dm = col["data_mean"]
        self.dq = self.mn - self.mo
        self.xq = (self.mo + self.mn) / 2
        self.cq = np.log(self.w / (1 - self.w))
        self.dp = self.tn - self.to
        self.xp = (self.to + self.tn) / 2
        self.cp = np.log(self.al / (1 - self.al))
        self.lin0 = np.log((1 - self.w) / (1 - self.al))
        self.lin1 = self.mn - self.tn
        self.lin2 = (self.mn + self.tn) / 2

    def log_ratio(self, x: np.ndarray) -> np.ndarray:
        """log(q/p*) at nodes x (n, K)."""
        L = self.lin1 * (x - self.lin2)
        L += self.lin0
        L += _softplus(self.cq - self.dq * (x - self.xq))
        L -= _softplus(self.cp - self.dp * (x - self.xp))
        return L

    def transition(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(x_t, 1/|Δ|) of the responsibility switch of q or p* (far away when Δ ≈ 0)."""
        d, xm, c = (self.dq, self.xq, self.cq) if which == "q" else (self.dp, self.xp, self.cp)
        ds = np.where(np.abs(d) < 1e-9, 1e-9, d)
        return xm + c / ds, 1.0 / np.abs(ds)


# --------------------------------------------------------------------------- composite GL

def _panel_nodes(bp: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t and weights φ(t)·GL-weight for sorted breakpoints bp (m, P+1) in t."""
    u, g = np.polynomial.legendre.leggauss(n)
    lo, hi = bp[:, :-1, None], bp[:, 1:, None]
    half = (hi - lo) / 2
    t = ((lo + hi) / 2 + half * u).reshape(bp.shape[0], -1)
    wt = (half * g).reshape(bp.shape[0], -1)
    wt *= np.exp(-0.5 * t * t)
    wt *= _INV_SQRT_2PI
    return t, wt


def _breakpoints(centre: np.ndarray, kinks: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Breakpoints in t = x − centre: fixed Gaussian panels plus graded transitions."""
    m = centre.shape[0]
    parts = [np.broadcast_to(_FIXED, (m, _FIXED.size))]
    for xt, width in kinks:
        parts.append((xt - centre) + width * _GRADE)
    bp = np.clip(np.concatenate(parts, axis=1), -T, T)
    bp.sort(axis=1)
    return bp


def nodes_per_component(kind: str, n: int) -> int:
    """Nodes per Gaussian component of :func:`composite_gl` (panels × n)."""
    kinks = 2 if kind == "rkl" else 1
    return (_FIXED.size - 1 + kinks * _GRADE.size) * n


def composite_gl(b: Box, kind: str, n: int = 16) -> np.ndarray:
    """Accurate composite Gauss–Legendre gradient (``kind`` = "rkl" or "fkl")."""
    size = len(b["w"])
    out = np.empty((size, 3))
    for s in range(0, size, BLOCK):
        sl = slice(s, s + BLOCK)
        k = _Coef({key: v[sl] for key, v in b.items()})
        if kind == "rkl":
            kinks = [k.transition("q"), k.transition("p")]
            t_o, w_o = _panel_nodes(_breakpoints(k.mo, kinks), n)
            t_n, w_n = _panel_nodes(_breakpoints(k.mn, kinks), n)
            Lo, Ln = k.log_ratio(k.mo + t_o), k.log_ratio(k.mn + t_n)
            Lo *= w_o
            Ln *= w_n
            out[sl, 0] = Lo.sum(1) - Ln.sum(1)
            out[sl, 1] = k.w[:, 0] * np.einsum("ij,ij->i", Lo, t_o)
            out[sl, 2] = (1 - k.w[:, 0]) * np.einsum("ij,ij->i", Ln, t_n)
        else:
            t, wt = _panel_nodes(_breakpoints(k.dm, [k.transition("q")]), n)
            out[sl] = _fkl_sums(k, k.dm + t, wt)
    return out


def _fkl_sums(k: _Coef, x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """−Σ wt·(r_o/w − r_n/(1−w), r_o(x−μo), r_n(x−μn)) over the node axis."""
    ro, rn = _sigmoid_pair(k.cq - k.dq * (x - k.xq))
    ro *= wt
    rn *= wt
    g0 = ro.sum(1) / k.w[:, 0] - rn.sum(1) / (1 - k.w[:, 0])
    g1 = np.einsum("ij,ij->i", ro, x) - ro.sum(1) * k.mo[:, 0]
    g2 = np.einsum("ij,ij->i", rn, x) - rn.sum(1) * k.mn[:, 0]
    return -np.stack([g0, g1, g2], axis=1)


# --------------------------------------------------------------------------- fixed rules

def _fixed_rule(b: Box, kind: str, t: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """Gradient with a fixed node set t (m,) / (n, m) and weights (same shape)."""
    size = len(b["w"])
    out = np.empty((size, 3))
    for s in range(0, size, BLOCK):
        sl = slice(s, s + BLOCK)
        k = _Coef({key: v[sl] for key, v in b.items()})
        ts = t[sl] if t.ndim == 2 else t[None, :]
        ws = wt[sl] if wt.ndim == 2 else wt[None, :]
        if kind == "rkl":
            Lo = k.log_ratio(k.mo + ts) * ws
            Ln = k.log_ratio(k.mn + ts) * ws
            out[sl, 0] = Lo.sum(1) - Ln.sum(1)
            out[sl, 1] = k.w[:, 0] * (Lo * ts).sum(1)
            out[sl, 2] = (1 - k.w[:, 0]) * (Ln * ts).sum(1)
        else:
            x = k.dm + ts
            out[sl] = _fkl_sums(k, x, np.broadcast_to(ws, x.shape))
    return out


def gauss_hermite(b: Box, kind: str, n: int = 64) -> np.ndarray:
    """Plain n-node Gauss–Hermite (probabilists') on each Gaussian: fast, inaccurate once the
    responsibilities switch in a component's tail."""
    t, wt = roots_hermitenorm(n)
    return _fixed_rule(b, kind, t, wt / math.sqrt(2 * math.pi))


def monte_carlo(b: Box, kind: str, samples: int = 1000, seed: int = 0) -> np.ndarray:
    """Plain Monte Carlo with ``samples`` standard-normal draws per point (common random
    numbers across the three components; seeded)."""
    z = np.random.default_rng(seed).standard_normal((len(b["w"]), samples))
    return _fixed_rule(b, kind, z, np.full_like(z, 1.0 / samples))


# --------------------------------------------------------------------------- scipy.quad

def _sp(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _sig(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def scipy_quad(b: Box, kind: str, epsrel: float = 1e-10) -> np.ndarray:
    """QUADPACK (``scipy.integrate.quad``) per point: the three gradient integrals over
    x ∈ [min mean − 12, max mean + 12] with breakpoints at the means and at each transition
    ± {1, 4}/|Δ|; epsabs 1e-300 (pure relative tolerance), epsrel 1e-10, limit 200."""
    out = np.empty((len(b["w"]), 3))
    keys = ("w", "mu_old", "mu_new", "alpha", "target_old", "target_new", "data_mean")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for i, vals in enumerate(zip(*(b[k] for k in keys), strict=True)):
            out[i] = _quad_point(*map(float, vals), kind=kind, epsrel=epsrel)
    return out


def _quad_point(w: float, mo: float, mn: float, al: float, to: float, tn: float, dm: float,
                *, kind: str, epsrel: float) -> list[float]:
    dq, xq, cq = mn - mo, (mo + mn) / 2, math.log(w / (1 - w))
    dp, xp, cp = tn - to, (to + tn) / 2, math.log(al / (1 - al))
    lin0, lin1, lin2 = math.log((1 - w) / (1 - al)), mn - tn, (mn + tn) / 2
    c0 = _INV_SQRT_2PI

    def kinks(d: float, xm: float, c: float) -> list[float]:
        if abs(d) < 1e-9:
            return []
        xt = xm + c / d
        return [xt + g / abs(d) for g in (0.0, 1.0, -1.0, 4.0, -4.0)]

    def L(x: float) -> float:
        return (lin0 + lin1 * (x - lin2) + _sp(cq - dq * (x - xq))
                - _sp(cp - dp * (x - xp)))

    if kind == "rkl":
        centres = [mo, mn]
        pts = centres + kinks(dq, xq, cq) + kinks(dp, xp, cp)

        def f0(x: float) -> float:
            return c0 * (math.exp(-0.5 * (x - mo) ** 2) - math.exp(-0.5 * (x - mn) ** 2)) * L(x)

        def f1(x: float) -> float:
            return c0 * w * math.exp(-0.5 * (x - mo) ** 2) * (x - mo) * L(x)

        def f2(x: float) -> float:
            return c0 * (1 - w) * math.exp(-0.5 * (x - mn) ** 2) * (x - mn) * L(x)
    else:
        centres = [dm]
        pts = [dm, mo, mn, *kinks(dq, xq, cq)]

        def f0(x: float) -> float:
            ro = _sig(cq - dq * (x - xq))
            return -c0 * math.exp(-0.5 * (x - dm) ** 2) * (ro / w - (1 - ro) / (1 - w))

        def f1(x: float) -> float:
            return -c0 * math.exp(-0.5 * (x - dm) ** 2) * _sig(cq - dq * (x - xq)) * (x - mo)

        def f2(x: float) -> float:
            return -c0 * math.exp(-0.5 * (x - dm) ** 2) * _sig(dq * (x - xq) - cq) * (x - mn)
    lo, hi = min(centres) - 12.0, max(centres) + 12.0
    inner = sorted({p for p in pts if lo < p < hi})
    return [integrate.quad(f, lo, hi, points=inner or None, epsabs=1e-300, epsrel=epsrel,
                           limit=200)[0] for f in (f0, f1, f2)]


_FLOOR_X = np.linspace(-3.0, 3.0, 64)


def exp_log_floor(n: int, nodes: int = 64) -> float:
    """One ``exp`` and one ``log1p`` per node for n points × ``nodes`` nodes (cache-blocked):
    the transcendental floor of any 64-node rule (DESIGN.md: ≈ 0.5–0.7 µs/point)."""
    x = np.broadcast_to(_FLOOR_X[:nodes], (BLOCK, nodes)).copy()
    acc = 0.0
    for _ in range(0, n, BLOCK):
        acc += float(np.log1p(np.exp(x)).sum())
    return acc


def jax_available() -> Any:
    """The ``jax`` module if importable, else None (JAX is optional and usually absent)."""
    try:
        import jax
    except ImportError:
        return None
    return jax
