"""Sphinx configuration of the symforget documentation site.

Build: ``pip install '.[docs]'`` then ``sphinx-build -W -b html docs docs/_build/html``.

Nothing here is hand-copied from the code: the API reference is generated from the docstrings
(autosummary + numpydoc), the CLI reference from the argparse parser (``_ext/symforget_cli.py``),
the derivations are the pages ``symforget derive --out proofs`` wrote (synchronised into
``docs/proofs/`` at every build, never edited there) and the tutorials are executed (myst-nb).
"""

from __future__ import annotations

import importlib
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

import symforget  # noqa: E402

project = "symforget"
author = "symforget developers"
copyright = "2026, symforget developers"
version = release = symforget.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "symforget_cli",
]

# ``docs/*.png`` are the README's gallery figures (from ``symforget report``), not pages.
# ``api/modules.rst`` is generated and included by ``api/index.md``, not a page of its own.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "*.png", "**/.ipynb_checkpoints",
                    "api/modules.rst"]
templates_path = ["_templates"]
root_doc = "index"

# -- MyST -------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- executed tutorials (myst-nb) ---------------------------------------------------------------
# Always execute: a cached notebook could show output of an older symforget.
nb_execution_mode = "force"
nb_execution_timeout = 120
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# -- API reference --------------------------------------------------------------------------------
autosummary_generate = ["api/modules.rst"]  # and, recursively, the stubs it generates
autosummary_ignore_module_all = False  # a module's public names are its __all__
autosummary_imported_members = True  # symforget re-exports names defined in its sub-modules
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc "Parameters" sections say what the types mean
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()


def _certified_available() -> bool:
    """``symforget.certified`` (issue 16) is documented only when it is importable."""
    try:
        importlib.import_module("symforget.certified")
    except ImportError:
        return False
    return True


#: the modules of the API reference, in the order of its table of contents
API_MODULES = ["symforget", "symforget.precise", "symforget.kmix", "symforget.dynamics",
               "symforget.methods", "symforget.claims", "symforget.strategies"]
if _certified_available():
    API_MODULES.insert(2, "symforget.certified")


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _api_page() -> None:
    """``api/modules.rst``: one autosummary line per documented module (generated stubs).

    When the list changes (``symforget.certified`` appeared or went away) the generated stubs
    are dropped, so no stale page of a module that is gone is left outside every toctree.
    """
    lines = [".. autosummary::", "   :toctree: generated", ""]
    lines += [f"   {name}" for name in API_MODULES]
    text = "\n".join(lines) + "\n"
    page = DOCS / "api" / "modules.rst"
    if page.exists() and page.read_text(encoding="utf-8") != text:
        shutil.rmtree(DOCS / "api" / "generated", ignore_errors=True)
    _write_if_changed(page, text)


# -- the derivations: proofs/*.md (symforget derive --out proofs) -------------------------------
PROOFS_SRC = ROOT / "proofs"
PROOFS_DST = DOCS / "proofs"
_LINK = re.compile(r"\]\(([A-Za-z0-9_.\-]+)\.md\)")


def _sync_proofs() -> None:
    """Mirror ``proofs/*.md`` into ``docs/proofs/`` (generated; not committed).

    The pages are copied unchanged, except that the index (the claims table, the entry point)
    gains a hidden table of contents listing every claim page in the order of its table.
    """
    PROOFS_DST.mkdir(exist_ok=True)
    pages = sorted(p.name for p in PROOFS_SRC.glob("*.md"))
    for stale in PROOFS_DST.glob("*.md"):
        if stale.name not in pages:
            stale.unlink()
    for name in pages:
        text = (PROOFS_SRC / name).read_text(encoding="utf-8")
        if name == "index.md":
            order = list(dict.fromkeys(m.group(1) for m in _LINK.finditer(text)))
            rest = [p[:-3] for p in pages if p != "index.md" and p[:-3] not in order]
            entries = [p for p in order if (PROOFS_SRC / f"{p}.md").exists()] + rest
            text += "\n```{toctree}\n:hidden:\n:maxdepth: 1\n\n" + "\n".join(entries) + "\n```\n"
        _write_if_changed(PROOFS_DST / name, text)


_sync_proofs()
_api_page()

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"symforget {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
# pages without a section tree get the full width (code cells, --help text)
html_sidebars = {"index": [], "cli": [], "tutorials/*": []}
html_static_path: list[str] = []
html_show_sourcelink = False


# -- always re-read the pages computed from the code ----------------------------------------------
def _always_outdated(app, env, added, changed, removed):
    """The tutorials (executed) and the CLI page (from the parser) depend on code Sphinx does not
    track: re-read them on every build, so an incremental build cannot show stale output."""
    return [doc for doc in env.found_docs if doc.startswith("tutorials/") or doc == "cli"]


def setup(app):
    app.connect("env-get-outdated", _always_outdated)
