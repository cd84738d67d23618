"""The static Leaflet viewer: page, scripts and the photo data the page loads.

The viewer directory is served as plain files (``python -m http.server -d results/viewer``); no
build step, no server code and no network. Tiles live in ``<viewer>/tiles/`` (written by
:func:`roomgrid.viewer.tiles.render_tiles`); this module writes everything else and never reads them.

The data is split by when the page needs it, so that 125,000 photos stay cheap to open:

``data/index.json``
    Names and layout: cities (each a contiguous range of photo indices), the chunk starts, the
    category lists the codes below point into, counts and the map's settings.
``data/grid.bin``
    Little-endian typed columns, laid out as ``index.json["columns"]`` says: the photo index of
    every cell (``int32``, -1 when empty) and, per photo, the small attributes the filters need
    (price, bedrooms, bin, duplicate flag, predicted class, cluster, label). About 13 bytes a
    placed photo; this and ``index.json`` are all the page loads before it is usable.
``data/chunks/<n>.json``
    Everything else for a run of photos, fetched when a click, a search or an export needs it:
    ids, each listing's fields once, the photo -> listing index, look-alikes, photo files that do
    not follow the ``photos/<id>`` rule, the classifier's probability and the byte size of each
    photo's file (what the ZIP export of originals estimates its size from).
``data/places.json`` (this and the next two only when the build has k-means clusters)
    The place names on the map, fetched once the first tiles have painted: per cluster with photos
    on the map, its name, dominant predicted type and the cell its name is written on.
``data/clusters.json``
    The clusters panel, fetched when it opens: per cluster its size, its most central photos, its
    dominant predicted type, where its largest region on the grid lies, and the names and dropped
    types of the build's ``cull`` config.
``data/cluster_members.json``
    Per cluster, the ids of its photos that are not on the map (culled, excluded, duplicates),
    fetched only by the clusters CSV export (members on the map come from the chunks).

Photos are numbered by city, then listing, then id, so a city and a listing are each one run of
indices and a chunk ends only where a listing ends.
"""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from roomgrid.core.io import atomic_directory, atomic_path
from roomgrid.viewer.arrangements import arrangement_data, write_arrangement_data
from roomgrid.viewer.clusters import cluster_data, place_names, read_clusters
from roomgrid.viewer.tiles import TileGeometry, grid_cells
from roomgrid.viewer.values import column_values, file_under_root, json_value
from roomgrid.scan.triage import BINS

logger = logging.getLogger(__name__)

TILE_URL = "tiles/{z}/{x}/{y}.jpg"
# Zoom levels past the deepest tiles, drawn by scaling them up.
OVERZOOM = 2
# A chunk closes at the first listing boundary once it holds this many photos.
CHUNK_PHOTOS = 1024
# photos.tsv column -> chunk field for the listing fields shown in the panel and searched.
LISTING_FIELDS = {"listing_url": "url", "title": "title", "price": "price", "bedrooms": "beds",
                  "sqft": "sqft", "neighbourhood": "neighbourhood", "posted": "posted",
                  "post_id": "post_id"}
# Missing values of the small unsigned columns; larger values are clamped just below them.
MISSING_U8 = 255
MISSING_U16 = 65535
# Page scripts, one per concern, loaded as ES modules from js/ (main.js imports the rest).
SCRIPTS = ("main.js", "data.js", "map.js", "overlay.js", "panel.js", "filters.js", "search.js",
           "selection.js", "export.js", "keyboard.js", "text.js", "clusters.js", "placenames.js",
           "cullconfig.js", "ziparchive.js", "arrangements.js")
# The files of the client-zip package the page's ZIP export imports (from lib/client-zip/).
CLIENT_ZIP_FILES = ("index.js", "LICENSE.txt")


def build_viewer(grid: pd.DataFrame, photos: pd.DataFrame, neighbours: pd.DataFrame,
                 out_dir: os.PathLike | str, *, geometry: TileGeometry,
                 leaflet_dir: os.PathLike | str, client_zip_dir: os.PathLike | str,
                 photo_roots: Mapping[str, os.PathLike | str] | None,
                 title: str = "roomgrid", settings: Mapping[str, object] | None = None,
                 clusters: pd.DataFrame | None = None, cull: Mapping[str, object] | None = None,
                 arrangements: Mapping[str, tuple[pd.DataFrame, dict]] | None = None) -> None:
    """Write the static viewer into ``out_dir`` (its ``tiles/`` folder is left alone).

    Writes ``index.html``, ``style.css``, ``js/``, ``data/`` (see the module docstring),
    ``lib/leaflet/`` (copied from ``leaflet_dir``), ``lib/client-zip/`` (from ``client_zip_dir``)
    and ``photos/<city>`` symlinks to each city's
    source folder, so the panel shows the original photo without copying it (``photos/`` is
    empty when there are no usable source folders). Each file or folder appears atomically.

    Parameters
    ----------
    grid : DataFrame
        Columns ``id``, ``city``, ``row``, ``col``.
    photos : DataFrame
        Columns ``id``, ``city``, ``path`` and optional ``listing_url``, ``title``, ``price``,
        ``bedrooms``, ``sqft``, ``neighbourhood``, ``posted``, ``post_id``, ``bin``,
        ``duplicate_group``, ``cluster``, ``label``, ``predicted_class``,
        ``predicted_probability``.
    neighbours : DataFrame
        Columns ``id`` and ``neighbours`` (space-separated ids, nearest first).
    out_dir : path
        Viewer directory.
    geometry : TileGeometry
        The geometry the tiles were rendered with.
    leaflet_dir : path
        Leaflet's ``dist`` folder (``node_modules/leaflet/dist``).
    client_zip_dir : path
        The client-zip package (``node_modules/client-zip``): the streaming ZIP writer of the
        selection's ZIP export, loaded only when an export starts.
    photo_roots : mapping or None
        City -> source folder of its photos. Without it (or for a photo outside its city's
        folder) the panel shows the photo's region of the deepest tiles instead.
    title : str, default "roomgrid"
        Page title.
    settings : mapping, optional
        How the map was made (label -> value), shown in the page header.
    clusters : DataFrame, optional
        The k-means clusters of every clustered photo, on the map or not: columns ``id``,
        ``cluster``, ``centrality`` and optional ``city``, ``path`` and ``predicted_class`` (see
        :func:`read_clusters`). Without it (or with no rows) the page has no clusters panel.
    cull : mapping, optional
        The build's ``cull`` config (``cluster_labels``, ``drop``, ``labels_csv``): the names the
        panel starts from and merges into the config it writes.
    arrangements : mapping, optional
        The other arrangements' grids and facts by name (``roomgrid.viewer.arrangements``).
    """
    out_dir = Path(out_dir)
    leaflet_dir = Path(leaflet_dir)
    for name in ("leaflet.js", "leaflet.css"):
        if not (leaflet_dir / name).is_file():
            raise FileNotFoundError(f"{leaflet_dir / name} is missing: run `npm ci` at the repo "
                                    "root to get Leaflet into node_modules/leaflet/dist")
    client_zip_dir = Path(client_zip_dir)
    for name in CLIENT_ZIP_FILES:
        if not (client_zip_dir / name).is_file():
            raise FileNotFoundError(f"{client_zip_dir / name} is missing: run `npm ci` at the repo "
                                    "root to get client-zip into node_modules/client-zip")
    placed, _ = grid_cells(grid, geometry)
    roots = _usable_roots(photo_roots or {}, placed["city"].unique())
    map_info = geometry.to_dict() | {"tile_url": TILE_URL, "overzoom": OVERZOOM}

    index, grid_bytes, chunks = viewer_data(placed, photos, neighbours, geometry, roots)
    index["settings"] = {str(k): json_value(v) for k, v in (settings or {}).items()}
    panel = None
    if clusters is not None and len(clusters):
        cells = np.frombuffer(grid_bytes, "<i4", index["cells"])
        cell_of = np.empty(index["photos"], np.int64)
        cell_of[cells[cells >= 0]] = np.flatnonzero(cells >= 0)
        ids = [photo_id for chunk in chunks for photo_id in chunk["ids"]]
        panel, off_map = cluster_data(clusters, ids, cell_of, geometry, roots, cull or {})
        index["clusters"] = len(panel["clusters"])
    with atomic_directory(out_dir / "data") as data:
        (data / "index.json").write_text(_compact_json(index), encoding="utf-8")
        (data / "grid.bin").write_bytes(grid_bytes)
        (data / "chunks").mkdir()
        for number, chunk in enumerate(chunks):
            (data / "chunks" / f"{number}.json").write_text(_compact_json(chunk), encoding="utf-8")
        if panel is not None:
            (data / "places.json").write_text(_compact_json(place_names(panel)), encoding="utf-8")
            (data / "clusters.json").write_text(_compact_json(panel), encoding="utf-8")
            (data / "cluster_members.json").write_text(_compact_json(off_map), encoding="utf-8")
        # Arrangements: fetched after the first paint, by the photo index order of the chunks.
        write_arrangement_data(data, *arrangement_data(
            [photo for chunk in chunks for photo in chunk["ids"]], geometry, arrangements or {}))

    assets = resources.files("roomgrid.viewer") / "assets"
    page = (assets / "index.html").read_text(encoding="utf-8")
    page = page.replace("{{title}}", html.escape(title)).replace(
        "{{map_json}}", json.dumps(map_info).replace("</", "<\\/"))
    _write_text(out_dir / "index.html", page)
    _write_text(out_dir / "style.css", (assets / "style.css").read_text(encoding="utf-8"))
    with atomic_directory(out_dir / "js") as folder:
        for name in SCRIPTS:
            (folder / name).write_text((assets / "js" / name).read_text(encoding="utf-8"),
                                       encoding="utf-8")
    with atomic_directory(out_dir / "lib") as lib:
        shutil.copytree(leaflet_dir, lib / "leaflet")
        (lib / "client-zip").mkdir()
        for name in CLIENT_ZIP_FILES:
            shutil.copy2(client_zip_dir / name, lib / "client-zip" / name)
    # Always replaced, so links of an earlier build never show stale photos (empty without roots).
    with atomic_directory(out_dir / "photos") as folder:
        _link_roots(roots, folder)
    logger.info("viewer: %d photos on a %dx%d grid in %d chunks, %d bytes before the first "
                "paint, written to %s", len(placed), geometry.rows, geometry.cols, len(chunks),
                len(grid_bytes) + len(_compact_json(index).encode()), out_dir)


def viewer_data(placed: pd.DataFrame, photos: pd.DataFrame, neighbours: pd.DataFrame,
                geometry: TileGeometry, roots: Mapping[str, Path]
                ) -> tuple[dict, bytes, list[dict]]:
    """The content of ``data/``: the index, the bytes of ``grid.bin`` and the chunks.

    ``placed`` holds one row per occupied cell (see :func:`roomgrid.viewer.tiles.grid_cells`).
    """
    meta = photos.drop_duplicates("id").set_index("id").reindex(placed["id"])
    meta["city"] = placed["city"].to_numpy()
    meta["row"] = placed["row"].to_numpy()
    meta["col"] = placed["col"].to_numpy()
    meta["listing_key"] = _listing_keys(meta)
    meta["has_listing"] = _has_listing_fields(meta)
    meta = meta.reset_index().sort_values(["city", "listing_key", "id"], kind="stable")
    meta = meta.reset_index(drop=True)
    count = len(meta)

    cells = np.full(geometry.rows * geometry.cols, -1, np.int32)
    cells[meta["row"].to_numpy() * geometry.cols + meta["col"].to_numpy()] = np.arange(count)
    bins = list(BINS)
    classes = _categories(meta, "predicted_class")
    labels = _categories(meta, "label")
    duplicate = _numbers(meta, "duplicate_group", -1) >= 0
    columns = [  # widest first, so every typed view starts on a multiple of its item size
        ("cells", "int32", cells),
        ("price", "uint16", _small_unsigned(_numbers(meta, "price"), np.uint16, MISSING_U16)),
        ("cluster", "int16", np.clip(_numbers(meta, "cluster", -1), -1, 32767).astype(np.int16)),
        ("beds", "uint8", _small_unsigned(_numbers(meta, "bedrooms"), np.uint8, MISSING_U8)),
        ("bin", "uint8", _codes(meta, "bin", bins)),
        ("duplicate", "uint8", duplicate.astype(np.uint8)),
        ("predicted", "uint8", _codes(meta, "predicted_class", classes)),
        ("label", "uint8", _codes(meta, "label", labels)),
    ]
    layout, parts, offset = {}, [], 0
    for name, dtype, values in columns:
        raw = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
        layout[name] = {"type": dtype, "offset": offset, "length": len(values)}
        parts.append(raw)
        offset += len(raw)

    city_names = meta["city"].to_numpy()
    cities = []
    for city in pd.unique(city_names):
        members = np.nonzero(city_names == city)[0]
        cities.append({"name": city, "start": int(members[0]), "count": int(len(members)),
                       "linked": city in roots})
    starts = _chunk_starts(meta["listing_key"].to_numpy(), city_names)
    index_of = dict(zip(meta["id"], range(count)))
    lists = neighbours.drop_duplicates("id").set_index("id")["neighbours"].reindex(meta["id"])
    neighbour_lists = [[index_of[other] for other in str(value).split() if other in index_of]
                       if isinstance(value, str) else [] for value in lists]
    chunks = [_chunk(meta, start, stop, roots, neighbour_lists)
              for start, stop in zip(starts, starts[1:] + [count])]

    present = {name: bool(name in meta and meta[name].notna().any())
               for name in ("price", "bedrooms", "bin", "duplicate_group", "cluster",
                            "predicted_class", "label")}
    index = {
        "format": 1,
        "photos": count,
        "cells": int(cells.size),
        "cities": cities,
        "chunks": starts,
        "columns": layout,
        "missing": {"uint8": MISSING_U8, "uint16": MISSING_U16},
        "bins": bins,
        "classes": classes,
        "labels": labels,
        "present": {"price": present["price"], "beds": present["bedrooms"],
                    "bin": present["bin"], "duplicate": bool(duplicate.any()),
                    "cluster": bool((_numbers(meta, "cluster", -1) >= 0).any()),
                    "predicted": bool(classes), "label": bool(labels)},
    }
    return index, b"".join(parts), chunks


def _listing_keys(meta: pd.DataFrame) -> list[str]:
    """What groups photos into one listing: its URL, else its post id, else the photo itself."""
    keys = []
    for photo_id, url, post in zip(meta.index, column_values(meta, "listing_url"),
                                   column_values(meta, "post_id")):
        if isinstance(url, str) and url:
            keys.append("u:" + url)
        elif isinstance(post, str) and post:
            keys.append("p:" + post)
        else:
            keys.append("i:" + str(photo_id))
    return keys


def _chunk_starts(listing_keys: np.ndarray, cities: np.ndarray) -> list[int]:
    """First photo of each chunk: a new chunk begins at a new city, or at the first new listing
    once the current chunk is full, so a city's chunks hold only its photos and no listing is split."""
    starts: list[int] = []
    for i in range(len(listing_keys)):
        if not starts or cities[i] != cities[i - 1] or (
                i - starts[-1] >= CHUNK_PHOTOS and listing_keys[i] != listing_keys[i - 1]):
            starts.append(i)
    return starts


def _chunk(meta: pd.DataFrame, start: int, stop: int, roots: Mapping[str, Path],
           neighbour_lists: list[list[int]]) -> dict:
    rows = meta.iloc[start:stop]
    listing_of: dict[str, int] = {}
    listing_rows: list[int] = []
    photo_listing = []
    for position, (key, has_fields) in enumerate(zip(rows["listing_key"], rows["has_listing"])):
        if not has_fields:
            photo_listing.append(-1)
            continue
        if key not in listing_of:
            listing_of[key] = len(listing_rows)
            listing_rows.append(position)
        photo_listing.append(listing_of[key])
    listings = rows.iloc[listing_rows]
    files = {}
    sizes: list[int | None] = [None] * len(rows)
    for position, (photo_id, city, path) in enumerate(zip(rows["id"], rows["city"],
                                                          column_values(rows, "path"))):
        if city not in roots:
            continue
        file = file_under_root(path, roots[city])
        if file is None or f"{city}/{file}" != photo_id:
            files[str(position)] = file  # null: no file to show, use the tiles
        if file is not None:
            sizes[position] = _file_size(roots[city] / file)
    chunk = {
        "start": start,
        "ids": rows["id"].tolist(),
        "listing": photo_listing,
        "listings": {field: [json_value(v) for v in column_values(listings, source)]
                     for source, field in LISTING_FIELDS.items()},
        "files": files,
        "neighbours": neighbour_lists[start:stop],
    }
    if any(size is not None for size in sizes):
        chunk["bytes"] = sizes  # null: no file served, or none there at build time
    if "predicted_probability" in rows and rows["predicted_probability"].notna().any():
        chunk["probability"] = [json_value(round(float(v), 4)) if pd.notna(v) else None
                                for v in rows["predicted_probability"]]
    return chunk


def _has_listing_fields(meta: pd.DataFrame) -> np.ndarray:
    """Whether each photo has any listing field (photos without one share no listing entry)."""
    has = np.zeros(len(meta), dtype=bool)
    for source in LISTING_FIELDS:
        if source in meta:
            has |= (meta[source].notna() & meta[source].astype(str).ne("")).to_numpy()
    return has


def _numbers(frame: pd.DataFrame, name: str, missing: float = np.nan) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), missing, dtype=float)
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(values), missing, values)


def _small_unsigned(values: np.ndarray, dtype, missing: int) -> np.ndarray:
    """Rounded, clamped to ``[0, missing - 1]``, with NaN -> ``missing``."""
    out = np.clip(np.rint(np.nan_to_num(values, nan=0.0)), 0, missing - 1).astype(dtype)
    out[np.isnan(values)] = missing
    return out


def _categories(frame: pd.DataFrame, name: str) -> list[str]:
    if name not in frame:
        return []
    values = frame[name].dropna().astype(str)
    return sorted(v for v in values.unique() if v)[:MISSING_U8]


def _codes(frame: pd.DataFrame, name: str, categories: list[str]) -> np.ndarray:
    """Code of each value in ``categories``; missing, empty or unknown -> ``MISSING_U8``."""
    if name not in frame:
        return np.full(len(frame), MISSING_U8, np.uint8)
    code_of = {value: code for code, value in enumerate(categories)}
    return np.array([code_of.get(str(v), MISSING_U8) if pd.notna(v) else MISSING_U8
                     for v in frame[name]], dtype=np.uint8)


def _compact_json(data) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


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


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _link_roots(roots: Mapping[str, Path], folder: Path) -> None:
    for city, root in roots.items():
        (folder / city).symlink_to(root, target_is_directory=True)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# --- the stage on files ------------------------------------------------------------------------

def run_viewer(cells_tsv, facts_json, photos_tsv, neighbours_tsv, page_html, *, cell_px: int,
               tile_px: int, title: str, leaflet_dir, client_zip_dir,
               photo_roots: Mapping[str, str],
               clusters_tsv=None, cull: Mapping | None = None,
               arrangements: Mapping[str, tuple[str, str]] | None = None) -> None:
    """``arrangements``: name -> (grid.tsv, grid.json) of each arrangement but similarity."""
    from ..core.io import read_json, read_table
    from ..selection.tables import selected_photos

    facts = read_json(facts_json)
    geometry = TileGeometry(facts["rows"], facts["cols"], cell_px, tile_px)
    quality = facts.get("quality", {})
    settings = {"grid": f"{facts['rows']} x {facts['cols']} ({facts.get('method', '?')})",
                "mean squared displacement": round(quality.get("mean_sq_displacement", float("nan")), 3),
                "8 nearest kept": round(quality.get("knn_kept", float("nan")), 3)}
    build_viewer(read_table(cells_tsv), selected_photos(photos_tsv), read_table(neighbours_tsv),
                 os.path.dirname(page_html), geometry=geometry, leaflet_dir=leaflet_dir,
                 client_zip_dir=client_zip_dir, photo_roots=photo_roots, title=title, settings=settings,
                 clusters=read_clusters(clusters_tsv, photos_tsv) if clusters_tsv else None,
                 cull=cull,
                 arrangements={name: (read_table(cells), read_json(facts))
                               for name, (cells, facts) in (arrangements or {}).items()})
