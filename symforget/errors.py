"""Exception hierarchy of symforget.

Every error the toolkit raises on purpose derives from :class:`SymforgetError`, so a caller can
catch the toolkit's refusals without catching programming errors.
"""

from __future__ import annotations

__all__ = ["SymforgetError", "ParameterError", "PrecisionError", "UnknownClaimError"]


class SymforgetError(Exception):
    """Root of every error raised deliberately by symforget."""


class ParameterError(ValueError, SymforgetError):
    """A parameter is outside its domain; the message names the parameter and the allowed range."""


class PrecisionError(ArithmeticError, SymforgetError):
    """A high-precision evaluation could not certify its result (error estimate too large)."""


class UnknownClaimError(KeyError, SymforgetError):
    """A claim id that is not in the registry."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want a plain sentence
        return str(self.args[0]) if self.args else "unknown claim"
