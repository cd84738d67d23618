"""The 256-px JPEG tile pyramid (``{z}/{x}/{y}.jpg``) drawn from per-city thumbnails.

At the deepest zoom every photo fills its grid cell exactly; each lower zoom is a 2x2 box
downsample of the level below, computed from the decoded tiles held in memory, so every tile is
JPEG-encoded exactly once and never read back. The quadtree is walked depth first, so only one
branch of tiles is in memory at a time, never the whole mosaic.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from ...core.io import atomic_directory, write_json
from .geometry import TileGeometry, grid_cells
from .thumbnails import ThumbnailReader, locate_thumbnails

logger = logging.getLogger(__name__)


def _downsample(block: Image.Image) -> Image.Image:
    """2x2 box average (rounded) of a (2n x 2n) RGB image.

    Pillow's ``reduce`` does it in C, ~20x faster than a strided numpy reduction.
    """
    return block.reduce(2)


def _save_jpeg(tile: Image.Image, path: Path, quality: int) -> None:
    tile.save(path, "JPEG", quality=quality)


class PyramidWriter:
    """Renders the quadtree under one tile depth first, writing each tile once.

    ``cell_city``/``cell_index`` say, per grid cell, which city's thumbs file and which row in it
    holds the photo (``-1`` for an empty cell). With ``done`` given, tiles at ``done_zoom`` are
    taken from it (rendered elsewhere) instead of being rendered again.
    """

    def __init__(self, geometry: TileGeometry, cell_city: np.ndarray, cell_index: np.ndarray,
                 thumbs_paths: list[str], out_dir: Path, quality: int,
                 background: tuple[int, int, int], progress: tqdm | None = None,
                 done: Mapping[tuple[int, int], Image.Image] | None = None,
                 done_zoom: int | None = None) -> None:
        self.geometry = geometry
        self._cell_city = cell_city
        self._cell_index = cell_index
        self._reader = ThumbnailReader(thumbs_paths, geometry.cell_px)
        self._out_dir = out_dir
        self._quality = quality
        self._background = tuple(background)
        self._blank_pixels = np.empty((geometry.tile_px, geometry.tile_px, 3), np.uint8)
        self._blank_pixels[:] = background
        self._progress = progress
        self._done = done
        self._done_zoom = done_zoom
        self._made_dirs: set[tuple[int, int]] = set()
        self.tiles_per_zoom = [0] * (geometry.max_zoom + 1)
        self.failed: dict[tuple[int, int], str] = {}

    def close(self) -> None:
        self._reader.close()

    def render(self, zoom: int, x: int, y: int) -> Image.Image:
        """Tile ``(zoom, x, y)``, writing it and every tile below it."""
        if self._done is not None and zoom == self._done_zoom:
            return self._done[(x, y)]
        if zoom == self.geometry.max_zoom:
            tile = Image.fromarray(self._compose(x, y))
        else:
            # Children stay Pillow images: pasting them is a copy inside Pillow, whereas a round
            # trip through numpy would convert every pixel twice per level.
            size = self.geometry.tile_px
            block = Image.new("RGB", (2 * size, 2 * size), self._background)
            nx, ny = self.geometry.tiles_at(zoom + 1)
            for dy in (0, 1):
                for dx in (0, 1):
                    cx, cy = 2 * x + dx, 2 * y + dy
                    if cx < nx and cy < ny:
                        block.paste(self.render(zoom + 1, cx, cy), (dx * size, dy * size))
            tile = _downsample(block)
        self._write(zoom, x, y, tile)
        return tile

    def _compose(self, x: int, y: int) -> np.ndarray:
        """Deepest-zoom tile's pixels: the thumbnail of every cell the tile overlaps."""
        geo = self.geometry
        size, cell = geo.tile_px, geo.cell_px
        tile = self._blank_pixels.copy()
        left, top = x * size, y * size
        cols = range(left // cell, min(geo.cols, -(-(left + size) // cell)))
        rows = range(top // cell, min(geo.rows, -(-(top + size) // cell)))
        for row in rows:
            for col in cols:
                city_code = int(self._cell_city[row, col])
                if city_code < 0:
                    continue
                index = int(self._cell_index[row, col])
                try:
                    pixels = self._reader.read(city_code, index)
                except (OSError, KeyError, ValueError) as error:
                    # A damaged chunk costs one cell, not the run.
                    self.failed[(row, col)] = f"thumbnail read failed: {error}"
                    logger.warning("tiles: cell %d,%d: thumbnail read failed: %s", row, col, error)
                    continue
                # Overlap of the cell and the tile, in tile coordinates.
                x0, y0 = col * cell - left, row * cell - top
                tx0, ty0 = max(x0, 0), max(y0, 0)
                tx1, ty1 = min(x0 + cell, size), min(y0 + cell, size)
                tile[ty0:ty1, tx0:tx1] = pixels[ty0 - y0:ty1 - y0, tx0 - x0:tx1 - x0]
        return tile

    def _write(self, zoom: int, x: int, y: int, tile: Image.Image) -> None:
        if (zoom, x) not in self._made_dirs:
            (self._out_dir / str(zoom) / str(x)).mkdir(parents=True, exist_ok=True)
            self._made_dirs.add((zoom, x))
        _save_jpeg(tile, self._out_dir / str(zoom) / str(x) / f"{y}.jpg", self._quality)
        self.tiles_per_zoom[zoom] += 1
        if self._progress is not None:
            self._progress.update(1)


# One writer per worker process, so each opens every city's HDF5 file at most once.
_WORKER: PyramidWriter | None = None


def _start_worker(*args) -> None:
    global _WORKER
    _WORKER = PyramidWriter(*args)


def _render_subtree(zoom: int, x: int, y: int) -> tuple[int, int, Image.Image, list[int], dict]:
    _WORKER.tiles_per_zoom = [0] * len(_WORKER.tiles_per_zoom)
    _WORKER.failed = {}
    tile = _WORKER.render(zoom, x, y)
    return x, y, tile, _WORKER.tiles_per_zoom, _WORKER.failed


def _split_zoom(geometry: TileGeometry, n_jobs: int) -> int:
    """Shallowest zoom with at least ``4 * n_jobs`` tiles, so subtrees balance across workers."""
    for zoom in range(geometry.max_zoom + 1):
        nx, ny = geometry.tiles_at(zoom)
        if nx * ny >= 4 * n_jobs:
            return zoom
    return geometry.max_zoom


def render_tiles(grid: pd.DataFrame, thumbs_paths: Mapping[str, os.PathLike | str],
                 out_dir: os.PathLike | str, *, cell_px: int,
                 shape: tuple[int, int] | None = None, quality: int = 80, tile_px: int = 256,
                 background: tuple[int, int, int] = (24, 24, 24), n_jobs: int = 1) -> dict:
    """Write the JPEG tile pyramid ``out_dir/{z}/{x}/{y}.jpg`` for a photo grid.

    Only tiles that intersect the map are written, for every zoom from 0 to ``max_zoom``. The
    pyramid is built in a temporary directory beside ``out_dir`` and renamed onto it at the end,
    so an interrupted run leaves no ``out_dir`` (and an earlier one untouched).

    Parameters
    ----------
    grid : DataFrame
        Columns ``id``, ``city``, ``row``, ``col`` (0-based, row grows downward).
    thumbs_paths : mapping
        City -> its ``thumbs.h5`` (datasets ``ids`` and ``thumbs`` of shape (n, T, T, 3)).
        Thumbnails are resized to ``cell_px`` when ``T != cell_px``.
    out_dir : path
        Pyramid directory; replaced as a whole.
    cell_px : int
        Side of a cell at the deepest zoom.
    shape : (rows, cols), optional
        Grid shape (from ``grid.json``); defaults to the extent of ``grid``.
    quality : int, default 80
        JPEG quality.
    tile_px : int, default 256
        Tile side.
    background : (r, g, b), default (24, 24, 24)
        Colour of empty cells and of the margin beyond the map in edge tiles.
    n_jobs : int, default 1
        Worker processes; each renders whole subtrees.

    Returns
    -------
    dict
        ``rows``, ``cols``, ``cell_px``, ``tile_px``, ``max_zoom``, ``width``, ``height``,
        ``tiles_per_zoom`` (list indexed by zoom), ``total_tiles``, ``photos`` (cells drawn) and
        ``skipped`` (id -> reason); also written to ``out_dir/tiles.json``.
    """
    if shape is None:
        shape = (int(grid["row"].max()) + 1, int(grid["col"].max()) + 1) if len(grid) else (1, 1)
    geometry = TileGeometry(int(shape[0]), int(shape[1]), cell_px, tile_px)
    placed, skipped = grid_cells(grid, geometry)
    cell_city, cell_index, paths, missing = locate_thumbnails(placed, thumbs_paths, geometry)
    skipped.update(missing)

    total = sum(nx * ny for nx, ny in map(geometry.tiles_at, range(geometry.max_zoom + 1)))
    with atomic_directory(out_dir) as work:
        writer_args = (geometry, cell_city, cell_index, paths, work, quality, tuple(background))
        with tqdm(total=total, unit="tile", desc="tiles") as progress:
            tiles_per_zoom, failed = _render_pyramid(geometry, writer_args, progress, n_jobs)
        ids_by_cell = dict(zip(zip(placed["row"], placed["col"]), placed["id"]))
        skipped.update({ids_by_cell[cell]: reason for cell, reason in failed.items()})
        summary = geometry.to_dict() | {
            "quality": int(quality),
            "background": [int(v) for v in background],
            "tiles_per_zoom": tiles_per_zoom,
            "total_tiles": sum(tiles_per_zoom),
            "rendered_tiles": sum(tiles_per_zoom),
            "photos": int((cell_city >= 0).sum()) - len(failed),
            "skipped": skipped,
        }
        write_json(summary, work / "tiles.json")
    logger.info("tiles: wrote %d tiles (zoom 0..%d) for %d photos to %s",
                summary["total_tiles"], geometry.max_zoom, summary["photos"], out_dir)
    return summary


def _render_pyramid(geometry: TileGeometry, writer_args: tuple, progress: tqdm,
                    n_jobs: int) -> tuple[list[int], dict[tuple[int, int], str]]:
    """Render every tile, in this process or as subtrees spread over ``n_jobs`` workers."""
    split = _split_zoom(geometry, n_jobs)
    if n_jobs <= 1 or split == 0:
        writer = PyramidWriter(*writer_args, progress=progress)
        try:
            writer.render(0, 0, 0)
        finally:
            writer.close()
        return writer.tiles_per_zoom, writer.failed

    nx, ny = geometry.tiles_at(split)
    done: dict[tuple[int, int], Image.Image] = {}
    tiles_per_zoom = [0] * (geometry.max_zoom + 1)
    failed: dict[tuple[int, int], str] = {}
    # spawn: forking a parent that has touched HDF5 and runs tqdm's thread is not safe.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(n_jobs, mp_context=context, initializer=_start_worker,
                             initargs=writer_args) as pool:
        futures = [pool.submit(_render_subtree, split, x, y) for y in range(ny) for x in range(nx)]
        try:
            for future in futures:
                x, y, tile, counts, subtree_failed = future.result()
                done[(x, y)] = tile
                tiles_per_zoom = [a + b for a, b in zip(tiles_per_zoom, counts)]
                failed.update(subtree_failed)
                progress.update(sum(counts))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    # The levels above the split are small: finish them here from the subtree roots.
    top = PyramidWriter(*writer_args, progress=progress, done=done, done_zoom=split)
    top.render(0, 0, 0)
    top.close()
    tiles_per_zoom = [a + b for a, b in zip(tiles_per_zoom, top.tiles_per_zoom)]
    return tiles_per_zoom, failed


def no_tiles(out_dir: os.PathLike | str, reason: str) -> dict:
    """The pyramid of an arrangement that was not built: a folder holding only ``tiles.json``
    with the reason, so the rule's output exists and nothing is drawn."""
    summary = {"unavailable": reason, "tiles_per_zoom": [], "total_tiles": 0, "photos": 0,
               "skipped": {}}
    with atomic_directory(out_dir) as work:
        write_json(summary, work / "tiles.json")
    logger.info("tiles: none for %s (%s)", out_dir, reason)
    return summary


# --- the stage on files ------------------------------------------------------------------------

def run_tiles(cells_tsv, facts_json, thumbs: Mapping[str, str], out_dir, *, cell_px: int,
              tile_px: int, quality: int, background: Sequence[int], n_jobs: int = 1) -> dict:
    from ...core.io import read_json, read_table

    facts = read_json(facts_json)
    if facts.get("unavailable"):
        return no_tiles(out_dir, facts["unavailable"])
    return render_tiles(read_table(cells_tsv), thumbs, out_dir, cell_px=cell_px,
                  shape=(facts["rows"], facts["cols"]), quality=quality, tile_px=tile_px,
                  background=tuple(background), n_jobs=n_jobs)
