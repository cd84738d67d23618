"""File-level entry points of the global stages: read the previous stage's files, call the stage's
module, write this stage's files. Snakemake scripts call these and nothing else."""

from __future__ import annotations

import json
import logging
import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import grid as grid_mod
from . import pca, tsne
from .io import read_table, write_json, write_table
from .select import too_few_to_map
from .stackreader import StackReader
from .tiles import TileGeometry, render_tiles
from .viewer import build_viewer

logger = logging.getLogger(__name__)


def selected_photos(photos_tsv: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """The placed photos, in id order: the row order of every global artifact. Reading only the
    ``columns`` a stage needs keeps 125k-row tables small."""
    table = read_table(photos_tsv, None if columns is None else ["id", "selected", *columns])
    return table[table["selected"].astype(bool)].sort_values("id").reset_index(drop=True)


def run_pca(photos_tsv, stacks: Mapping[str, str], out_h5, *, n_components: int, batch_size: int,
            method: str) -> None:
    # The first stage that needs photos says so, and the selection table saying why stays.
    problem = too_few_to_map(read_table(photos_tsv, ["selected", "dropped"]))
    if problem:
        raise ValueError(f"{problem}: see column 'dropped' of {photos_tsv}")
    chosen = selected_photos(photos_tsv, ["city"])
    with StackReader(stacks, chosen["id"], chosen["city"]) as reader:
        coords, info = pca.reduce(reader, n_components, batch_size, method)
    pca.write_embedding(out_h5, chosen["id"], coords, info)


def run_tsne(pca_h5, out_tsv, out_json, *, n_jobs: int = 1, **settings) -> None:
    ids, coords, _ = pca.read_embedding(pca_h5)
    xy, info = tsne.embed(coords, n_jobs=n_jobs, **settings)
    write_table(pd.DataFrame({"id": ids, "x": xy[:, 0], "y": xy[:, 1]}), out_tsv)
    write_json(info, out_json)


def run_neighbours(pca_h5, out_tsv, *, k: int, seed: int = 42, n_jobs: int = 1) -> None:
    ids, coords, _ = pca.read_embedding(pca_h5)
    found = tsne.nearest_neighbours(coords, k, seed=seed, n_jobs=n_jobs)
    neighbours = [" ".join(ids[row]) for row in found]
    write_table(pd.DataFrame({"id": ids, "neighbours": neighbours}), out_tsv)


def run_grid(tsne_tsv, photos_tsv, out_tsv, out_json, *, method: str, exact_max: int,
             block_size: int, aspect: float, seed: int = 0, n_jobs: int = 1) -> None:
    points = read_table(tsne_tsv)
    cities = selected_photos(photos_tsv, ["city"]).set_index("id")["city"]
    xy = points[["x", "y"]].to_numpy(dtype=np.float64)
    rows, cols = grid_mod.grid_shape(len(xy), aspect)
    cells = grid_mod.assign_cells(xy, rows, cols, method=method, exact_max=exact_max,
                                  block_size=block_size, n_jobs=n_jobs, seed=seed)
    quality = grid_mod.layout_quality(xy, cells, rows, cols)
    table = pd.DataFrame({"id": points["id"], "city": points["id"].map(cities),
                          "row": cells // cols, "col": cells % cols})
    write_table(table, out_tsv)
    used = "exact" if method == "exact" or (method == "auto" and len(xy) <= exact_max) else "blocks"
    write_json({"rows": int(rows), "cols": int(cols), "n": int(len(xy)), "method": used,
                "quality": {k: float(v) for k, v in quality.items()}}, out_json)
    logger.info("grid %dx%d for %d photos (%s): %s", rows, cols, len(xy), used, quality)


def city_paths(pattern: str, cities: Sequence[str]) -> dict[str, str]:
    return {city: pattern.format(city=city) for city in cities}


def _grid_facts(facts_json) -> dict:
    with open(facts_json) as handle:
        return json.load(handle)


def run_tiles(cells_tsv, facts_json, thumbs: Mapping[str, str], out_dir, *, cell_px: int,
              tile_px: int, quality: int, background: Sequence[int], n_jobs: int = 1) -> dict:
    facts = _grid_facts(facts_json)
    return render_tiles(read_table(cells_tsv), thumbs, out_dir, cell_px=cell_px,
                        shape=(facts["rows"], facts["cols"]), quality=quality, tile_px=tile_px,
                        background=tuple(background), n_jobs=n_jobs)


def run_viewer(cells_tsv, facts_json, photos_tsv, neighbours_tsv, page_html, *, cell_px: int,
               tile_px: int, title: str, leaflet_dir, photo_roots: Mapping[str, str]) -> None:
    facts = _grid_facts(facts_json)
    geometry = TileGeometry(facts["rows"], facts["cols"], cell_px, tile_px)
    build_viewer(read_table(cells_tsv), selected_photos(photos_tsv), read_table(neighbours_tsv),
                 os.path.dirname(page_html), geometry=geometry, leaflet_dir=leaflet_dir,
                 photo_roots=photo_roots, title=title)
