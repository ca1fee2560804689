r"""Fast population gradients of the FKL and RKL objectives (issue 8).

:mod:`symforget.symbolic.fastgrad` reduces every component expectation of
:math:`\nabla L_F` and :math:`\nabla L_R` to the three two-parameter functions

.. math:: \mathcal F(A,B) = \mathbb E[\operatorname{softplus}(At+B)],
          \mathcal G(A,B) = \mathbb E[\operatorname{sigmoid}(At+B)],
          \mathcal K(A,B) = \mathbb E[\operatorname{sigmoid}(At+B)\operatorname{sigmoid}(-At-B)]

(:math:`t\sim\mathcal N(0,1)`; four (A, B) pairs for the RKL, one per training component for
the FKL). The formulas combining them are compiled from SymPy; this module only evaluates the
three functions, by hand-written quadrature *methods* chosen by the regime of :math:`s = |A|`
(the integrands are even in A):

* :math:`s \le 1.3`: Gauss–Hermite (32 nodes for s ≤ 0.7, else 64) on the functions
  themselves — they are analytic in the strip :math:`|\Im t| < \pi/s`.
* :math:`s > 1.3`: split :math:`\operatorname{softplus}(z) = \max(z,0) + \log(1+e^{-|z|})`
  and :math:`\operatorname{sigmoid}(z) = [z>0] - \operatorname{sign}(z)\operatorname{sigmoid}
  (-|z|)`; the step parts have closed forms (:math:`\mathbb E\max(z,0) = B\Phi(B/s) +
  s\varphi(B/s)`, :math:`P(z>0) = \Phi(B/s)`), the remainders (and :math:`\mathcal K`) decay
  like :math:`e^{-|z|}`, so with :math:`u = z \sim\mathcal N(B, s^2)` they are integrals over
  :math:`|u| \le 38` of a *fixed* function times the Gaussian density of u. A fixed composite
  Gauss–Legendre rule in u (panels graded away from the kink u = 0; 120, 94 or 82 nodes for
  s in (1.3, 2.2], (2.2, 4], > 4) has its remainder weights precomputed: per node one ``exp``
  (the Gaussian, its exponent formed as one (rows × 3)(3 × nodes) product) and a
  (nodes × 3) matrix product. When the Gaussian of u misses :math:`|u|\le 38` by 8.7 s the
  remainders are below :math:`e^{-37}` and skipped. Where G is tiny (far kinks, e.g. the FKL
  as w → 0, where ∂L/∂w = (w − E r_o)/(w(1−w)) cancels) exponential tilting keeps it
  *relatively* accurate (:func:`_reflect_tails`).

Single points (dynamics loops) take a few-numpy-calls path: all pairs of the point in one
kernel call, the compiled formulas on Python floats.

Accuracy (``tests/test_fastgrad.py``, ``benchmarks/bench_gradients.py``, against 30-digit
mpmath): absolute error of G, K ≲ 5e-15 and of F ≲ 1e-14·max(1, |B|) for every (A, B);
gradients worst 2e-13 relative (floor 1e-3·‖ref‖∞) on 200 points of each issue-8 box.
Profile of the previous path (quadrature.expect on the unreduced specs, pyinstrument):
~50 % lambdified integrands (3 per component × ~600 nodes), ~30 % breakpoints and nodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp
from scipy.special import ndtr, roots_hermitenorm

from ..errors import SymforgetError
from ..symbolic import fastgrad as sf
from ..symbolic.symbols import FKL_ARGS, RKL_ARGS, rho
from .compile import compile_exprs

__all__ = ["gauss_specials", "rkl_grad", "fkl_grad", "fkl_dw_small", "build_plan", "evaluate_plan",
           "REGIMES"]

_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
#: (s_hi, Gauss–Hermite nodes) for the smooth regime s = |A| ≤ 1.3
_GH_TIERS = ((0.7, 32), (1.3, 64))
#: split regime s > 1.3, by tier (s_lo, panel edges in u (mirrored to u < 0), Gauss–Legendre
#: nodes per panel); tuned against a 30-digit reference grid and validated on 2·10⁴ random
#: (s, B) against a dense rule: worst absolute error of every remainder ≤ 5e-15
_SPLIT_TIERS = (
    (1.3, (0.0, 3.3, 8.8, 16.5, 26.4, 38.0), (14, 14, 14, 12, 6)),
    (2.2, (0.0, 4.05, 10.8, 20.25, 32.4, 38.0), (14, 12, 11, 8, 2)),
    (4.0, (0.0, 4.8, 12.8, 24.0, 38.0), (14, 12, 9, 6)),
)
#: the remainders vanish (< e^{-37}) once the Gaussian of u misses |u| ≤ 38 by 8.7 s
_U_MAX, _FAR_SD = 38.0, 8.7
#: rows per block (keeps the (rows × nodes) temporaries in cache)
_BLOCK = 1024
REGIMES = ("hermite32", "hermite64", "split120", "split94", "split82")
#: rows of :func:`gauss_specials`: F(A,B), G(A,B), K(A,B), F(−A,−B), G(−A,−B)
_ROWS = {"F": 0, "G": 1, "K": 2, "Fn": 3, "Gn": 4}


@cache
def _gh(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = roots_hermitenorm(n)
    return nodes, weights / _SQRT_2PI


@cache
def _u_rule(tier: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes u (mirrored) and the (n, 3) weight matrix of the remainders of F, G and K."""
    _, edges, counts = _SPLIT_TIERS[tier]
    nodes, wts = [], []
    for lo, hi, m in zip(edges[:-1], edges[1:], counts, strict=True):
        g_u, g_w = np.polynomial.legendre.leggauss(m)
        nodes.append((lo + hi) / 2 + (hi - lo) / 2 * g_u)
        wts.append((hi - lo) / 2 * g_w)
    half, half_w = np.concatenate(nodes), np.concatenate(wts)
    nodes_all = np.concatenate([-half[::-1], half])
    wts_all = np.concatenate([half_w[::-1], half_w])
    e = np.exp(-np.abs(nodes_all))
    rem_f = np.log1p(e)  # softplus(u) − max(u, 0)
    rem_g = -np.sign(nodes_all) * e / (1.0 + e)  # sigmoid(u) − [u > 0]
    k = e / (1.0 + e) ** 2  # sigmoid(u) sigmoid(−u)
    mat = np.stack([wts_all * rem_f, wts_all * rem_g, wts_all * k], axis=1) / _SQRT_2PI
    return nodes_all, np.ascontiguousarray(mat)


@cache
def _u_powers(tier: int) -> np.ndarray:
    """Rows 1, u, u² of the tier's nodes (for the exponent as a matrix product)."""
    nodes = _u_rule(tier)[0]
    return np.ascontiguousarray(np.stack([np.ones_like(nodes), nodes, nodes * nodes]))


def _hermite(s: np.ndarray, B: np.ndarray, n: int, out: np.ndarray) -> None:
    x, wt = _gh(n)
    for i in range(0, s.size, _BLOCK):
        sl = slice(i, i + _BLOCK)
        z = np.multiply.outer(s[sl], x)
        z += B[sl, None]
        e = np.exp(-np.abs(z))
        lg = np.log1p(e)
        r = 1.0 / (1.0 + e)
        er = e * r
        pos = z >= 0.0
        out[0, sl] = (np.maximum(z, 0.0) + lg) @ wt
        out[3, sl] = (np.maximum(-z, 0.0) + lg) @ wt
        out[1, sl] = np.where(pos, r, er) @ wt
        out[4, sl] = np.where(pos, er, r) @ wt
        out[2, sl] = (er * r) @ wt


def _split(s: np.ndarray, B: np.ndarray, out: np.ndarray) -> None:
    inv = 1.0 / s
    b = B * inv
    phi = np.exp(-0.5 * b * b) / _SQRT_2PI
    cdf, ccdf = ndtr(b), ndtr(-b)
    rem = np.zeros((s.size, 3))
    near = np.abs(B) < _U_MAX + _FAR_SD * s
    tiers = np.searchsorted([t[0] for t in _SPLIT_TIERS[1:]], s, side="left")
    for k in range(len(_SPLIT_TIERS)):
        sel = near & (tiers == k)
        n_sel = int(np.count_nonzero(sel))
        if n_sel == 0:
            continue
        idx = None if n_sel == s.size else np.flatnonzero(sel)
        b_k, i_k = (B, inv) if idx is None else (B[idx], inv[idx])
        mat = _u_rule(k)[1]
        powers = _u_powers(k)
        # exponent −(u − B)²/(2s²) = α + βu + γu² as one (rows × 3)(3 × nodes) product;
        # its rounding (≤ ε·|α|, |α| = B²/2s²) is negligible in absolute terms because
        # the Gaussian factor is ≤ e^α wherever |α| is large
        coef = np.empty((n_sel, 3))
        coef[:, 2] = -0.5 * i_k * i_k
        coef[:, 1] = -2.0 * coef[:, 2] * b_k
        coef[:, 0] = coef[:, 2] * b_k * b_k
        r_k = np.empty((n_sel, 3))
        for i in range(0, n_sel, _BLOCK):
            sl = slice(i, i + _BLOCK)
            z = coef[sl] @ powers
            np.exp(z, out=z)
            r_k[sl] = z @ mat
        r_k *= i_k[:, None]
        if idx is None:
            rem = r_k
        else:
            rem[idx] = r_k
    out[0] = B * cdf + s * phi + rem[:, 0]
    out[3] = -B * ccdf + s * phi + rem[:, 0]
    out[1] = cdf + rem[:, 1]
    out[4] = ccdf - rem[:, 1]
    out[2] = rem[:, 2]


#: at most this many (A, B) pairs: the few-numpy-calls path (single-point gradients)
_SMALL = 32


def _split_small(s: np.ndarray, B: np.ndarray, out: np.ndarray) -> None:
    """The split regime with the finest tier's rule for every row (valid for all s > 1.3)."""
    nodes, mat = _u_rule(0)
    inv = 1.0 / s
    b = B * inv
    z = (B[:, None] - nodes) * inv[:, None]
    z *= z
    z *= -0.5
    rem = (np.exp(z) @ mat) * inv[:, None]
    phi_s = s * np.exp(-0.5 * b * b) / _SQRT_2PI
    cdf, ccdf = ndtr(b), ndtr(-b)
    out[0] = B * cdf + phi_s + rem[:, 0]
    out[3] = phi_s - B * ccdf + rem[:, 0]
    out[1] = cdf + rem[:, 1]
    out[4] = ccdf - rem[:, 1]
    out[2] = rem[:, 2]


def _reflect_tails(s: np.ndarray, B: np.ndarray, out: np.ndarray, base) -> None:
    r"""Relative accuracy of the small tails of G, G(−A,−B) and K (split regime).

    The quadrature of the remainders is accurate in *absolute* terms (~1e-15); where
    :math:`\mathcal G` is itself tiny (kink far out, e.g. w → 0 in the FKL) use exponential
    tilting :math:`\mathbb E[e^{z}f(z)] = e^{B+s^2/2}\mathbb E[f(z+s^2)]` with
    :math:`\operatorname{sigmoid}(z) = e^{z}\operatorname{sigmoid}(-z)`:

    .. math:: \mathcal G(B) = e^{B+s^2/2}\,\mathcal G(-(B+s^2)),\quad
              \mathcal K(B) = e^{B+s^2/2}\,[\mathcal G(-(B+s^2)) - \mathcal K(B+s^2)]

    for :math:`B < -s^2/2` (the right-hand sides are O(1)-relative: no cancellation), and the
    mirror images for :math:`B > s^2/2`. ``base`` evaluates the five rows without reflection.
    """
    half = 0.5 * s * s
    for sign in (-1.0, 1.0):
        sel = np.flatnonzero(sign * B > half)
        if sel.size == 0:
            continue
        s_k, b_k = s[sel], B[sel]
        shifted = np.empty((5, sel.size))
        base(s_k, b_k - sign * s_k * s_k, shifted)
        tilt = np.exp(half[sel] - sign * b_k)
        if sign < 0:  # B < −s²/2: G(B) from G(−B'), B' = B + s²
            out[1, sel] = tilt * shifted[4]
            out[2, sel] = tilt * (shifted[4] - shifted[2])
        else:  # B > s²/2: G(−B) from G(B − s²)
            out[4, sel] = tilt * shifted[1]
            out[2, sel] = tilt * (shifted[1] - shifted[2])


def _tilted_only(s: np.ndarray, B: np.ndarray, out: np.ndarray, base) -> None:
    """Mode "gk": rows with |B| > s²/2 from the tilted evaluation alone (G, G(−A,−B), K
    relatively accurate; F rows NaN — not requested), the others directly."""
    half = 0.5 * s * s
    tail = np.abs(B) > half
    n_tail = int(np.count_nonzero(tail))
    if n_tail == 0:
        base(s, B, out)
        return
    if n_tail < s.size:
        idx = np.flatnonzero(~tail)
        part = np.empty((5, idx.size))
        base(s[idx], B[idx], part)
        out[:, idx] = part
    sel = np.flatnonzero(tail)
    s_k, b_k = s[sel], B[sel]
    neg = b_k < 0.0
    shifted = np.empty((5, sel.size))
    base(s_k, b_k + np.where(neg, 1.0, -1.0) * s_k * s_k, shifted)
    tilt = np.exp(half[sel] - np.abs(b_k))
    big = np.where(neg, shifted[4], shifted[1])  # G(∓B') = O(1): no cancellation
    small = tilt * big
    out[1, sel] = np.where(neg, small, 1.0 - small)
    out[4, sel] = np.where(neg, 1.0 - small, small)
    out[2, sel] = tilt * (big - shifted[2])
    out[0, sel] = out[3, sel] = np.nan


def _split_mode(s: np.ndarray, B: np.ndarray, out: np.ndarray, base, mode: str) -> None:
    if mode == "gk":
        _tilted_only(s, B, out, base)
        return
    base(s, B, out)
    if mode == "full":
        _reflect_tails(s, B, out, base)


def _small(s: np.ndarray, B: np.ndarray, out: np.ndarray, mode: str = "full") -> np.ndarray:
    smooth = s <= _GH_TIERS[1][0]
    n_smooth = int(np.count_nonzero(smooth))
    if n_smooth == s.size:
        _hermite(s, B, _GH_TIERS[1][1], out)
    elif n_smooth == 0:
        _split_mode(s, B, out, _split_small, mode)
    else:
        idx = np.flatnonzero(smooth)
        part = np.empty((5, idx.size))
        _hermite(s[idx], B[idx], _GH_TIERS[1][1], part)
        out[:, idx] = part
        idx = np.flatnonzero(~smooth)
        part = np.empty((5, idx.size))
        _split_mode(s[idx], B[idx], part, _split_small, mode)
        out[:, idx] = part
    return out


def gauss_specials(A: np.ndarray, B: np.ndarray, mode: str = "full") -> np.ndarray:
    r"""Rows :math:`\mathcal F(A,B), \mathcal G(A,B), \mathcal K(A,B), \mathcal F(-A,-B),
    \mathcal G(-A,-B)` for 1-D arrays A, B (shape ``(5, n)``).

    Absolute error ≲ 1e-14·max(1, |B|) for F, ≲ 5e-15 for G and K (tests/test_fastgrad.py
    against 30-digit mpmath); with ``mode="full"`` (default) the small tails of G, G(−A,−B)
    and K are also *relatively* accurate (exponential tilting, :func:`_reflect_tails`).
    ``mode="absolute"`` skips the tilting; ``mode="gk"`` computes tail rows by tilting only
    and leaves their F rows NaN (for callers that use only G and K: the FKL). No evaluation
    overflows (every exponent is ≤ 0); underflow to 0 is harmless.
    """
    A = np.asarray(A, dtype=np.float64).ravel()
    B = np.asarray(B, dtype=np.float64).ravel()
    s = np.abs(A)
    out = np.empty((5, s.size))
    if s.size <= _SMALL:
        return _small(s, B, out, mode)
    masks = (s <= _GH_TIERS[0][0], (s > _GH_TIERS[0][0]) & (s <= _GH_TIERS[1][0]),
             s > _GH_TIERS[1][0])
    counts = [int(np.count_nonzero(m)) for m in masks]
    for k, mask in enumerate(masks):
        if counts[k] == 0:
            continue
        whole = counts[k] == s.size
        if whole:
            s_k, b_k, o_k = s, B, out
        else:
            idx = np.flatnonzero(mask)
            s_k, b_k, o_k = s[idx], B[idx], np.empty((5, idx.size))
        if k == 2:
            _split_mode(s_k, b_k, o_k, _split, mode)
        else:
            _hermite(s_k, b_k, _GH_TIERS[k][1], o_k)
        if not whole:
            out[:, idx] = o_k
    return out


# ------------------------------------------------------------------ compiled plans


@dataclass(frozen=True)
class _Plan:
    """A reduced gradient compiled: (A, B) of every pair, and the outer combination."""

    args: tuple[sp.Symbol, ...]
    mode: str  # gauss_specials mode: "gk" when no F is used (FKL), else "absolute"
    pairs: Callable  # (*params) -> (A_1, B_1, A_2, B_2, ...)
    n_pairs: int
    slots: tuple[tuple[int, int], ...]  # per special symbol: (pair, row of gauss_specials)
    outer: Callable  # (*params, *special values) -> tuple of 3


def _same(u: sp.Expr, v: sp.Expr) -> bool:
    return u == v or sp.expand(u - v) == 0


@cache
def _plan(kind: str) -> _Plan:
    if kind == "rkl":
        return build_plan(sf.rkl_grad_reduced(), RKL_ARGS)
    if kind == "fkl0":  # no replay: ρ = 0 substituted, the replay pair drops out
        return build_plan(tuple(e.xreplace({rho: 0}) for e in sf.fkl_grad_reduced()), FKL_ARGS)
    return build_plan(sf.fkl_grad_reduced(), FKL_ARGS)


@cache
def build_plan(exprs: tuple[sp.Expr, ...], args: tuple[sp.Symbol, ...]) -> _Plan:
    """Compile reduced expressions (in ``args`` and the special functions of
    :mod:`symforget.symbolic.fastgrad`) into an evaluation plan for :func:`evaluate_plan`."""
    atoms = sorted(set().union(*(e.atoms(*sf.SPECIAL) for e in exprs)), key=sp.default_sort_key)
    pairs: list[tuple[sp.Expr, sp.Expr]] = []
    slots: list[tuple[int, int]] = []
    reps: dict[sp.Expr, sp.Symbol] = {}
    letter = {sf.GaussSoftplus: "F", sf.GaussSigmoid: "G", sf.GaussSigmoidVar: "K"}
    for n_atom, atom in enumerate(atoms):
        A, B = atom.args
        match = [(j, False) for j, (A0, B0) in enumerate(pairs) if _same(A, A0) and _same(B, B0)]
        match += [(j, True) for j, (A0, B0) in enumerate(pairs) if _same(A, -A0) and _same(B, -B0)]
        if not match:
            pairs.append((A, B))
            match = [(len(pairs) - 1, False)]
        j, neg = match[0]
        name = letter[type(atom)]
        row = _ROWS[name + "n"] if neg and name != "K" else _ROWS[name]
        slots.append((j, row))
        reps[atom] = sp.Symbol(f"_special{n_atom}", real=True)
    flat = [e for ab in pairs for e in ab]
    outer_exprs = [e.xreplace(reps) for e in exprs]
    uses_f = any(row in (_ROWS["F"], _ROWS["Fn"]) for _, row in slots)
    return _Plan(
        args=args,
        mode="absolute" if uses_f else "gk",
        pairs=compile_exprs(flat, args),
        n_pairs=len(pairs),
        slots=tuple(slots),
        outer=compile_exprs(outer_exprs, (*args, *reps.values())),
    )


_SCALARS = (float, int, np.floating, np.integer)


def _check_finite(plan: _Plan, out: np.ndarray, flat: Sequence[np.ndarray]) -> None:
    if not np.isfinite(out).all():
        bad = int(np.argwhere(~np.isfinite(out.reshape(-1, out.shape[-1])))[0][0])
        where = {s.name: float(np.ravel(p)[bad]) for s, p in zip(plan.args, flat, strict=True)}
        raise SymforgetError(f"reduced gradient: non-finite value at {where}")


def _evaluate_scalar(plan: _Plan, params: Sequence[float]) -> np.ndarray:
    """One point: all pairs in one kernel call, the compiled formulas on scalars."""
    ab = plan.pairs(*params)
    vals = _small(np.abs(np.array(ab[0::2], dtype=np.float64)),
                  np.array(ab[1::2], dtype=np.float64), np.empty((5, plan.n_pairs)), plan.mode)
    res = plan.outer(*params, *[vals[row, j] for j, row in plan.slots])
    if not all(math.isfinite(v) for v in res):
        _check_finite(plan, np.array(res, dtype=np.float64)[None, :], params)
    return np.array(res, dtype=np.float64)


def evaluate_plan(plan: _Plan, params: Sequence[np.ndarray]) -> np.ndarray:
    """Evaluate a compiled plan at broadcastable parameters (in ``plan.args`` order)."""
    if all(isinstance(p, _SCALARS) or (isinstance(p, np.ndarray) and p.ndim == 0)
           for p in params):
        return _evaluate_scalar(plan, [float(p) for p in params])
    arrays = np.broadcast_arrays(*params)
    shape = arrays[0].shape
    flat = [np.asarray(p, dtype=np.float64).ravel() for p in arrays]
    n = flat[0].size
    # every (A, B) pair of every point in one kernel call: rows [pair 0 | pair 1 | ...]
    ab = plan.pairs(*flat)
    A = np.empty(plan.n_pairs * n)
    B = np.empty(plan.n_pairs * n)
    for j in range(plan.n_pairs):
        A[j * n:(j + 1) * n] = ab[2 * j]
        B[j * n:(j + 1) * n] = ab[2 * j + 1]
    vals = gauss_specials(A, B, plan.mode)
    specials = [vals[row, j * n:(j + 1) * n] for j, row in plan.slots]
    res = plan.outer(*flat, *specials)
    out = np.empty((n, len(res)))
    for i, v in enumerate(res):
        out[:, i] = v
    _check_finite(plan, out, flat)
    return out.reshape(*shape, len(res))


def rkl_grad(params: Sequence[np.ndarray]) -> np.ndarray:
    r""":math:`\nabla_{(w,\mu_o,\mu_n)}\mathrm{KL}(q_\theta\Vert p^*)` at validated, broadcastable
    parameters in ``RKL_ARGS`` order (w, μo, μn, α, νo, νn, σ); shape ``(..., 3)``.

    :math:`\partial_w L_R = \mathbb E_{\varphi_o}[h] - \mathbb E_{\varphi_n}[h]`,
    :math:`\partial_{\mu_o} L_R = \tfrac{w}{\sigma}\mathbb E_t[t\,h(\mu_o+\sigma t)]`,
    :math:`\partial_{\mu_n} L_R = \tfrac{1-w}{\sigma}\mathbb E_t[t\,h(\mu_n+\sigma t)]` with
    :math:`h = \log(q/p^*)`, reduced to :math:`\mathcal F, \mathcal G` (Stein's lemma).
    """
    return evaluate_plan(_plan("rkl"), params)


def fkl_grad(params: Sequence[np.ndarray]) -> np.ndarray:
    r""":math:`-\mathbb E_{P_{\rm train}}[\nabla\log q_\theta]` at validated, broadcastable
    parameters in ``FKL_ARGS`` order (w, μo, μn, m_d, m_r, ρ, σ); shape ``(..., 3)``.

    Reduced to logistic-normal integrals :math:`\mathcal G` and, by Stein's lemma,
    :math:`\mathbb E[t\,\operatorname{sigmoid}(At+B)] = A\,\mathcal K(A,B)`. The w-entry
    is :math:`(w - \mathbb E r_o)/(w(1-w))`; where that difference cancels (by more than
    :data:`_CANCEL`, e.g. w → 0 with the data on the new mode) the entry is also formed as in
    :func:`fkl_dw_small`, and the form with the smaller rounding-error bound is kept.
    """
    no_replay = not np.any(params[5])
    out = evaluate_plan(_plan("fkl0" if no_replay else "fkl"), params)
    if out.ndim == 1:  # one point (dynamics loops): Python floats
        w, mu_o, mu_n, m_d, m_r, r, sig = (float(p) for p in params)
        G = w - float(out[0]) * w * (1.0 - w)
        if w < 0.5 and not abs(w - G) * _CANCEL >= max(w, G):
            val, mag = _dw_point(w, mu_o, mu_n, m_d, sig)
            val, mag = (1.0 - r) * val, (1.0 - r) * mag
            if r:
                v2, m2 = _dw_point(w, mu_o, mu_n, m_r, sig)
                val, mag = val + r * v2, mag + r * m2
            if math.isfinite(val) and mag < max(w, G) / (w * (1.0 - w)):
                out[0] = val
        return out
    w = np.asarray(params[0], dtype=np.float64)
    G = w - out[..., 0] * w * (1.0 - w)  # E r_o recovered from the entry
    with np.errstate(divide="ignore", invalid="ignore"):
        mag_old = np.maximum(w, G) / (w * (1.0 - w))  # rounding error of the entry ≈ eps·mag
        flag = (w < 0.5) & ~(np.abs(w - G) * _CANCEL >= np.maximum(w, G))
    if not np.any(flag):
        return out
    idx = np.nonzero(flag)
    sub = [np.broadcast_to(np.asarray(p, dtype=np.float64), flag.shape)[idx] for p in params]
    r = sub[5]
    val, mag = _dw_parts(sub[0], sub[1], sub[2], sub[3], sub[6])
    val, mag = (1.0 - r) * val, (1.0 - r) * mag
    if not no_replay:
        v2, m2 = _dw_parts(sub[0], sub[1], sub[2], sub[4], sub[6])
        val, mag = val + r * v2, mag + r * m2
    col = out[..., 0]
    keep = np.isfinite(val) & (mag < mag_old[idx])
    col[idx] = np.where(keep, val, col[idx])
    return out


#: relative cancellation of w − E r_o above which the second form of the w-entry is tried
_CANCEL = 100.0
#: largest exponent 2B₀ + 2A² for which the second form is evaluated (beyond it c = E ρ is
#: huge and the direct form has no cancellation)
_DW_EXP_MAX = 600.0


def _dw_coefficients(mu_o, mu_n, m, sigma):
    """A and B₀ of ρ = φo/φn = e^{At+B₀} on x = m + σt (arrays or floats)."""
    A = (mu_o - mu_n) / sigma
    B0 = (mu_n - mu_o) * (mu_n + mu_o - 2.0 * m) / (2.0 * sigma * sigma)
    return A, B0


def _dw_parts(w: np.ndarray, mu_o: np.ndarray, mu_n: np.ndarray, m: np.ndarray,
              sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, |t₁| + |t₂|) of :func:`fkl_dw_small` on 1-D arrays (NaN where it does not
    apply); the rounding error of the value is ≈ eps·(|t₁| + |t₂|)."""
    A, B0 = _dw_coefficients(mu_o, mu_n, m, sigma)
    e2 = 2.0 * B0 + 2.0 * A * A
    ok = (w > 0.0) & (w < 0.5) & (e2 <= _DW_EXP_MAX)
    val = np.full(w.shape, np.nan)
    mag = np.full(w.shape, np.inf)
    if np.any(ok):
        wk, Ak, B0k, e2k = w[ok], A[ok], B0[ok], e2[ok]
        ell = np.log(wk) - np.log1p(-wk)
        G = gauss_specials(Ak, -(ell + B0k + 2.0 * Ak * Ak), "gk")[1]
        one_m = 1.0 - wk
        t1 = (-wk - np.expm1(B0k + 0.5 * Ak * Ak)) / one_m**2
        t2 = wk / one_m**3 * (np.exp(e2k) * G)
        val[ok] = t1 + t2
        mag[ok] = np.abs(t1) + np.abs(t2)
    bad = ~np.isfinite(val)
    val[bad], mag[bad] = np.nan, np.inf
    return val, mag


def _dw_point(w: float, mu_o: float, mu_n: float, m: float, sigma: float) -> tuple[float, float]:
    """:func:`_dw_parts` at one point (rare: only where the direct w-entry cancels)."""
    val, mag = _dw_parts(*(np.array([v], dtype=np.float64) for v in (w, mu_o, mu_n, m, sigma)))
    return float(val[0]), float(mag[0])


def fkl_dw_small(w: np.ndarray, mu_o: np.ndarray, mu_n: np.ndarray, m: np.ndarray,
                 sigma: np.ndarray) -> np.ndarray:
    r""":math:`\partial_w L_F` for data :math:`P = N(m, \sigma^2)`, formed without the
    cancellation of :math:`(w - \mathbb E_P[r_o])/(w(1-w))` as w → 0 (NaN where it does not
    apply: w ∉ (0, ½), or :math:`2B_0 + 2A^2 > 600`).

    With :math:`\rho = \varphi_o/\varphi_n = e^{At+B_0}` on :math:`x = m + \sigma t`
    (:math:`A = (\mu_o-\mu_n)/\sigma`, :math:`B_0 = (\mu_n-\mu_o)(\mu_n+\mu_o-2m)/(2\sigma^2)`),
    :math:`\epsilon = w/(1-w)` and :math:`r_o = \epsilon\rho/(1+\epsilon\rho) = \epsilon\rho -
    \epsilon^2\rho^2/(1+\epsilon\rho)`:

    .. math:: \partial_w L_F = \frac{w - \mathbb E_P r_o}{w(1-w)}
              = \underbrace{\frac{1 - w - c}{(1-w)^2}}_{t_1} + \underbrace{\frac{w}{(1-w)^3}\,
                \mathbb E_P\Big[\frac{\rho^2}{1+\epsilon\rho}\Big]}_{t_2},

    :math:`c = \mathbb E_P\rho = e^{B_0 + A^2/2}` (so :math:`1 - w - c = -w -
    \operatorname{expm1}(B_0 + A^2/2)`), and by exponential tilting
    (:math:`\mathbb E[e^{2At}f(t)] = e^{2A^2}\mathbb E[f(t+2A)]`)

    .. math:: \mathbb E_P\Big[\frac{\rho^2}{1+\epsilon\rho}\Big]
              = e^{2B_0+2A^2}\,\mathcal G\big(A, -(\log\epsilon + B_0 + 2A^2)\big),

    a G near 1 as w → 0: no cancellation when c ≈ 1 (data on the new mode). Where c is large
    (data near the old mode) the two terms cancel instead, so :func:`fkl_grad` keeps whichever
    form has the smaller rounding-error bound. Measured against a 40-digit quadrature of the
    definition (tests/test_known_defects.py, tests/test_fastgrad.py): ≤ 4e-14 relative for w
    from 1e-12 to 0.3.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                   for v in (w, mu_o, mu_n, m, sigma)))
    shape = arrays[0].shape
    val, _ = _dw_parts(*(a.ravel() for a in arrays))
    return val.reshape(shape)
