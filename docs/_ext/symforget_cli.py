"""Sphinx extension: the ``symforget-cli`` directive renders every sub-command's ``--help``.

The text comes from :func:`symforget.cli.build_parser` at build time (wrapped at a fixed width
so the page does not depend on the terminal of whoever builds it), so the site and
``symforget COMMAND --help`` cannot disagree. Sub-commands of sub-commands (``simulate rkl``)
are walked recursively; every command gets its own section (and anchor).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

WIDTH = 96


Command = tuple[tuple[str, ...], str, argparse.ArgumentParser]


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Command]:
    """Yield ``(command path, one-line help, parser)`` for the parser and every sub-command."""
    yield path, parser.description or "", parser
    for action in parser._actions:  # argparse exposes sub-parsers only through this
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        seen: set[int] = set()
        for name, sub in action.choices.items():
            if id(sub) in seen:  # an alias of a command already listed
                continue
            seen.add(id(sub))
            for sub_path, _, sub_parser in walk(sub, (*path, name)):
                help_ = helps.get(name, "") if sub_path == (*path, name) else ""
                yield sub_path, help_ or (sub_parser.description or ""), sub_parser


def help_text(parser: argparse.ArgumentParser) -> str:
    """``parser.format_help()`` wrapped at :data:`WIDTH` columns."""
    cls = parser.formatter_class
    parser.formatter_class = lambda prog: cls(prog, width=WIDTH)  # type: ignore[assignment]
    try:
        return parser.format_help().rstrip() + "\n"
    finally:
        parser.formatter_class = cls


class SymforgetCli(SphinxDirective):
    """``symforget-cli``: a section per command with its ``--help`` as a literal block."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from symforget.cli import build_parser

        out: list[nodes.Node] = []
        for path, summary, parser in walk(build_parser()):
            title = " ".join(("symforget", *path))
            section = nodes.section(ids=[nodes.make_id(title)])
            section += nodes.title(text=title)
            if path and summary:
                section += nodes.paragraph(text=summary)
            text = help_text(parser)
            block = nodes.literal_block(text, text)
            block["language"] = "text"
            section += block
            self.state.document.note_implicit_target(section)
            out.append(section)
        return out


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("symforget-cli", SymforgetCli)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
