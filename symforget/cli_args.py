"""Argument types shared by the ``symforget`` sub-commands (standard library only)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["int_option"]


def int_option(name: str, lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type=`` for an integer option ``name`` in ``[lo, hi]`` (no upper bound if
    ``hi`` is None); a bad value is a usage error whose message names the option."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}={text!r} must be an integer") from None
        if hi is None and value < lo:
            raise argparse.ArgumentTypeError(f"{name}={value} must be >= {lo}")
        if hi is not None and not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{name}={value} must lie in [{lo}, {hi}]")
        return value

    return parse
