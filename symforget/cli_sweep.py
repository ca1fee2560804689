"""``symforget sweep``: claims over parameter boxes (issue 7; being built).

Imports only the standard library at import time.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the ``sweep`` sub-command to the sub-parser collection ``sub``."""
