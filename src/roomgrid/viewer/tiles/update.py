"""Growing a pyramid: re-render only the tiles over changed cells, link every other one from the base."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from PIL import Image

from ...core.io import atomic_directory, read_json, write_json
from .geometry import TileGeometry, grid_cells
from .pyramid import PyramidWriter, render_tiles
from .thumbnails import locate_thumbnails

logger = logging.getLogger(__name__)


def update_tiles(grid: pd.DataFrame, thumbs_paths: Mapping[str, os.PathLike | str],
                 base_dir: os.PathLike | str, changed: pd.DataFrame, out_dir: os.PathLike | str, *,
                 cell_px: int, shape: tuple[int, int], quality: int = 80, tile_px: int = 256,
                 background: tuple[int, int, int] = (24, 24, 24), n_jobs: int = 1) -> dict:
    """Write the pyramid of ``grid`` into ``out_dir``, re-rendering only the tiles over
    ``changed`` cells (and their ancestors) and taking every other tile from ``base_dir``.

    Unchanged tiles are hard links to the base's files (copies across file systems), so they
    keep their bytes and modification times. A changed tile's unchanged children are decoded from
    the base. When the base was drawn with another zoom depth, tile size, cell size, quality or
    background, nothing can be reused and the whole pyramid is rendered (:func:`render_tiles`).

    Parameters
    ----------
    grid, thumbs_paths, cell_px, shape, quality, tile_px, background
        As for :func:`render_tiles`; ``shape`` may be larger than the base's (a grown grid).
    n_jobs : int
        Workers of a whole-pyramid render; an update draws its few tiles in this process.
    base_dir : path
        A complete pyramid of the base grid with its ``tiles.json``.
    changed : DataFrame
        ``row``, ``col`` of every cell whose photo differs from the base's.

    Returns
    -------
    dict
        As :func:`render_tiles`, ``rendered_tiles`` counting only the tiles drawn anew.
    """
    base_dir = Path(base_dir)
    geometry = TileGeometry(int(shape[0]), int(shape[1]), cell_px, tile_px)
    base = read_json(base_dir / "tiles.json")
    same_look = {"cell_px": cell_px, "tile_px": tile_px, "max_zoom": geometry.max_zoom,
                 "quality": int(quality), "background": [int(v) for v in background]}
    differs = [key for key, value in same_look.items() if base.get(key) != value]
    if differs:
        logger.info("tiles: the base pyramid differs in %s; rendering every tile", differs)
        return render_tiles(grid, thumbs_paths, out_dir, cell_px=cell_px, shape=shape,
                            quality=quality, tile_px=tile_px, background=background, n_jobs=n_jobs)
    placed, skipped = grid_cells(grid, geometry)
    cell_city, cell_index, paths, missing = locate_thumbnails(placed, thumbs_paths, geometry)
    skipped.update(missing)
    stale = _stale_tiles(geometry, changed, (base["rows"], base["cols"]))
    with atomic_directory(out_dir) as work:
        _link_tree(base_dir, work)
        writer = _UpdatingWriter(geometry, cell_city, cell_index, paths, work, quality,
                                 tuple(background), stale=stale, base_dir=base_dir)
        try:
            writer.render(0, 0, 0)
        finally:
            writer.close()
        ids_by_cell = dict(zip(zip(placed["row"], placed["col"]), placed["id"]))
        skipped.update({ids_by_cell[cell]: reason for cell, reason in writer.failed.items()})
        tiles_per_zoom = [nx * ny for nx, ny in map(geometry.tiles_at, range(geometry.max_zoom + 1))]
        summary = geometry.to_dict() | {
            "quality": int(quality),
            "background": [int(v) for v in background],
            "tiles_per_zoom": tiles_per_zoom,
            "total_tiles": sum(tiles_per_zoom),
            "rendered_tiles": sum(writer.tiles_per_zoom),
            "photos": int((cell_city >= 0).sum()) - len(writer.failed),
            "skipped": skipped,
        }
        write_json(summary, work / "tiles.json")
    logger.info("tiles: re-rendered %d of %d tiles for %d changed cells in %s",
                summary["rendered_tiles"], summary["total_tiles"], len(changed), out_dir)
    return summary


def _stale_tiles(geometry: TileGeometry, changed: pd.DataFrame, base_shape: tuple[int, int]
                 ) -> list[set[tuple[int, int]]]:
    """Per zoom, the tiles to draw anew: those over a changed cell or beyond the base's tiles."""
    size, cell, deepest = geometry.tile_px, geometry.cell_px, geometry.max_zoom
    stale: set[tuple[int, int]] = set()
    for row, col in changed[["row", "col"]].itertuples(index=False):
        for x in range(col * cell // size, ((col + 1) * cell - 1) // size + 1):
            for y in range(row * cell // size, ((row + 1) * cell - 1) // size + 1):
                stale.add((x, y))
    base_nx, base_ny = TileGeometry(int(base_shape[0]), int(base_shape[1]), cell,
                                    size).tiles_at(deepest)
    nx, ny = geometry.tiles_at(deepest)
    stale.update((x, y) for x in range(nx) for y in range(ny) if x >= base_nx or y >= base_ny)
    levels = []
    for zoom in range(deepest + 1):
        shift = deepest - zoom
        levels.append({(x >> shift, y >> shift) for x, y in stale})
    return levels


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link every file under ``source`` into ``target`` (copy where links cannot be made)."""
    for folder, _, files in os.walk(source):
        destination = target / Path(folder).relative_to(source)
        destination.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(Path(folder) / name, destination / name)
            except OSError:
                shutil.copy2(Path(folder) / name, destination / name)


class _UpdatingWriter(PyramidWriter):
    """A writer that draws only ``stale`` tiles and reads every other one from the base."""

    def __init__(self, *args, stale: list[set[tuple[int, int]]], base_dir: Path, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stale = stale
        self._base_dir = base_dir

    def render(self, zoom: int, x: int, y: int) -> Image.Image:
        if (x, y) in self._stale[zoom]:
            return super().render(zoom, x, y)
        with Image.open(self._base_dir / str(zoom) / str(x) / f"{y}.jpg") as tile:
            return tile.convert("RGB")

    def _write(self, zoom: int, x: int, y: int, tile: Image.Image) -> None:
        # The folder holds hard links to the base's files: replace the link, never write
        # through it into the base.
        (self._out_dir / str(zoom) / str(x) / f"{y}.jpg").unlink(missing_ok=True)
        super()._write(zoom, x, y, tile)


# --- the stage on files ------------------------------------------------------------------------

def run_update_tiles(cells_tsv, facts_json, thumbs: Mapping[str, str], base_dir, out_dir, *,
                     cell_px: int, tile_px: int, quality: int, background: Sequence[int],
                     n_jobs: int = 1) -> dict:
    from ...core.io import read_table
    from ...layout.extend import changed_cells

    base_dir = Path(base_dir)
    cells = read_table(cells_tsv)
    facts = read_json(facts_json)
    changed = changed_cells(read_table(base_dir / "grid.tsv"), cells)
    return update_tiles(cells, thumbs, base_dir / "tiles", changed, out_dir, cell_px=cell_px,
                        shape=(facts["rows"], facts["cols"]), quality=quality, tile_px=tile_px,
                        background=tuple(background), n_jobs=n_jobs)
