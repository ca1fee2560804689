"""``symforget simulate``: finite-batch and method experiments.

Imports only the standard library at import time (``symforget --help`` stays fast); the
experiments are imported inside the command.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["register"]


def _seed(text: str) -> int:
    from .cli import _seed as seed

    return seed(text)


def register(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the ``simulate`` sub-command to the sub-parser collection ``sub``."""
    p = sub.add_parser("simulate", help="run a finite-batch experiment (replay)",
                       description="Finite-batch replay experiment: starvation of the old "
                                   "mode and estimator variance vs the replay fraction rho.",
                       formatter_class=fmt)
    p.add_argument("experiment", choices=("replay",), help="which experiment (only 'replay')")
    p.add_argument("--w", type=float, default=0.05, help="old weight w in (0, 1) (default 0.05)")
    p.add_argument("--rho", type=float, nargs="+", default=[0.0, 0.1, 0.3, 0.5],
                   help="replay fractions in [0, 1) (default 0 0.1 0.3 0.5)")
    p.add_argument("--batch", type=int, default=8, help="batch size B >= 1 (default 8)")
    p.add_argument("--steps", type=int, default=2000,
                   help="batches / SGD steps per rho (default 2000)")
    p.add_argument("--seed", type=_seed, default=0, help="seed (default 0)")
    p.add_argument("--json", metavar="PATH", dest="json_path",
                   help="also write the result as JSON to PATH (written atomically)")
    p.set_defaults(func=_cmd_simulate)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .cli import EXIT_OK, EXIT_USAGE, _err, _progress_line
    from .errors import ParameterError
    from .simulate import format_table, replay_experiment

    try:
        result = replay_experiment(w=args.w, rhos=tuple(args.rho), batch=args.batch,
                                   steps=args.steps, seed=args.seed)
    except ParameterError as exc:
        _err(str(exc))
        return EXIT_USAGE
    print(format_table(result))
    if args.json_path is not None:
        from .render import atomic_write_text

        try:
            atomic_write_text(args.json_path,
                              json.dumps(result, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            _err(f"--json {args.json_path}: cannot write ({exc.strerror or exc})")
            return EXIT_USAGE
        _progress_line(f"wrote {args.json_path}\n")
    return EXIT_OK
