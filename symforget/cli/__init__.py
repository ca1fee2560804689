"""The ``symforget`` command line: ``verify``, ``derive``, ``list``, ``simulate``, ``report``.

Exit codes: 0 success (every selected claim passed / every derivation step checked), 1 a claim
failed or errored (or a derivation step did not check), 2 usage error (bad option, unknown claim
id, unwritable output). Progress goes to stderr, results to stdout.

This module imports only the standard library at import time, so ``symforget --help`` is fast;
SymPy, NumPy and the claims are imported inside the commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..errors import SymforgetError
from .args import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    STATUS,
    int_option,
    output_error,
)
from .args import error as _err
from .args import progress_line as _progress_line

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAIL", "EXIT_USAGE", "EXIT_INTERRUPTED"]


PROFILES = ("quick", "full")  # kept equal to symforget.claims.PROFILES (a test checks it)
FORMATS = ("md", "latex")  # kept equal to symforget.runners.render.FORMATS (a test checks it)
DPS_RANGE = (20, 1000)  # kept equal to symforget.claims.DPS_RANGE (a test checks it)

_MAIN_EPILOG = """\
examples:
  symforget verify                      verify every claim (quick profile)
  symforget verify fkl --profile full   the fkl.* claims, exhaustive profile
  symforget derive --out proofs         regenerate the derivations in proofs/
  symforget list                        the claims and their statements

Run 'symforget COMMAND --help' for the options of a command.
"""

_VERIFY_EPILOG = """\
Prints progress on stderr, then a table (claim, status, seconds, key evidence) on stdout and
a final line 'N passed, M failed'. A failing claim prints its counterexample.
Exit code 0 iff every selected claim passes, 1 otherwise, 2 for a usage error.

examples:
  symforget verify
  symforget verify gauss.closed_forms rkl --seed 1 --json report.json
  symforget verify --profile full --dps 50
"""

_DERIVE_EPILOG = """\
Writes one file per claim (statement, assumptions, derivation steps in LaTeX with the method that
checked each step, and the command that verifies the claim) plus an index of all claims.
Every step is re-checked while rendering; exit code 1 if any step does not check.
The output is deterministic: 'symforget derive --out proofs' reproduces proofs/ byte for byte.

examples:
  symforget derive --out proofs
  symforget derive fkl.em_identity --format latex --out tex/
"""

_REPORT_EPILOG = """\
Exit code 0 iff every selected claim passes, 1 otherwise, 2 for a usage error or when
matplotlib (the 'plot' extra) is missing.

examples:
  symforget report --out report
  symforget report --out report --profile full --seed 1
"""

_LIST_EPILOG = """\
example:
  symforget list
"""


_dps = int_option("dps", *DPS_RANGE)
_seed = int_option("seed", 0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="symforget",
        description="Symbolic-numeric verification of the theory of forgetting in "
                    "post-training (two-mode Gaussian mixtures, forward vs reverse KL).",
        epilog=_MAIN_EPILOG, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"symforget {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("verify", help="verify claims (exit 0 iff all pass)",
                       description="Run the checks of the selected claims (all by default).",
                       epilog=_VERIFY_EPILOG, formatter_class=fmt)
    p.add_argument("ids", nargs="*", metavar="ID",
                   help="claim ids or families (e.g. 'fkl.em_identity', 'rkl'); default: all")
    p.add_argument("--profile", choices=PROFILES, default="quick",
                   help="'quick' (default, < 1 min for all claims) or 'full' (exhaustive)")
    p.add_argument("--json", metavar="PATH", dest="json_path",
                   help="also write the report as JSON to PATH (written atomically)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--dps", type=_dps, default=30,
                   help=f"mpmath working precision in digits, {DPS_RANGE[0]}..{DPS_RANGE[1]} "
                        "(default 30)")
    p.add_argument("--certified", action="store_true",
                   help="also certify the selected claims that have a certificate (see "
                        "'symforget prove --list') over their default boxes with ball "
                        "arithmetic, and re-check each certificate with the independent "
                        "checker; a claim counts as passed only if both hold")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("derive", help="render derivations to Markdown/LaTeX",
                       description="Render the derivations of the selected claims (all by "
                                   "default), one file per claim, plus an index.",
                       epilog=_DERIVE_EPILOG, formatter_class=fmt)
    p.add_argument("ids", nargs="*", metavar="ID",
                   help="claim ids or families; default: all")
    p.add_argument("--format", choices=FORMATS, default="md", dest="fmt",
                   help="'md' (Markdown with $$ LaTeX $$, default) or 'latex' (.tex fragments)")
    p.add_argument("--out", metavar="DIR", default="proofs",
                   help="output directory, created if needed (default: proofs)")
    p.set_defaults(func=_cmd_derive)

    p = sub.add_parser("list", help="list the claims with one-line statements",
                       description="List every registered claim id with its statement.",
                       epilog=_LIST_EPILOG, formatter_class=fmt)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("report", help="verify and write a Markdown report with figures",
                       description="Run the verification and write DIR/index.md (claims table, "
                                   "environment, seed, timings) plus PNG figures. Needs the "
                                   "'plot' extra: pip install 'symforget[plot]'.",
                       epilog=_REPORT_EPILOG, formatter_class=fmt)
    p.add_argument("--out", metavar="DIR", required=True,
                   help="output directory, created if needed")
    p.add_argument("--profile", choices=PROFILES, default="quick",
                   help="'quick' (default) or 'full'")
    p.add_argument("--seed", type=_seed, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--ids", nargs="+", metavar="ID", default=None,
                   help="only these claim ids or families (default: all)")
    p.set_defaults(func=_cmd_report)

    # commands that live in their own modules (stdlib-only at import time)
    from . import methods as cli_methods
    from . import prove as cli_prove
    from . import sweep as cli_sweep

    cli_methods.register(sub, fmt)
    cli_sweep.register(sub, fmt)
    cli_prove.register(sub, fmt)
    return parser


def _output_errors(*checks: tuple[str, str | None, str]) -> int | None:
    """Check every ``(option, path, kind)`` output before any work: print the first problem
    and return EXIT_USAGE, or None when every path can be written."""
    for option, path, kind in checks:
        message = output_error(option, path, kind)
        if message is not None:
            _err(message)
            return EXIT_USAGE
    return None


# --------------------------------------------------------------------------------------------
# verify


def _cmd_verify(args: argparse.Namespace) -> int:
    if (code := _output_errors(("--json", args.json_path, "file"))) is not None:
        return code
    from .. import claims

    selected = claims.select(args.ids)  # UnknownClaimError before any work
    _progress_line(f"symforget {__version__}: verifying {len(selected)} claim(s) "
                   f"(profile {args.profile}, seed {args.seed}, dps {args.dps})\n")
    finished: list[Any] = []  # kept by the progress callback: what a Ctrl-C leaves us

    def progress(i: int, n: int, claim: Any, result: Any) -> None:
        if result is None:
            _progress_line(f"[{i + 1}/{n}] {claim.id} ... ")
        else:
            finished.append(result)
            _progress_line(f"{result.status} ({result.seconds:.1f} s)\n")

    t0 = time.perf_counter()
    try:
        report = claims.verify([c.id for c in selected], args.profile, seed=args.seed,
                               dps=args.dps, progress=progress)
    except KeyboardInterrupt:
        from ..claims.base import Context

        ctx = Context(profile=args.profile, seed=args.seed, dps=args.dps)
        report = claims.VerifyReport(list(finished), ctx,
                                     claims.environment(), complete=False)
    certified: list[dict[str, Any]] = []
    if args.certified and report.complete:
        try:
            certified = _certify([c.id for c in selected])
        except KeyboardInterrupt:
            report.complete = False
    total = time.perf_counter() - t0
    if report.results:
        print(_table(report.results))
    if certified:
        print("\ncertified (ball arithmetic over the default box and any further boxes, "
              "re-checked independently):")
        print(_table_certified(certified))
    bad = [r for r in report.results if not r.ok]
    for r in bad:
        print(f"\n{r.status.upper()} {r.id}: {r.statement}")
        if r.counterexample:
            print(f"  counterexample: {r.counterexample}")
        elif r.summary:
            print(f"  {r.summary}")
    wrote = False
    if args.json_path is not None:
        from ..runners.render import atomic_write_text

        doc = report.to_json()
        if args.certified:
            doc["certified"] = certified
        try:
            atomic_write_text(args.json_path,
                              json.dumps(doc, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            _err(f"--json {args.json_path}: cannot write ({exc.strerror or exc})")
            return EXIT_USAGE
        wrote = True
        if report.complete:
            _progress_line(f"wrote {args.json_path}\n")
    bad_cert = [c for c in certified if not (c["status"] == "certified" and c["checked"])]
    for c in bad_cert:
        print(f"\nNOT CERTIFIED {c['claim']}: {c['detail']}")
    errors = sum(r.status == "error" for r in bad)
    n_done = len(report.results)
    done_text = (f"{n_done} claim(s)" if report.complete
                 else f"{n_done} of {len(selected)} claim(s) (interrupted)")
    print(f"\n{done_text} in {total:.1f} s"
          + (f"; {errors} raised an error (counted as failed)" if errors else ""))
    if certified:
        print(f"{len(certified) - len(bad_cert)} of {len(certified)} certificate(s) hold")
    print(f"{n_done - len(bad)} passed, {len(bad)} failed")  # alone on the line
    if not report.complete:
        _err(f"interrupted after {n_done} of {len(selected)} claim(s)"
             + (f"; partial report (\"complete\": false) in {args.json_path}" if wrote else ""))
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok and not bad_cert else EXIT_FAIL


def _certify(ids: Sequence[str]) -> list[dict[str, Any]]:
    """Certify every certifiable claim among ``ids`` over its default box and its further boxes
    (:attr:`symforget.certified.statements.Certifiable.more_boxes`, e.g. ``beyond.any_family``
    for r < 1) and re-check each certificate with :mod:`symforget.certified.check` (which
    shares no code with the prover)."""
    from .. import certified
    from ..certified.prover import frac_str
    from ..certified.statements import CERTIFIABLE

    out = []
    todo = []
    for cid in ids:
        if cid in certified.list_certifiable():
            entry = CERTIFIABLE[cid]
            default = entry.default_box()
            for box in entry.boxes():
                extra = ",".join(f"{k}={frac_str(v[0])}:{frac_str(v[1])}" for k, v in box.items()
                                 if v != default[k])
                todo.append((cid, box, f"{cid} [{extra}]" if extra else cid))
    for i, (cid, box, label) in enumerate(todo):
        _progress_line(f"[certify {i + 1}/{len(todo)}] {label} ... ")
        t0 = time.perf_counter()
        cert = certified.prove(cid, box)
        t1 = time.perf_counter()
        checked = False
        detail = cert.status
        if cert.ok:
            res = certified.check_certificate(cert.to_json())
            checked = res.ok
            detail = str(res)
        elif cert.counterexample:
            detail = f"{cert.status}: {cert.counterexample}"
        t2 = time.perf_counter()
        _progress_line(f"{cert.status}{', re-checked' if checked else ''} "
                       f"({t2 - t0:.1f} s)\n")
        out.append({"claim": label, "status": cert.status, "checked": checked,
                    "cells": len(cert.cells), "local": len(cert.local),
                    "prove_seconds": round(t1 - t0, 3), "check_seconds": round(t2 - t1, 3),
                    "detail": detail})
    return out


def _table_certified(rows: Sequence[dict[str, Any]]) -> str:
    head = ("claim", "status", "cells", "prove s", "check s")
    body = [(r["claim"], r["status"] + (" + checked" if r["checked"] else ""), str(r["cells"]),
             f"{r['prove_seconds']:.1f}", f"{r['check_seconds']:.1f}") for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=True)).rstrip()
             for row in (head, tuple("-" * w for w in widths), *body)]
    return "\n".join(lines)


def _table(results: Sequence[Any]) -> str:
    header = ("claim", "status", "seconds", "evidence")
    rows = [(r.id, r.status, f"{r.seconds:.1f}", r.summary) for r in results]
    w_id = max(len(header[0]), *(len(r[0]) for r in rows)) if rows else len(header[0])
    w_st = max(len(header[1]), *(len(r[1]) for r in rows)) if rows else len(header[1])
    w_s = max(len(header[2]), *(len(r[2]) for r in rows)) if rows else len(header[2])

    def line(row: tuple[str, str, str, str]) -> str:
        return f"{row[0]:<{w_id}}  {row[1]:<{w_st}}  {row[2]:>{w_s}}  {row[3]}".rstrip()

    sep = f"{'-' * w_id}  {'-' * w_st}  {'-' * w_s}  {'-' * len(header[3])}"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


# --------------------------------------------------------------------------------------------
# derive


def _cmd_derive(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import claims

    selected = claims.select(args.ids)
    if (code := _output_errors(("--out", args.out, "dir"))) is not None:
        return code
    out = Path(args.out)
    problems: list[str] = []
    written: list[str] = []
    code = _build_output_dir("--out", out, lambda stage: _derive_into(
        stage, selected, args.fmt, written, problems))
    if code is not None:
        return code
    for name in written:
        print(out / name)
    for p in problems:
        _err(p)
    print(f"wrote {len(written)} file(s) to {out}"
          + (f"; {len(problems)} problem(s)" if problems else ""))
    return EXIT_FAIL if problems else EXIT_OK


def _build_output_dir(option: str, out: Any, build: Any) -> int | None:
    """Run ``build(stage)`` in a staged copy of output directory ``out`` and swap it in
    (:func:`symforget.numeric.files.staged_directory`). None on success, else the exit code after a
    one-line message: 130 on Ctrl-C (``out`` is left as it was), 2 if the directory cannot be
    written after all."""
    from ..numeric.files import staged_directory

    stage = None
    try:
        with staged_directory(out) as stage:
            build(stage)
    except KeyboardInterrupt:
        staged = stage is None or os.path.realpath(stage) != os.path.realpath(out)
        _err("interrupted; " + (f"{out} left as it was" if staged
                                else f"the files written so far are in {out}"))
        return EXIT_INTERRUPTED
    except OSError as exc:
        _err(f"{option} {out}: cannot write ({exc.strerror or exc})")
        return EXIT_USAGE
    return None


def _derive_into(stage: Any, selected: list[Any], fmt: str, written: list[str],
                 problems: list[str]) -> None:
    """Render ``selected`` into directory ``stage``, then the index; appends the file names to
    ``written`` and the steps that did not check to ``problems``."""
    from .. import claims
    from ..runners import render

    n = len(selected)
    for i, claim in enumerate(selected):
        _progress_line(f"[{i + 1}/{n}] {claim.id} ... ")
        t0 = time.perf_counter()
        try:
            rendered = render.render_claim(claim, fmt)
        except Exception as exc:  # reported; the other claims still render
            _progress_line(f"error ({type(exc).__name__}: {exc})\n")
            problems.append(f"{claim.id}: derivations raised {type(exc).__name__}: {exc}")
            continue
        render.atomic_write_text(stage / rendered.filename, rendered.text)
        written.append(rendered.filename)
        status = "ok" if rendered.ok else f"{len(rendered.failed_steps)} step(s) NOT confirmed"
        _progress_line(f"{status}, steps={rendered.steps} ({time.perf_counter() - t0:.1f} s)\n")
        problems += [f"{claim.id}: {s}" for s in rendered.failed_steps]
    # The index lists the claims whose file is in the directory: those just written and those
    # an earlier run left there (no broken links; a full run indexes every claim).
    present = [c for c in claims.registry().values()
               if (stage / render.claim_filename(c.id, fmt)).is_file()]
    index = render.index_filename(fmt)
    render.atomic_write_text(stage / index, render.render_index(present, fmt))
    written.append(index)


# --------------------------------------------------------------------------------------------
# list


def _cmd_list(args: argparse.Namespace) -> int:
    from .. import claims

    reg = claims.registry()
    width = max((len(cid) for cid in reg), default=0)
    for cid, claim in reg.items():
        print(f"{cid:<{width}}  {claim.statement}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# report


def _cmd_report(args: argparse.Namespace) -> int:
    try:
        from ..runners import report
    except ImportError as exc:  # pragma: no cover - report.py imports only numpy at top level
        _err(str(exc))
        return EXIT_USAGE
    try:
        report.require_matplotlib()
    except report.MissingPlotExtraError as exc:
        _err(str(exc))
        return EXIT_USAGE
    from pathlib import Path

    from .. import claims

    ids = None if args.ids is None else [c.id for c in claims.select(args.ids)]
    if (code := _output_errors(("--out", args.out, "dir"))) is not None:
        return code
    t0 = time.perf_counter()
    results: list[Any] = []
    out = Path(args.out)
    code = _build_output_dir("--out", out, lambda stage: results.append(report.write_report(
        stage, args.profile, seed=args.seed, ids=ids, progress=_progress_line)))
    if code is not None:
        return code
    result = results[0]
    for path in (result.index, *result.figures):
        print(out / path.name)
    print(f"report written in {time.perf_counter() - t0:.1f} s; "
          + ("all claims passed" if result.ok else "SOME CLAIMS FAILED (see index.md)"))
    return EXIT_OK if result.ok else EXIT_FAIL


def _deepest_parser(parser: argparse.ArgumentParser,
                    args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub-)parser whose options come last on the command line: ``verify --nonsense``
    is reported with the usage of ``verify``, ``simulate rkl --x`` with that of
    ``simulate rkl``."""
    current = parser
    while True:
        actions = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions:
            return current
        name = getattr(args, actions[0].dest, None)
        if name is None or name not in actions[0].choices:
            return current
        current = actions[0].choices[name]


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """parse_args, except that unrecognised arguments are reported by the sub-command's parser
    (its usage, not the top-level one). Raises SystemExit like argparse."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extras = parser.parse_known_args(argv)
    if extras:
        target = parser
        command = getattr(args, "command", None)
        # an unknown option before the command name belongs to the top level
        if command is not None and command in argv and argv.index(command) < argv.index(
                extras[0]):
            target = _deepest_parser(parser, args)
        target.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (also for ``--help`` and usage errors).

    Exit codes: 0 success, 1 a claim failed (or a derivation step did not check), 2 a usage
    error — a bad option, an unknown claim id, an unwritable output, or parameters the
    computation refuses (any :class:`~symforget.errors.SymforgetError`: one line, no
    traceback) — and 130 when interrupted (Ctrl-C).
    """
    STATUS.reset()
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except SymforgetError as exc:  # UnknownClaimError, ParameterError, PrecisionError, ...
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. 'symforget list | head'
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAIL
