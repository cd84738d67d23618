"""Where photos come from: city folders under a root, each indexed into a per-city photo table.

A photo's id is ``<city>/<path inside the city folder>``: stable across runs and unique even when
different cities hold files with the same name (listing photos are often just ``1.jpg``). Source
files are only ever read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..core.io import open_regular_file


logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp"})
# Written beside the photos by the scraper and the demo generator; joined onto the photo table.
LISTINGS_FILE = "listings.tsv"
METADATA_COLUMNS = ("listing_url", "post_id", "title", "price", "bedrooms", "sqft",
                    "neighbourhood", "posted", "image_url")
# Listing fields that are counts: kept whole numbers in every table.
WHOLE_NUMBER_COLUMNS = ("price", "bedrooms", "sqft")


# What the workflow itself keeps at the top of a city folder: listing metadata, the demo's answer
# key, the scraper's journal (with its partial downloads) and the empty file Snakemake writes into
# a folder a job made (the demo's) to carry its time stamp. Not photos, so not listed.
SNAKEMAKE_TIMESTAMP = ".snakemake_timestamp"
OWN_ENTRIES = frozenset({LISTINGS_FILE, "demo_truth.tsv", ".scrape", SNAKEMAKE_TIMESTAMP})
HIDDEN = "hidden file"
NOT_AN_IMAGE_NAME = "not an image file name"
NOT_UTF8 = "file name is not UTF-8 text (rename it)"


def list_city_files(city_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """Everything below ``city_dir`` (any depth) as sorted ``(path, reason)`` pairs: the POSIX path
    relative to ``city_dir`` and why the file will not be read, or ``""`` for a photo to read.

    Nothing is dropped without a reason: hidden files (any path part starting with ``.``), names
    that are not UTF-8 (shown with ``\\xff`` escapes; a folder's files are not listed), names
    without an image extension, entries that are not regular files (named pipes, sockets, devices),
    broken symbolic links, symbolic links to folders (not followed, as they may loop) and folders
    that cannot be listed (one row, path ending in ``/``, and a warning) all get a row.
    """
    return [(rel, reason) for rel, reason, _ in _walk(Path(city_dir))]


def _walk(root: Path) -> list[tuple[str, str, os.stat_result | None]]:
    """:func:`list_city_files` with each photo's status (None for the others). One ``stat`` per
    photo and none per other file: at 125,000 photos this runs at every start of the workflow."""
    found = []
    pending = [("", True)]
    while pending:
        prefix, at_top = pending.pop()
        try:
            entries = list(os.scandir(root / prefix if prefix else root))
        except FileNotFoundError:  # a source job's folder before the job ran, or removed since
            if at_top:
                return []
            continue
        except OSError as exc:
            if at_top:
                raise
            logger.warning("cannot list folder %s: its files are left out (%s)", root / prefix,
                           exc.strerror)
            found.append((prefix, f"folder not readable: {exc.strerror}", None))
            continue
        for entry in entries:
            if at_top and entry.name in OWN_ENTRIES:
                continue
            rel = prefix + entry.name
            if not is_text_name(rel):
                # Tables are UTF-8 text, and such a name (as old archives and Windows code pages
                # leave them) has no text form by which it could be opened later: shown escaped.
                shown = os.fsencode(rel).decode("utf-8", "backslashreplace")
                found.append((shown + ("/" if entry.is_dir(follow_symlinks=False) else ""),
                              NOT_UTF8, None))
                continue
            if entry.is_dir(follow_symlinks=False):
                pending.append((rel + "/", False))
                continue
            reason, status = _reason_not_read(entry, rel)
            found.append((rel, reason, status))
    return sorted(found, key=lambda row: row[0])


def is_text_name(name: str) -> bool:
    """Whether a name from the file system is UTF-8 text (not bytes ``os.fsdecode`` escaped)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reason_not_read(entry: os.DirEntry, rel: str) -> tuple[str, os.stat_result | None]:
    if any(part.startswith(".") for part in rel.split("/")):
        return HIDDEN, None
    if entry.is_symlink() and entry.is_dir():
        return "symbolic link to a folder (not followed)", None
    if os.path.splitext(entry.name)[1].lower() not in IMAGE_EXTENSIONS:
        return NOT_AN_IMAGE_NAME, None
    try:
        status = entry.stat()
    except FileNotFoundError:
        return ("broken symbolic link" if entry.is_symlink() else "vanished while listed"), None
    except OSError as exc:
        return f"cannot stat: {exc.strerror}", None
    return ("", status) if stat.S_ISREG(status.st_mode) else ("not a regular file", None)


def list_city_photos(city_dir: str | os.PathLike) -> list[str]:
    """The image files below ``city_dir`` that will be read, as sorted relative POSIX paths."""
    return [rel for rel, reason in list_city_files(city_dir) if not reason]


def folder_fingerprint(city_dir: str | os.PathLike, cache: str | os.PathLike | None = None) -> str:
    """Digest of what the city's photo table and scan depend on: the relative path of every entry,
    the reason not to read it or else its content (sha256), and the content of ``listings.tsv``.
    Never fails on an odd entry, and files that are not read (``.DS_Store``) count only by name.

    Keyed by content, so a mere ``touch`` or a copy that keeps the bytes changes nothing downstream,
    while an edit that restores the file's size and modification time is still seen. Hashing every
    photo at every run would cost a full read of the folder, so each file's sha256 is kept in
    ``cache`` (JSON) and reused while its size, modification time, inode and *change* time hold:
    the change time is set by the kernel on every write or ``utime`` and cannot be put back.
    """
    root = Path(city_dir)
    known = _read_cache(cache)
    fresh = {}
    digest = hashlib.sha1()
    entries = _walk(root)
    if (root / LISTINGS_FILE).is_file():
        entries.append((LISTINGS_FILE, "", (root / LISTINGS_FILE).stat()))
    for rel, reason, status in entries:
        if reason:
            digest.update(f"{rel}\0{reason}\n".encode())
            continue
        key = [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]
        cached = known.get(rel)
        sha = cached[1] if cached and cached[0] == key else _content_digest(root / rel)
        fresh[rel] = [key, sha]
        digest.update(f"{rel}\0\0{sha}\n".encode())
    if cache and fresh != known:
        _write_cache(cache, fresh)
    return digest.hexdigest()


def file_fingerprint(path: str | os.PathLike) -> str:
    """The sha256 of a file's content, read once per process while its size, times and inode hold
    (one workflow start asks for the metadata CSV's once per city)."""
    try:
        status = os.stat(path)
    except OSError as exc:  # Snakemake names the missing input itself
        return f"unreadable: {exc.strerror}"
    return _file_sha256(os.fspath(path), status.st_size, status.st_mtime_ns, status.st_ctime_ns,
                        status.st_ino)


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, *status: int) -> str:
    return _content_digest(Path(path))


def _content_digest(path: Path) -> str:
    try:
        with open_regular_file(path) as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:  # replaced by a pipe or removed since it was listed: seen next time
        return f"unreadable: {exc}"


def _read_cache(cache: str | os.PathLike | None) -> dict:
    try:
        return json.loads(Path(cache).read_text()) if cache else {}
    except (OSError, ValueError):
        return {}


def _write_cache(cache: str | os.PathLike, entries: dict) -> None:
    """Replace the cache atomically; a cache that cannot be written costs time, never the run.
    (Not :func:`roomgrid.core.io.atomic_path`: two Snakemake processes may refresh the same cache.)"""
    path = Path(cache)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(entries, sort_keys=True))
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot keep the fingerprint cache %s: %s", path, exc)
        tmp.unlink(missing_ok=True)


def discover_cities(images_dir: str | os.PathLike) -> list[str]:
    """Sub-folders of ``images_dir`` that hold at least one image, sorted."""
    root = Path(images_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"images_dir {root} is not a folder")
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and list_city_photos(p))


def index_city(city: str, city_dir: str | os.PathLike, *, files: Iterable[str] | None = None,
               metadata: pd.DataFrame | None = None) -> pd.DataFrame:
    """Build the photo table of one city.

    Parameters
    ----------
    city, city_dir
        The city's name (its id prefix) and folder.
    files
        Paths relative to ``city_dir``; default: every file found there (see
        :func:`list_city_files`), those not to be read with their reason in ``skip_reason``.
    metadata
        Optional listing metadata with a ``file`` column relative to ``city_dir``. A
        ``listings.tsv`` inside the city folder is used too (scraper and demo write one).
    """
    city_dir = Path(city_dir)
    entries = ([(rel, "") for rel in sorted(files)] if files is not None
               else list_city_files(city_dir))
    rows = []
    for rel, reason in entries:
        try:  # of files to be read only: the others count by name (see folder_fingerprint)
            size = None if reason else (city_dir / rel).stat().st_size
        except OSError:
            size = None
        rows.append({"id": f"{city}/{rel}", "city": city, "file": rel, "path": str(city_dir / rel),
                     "bytes": size, "skip_reason": reason})
    table = pd.DataFrame(rows, columns=["id", "city", "file", "path", "bytes", "skip_reason"])
    table["bytes"] = table["bytes"].astype("Int64")
    if table["skip_reason"].ne("").any():
        logger.info("%s: %d files will not be read: %s", city, table["skip_reason"].ne("").sum(),
                    table.loc[table["skip_reason"].ne(""), "skip_reason"].value_counts().to_dict())
    sources = [m for m in (read_listings(city_dir), metadata) if m is not None and len(m)]
    for meta in sources:
        meta = meta.drop_duplicates("file", keep="last").set_index("file")
        for column in METADATA_COLUMNS:
            if column in meta.columns:
                joined = table["file"].map(meta[column])
                table[column] = joined.where(joined.notna(), table.get(column))
    for column in METADATA_COLUMNS:
        if column not in table.columns:
            table[column] = pd.NA
    return table


def read_listings(city_dir: Path) -> pd.DataFrame | None:
    path = city_dir / LISTINGS_FILE
    if not path.exists():
        return None
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])


def metadata_for_city(metadata_csv: str | os.PathLike | None, city: str) -> pd.DataFrame | None:
    """Rows of a user's metadata CSV (``file`` relative to the images root) that belong to ``city``,
    with ``file`` made relative to the city folder."""
    if not metadata_csv:
        return None
    meta = pd.read_csv(metadata_csv, dtype=str, keep_default_na=False, na_values=[""])
    if "file" not in meta.columns:
        raise ValueError(f"{metadata_csv} needs a 'file' column (path relative to images_dir)")
    prefix = f"{city}/"
    mine = meta[meta["file"].str.startswith(prefix)].copy()
    mine["file"] = mine["file"].str[len(prefix):]
    return mine


# --- the stage on files ------------------------------------------------------------------------

def run_index_city(city: str, city_dir, metadata_csv, out_tsv) -> None:
    """Index one city's folder (with its rows of ``metadata_csv``, if given) into ``out_tsv``."""
    from ..core.io import write_table

    table = index_city(city, city_dir, metadata=metadata_for_city(metadata_csv, city))
    write_table(table, out_tsv)
    logger.info("%s: %d photos indexed", city, len(table))
