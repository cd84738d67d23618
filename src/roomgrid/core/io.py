"""Atomic file output and the tab-separated tables that stages hand to each other."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import stat
import tempfile
import uuid
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    An interrupted or failing writer leaves no plausible-looking half file behind, because the
    final name appears only through ``os.replace``, which is atomic on one file system.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix or path.suffix + ".part"
    remove_leftovers(path, suffix)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        apply_umask(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; when the block succeeds it replaces
    ``target`` whole, when it fails it is removed, so a half-built folder is never left in place."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target, ".part")
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    try:
        yield work
        apply_umask(work)
        replace_directory(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def remove_leftovers(target: Path, suffix: str) -> None:
    """Delete what an interrupted writer of ``target`` left beside it: temporary files or folders
    from :func:`atomic_path` / :func:`atomic_directory` and a folder parked by
    :func:`replace_directory`. A kill (SIGKILL, power loss) skips every ``except``/``finally``, and
    each of these can be as large as the output itself. Only names this module makes for exactly
    ``target`` match (a random part of ``tempfile``'s 8 characters, or ``old-`` and 32 hex digits),
    and one target has one writer at a time (Snakemake locks its outputs), so nothing live is hit.
    """
    made_here = re.compile(re.escape(f".{target.name}.")
                           + rf"(?:[a-z0-9_]{{8}}{re.escape(suffix)}|old-[0-9a-f]{{32}})")
    if not target.parent.is_dir():
        return
    for entry in os.scandir(target.parent):
        if made_here.fullmatch(entry.name):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)


def replace_directory(new: Path, target: Path) -> None:
    """Move the finished directory ``new`` onto ``target``, removing what was there.

    Each rename is atomic; between the two an old ``target`` is briefly parked beside it.
    """
    if target.exists() or target.is_symlink():
        parked = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
        os.replace(target, parked)
        os.replace(new, target)
        if parked.is_dir() and not parked.is_symlink():
            shutil.rmtree(parked)
        else:
            parked.unlink()
    else:
        os.replace(new, target)


def apply_umask(path: str | os.PathLike) -> None:
    """Give a file or folder made by ``tempfile`` (private: 0600/0700) the permissions an ordinary
    ``open``/``mkdir`` would have, so web servers and other cluster users can read results."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~umask)


def open_regular_file(path: str | os.PathLike):
    """Open ``path`` for binary reading if it is a regular file (or a link to one); raise
    :class:`NotRegularFile` otherwise.

    Opened without blocking and checked on the open descriptor: opening a named pipe for reading
    would otherwise wait for a writer forever, and a check by name before opening could be raced.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFile(path)
    return os.fdopen(fd, "rb")


class NotRegularFile(OSError):
    """A named pipe, socket or device where a file was expected."""


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a tab-separated table atomically (no index column), readable as it was written by
    ``pandas.read_csv(sep="\\t")``, ``csv.reader(delimiter="\\t")`` and spreadsheets whatever
    its text holds (file names may hold tabs, quotes, ``\\n`` and ``\\r``).

    Python's csv writer quotes a field holding a tab, a quote or ``\\n`` but not one holding only
    a ``\\r`` (it quotes the characters of its own line terminator), which those readers take as
    the end of a row; a table with a ``\\r`` in it is therefore written again with every field
    quoted. (Looking for one in the written bytes costs far less than in the frame's cells.)
    """
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
        if _holds_carriage_return(tmp):
            frame.to_csv(tmp, sep="\t", index=False, lineterminator="\n", quoting=csv.QUOTE_ALL)


def _holds_carriage_return(path: Path) -> bool:
    with open(path, "rb") as handle:
        return any(b"\r" in block for block in iter(lambda: handle.read(1 << 20), b""))


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (only ``columns`` if given), keeping ids and
    hashes as strings.

    Rows end in ``\\n`` only, so that tables written before :func:`write_table` quoted a lone
    ``\\r`` in a file name still read back.
    """
    return pd.read_csv(path, sep="\t", usecols=columns, lineterminator="\n",
                       dtype={"id": str, "dhash": str, "city": str, "post_id": str, "file": str},
                       keep_default_na=False, na_values=[""])


def as_whole_numbers(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``frame`` with those of ``columns`` that hold only whole numbers as nullable integers
    (``Int64``): a missing value otherwise makes the column float, written as ``1350.0``. Columns
    with anything else (a user's ``$1,350`` text, a fraction) are left as they are."""
    whole = {}
    for column in columns:
        if column not in frame or not pd.api.types.is_float_dtype(frame[column]):
            continue
        values = frame[column].dropna()
        if (values == values.round()).all():
            whole[column] = "Int64"
    return frame.astype(whole)


def read_json(path: str | os.PathLike):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_json(data, path: str | os.PathLike) -> None:
    """Write JSON atomically, indented for people who open it."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
