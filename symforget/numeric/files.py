"""File output shared by every writer (proofs, JSON reports, figures, sweeps): atomic files,
directories swapped in whole, and the writability check the command line makes before it
computes anything.

Standard library only (the command line imports this module at start-up).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_write_bytes", "output_problem", "staged_directory", "OUTPUT_KINDS"]

#: what an output path is used for (see :func:`output_problem`)
OUTPUT_KINDS = ("file", "append", "dir")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    The bytes go to a temporary file in the same directory which then replaces ``path`` with
    :func:`os.replace`, so a reader never sees a half-written file and an interrupted run leaves
    the old file intact. The new file gets the old file's permissions (or the umask default).
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


# --------------------------------------------------------------------------------------------
# the check made before any computation


def _cannot_create_in(directory: str) -> str | None:
    """None if a new file can be created in ``directory`` (tried for real: permissions, ACLs,
    read-only file systems and root all give the true answer), else the reason."""
    probe = os.path.join(directory, f".symforget-probe-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return f"cannot create files in {directory} ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    return None


def _nearest_existing(path: str) -> str:
    """``path`` or its nearest ancestor that exists."""
    p = os.path.abspath(path)
    while not os.path.lexists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


def output_problem(path: str | os.PathLike[str], kind: str = "file") -> str | None:
    """Why ``path`` cannot receive the output, or None if it can. Nothing is created.

    ``kind``:

    * ``"file"`` — written atomically (temporary file in the same directory, then a rename):
      the directory must exist and accept new files; an existing ``path`` must be a regular
      file (a directory, device or FIFO is refused: it would be replaced, not written to);
    * ``"append"`` — opened for appending, created if missing (sweep results): an existing
      ``path`` must be a regular file open-able for writing, else as ``"file"``;
    * ``"dir"`` — an output directory (see :func:`staged_directory`), created with its parents
      if missing: an existing ``path`` must be a directory that accepts new files (a
      read-only one is refused, not replaced); a missing one needs its nearest existing
      ancestor to accept new entries.
    """
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"kind={kind!r} must be one of {', '.join(OUTPUT_KINDS)}")
    text = os.fspath(path)
    if not text or not text.strip():
        return "empty path"
    if "\0" in text:
        return "the path contains a NUL character"
    full = os.path.abspath(text)
    try:
        st = os.stat(full)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        return f"{_nearest_existing(full)} is not a directory"
    except OSError as exc:  # e.g. ENAMETOOLONG, ELOOP
        return exc.strerror or str(exc)
    if kind == "dir":
        if st is not None:
            if not stat.S_ISDIR(st.st_mode):
                return "exists and is not a directory"
            return _cannot_create_in(full)  # a read-only directory is not replaced either
        base = _nearest_existing(full)
        if not os.path.isdir(base):
            return f"{base} is not a directory"
        return _cannot_create_in(base)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            return "is a directory"
        if not stat.S_ISREG(st.st_mode):
            return "exists and is not a regular file"
        if kind == "append":
            try:
                fd = os.open(full, os.O_WRONLY | os.O_APPEND)
            except OSError as exc:
                return f"cannot write to it ({exc.strerror or exc})"
            os.close(fd)
            return None
    parent = os.path.dirname(full)
    if not os.path.exists(parent):
        return f"directory {parent} does not exist"
    if not os.path.isdir(parent):
        return f"{parent} is not a directory"
    return _cannot_create_in(parent)


# --------------------------------------------------------------------------------------------
# directories swapped in whole


def _flat(directory: Path) -> bool:
    """True if ``directory`` holds only regular files (what derive and report write)."""
    try:
        with os.scandir(directory) as entries:
            return all(e.is_file(follow_symlinks=False) for e in entries)
    except OSError:
        return False


def _stageable(target: Path) -> bool:
    """Whether ``target`` can be rebuilt in a sibling and renamed into place."""
    if target.exists():
        if not target.is_dir() or os.path.ismount(target) or not _flat(target):
            return False  # a mount point, or a directory with more than our files: in place
        if _cannot_create_in(str(target)) is not None:
            return False  # read-only: not replaced behind its owner's back (writes will fail)
        cwd = os.path.realpath(os.getcwd())
        if os.path.commonpath([cwd, str(target)]) == str(target):
            return False  # the working directory or one of its ancestors
    return _cannot_create_in(str(target.parent)) is None


def _populate(src: Path, dst: Path) -> None:
    """Give ``dst`` the files of ``src``: hard links where possible (no copying; a file that
    is rewritten is replaced by a new inode, the old directory keeps its own), else copies."""
    for entry in os.scandir(src):
        to = dst / entry.name
        try:
            os.link(entry.path, to)
        except OSError:
            shutil.copy2(entry.path, to)
    shutil.copystat(src, dst)


def _swap_in(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an existing ``target`` is renamed aside first, restored if
    the second rename fails, and removed afterwards."""
    if not target.exists():
        os.rename(new, target)
        return
    aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.rename(target, aside)  # replaces the empty directory ``aside``
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def staged_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build the new contents of output directory ``path`` elsewhere and swap them in at the end.

    Yields a temporary sibling of ``path`` that starts with the files ``path`` already holds
    (files not rewritten are kept). When the ``with`` block ends normally the sibling replaces
    ``path`` by renames (an existing directory is renamed aside, then removed), so ``path`` is
    at every moment either entirely old or entirely new. When the block raises — including
    ``KeyboardInterrupt`` — the sibling is removed and ``path`` is left as it was.

    Where a sibling cannot be used — ``path`` is a mount point, the working directory or one of
    its ancestors, holds sub-directories or other non-regular files (not ours: never moved), is
    read-only, or its parent does not accept new entries — the block gets ``path`` itself
    (created if needed) and each file is still written atomically by its writer.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    if not _stageable(target):
        target.mkdir(exist_ok=True)
        yield target
        return
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    try:
        if target.is_dir():
            _populate(target, tmp)
        else:
            os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
