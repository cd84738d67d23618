"""Where photos come from: city folders under a root, each indexed into a per-city photo table.

A photo's id is ``<city>/<path inside the city folder>``: stable across runs and unique even when
different cities hold files with the same name (listing photos are often just ``1.jpg``). Source
files are only ever read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Iterable

import pandas as pd

from .io import open_regular_file


logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp"})
# Written beside the photos by the scraper and the demo generator; joined onto the photo table.
LISTINGS_FILE = "listings.tsv"
METADATA_COLUMNS = ("listing_url", "post_id", "title", "price", "bedrooms", "sqft",
                    "neighbourhood", "posted", "image_url")


# What the workflow itself keeps at the top of a city folder: listing metadata, the demo's answer
# key and the scraper's journal (with its partial downloads). Not photos, so not listed.
OWN_ENTRIES = frozenset({LISTINGS_FILE, "demo_truth.tsv", ".scrape"})
HIDDEN = "hidden file"
NOT_AN_IMAGE_NAME = "not an image file name"


def list_city_files(city_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """Everything below ``city_dir`` (any depth) as sorted ``(path, reason)`` pairs: the POSIX path
    relative to ``city_dir`` and why the file will not be read, or ``""`` for a photo to read.

    Nothing is dropped without a reason: hidden files (any path part starting with ``.``), names
    without an image extension, entries that are not regular files (named pipes, sockets, devices),
    broken symbolic links, symbolic links to folders (not followed, as they may loop) and folders
    that cannot be listed (one row, path ending in ``/``) all get a row.
    """
    root = Path(city_dir)
    found = []

    def unlisted(error: OSError) -> None:
        rel = Path(error.filename).relative_to(root).as_posix()
        if rel == ".":  # the city folder itself: nothing can be said per file
            raise error
        logger.warning("cannot list folder %s: its files are left out (%s)", error.filename,
                       error.strerror)
        found.append((rel + "/", f"folder not readable: {error.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted):
        here = Path(dirpath)
        at_top = here == root
        for name in list(dirnames):
            if (here / name).is_symlink():
                dirnames.remove(name)
                found.append(((here / name).relative_to(root).as_posix(),
                              "symbolic link to a folder (not followed)"))
        dirnames[:] = sorted(d for d in dirnames if not (at_top and d in OWN_ENTRIES))
        for name in filenames:
            if at_top and name in OWN_ENTRIES:
                continue
            rel = (here / name).relative_to(root)
            found.append((rel.as_posix(), _reason_not_read(here / name, rel)))
    return sorted(found)


def _reason_not_read(path: Path, rel: Path) -> str:
    if any(part.startswith(".") for part in rel.parts):
        return HIDDEN
    if rel.suffix.lower() not in IMAGE_EXTENSIONS:
        return NOT_AN_IMAGE_NAME
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "broken symbolic link" if path.is_symlink() else "vanished while listed"
    except OSError as exc:
        return f"cannot stat: {exc.strerror}"
    return "" if stat.S_ISREG(mode) else "not a regular file"


def list_city_photos(city_dir: str | os.PathLike) -> list[str]:
    """The image files below ``city_dir`` that will be read, as sorted relative POSIX paths."""
    return [rel for rel, reason in list_city_files(city_dir) if not reason]


def _stat_or_none(path: Path) -> os.stat_result | None:
    """The file's status, of the link itself when it points nowhere, None for unlistable folders."""
    try:
        return path.stat()
    except OSError:
        try:
            return path.lstat()
        except OSError:
            return None


def folder_fingerprint(city_dir: str | os.PathLike, cache: str | os.PathLike | None = None) -> str:
    """Digest of what the city's photo table and scan depend on: every entry's relative path and
    reason not to read it, the content (sha256) of every file to be read and of ``listings.tsv``,
    and the size and modification time of the other entries. Never fails on an odd entry.

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
    entries = list_city_files(root) + ([(LISTINGS_FILE, "")] if (root / LISTINGS_FILE).exists() else [])
    for rel, reason in entries:
        status = _stat_or_none(root / rel)
        if reason or status is None:
            size, mtime = (status.st_size, status.st_mtime_ns) if status else ("", "")
            digest.update(f"{rel}\0{reason}\0{size}\0{mtime}\n".encode())
            continue
        key = [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]
        cached = known.get(rel)
        sha = cached[1] if cached and cached[0] == key else _content_digest(root / rel)
        fresh[rel] = [key, sha]
        digest.update(f"{rel}\0\0{sha}\n".encode())
    if cache and fresh != known:
        _write_cache(cache, fresh)
    return digest.hexdigest()


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
    (Not :func:`roomgrid.io.atomic_path`: two Snakemake processes may refresh the same cache.)"""
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
        try:
            size = (city_dir / rel).stat().st_size
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
