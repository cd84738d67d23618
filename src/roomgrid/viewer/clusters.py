"""The clusters panel's data: each cluster's most central photos, size, share and dominant
predicted type, where its largest region of the map lies (for its place name), and its members."""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .tiles import TileGeometry
from .values import column_values, file_under_root, json_value

logger = logging.getLogger(__name__)

# Photos shown per cluster in the clusters panel (the nearest its centre, as in the report).
CENTRAL_PHOTOS = 4


def read_clusters(clusters_tsv: os.PathLike | str, photos_tsv: os.PathLike | str) -> pd.DataFrame:
    """The clusters table for :func:`build_viewer`: ``results/clusters/clusters.tsv`` joined with
    each photo's ``city``, ``path`` and ``predicted_class`` from the selection's photo table (every
    file, placed or not, so that central photos off the map still show)."""
    from roomgrid.core.io import read_table

    table = read_table(clusters_tsv, ["id", "cluster", "centrality"])
    wanted = ["id", "city", "path", "predicted_class"]
    header = pd.read_csv(photos_tsv, sep="\t", nrows=0).columns
    files = read_table(photos_tsv, [c for c in wanted if c in header])
    return table.merge(files.drop_duplicates("id"), on="id", how="left")


def cluster_data(clusters: pd.DataFrame, ids: list[str], cell_of: np.ndarray,
                 geometry: TileGeometry, roots: Mapping[str, Path], cull: Mapping[str, object]
                 ) -> tuple[dict, dict]:
    """``data/clusters.json`` and ``data/cluster_members.json`` (see the module docstring).

    ``ids`` are the placed photos in the page's order and ``cell_of`` their cell numbers
    (``row * cols + col``). A cluster's region is a 4-connected set of cells holding its photos; its label
    sits on the cell of the largest region farthest from that region's edge (nearest its centroid
    among those), so it lies inside the region whatever its shape.
    """
    clusters = clusters.drop_duplicates("id")
    numbers = pd.to_numeric(clusters["cluster"], errors="coerce").fillna(-1).astype(int)
    clusters = clusters.assign(cluster=numbers)[numbers >= 0]
    index_of = pd.Series(np.arange(len(ids)), index=ids)
    photo_index = clusters["id"].map(index_of).fillna(-1).astype(int).to_numpy()
    count = int(clusters["cluster"].max()) + 1 if len(clusters) else 0
    cell_cluster = np.full(geometry.rows * geometry.cols, -1, np.int64)
    on_map = photo_index >= 0
    cell_cluster[cell_of[photo_index[on_map]]] = clusters["cluster"].to_numpy()[on_map]
    regions = _largest_regions(cell_cluster.reshape(geometry.rows, geometry.cols), count)
    names = {int(k): str(v) for k, v in dict(cull.get("cluster_labels") or {}).items()}
    predicted = (clusters["predicted_class"].fillna("").astype(str)
                 if "predicted_class" in clusters else pd.Series("", index=clusters.index))
    total = len(clusters)
    entries, off_map = [], {}
    for number in range(count):
        mine = (clusters["cluster"] == number).to_numpy()
        members = clusters[mine]
        entry = {"number": number, "size": int(mine.sum()), "on_map": int((mine & on_map).sum()),
                 "share": round(float(mine.sum()) / total, 4), "name": names.get(number)}
        types = predicted[mine]
        types = types[types.ne("")]
        if len(types):
            counts = types.value_counts()
            top = sorted(counts.index[counts == counts.iloc[0]])[0]  # ties: alphabetically first
            entry["predicted"] = {"type": top, "share": round(float(counts[top]) / len(types), 3)}
        central = members.sort_values(["centrality", "id"]).head(CENTRAL_PHOTOS)
        entry["central"] = [
            {"id": photo_id, "index": int(index_of.get(photo_id, -1)),
             "city": json_value(city), "file": file_under_root(path, roots.get(city))}
            for photo_id, city, path in zip(central["id"], column_values(central, "city"),
                                            column_values(central, "path"))]
        entry["region"] = regions.get(number)
        entries.append(entry)
        away = members["id"][~on_map[mine]]
        if len(away):
            off_map[str(number)] = sorted(away)
    panel = {"format": 1, "photos": total, "clusters": entries,
             "cull": {"cluster_labels": {str(k): v for k, v in sorted(names.items())},
                      "drop": [str(v) for v in (cull.get("drop") or [])],
                      "labels_csv": json_value(cull.get("labels_csv"))}}
    return panel, {"off_map": off_map}


def place_names(panel: dict) -> dict:
    """``data/places.json``: what the map needs to write each cluster's name, from the panel's data."""
    places = []
    for entry in panel["clusters"]:
        if entry["region"] is None:
            continue
        place = {"number": entry["number"], "name": entry["name"],
                 "region": {key: entry["region"][key] for key in ("cells", "row", "col")}}
        if "predicted" in entry:
            place["predicted"] = {"type": entry["predicted"]["type"]}
        places.append(place)
    return {"clusters": places}


def _largest_regions(grid: np.ndarray, count: int) -> dict[int, dict]:
    """Per cluster, its largest 4-connected region of cells: size, bounds and the label cell.

    A breadth-first walk over the cells (numpy's flood fill would need scipy, which the viewer's
    environment does not carry); about a second for 125,000 cells.
    """
    rows, cols = grid.shape
    flat = grid.ravel()
    seen = np.zeros(flat.size, bool)
    best: dict[int, list[int]] = {}
    for start in np.flatnonzero(flat >= 0):
        if seen[start]:
            continue
        number = int(flat[start])
        seen[start] = True
        region, queue = [], deque([int(start)])
        while queue:
            cell = queue.popleft()
            region.append(cell)
            r, c = divmod(cell, cols)
            for other, inside in ((cell - cols, r > 0), (cell + cols, r + 1 < rows),
                                  (cell - 1, c > 0), (cell + 1, c + 1 < cols)):
                if inside and not seen[other] and flat[other] == number:
                    seen[other] = True
                    queue.append(other)
        if len(region) > len(best.get(number, ())):
            best[number] = region
    return {number: _region_facts(np.array(cells), cols) for number, cells in best.items()}


def _region_facts(cells: np.ndarray, cols: int) -> dict:
    r, c = np.divmod(cells, cols)
    r0, c0 = int(r.min()), int(c.min())
    mask = np.zeros((r.max() - r0 + 3, c.max() - c0 + 3), bool)  # a border of empty cells
    mask[r - r0 + 1, c - c0 + 1] = True
    # Peel the region's edge until nothing is left: the last cells standing are its deepest.
    deepest = mask
    while mask.any():
        deepest = mask
        mask = (mask & np.roll(mask, 1, 0) & np.roll(mask, -1, 0)
                & np.roll(mask, 1, 1) & np.roll(mask, -1, 1))
    dr, dc = np.nonzero(deepest)
    centre_r, centre_c = r.mean() - r0 + 1, c.mean() - c0 + 1
    pick = int(np.argmin((dr - centre_r) ** 2 + (dc - centre_c) ** 2))
    return {"cells": int(len(cells)), "row": int(dr[pick] + r0 - 1), "col": int(dc[pick] + c0 - 1),
            "bounds": [r0, c0, int(r.max()), int(c.max())]}
