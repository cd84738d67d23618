"""The report's arrangements figure: an overview picture of every arrangement with its blocks and
labels, and a table of each one's quality (kNN-8 kept, DPQ16, the blocks' own kNN-8; for an
arrangement the data could not make, the reason in ``unavailable``)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..core.io import read_json, read_table, write_table
from ..layout.grid import layout_quality
from ..layout.pca import read_embedding
from ..layout.quality import DistancePreservation
from .common import plt, save_figure

logger = logging.getLogger(__name__)

# The overview of a map is read from the tile level whose picture is at least this wide or tall.
OVERVIEW_PX = 768


def overview(tiles_dir: str | os.PathLike, rows: int, cols: int, cell_px: int,
             tile_px: int) -> tuple[np.ndarray, float]:
    """The map stitched from the coarsest tile level at least ``OVERVIEW_PX`` wide or tall (or the
    deepest), and its pixels per cell. Tiles not written (empty regions) stay background."""
    from ..viewer.tiles import TileGeometry

    geometry = TileGeometry(rows, cols, cell_px, tile_px)
    zoom = 0
    while zoom < geometry.max_zoom and \
            max(geometry.width, geometry.height) / 2 ** (geometry.max_zoom - zoom) < OVERVIEW_PX:
        zoom += 1
    scale = 2.0 ** (zoom - geometry.max_zoom)
    width, height = math.ceil(geometry.width * scale), math.ceil(geometry.height * scale)
    picture = Image.new("RGB", (width, height), (24, 24, 24))
    nx, ny = geometry.tiles_at(zoom)
    for x in range(nx):
        for y in range(ny):
            path = Path(tiles_dir) / str(zoom) / str(x) / f"{y}.jpg"
            if path.is_file():
                with Image.open(path) as tile:
                    picture.paste(tile.convert("RGB"), (x * tile_px, y * tile_px))
    return np.asarray(picture), cell_px * scale


def arrangement_quality(table: pd.DataFrame, facts: dict, points: pd.DataFrame,
                        dpq: DistancePreservation) -> dict:
    """kNN-8 kept of the whole map's t-SNE neighbours, DPQ16 in feature space (``dpq``, fitted on
    the features of ``points``' photos in their order), and the mean of the blocks' own kNN-8
    kept (weighted by photos)."""
    ids = table["id"].to_numpy()
    cells = (table["row"] * facts["cols"] + table["col"]).to_numpy()
    xy = points.set_index("id").loc[ids, ["x", "y"]].to_numpy(dtype=np.float64)
    knn = layout_quality(xy, cells, facts["rows"], facts["cols"])["knn_kept"]
    # Each photo's cell in the order dpq was fitted on (a map places every photo once).
    in_fit_order = pd.Series(cells, index=ids).reindex(points["id"].to_numpy())
    if in_fit_order.isna().any():
        raise ValueError(f"{len(ids)} photos on the map, but the t-SNE has {len(points)}: "
                         "an arrangement must place every photo once")
    dpq16 = dpq.score(in_fit_order.to_numpy(dtype=np.int64), facts["cols"])
    blocks = facts.get("blocks", [])
    inside = (float(np.average([b["knn_kept"] for b in blocks], weights=[b["count"] for b in blocks]))
              if blocks else float("nan"))
    return {"photos": len(ids), "rows": int(facts["rows"]), "cols": int(facts["cols"]),
            "fill": round(len(ids) / (facts["rows"] * facts["cols"]), 4),
            "blocks": len(blocks), "knn8_kept": round(knn, 4), "dpq16": round(dpq16, 4),
            "block_knn8_kept": round(inside, 4)}


# The table's row for an arrangement that was not built (its ``unavailable`` says why).
NOT_MEASURED = {"photos": 0, "rows": 0, "cols": 0, "fill": float("nan"), "blocks": 0,
                "knn8_kept": float("nan"), "dpq16": float("nan"), "block_knn8_kept": float("nan")}


def plot_arrangements(maps: Mapping[str, dict], path) -> None:
    """One panel per arrangement: its overview, block outlines and labels, quality in the title;
    an arrangement that was not built gets its name and the reason."""
    count = len(maps)
    columns = min(3, count)
    lines = math.ceil(count / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(6 * columns, 6.4 * lines), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (name, shown) in zip(axes.flat, maps.items()):
        if shown["picture"] is None:
            axis.set_title(f"{name}: not built", fontsize=10)
            axis.text(0.5, 0.5, shown["quality"]["unavailable"], ha="center", va="center",
                      transform=axis.transAxes, fontsize=10, wrap=True)
            continue
        axis.imshow(shown["picture"], interpolation="nearest")
        px = shown["cell_px"]
        for block in shown["blocks"]:
            axis.add_patch(plt.Rectangle((block["col"] * px, block["row"] * px),
                                         block["cols"] * px, block["rows"] * px, fill=False,
                                         edgecolor="#ffd400", linewidth=0.8))
            axis.text(block["col"] * px, block["row"] * px - 1, block["label"], fontsize=6,
                      color="white", va="bottom", ha="left", clip_on=True)
        q = shown["quality"]
        axis.set_title(f"{name}: {q['photos']} photos, {q['blocks'] or 'no'} blocks\n"
                       f"kNN-8 kept {q['knn8_kept']:.2f} · DPQ16 {q['dpq16']:.2f}"
                       + ("" if math.isnan(q["block_knn8_kept"])
                          else f" · in blocks {q['block_knn8_kept']:.2f}"), fontsize=10)
    figure.suptitle("Arrangements: the same photos by look-alike, category, bands and at random")
    save_figure(figure, path)


# --- the stage on files ------------------------------------------------------------------------

# DPQ compares each sampled photo with every photo: at most this many pairs per arrangement.
# At 116k photos that is 215 photos sampled, ~1.5 s an arrangement instead of ~7 s with 1,000.
DPQ_PAIRS = 25_000_000


def run_plot_arrangements(grids: Mapping[str, tuple[str, str, str]], points_tsv, pca_h5,
                          out_png, out_tsv, *, cell_px: int, tile_px: int, sample: int = 1000,
                          seed: int = 0, n_jobs: int = 1) -> None:
    """``grids``: name -> (grid.tsv, grid.json, tiles folder), similarity first. DPQ16 is
    measured on ``sample`` photos, fewer on large maps (:data:`DPQ_PAIRS`), the same photos for
    every arrangement. Arrangements are measured ``n_jobs`` at a time (threads: the work is in
    numpy's sorts, which release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    points = read_table(points_tsv)
    ids, coords, _ = read_embedding(pca_h5)
    sample = min(sample, max(200, DPQ_PAIRS // max(1, len(ids))))
    rows = pd.Index(ids).get_indexer(points["id"])
    if (rows < 0).any():
        raise ValueError(f"{(rows < 0).sum()} photos of {points_tsv} are not in {pca_h5}")
    features = coords[rows]
    dpq = DistancePreservation(p=16, sample=sample, seed=seed).fit(features)

    def measure(name: str) -> dict:
        cells_tsv, facts_json, tiles = grids[name]
        table, facts = read_table(cells_tsv), read_json(facts_json)
        if facts.get("unavailable"):
            logger.info("arrangement %s: not built (%s)", name, facts["unavailable"])
            return {"picture": None, "cell_px": 0, "blocks": [],
                    "quality": dict(NOT_MEASURED, unavailable=facts["unavailable"])}
        quality = arrangement_quality(table, facts, points, dpq) | {"unavailable": ""}
        picture, px = overview(tiles, facts["rows"], facts["cols"], cell_px, tile_px)
        logger.info("arrangement %s: %s", name, quality)
        return {"picture": picture, "cell_px": px, "blocks": facts.get("blocks", []),
                "quality": quality}

    with ThreadPoolExecutor(max(1, n_jobs)) as pool:
        maps = dict(zip(grids, pool.map(measure, grids)))
    write_table(pd.DataFrame([{"arrangement": name, **shown["quality"]}
                              for name, shown in maps.items()]), out_tsv)
    plot_arrangements(maps, out_png)
