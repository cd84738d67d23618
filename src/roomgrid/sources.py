"""Where photos come from: city folders under a root, each indexed into a per-city photo table.

A photo's id is ``<city>/<path inside the city folder>``: stable across runs and unique even when
different cities hold files with the same name (listing photos are often just ``1.jpg``). Source
files are only ever read.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Iterable

import pandas as pd


logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp"})
# Written beside the photos by the scraper and the demo generator; joined onto the photo table.
LISTINGS_FILE = "listings.tsv"
METADATA_COLUMNS = ("listing_url", "post_id", "title", "price", "bedrooms", "sqft",
                    "neighbourhood", "posted", "image_url")
# Listing fields that are counts: kept whole numbers in every table.
WHOLE_NUMBER_COLUMNS = ("price", "bedrooms", "sqft")


def list_city_photos(city_dir: str | os.PathLike) -> list[str]:
    """Image files below ``city_dir`` (any depth), as sorted POSIX paths relative to it.

    Hidden files and folders (``.scrape/``, partial downloads) are ignored.
    """
    root = Path(city_dir)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                found.append(Path(dirpath, name).relative_to(root).as_posix())
    return sorted(found)


def folder_fingerprint(city_dir: str | os.PathLike) -> str:
    """Digest of every image's relative path, size and modification time below ``city_dir``, and of
    its ``listings.tsv``: it changes when a photo is added, removed, replaced or edited in place."""
    root = Path(city_dir)
    digest = hashlib.sha1()
    for rel in list_city_photos(root) + ([LISTINGS_FILE] if (root / LISTINGS_FILE).exists() else []):
        stat = (root / rel).stat()
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


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
        Paths relative to ``city_dir``; default: every image found there.
    metadata
        Optional listing metadata with a ``file`` column relative to ``city_dir``. A
        ``listings.tsv`` inside the city folder is used too (scraper and demo write one).
    """
    city_dir = Path(city_dir)
    files = sorted(files) if files is not None else list_city_photos(city_dir)
    rows = []
    for rel in files:
        stat = (city_dir / rel).stat()
        rows.append({"id": f"{city}/{rel}", "city": city, "file": rel, "path": str(city_dir / rel),
                     "bytes": stat.st_size})
    table = pd.DataFrame(rows, columns=["id", "city", "file", "path", "bytes"])
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
