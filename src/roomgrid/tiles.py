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
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from roomgrid.io import atomic_directory, write_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TileGeometry:
    """Pixel and tile extent of a ``rows`` x ``cols`` grid of square cells.

    Pixel coordinates are those of the deepest zoom (``max_zoom``), where one cell is ``cell_px``
    wide; ``y`` grows downward, as in Leaflet's ``CRS.Simple``.

    Parameters
    ----------
    rows, cols : int
        Grid shape.
    cell_px : int, default 128
        Side of one cell at the deepest zoom, in pixels.
    tile_px : int, default 256
        Side of one tile, in pixels.
    """

    rows: int
    cols: int
    cell_px: int = 128
    tile_px: int = 256

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "cell_px", "tile_px"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @property
    def width(self) -> int:
        """Map width at the deepest zoom, in pixels."""
        return self.cols * self.cell_px

    @property
    def height(self) -> int:
        """Map height at the deepest zoom, in pixels."""
        return self.rows * self.cell_px

    @property
    def max_zoom(self) -> int:
        """Smallest zoom ``z`` with ``tile_px * 2**z >= max(width, height)``."""
        zoom = 0
        while self.tile_px * 2**zoom < max(self.width, self.height):
            zoom += 1
        return zoom

    def tiles_at(self, zoom: int) -> tuple[int, int]:
        """Number of tiles ``(nx, ny)`` that intersect the map at ``zoom``."""
        if not 0 <= zoom <= self.max_zoom:
            raise ValueError(f"zoom must be in 0..{self.max_zoom}, got {zoom}")
        span = self.tile_px * 2 ** (self.max_zoom - zoom)  # deepest-zoom pixels per tile
        return -(-self.width // span), -(-self.height // span)

    def cell_at(self, px: float, py: float) -> tuple[int, int] | None:
        """Grid ``(row, col)`` under deepest-zoom pixel ``(px, py)``, or None outside the map."""
        if not (0 <= px < self.width and 0 <= py < self.height):
            return None
        return int(py // self.cell_px), int(px // self.cell_px)

    def to_dict(self) -> dict:
        """Plain-JSON description shared by the tile summary and the viewer."""
        return {
            "rows": self.rows, "cols": self.cols, "cell_px": self.cell_px,
            "tile_px": self.tile_px, "max_zoom": self.max_zoom,
            "width": self.width, "height": self.height,
        }


def grid_cells(grid: pd.DataFrame, geometry: TileGeometry) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows of ``grid`` that occupy a valid cell, sorted by ``(row, col)``.

    Shared by the tiles and the viewer so both put the same photo in each cell. A row outside the
    grid, a second photo in an occupied cell, or a repeated id is skipped with a reason.

    Returns
    -------
    placed : DataFrame
        Columns ``id``, ``city``, ``row``, ``col`` (ints), one row per occupied cell.
    skipped : dict
        ``id -> reason`` for the rows left out (a repeated id keeps its first cell).
    """
    frame = grid.loc[:, ["id", "city", "row", "col"]].copy()
    frame["row"] = pd.to_numeric(frame["row"], errors="coerce")
    frame["col"] = pd.to_numeric(frame["col"], errors="coerce")
    skipped: dict[str, str] = {}
    inside = (frame["row"].between(0, geometry.rows - 1)
              & frame["col"].between(0, geometry.cols - 1)
              & (frame["row"] % 1 == 0) & (frame["col"] % 1 == 0))
    for photo_id in frame.loc[~inside, "id"]:
        skipped[str(photo_id)] = f"cell outside the {geometry.rows}x{geometry.cols} grid"
    frame = frame[inside].astype({"row": int, "col": int})
    repeated_id = frame["id"].duplicated()
    for photo_id, row, col in frame.loc[repeated_id, ["id", "row", "col"]].itertuples(index=False):
        skipped[str(photo_id)] = (f"id placed more than once; its extra cell ({row}, {col}) "
                                  "is left empty")
    frame = frame[~repeated_id]
    taken = frame.duplicated(["row", "col"])
    for photo_id in frame.loc[taken, "id"]:
        skipped[str(photo_id)] = "cell already taken by another photo"
    frame = frame[~taken].sort_values(["row", "col"], kind="stable").reset_index(drop=True)
    for photo_id, reason in skipped.items():
        logger.warning("grid: skipping %s: %s", photo_id, reason)
    return frame, skipped


class _ThumbnailReader:
    """Reads single thumbnails, opening each city's HDF5 file at most once."""

    def __init__(self, paths: list[str], cell_px: int) -> None:
        self._paths = paths
        self._cell_px = cell_px
        self._files: dict[int, h5py.File] = {}
        self._thumbs: dict[int, h5py.Dataset] = {}  # looking a dataset up costs as much as a read

    def read(self, city_code: int, index: int) -> np.ndarray:
        """Thumbnail ``index`` of city ``city_code`` as a (cell_px, cell_px, 3) uint8 array."""
        if city_code not in self._files:
            # Each thumbnail is read once: HDF5's per-dataset chunk cache (1 MiB each, hundreds of
            # cities per worker) would only hold memory.
            self._files[city_code] = h5py.File(self._paths[city_code], "r", rdcc_nbytes=0)
            self._thumbs[city_code] = self._files[city_code]["thumbs"]
        pixels = self._thumbs[city_code][index]
        if pixels.shape[0] != self._cell_px or pixels.shape[1] != self._cell_px:
            size = (self._cell_px, self._cell_px)
            pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))
        return pixels

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        self._thumbs.clear()


def _downsample(block: Image.Image) -> Image.Image:
    """2x2 box average (rounded) of a (2n x 2n) RGB image.

    Pillow's ``reduce`` does it in C, ~20x faster than a strided numpy reduction.
    """
    return block.reduce(2)


def _save_jpeg(tile: Image.Image, path: Path, quality: int) -> None:
    tile.save(path, "JPEG", quality=quality)


class _PyramidWriter:
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
        self._reader = _ThumbnailReader(thumbs_paths, geometry.cell_px)
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


def _locate_thumbnails(placed: pd.DataFrame, thumbs_paths: Mapping[str, os.PathLike | str],
                       geometry: TileGeometry) -> tuple[np.ndarray, np.ndarray, list[str],
                                                        dict[str, str]]:
    """Map each placed photo to (city file, row in it) once, reading only the ``ids`` datasets."""
    cell_city = np.full((geometry.rows, geometry.cols), -1, np.int32)
    cell_index = np.full((geometry.rows, geometry.cols), -1, np.int64)
    paths: list[str] = []
    skipped: dict[str, str] = {}
    for city, photos in placed.groupby("city", sort=True):
        path = thumbs_paths.get(city)
        if path is None:
            reason = "no thumbnails file for its city"
            skipped.update(dict.fromkeys(photos["id"], reason))
            continue
        try:
            with h5py.File(path, "r") as handle:
                ids = handle["ids"].asstr()[:]
                shape = handle["thumbs"].shape
        except (OSError, KeyError) as error:
            skipped.update(dict.fromkeys(photos["id"], f"unreadable thumbnails file: {error}"))
            continue
        if len(shape) != 4 or shape[0] != len(ids) or shape[1] != shape[2] or shape[3] != 3:
            reason = f"thumbnails file has shape {shape}, expected (n, T, T, 3)"
            skipped.update(dict.fromkeys(photos["id"], reason))
            continue
        position = {photo_id: index for index, photo_id in enumerate(ids)}
        code = len(paths)
        paths.append(str(path))
        for photo_id, row, col in photos[["id", "row", "col"]].itertuples(index=False):
            index = position.get(photo_id)
            if index is None:
                skipped[photo_id] = "id not in its city's thumbnails file"
                continue
            cell_city[row, col] = code
            cell_index[row, col] = index
    for photo_id, reason in skipped.items():
        logger.warning("tiles: skipping %s: %s", photo_id, reason)
    return cell_city, cell_index, paths, skipped


# One writer per worker process, so each opens every city's HDF5 file at most once.
_WORKER: _PyramidWriter | None = None


def _start_worker(*args) -> None:
    global _WORKER
    _WORKER = _PyramidWriter(*args)


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
    cell_city, cell_index, paths, missing = _locate_thumbnails(placed, thumbs_paths, geometry)
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
    from .io import read_json

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
    cell_city, cell_index, paths, missing = _locate_thumbnails(placed, thumbs_paths, geometry)
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
                import shutil
                shutil.copy2(Path(folder) / name, destination / name)


class _UpdatingWriter(_PyramidWriter):
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


def _render_pyramid(geometry: TileGeometry, writer_args: tuple, progress: tqdm,
                    n_jobs: int) -> tuple[list[int], dict[tuple[int, int], str]]:
    """Render every tile, in this process or as subtrees spread over ``n_jobs`` workers."""
    split = _split_zoom(geometry, n_jobs)
    if n_jobs <= 1 or split == 0:
        writer = _PyramidWriter(*writer_args, progress=progress)
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
    top = _PyramidWriter(*writer_args, progress=progress, done=done, done_zoom=split)
    top.render(0, 0, 0)
    top.close()
    tiles_per_zoom = [a + b for a, b in zip(tiles_per_zoom, top.tiles_per_zoom)]
    return tiles_per_zoom, failed
