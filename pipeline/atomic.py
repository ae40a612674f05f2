"""Write files and swap folders so that a failure or a kill at any point leaves old or new.

The project's one atomic writer, used by the data stages (:mod:`pipeline.data.simulate`,
:mod:`pipeline.data.prepare`) and the report (:mod:`pipeline.report.build`, ``history``,
``index``); docs/adr/0035, docs/adr/0145.

* :func:`write_file` / :func:`write_text` -- one file: written to a hidden ``.<name>.tmp``
  sibling, then one ``os.replace``. If the writer raises, the sibling is deleted and the file
  is as it was (bad input changes nothing already written); a kill leaves at most the sibling,
  which the next write deletes.
* :func:`replace_files` -- several files of one output folder: all written into a hidden
  temporary folder beside it, then each renamed in; nothing is renamed unless every writer
  succeeded.
* :func:`replace_folder` / :func:`recover_folder` -- a whole folder (a report).

A report folder ``reports/<key>`` stays a real directory (it is committed and read on the
forge). The new version is staged complete beside it as ``reports/.<key>.staging`` and swapped
in by one ``renameat2(RENAME_EXCHANGE)`` on Linux; where the kernel or file system refuses
that, by two renames (``<key>`` to ``.<key>.old``, then ``.<key>.staging`` to ``<key>``).
:func:`recover_folder` puts back whatever a kill interrupted, judged only by what is on disk,
and every publish and every reader that matters calls it first (docs/adr/0035).

Invariant that makes recovery sound: ``reports/<key>`` only ever appears by a rename of a
complete folder, and ``.<key>.old`` is only deleted once ``<key>`` is back. So:

- ``<key>`` missing, ``.<key>.old`` present: the two-rename swap was cut between its renames;
  the old version is renamed back (roll back: the interrupted run never published).
- anything left under ``.<key>.staging`` or ``.<key>.old`` once ``<key>`` exists is either an
  unfinished staging or the replaced version: both are deleted.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


def staging_path(target: Path) -> Path:
    """Where the next version of ``target`` is assembled: a hidden sibling (git-ignored)."""
    return target.parent / f".{target.name}.staging"


def old_path(target: Path) -> Path:
    """Where the two-rename swap parks the replaced version for a moment (git-ignored)."""
    return target.parent / f".{target.name}.old"


def _renameat2():
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError, TypeError):  # not Linux/glibc: use the fallback
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the system cannot.

    Linux renameat2(2) with RENAME_EXCHANGE (kernel 3.15+, glibc 2.28+; ext4, xfs, btrfs,
    tmpfs). Any other failure is raised, since then neither path was touched.
    """
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        os.unlink(path)


def recover_folder(target: Path) -> None:
    """Finish or undo a swap of ``target`` that a kill interrupted; a no-op when none was."""
    old = old_path(target)
    if not target.exists() and old.exists():
        os.rename(old, target)
    _remove(staging_path(target))
    _remove(old)


def _move_to_staging(source: Path, staging: Path) -> None:
    try:
        os.rename(source, staging)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copytree(source, staging)
        shutil.rmtree(source)


def replace_folder(source: Path, target: Path) -> None:
    """Publish the complete folder ``source`` as ``target``, all or nothing.

    ``source`` must already hold every file of the new version (history included): nothing is
    merged from the old folder, so files of a removed outcome go with it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_folder(target)
    staging = staging_path(target)
    _move_to_staging(source, staging)
    if not target.exists():
        os.rename(staging, target)
    elif exchange(staging, target):
        shutil.rmtree(staging)  # now the replaced version
    else:
        old = old_path(target)
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old)


def temporary_path(path: Path) -> Path:
    """The hidden sibling a file is written to before it is renamed over ``path``."""
    return path.parent / f".{path.name}.tmp"


def recover_file(path: Path) -> None:
    """Delete the temporary copy an interrupted :func:`write_file` left; ``path`` is intact."""
    _remove(temporary_path(path))


def write_file(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` whole or not at all: ``write(tmp)`` fills a temporary sibling, then one
    ``os.replace`` puts it in place. If ``write`` raises, the temporary file is deleted and
    ``path`` is as it was; a kill leaves at most the sibling, which the next write removes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_file(path)
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """:func:`write_file` of UTF-8 text."""
    write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def replace_files(out: Path, writers: dict[str, Callable[[Path], object]]) -> None:
    """Write every file of ``writers`` (name -> ``write(path)``) into a temporary folder beside
    ``out``, then rename each into ``out``: nothing is renamed unless every writer succeeded.

    The temporary folder (``.<out>.tmp-*``) is a sibling, not inside ``out``, so a run killed
    while writing leaves no stray file among the outputs (DVC tracks ``out`` as a folder); the
    next run removes such leftovers. Renames are atomic, so each output is either the previous
    or the new file, never a half-written one.
    """
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        for name, write in writers.items():
            write(tmp / name)
        for name in writers:
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
