"""The static Leaflet viewer: page, script, map description and compact photo metadata.

The viewer directory is served as plain files (``python -m http.server -d results/viewer``); no
build step and no network. Tiles live in ``<viewer>/tiles/`` (written by
:func:`roomgrid.tiles.render_tiles`); this module writes everything else and never reads them.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import shutil
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from roomgrid.io import atomic_directory, atomic_path
from roomgrid.tiles import TileGeometry, grid_cells

logger = logging.getLogger(__name__)

TILE_URL = "tiles/{z}/{x}/{y}.jpg"
# Zoom levels past the deepest tiles, drawn by scaling them up.
OVERZOOM = 2
# photos.tsv column -> photos.json field for the listing metadata shown in the panel.
LISTING_FIELDS = {"listing_url": "url", "title": "title", "price": "price", "bedrooms": "beds",
                  "sqft": "sqft", "neighbourhood": "neighbourhood", "posted": "posted"}


def build_viewer(grid: pd.DataFrame, photos: pd.DataFrame, neighbours: pd.DataFrame,
                 out_dir: os.PathLike | str, *, geometry: TileGeometry,
                 leaflet_dir: os.PathLike | str,
                 photo_roots: Mapping[str, os.PathLike | str] | None,
                 title: str = "roomgrid") -> None:
    """Write the static viewer into ``out_dir`` (its ``tiles/`` folder is left alone).

    Writes ``index.html``, ``app.js``, ``style.css``, ``data/map.json``, ``data/photos.json``,
    ``lib/leaflet/`` (copied from ``leaflet_dir``) and ``photos/<city>`` symlinks to each city's
    source folder, so the panel shows the original photo without copying it (``photos/`` is
    empty when there are no usable source folders).

    Parameters
    ----------
    grid : DataFrame
        Columns ``id``, ``city``, ``row``, ``col``.
    photos : DataFrame
        Columns ``id``, ``city``, ``path`` and optional listing metadata ``listing_url``,
        ``title``, ``price``, ``bedrooms``, ``sqft``, ``neighbourhood``, ``posted``.
    neighbours : DataFrame
        Columns ``id`` and ``neighbours`` (space-separated ids, nearest first).
    out_dir : path
        Viewer directory.
    geometry : TileGeometry
        The geometry the tiles were rendered with.
    leaflet_dir : path
        Leaflet's ``dist`` folder (``node_modules/leaflet/dist``).
    photo_roots : mapping or None
        City -> source folder of its photos. Without it (or for a photo outside its city's
        folder) the panel shows the photo's region of the deepest tiles instead.
    title : str, default "roomgrid"
        Page title.
    """
    out_dir = Path(out_dir)
    leaflet_dir = Path(leaflet_dir)
    for name in ("leaflet.js", "leaflet.css"):
        if not (leaflet_dir / name).is_file():
            raise FileNotFoundError(f"{leaflet_dir / name} is missing: run `npm ci` at the repo "
                                    "root to get Leaflet into node_modules/leaflet/dist")
    placed, _ = grid_cells(grid, geometry)
    roots = _usable_roots(photo_roots or {}, placed["city"].unique())
    map_info = geometry.to_dict() | {"tile_url": TILE_URL, "overzoom": OVERZOOM}

    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    _write_text(out_dir / "data" / "map.json", json.dumps(map_info, indent=2) + "\n")
    _write_text(out_dir / "data" / "photos.json",
                json.dumps(photo_table(placed, photos, neighbours, geometry, roots),
                           separators=(",", ":"), ensure_ascii=False))
    assets = resources.files("roomgrid") / "viewer_assets"
    page = (assets / "index.html").read_text(encoding="utf-8")
    page = page.replace("{{title}}", html.escape(title)).replace(
        "{{map_json}}", json.dumps(map_info).replace("</", "<\\/"))
    _write_text(out_dir / "index.html", page)
    for name in ("app.js", "style.css"):
        _write_text(out_dir / name, (assets / name).read_text(encoding="utf-8"))
    with atomic_directory(out_dir / "lib") as lib:
        shutil.copytree(leaflet_dir, lib / "leaflet")
    # Always replaced, so links of an earlier build never show stale photos (empty without roots).
    with atomic_directory(out_dir / "photos") as folder:
        _link_roots(roots, folder)
    logger.info("viewer: %d photos on a %dx%d grid written to %s",
                len(placed), geometry.rows, geometry.cols, out_dir)


def photo_table(placed: pd.DataFrame, photos: pd.DataFrame, neighbours: pd.DataFrame,
                geometry: TileGeometry, roots: Mapping[str, Path]) -> dict:
    """The columnar ``photos.json`` content.

    ``cells`` holds, row-major over the grid, the index of the photo in each cell or -1.
    ``cities`` lists the city names once; per photo, columns (lists of equal length) hold the
    ``id``, ``city`` (index into ``cities``), ``row``, ``col``, ``file`` (path under
    ``photos/<city>/`` or null), the listing fields and ``neighbours`` (photo indices).
    """
    cities = sorted(placed["city"].unique())
    city_code = {city: code for code, city in enumerate(cities)}
    cells = np.full(geometry.rows * geometry.cols, -1, np.int64)
    cells[placed["row"].to_numpy() * geometry.cols + placed["col"].to_numpy()] = placed.index
    index_of = {photo_id: index for index, photo_id in enumerate(placed["id"])}

    meta = photos.drop_duplicates("id").set_index("id").reindex(placed["id"])
    columns: dict[str, list] = {
        "id": placed["id"].tolist(),
        "city": [city_code[city] for city in placed["city"]],
        "row": placed["row"].tolist(),
        "col": placed["col"].tolist(),
        "file": [_file_under_root(path, roots.get(city))
                 for path, city in zip(_column(meta, "path"), placed["city"])],
    }
    for source, field in LISTING_FIELDS.items():
        columns[field] = [_json_value(value) for value in _column(meta, source)]
    lists = neighbours.drop_duplicates("id").set_index("id")["neighbours"].reindex(placed["id"])
    columns["neighbours"] = [
        [index_of[other] for other in str(value).split() if other in index_of]
        if isinstance(value, str) else []
        for value in lists
    ]
    return {"cells": cells.tolist(), "cities": cities, "photos": columns}


def _column(frame: pd.DataFrame, name: str) -> list:
    return frame[name].tolist() if name in frame else [None] * len(frame)


def _json_value(value):
    """NaN -> None, whole floats -> int, numpy scalars -> Python, everything else as is."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() else value
    return value


def _usable_roots(photo_roots: Mapping[str, os.PathLike | str], cities) -> dict[str, Path]:
    """Source folders that exist, for cities whose name is a safe single path segment."""
    roots = {}
    for city in cities:
        if city not in photo_roots:
            continue
        root = Path(photo_roots[city]).resolve()
        if "/" in city or "\\" in city or city.startswith(".") or not root.is_dir():
            logger.warning("viewer: no photo link for city %r (folder %s)", city, root)
            continue
        roots[city] = root
    return roots


def _file_under_root(path, root: Path | None) -> str | None:
    """``path`` relative to ``root`` (POSIX), or None if it is not inside it."""
    if root is None or not isinstance(path, str) or not path:
        return None
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _link_roots(roots: Mapping[str, Path], folder: Path) -> None:
    for city, root in roots.items():
        (folder / city).symlink_to(root, target_is_directory=True)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


