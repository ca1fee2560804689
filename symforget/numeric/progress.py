"""Progress of long step loops: a loop reports, the command line listens (stderr).

Lowest layer (no symforget imports): :mod:`symforget.dynamics` and every method's step loop call
:func:`report_steps` each step; ``symforget simulate`` and ``compare`` install a listener with
:func:`step_progress` and show percent done and an ETA. Nobody listening costs one global lookup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

__all__ = ["report_steps", "step_progress"]

_STEP_HOOK: Callable[[int, int], None] | None = None


def report_steps(done: int, total: int) -> None:
    """Tell whoever listens (:func:`step_progress`) that ``done`` of ``total`` update steps are
    finished. Cheap when nobody listens (one global lookup); a step loop may call it every step.
    """
    hook = _STEP_HOOK
    if hook is not None:
        hook(done, total)


@contextlib.contextmanager
def step_progress(hook: Callable[[int, int], None]) -> Iterator[None]:
    """Within the block, :func:`report_steps` calls ``hook(done, total)`` (the previous
    listener is restored afterwards)."""
    global _STEP_HOOK
    previous, _STEP_HOOK = _STEP_HOOK, hook
    try:
        yield
    finally:
        _STEP_HOOK = previous
