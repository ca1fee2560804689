r"""Independent 30-digit reference for the K-component gradients (``symforget.kl_grad``).

Shares no code with symforget (only mpmath). Student :math:`q = \sum_k\pi_k\varphi(x;\mu_k,
\sigma_k)`, target :math:`p = \sum_j\alpha_j\varphi(x;\nu_j,\tau_j)`; the weights are free
coordinates of the generalised KL (``kl_grad``'s default ``simplex="free"``):

* reverse, :math:`\nabla\mathrm{KL}(q\Vert p)`: :math:`\partial_{\pi_c} = \int\varphi_c\ell`,
  :math:`\partial_{\mu_c} = \int\pi_c\varphi_c\frac{x-\mu_c}{\sigma_c^2}\ell`,
  :math:`\partial_{\sigma_c} = \int\pi_c\varphi_c\big(\frac{(x-\mu_c)^2}{\sigma_c^3} -
  \frac1{\sigma_c}\big)\ell`, :math:`\ell = \log q - \log p` — the definition
  :math:`\int\nabla q\,(\log(q/p) + 1) - \nabla\int q`, not the Stein-reduced form the
  evaluator uses;
* forward, :math:`\nabla\mathrm{KL}(p\Vert q)`: :math:`\partial_{\pi_k} = 1 - \int p\,\varphi_k/q`,
  :math:`\partial_{\mu_k} = -\int p\,r_k\frac{x-\mu_k}{\sigma_k^2}`,
  :math:`\partial_{\sigma_k} = -\int p\,r_k\big(\frac{(x-\mu_k)^2}{\sigma_k^3} -
  \frac1{\sigma_k}\big)`, :math:`r_k = \pi_k\varphi_k/q`.

Method: ``mpmath.quad`` (tanh–sinh) at 30 digits over the range the integrand's Gaussian factor
covers (±40 scales), split at every mean and at both real roots of every pairwise log-odds
:math:`\log(\pi_k\varphi_k/\pi_l\varphi_l)` of either mixture (where log q or log p changes its
dominant component). Log-densities by log-sum-exp in mpmath (no underflow). Each value comes
with mpmath's error estimate; :class:`KmixReferenceError` is raised when it exceeds 1e-20 of the
largest entry.
"""

from __future__ import annotations

from collections.abc import Sequence

import mpmath as mp

Mix = tuple[Sequence[float], Sequence[float], Sequence[float]]  # weights, means, scales


class KmixReferenceError(RuntimeError):
    """The quadrature's own error estimate is too large to referee with."""


def _log_phi(x, m, s):
    return -((x - m) ** 2) / (2 * s * s) - mp.log(s) - mp.log(2 * mp.pi) / 2


def _log_mix(x, mix):
    terms = [mp.log(w) + _log_phi(x, m, s) for w, m, s in zip(*mix, strict=True)]
    top = max(terms)
    return top + mp.log(mp.fsum(mp.exp(t - top) for t in terms))


def _roots(a: tuple, b: tuple) -> list:
    """Real roots of log(π_a φ_a) − log(π_b φ_b) (a quadratic in x)."""
    (wa, ma, sa), (wb, mb, sb) = a, b
    A = 1 / (2 * sb * sb) - 1 / (2 * sa * sa)
    B = ma / (sa * sa) - mb / (sb * sb)
    C = (mp.log(wa) - mp.log(wb) - mp.log(sa) + mp.log(sb) - ma * ma / (2 * sa * sa)
         + mb * mb / (2 * sb * sb))
    if A == 0:
        return [] if B == 0 else [-C / B]
    d = B * B - 4 * A * C
    if d < 0:
        return []
    r = mp.sqrt(d)
    return [(-B - r) / (2 * A), (-B + r) / (2 * A)]


def _splits(q: Mix, p: Mix, lo, hi) -> list:
    pts = {mp.mpf(lo), mp.mpf(hi)}
    for mix in (q, p):
        comps = [tuple(mp.mpf(v) for v in c) for c in zip(*mix, strict=True)]
        for i, ci in enumerate(comps):
            pts.add(ci[1])
            for cj in comps[i + 1:]:
                pts.update(_roots(ci, cj))
    return sorted(v for v in pts if lo <= v <= hi)


def _quad(f, pts) -> tuple:
    val, err = mp.quad(f, pts, error=True)
    return val, err


def grad(q: Mix, p: Mix, direction: str, dps: int = 30) -> tuple[list, list, list]:
    """(weights, means, scales) entries of the gradient in the student's parameters, as mpf."""
    with mp.workdps(dps):
        q = tuple([mp.mpf(v) for v in part] for part in q)
        p = tuple([mp.mpf(v) for v in part] for part in p)
        K = len(q[0])
        out: list[list] = [[], [], []]
        errs = []
        if direction == "reverse":
            for c in range(K):
                pc, mc, sc = q[0][c], q[1][c], q[2][c]
                pts = _splits(q, p, mc - 40 * sc, mc + 40 * sc)

                def ell(x):
                    return _log_mix(x, q) - _log_mix(x, p)

                def phi(x, mc=mc, sc=sc):
                    return mp.exp(_log_phi(x, mc, sc))

                for slot, h in ((0, lambda x: 1),
                                (1, lambda x, mc=mc, sc=sc, pc=pc: pc * (x - mc) / sc**2),
                                (2, lambda x, mc=mc, sc=sc, pc=pc:
                                 pc * ((x - mc) ** 2 / sc**3 - 1 / sc))):
                    v, e = _quad(lambda x, h=h, phi=phi: phi(x) * h(x) * ell(x), pts)
                    out[slot].append(v)
                    errs.append(e)
        elif direction == "forward":
            lo = min(m - 40 * s for m, s in zip(p[1], p[2], strict=True))
            hi = max(m + 40 * s for m, s in zip(p[1], p[2], strict=True))
            pts = _splits(q, p, lo, hi)
            for k in range(K):
                pk, mk, sk = q[0][k], q[1][k], q[2][k]

                def r(x, pk=pk, mk=mk, sk=sk):  # p(x) r_k(x)
                    lp = _log_mix(x, p)
                    return mp.exp(lp + mp.log(pk) + _log_phi(x, mk, sk) - _log_mix(x, q))

                v, e = _quad(lambda x, r=r, pk=pk: r(x) / pk, pts)
                out[0].append(1 - v)
                errs.append(e)
                v, e = _quad(lambda x, r=r, mk=mk, sk=sk: -r(x) * (x - mk) / sk**2, pts)
                out[1].append(v)
                errs.append(e)
                v, e = _quad(lambda x, r=r, mk=mk, sk=sk:
                             -r(x) * ((x - mk) ** 2 / sk**3 - 1 / sk), pts)
                out[2].append(v)
                errs.append(e)
        else:
            raise ValueError(direction)
        scale = max(abs(v) for part in out for v in part)
        if max(errs) > mp.mpf(10) ** -20 * max(scale, 1):
            raise KmixReferenceError(f"quadrature error estimate {mp.nstr(max(errs), 3)}")
        return out[0], out[1], out[2]
