"""Exception hierarchy of symforget.

Every error the toolkit raises on purpose derives from :class:`SymforgetError`, so a caller can
catch the toolkit's refusals without catching programming errors.
"""

from __future__ import annotations

__all__ = ["SymforgetError", "ParameterError", "PrecisionError", "UnknownClaimError"]


class SymforgetError(Exception):
    """Root of every error raised deliberately by symforget.

    Examples
    --------
    >>> import symforget as sf
    >>> all(issubclass(e, sf.SymforgetError) for e in
    ...     (sf.ParameterError, sf.PrecisionError, sf.UnknownClaimError))
    True
    """


class ParameterError(ValueError, SymforgetError):
    """A parameter is outside its domain; the message names the parameter and the allowed range.

    Examples
    --------
    >>> import symforget as sf
    >>> try:
    ...     sf.misassignment(1.5, 2.0)
    ... except sf.ParameterError as exc:
    ...     print(exc)
    w=1.5 must lie in the open interval (0, 1)
    >>> issubclass(sf.ParameterError, ValueError)
    True
    """


class PrecisionError(ArithmeticError, SymforgetError):
    """A high-precision evaluation could not certify its result (error estimate too large).

    Examples
    --------
    χ² = e^{Δ²} − 1 overflows a double beyond Δ ≈ 26.6; the evaluator refuses rather than
    returning inf:

    >>> import symforget as sf
    >>> try:
    ...     sf.chi2_gauss(30.0)
    ... except sf.PrecisionError as exc:
    ...     print(exc)
    chi2_gauss: delta=30.0 is too large: the value overflows double precision
    (use the closed form's logarithm)
    """


class UnknownClaimError(KeyError, SymforgetError):
    """A claim id that is not in the registry.

    Examples
    --------
    >>> import symforget as sf
    >>> try:
    ...     sf.verify("rkl.no_such_claim")
    ... except sf.UnknownClaimError as exc:
    ...     print(str(exc)[:42])
    unknown claim id 'rkl.no_such_claim'; know
    """

    def __str__(self) -> str:  # KeyError quotes its argument; we want a plain sentence
        return str(self.args[0]) if self.args else "unknown claim"
