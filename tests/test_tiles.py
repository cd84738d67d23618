"""Tile pyramid: geometry, pixel placement, downsampling, file set, parallel and atomic output."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from roomgrid.viewer.tiles import pyramid as tiles
from roomgrid.viewer.tiles import TileGeometry, grid_cells, render_tiles

BACKGROUND = (24, 24, 24)
JPEG_TOLERANCE = 10  # flat areas survive JPEG at quality 85 within a few levels


def palette(n: int) -> np.ndarray:
    """``n`` flat colours at least 70 levels apart in some channel."""
    levels = np.array([60, 130, 200, 250])
    colours = np.array([(r, g, b) for r in levels for g in levels for b in levels], np.uint8)
    return colours[:n]


def write_thumbs(path: Path, ids: list[str], colours: np.ndarray, size: int) -> None:
    thumbs = np.broadcast_to(colours[:, None, None, :], (len(ids), size, size, 3)).copy()
    with h5py.File(path, "w") as handle:
        handle.create_dataset("ids", data=ids, dtype=h5py.string_dtype())
        handle.create_dataset("thumbs", data=thumbs, chunks=(1, size, size, 3))
        handle.attrs["size"] = size


@pytest.fixture
def mosaic(tmp_path):
    """A 7 x 9 grid of 48-px cells cut into 64-px tiles, so cells straddle tile edges.

    Two cities: one with thumbnails of the cell size, one with 32-px thumbnails to be resized.
    Every third cell is empty; each thumbs file also holds a photo that is not on the grid.
    """
    rows, cols = 7, 9
    cells = [(r, c) for r in range(rows) for c in range(cols) if (r * cols + c) % 3 != 1]
    colours = palette(len(cells))
    grid = pd.DataFrame({
        "id": [f"{'boston' if i % 2 else 'denver/sub'}/{i}.jpg" for i in range(len(cells))],
        "city": ["boston" if i % 2 else "denver" for i in range(len(cells))],
        "row": [r for r, _ in cells],
        "col": [c for _, c in cells],
    })
    paths = {}
    for city, size in (("boston", 48), ("denver", 32)):
        mine = grid.index[grid["city"] == city]
        ids = ["extra/unused.jpg", *grid.loc[mine, "id"]]
        write_thumbs(tmp_path / f"{city}.h5", ids,
                     np.vstack([[[0, 0, 0]], colours[mine]]).astype(np.uint8), size)
        paths[city] = tmp_path / f"{city}.h5"
    colour_of = {(r, c): tuple(colours[i]) for i, (r, c) in enumerate(cells)}
    geometry = TileGeometry(rows, cols, cell_px=48, tile_px=64)
    return grid, paths, geometry, colour_of


def render(mosaic, out_dir, **kwargs):
    grid, paths, geometry, _ = mosaic
    return render_tiles(grid, paths, out_dir, cell_px=geometry.cell_px, tile_px=geometry.tile_px,
                        shape=(geometry.rows, geometry.cols), **kwargs)


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def tile_files(root: Path) -> set[tuple[int, int, int]]:
    return {tuple(int(part) for part in (p.parts[-3], p.parts[-2], p.stem))
            for p in root.glob("*/*/*.jpg")}


def test_geometry_known_answers():
    square = TileGeometry(10, 10, cell_px=128)
    assert (square.width, square.height, square.max_zoom) == (1280, 1280, 3)
    assert [square.tiles_at(z) for z in range(4)] == [(1, 1), (2, 2), (3, 3), (5, 5)]

    wide = TileGeometry(3, 9, cell_px=100, tile_px=256)
    assert (wide.width, wide.height, wide.max_zoom) == (900, 300, 2)
    assert [wide.tiles_at(z) for z in range(3)] == [(1, 1), (2, 1), (4, 2)]
    assert wide.cell_at(0, 0) == (0, 0)
    assert wide.cell_at(899.5, 299) == (2, 8)
    assert wide.cell_at(250, 120) == (1, 2)
    assert wide.cell_at(900, 0) is None and wide.cell_at(-1, 5) is None

    assert TileGeometry(2, 2, cell_px=128).max_zoom == 0  # exactly one full tile
    assert TileGeometry(2, 3, cell_px=128).max_zoom == 1
    with pytest.raises(ValueError):
        square.tiles_at(4)
    with pytest.raises(ValueError):
        TileGeometry(0, 5)


def test_grid_cells_skips_bad_rows_with_reasons():
    grid = pd.DataFrame({"id": ["a", "b", "c", "a", "d"], "city": ["x"] * 5,
                         "row": [1, 0, 1, 0, 5], "col": [0, 1, 0, 0, 0]})
    placed, skipped = grid_cells(grid, TileGeometry(2, 2))
    assert placed[["id", "row", "col"]].values.tolist() == [["b", 0, 1], ["a", 1, 0]]
    assert set(skipped) == {"a", "c", "d"}
    assert "more than once" in skipped["a"] and "(0, 0)" in skipped["a"]
    assert "taken" in skipped["c"] and "outside" in skipped["d"]


def test_each_photo_fills_its_cell_at_max_zoom(mosaic, tmp_path):
    _, _, geometry, colour_of = mosaic
    out = tmp_path / "tiles"
    summary = render(mosaic, out)
    assert summary["max_zoom"] == geometry.max_zoom == 3
    assert summary["photos"] == len(colour_of) and summary["skipped"] == {}
    size, cell, z = geometry.tile_px, geometry.cell_px, geometry.max_zoom

    def pixel_at(px: int, py: int) -> np.ndarray:
        return load(out / str(z) / str(px // size) / f"{py // size}.jpg")[py % size, px % size]

    for row in range(geometry.rows):
        for col in range(geometry.cols):
            expected = colour_of.get((row, col), BACKGROUND)
            left, top = col * cell, row * cell
            centre = pixel_at(left + cell // 2, top + cell // 2)
            assert np.abs(centre - expected).max() <= JPEG_TOLERANCE, (row, col)
            # 3 px inside opposite corners: a cell shifted by a few pixels would fail here.
            for px, py in ((left + 3, top + 3), (left + cell - 4, top + cell - 4)):
                assert np.abs(pixel_at(px, py) - expected).max() <= 2 * JPEG_TOLERANCE, (row, col)


def test_lower_zoom_is_box_downsample_of_children(mosaic, tmp_path):
    _, _, geometry, _ = mosaic
    out = tmp_path / "tiles"
    render(mosaic, out, quality=95)  # small cells make many colour edges; keep JPEG error low
    size = geometry.tile_px
    blank = np.empty((size, size, 3), np.int16)
    blank[:] = BACKGROUND
    for z in range(geometry.max_zoom):
        nx, ny = geometry.tiles_at(z)
        cx_max, cy_max = geometry.tiles_at(z + 1)
        for x in range(nx):
            for y in range(ny):
                block = np.empty((2 * size, 2 * size, 3), np.int16)
                for dy in (0, 1):
                    for dx in (0, 1):
                        cx, cy = 2 * x + dx, 2 * y + dy
                        child = (load(out / str(z + 1) / str(cx) / f"{cy}.jpg")
                                 if cx < cx_max and cy < cy_max else blank)
                        block[dy * size:(dy + 1) * size, dx * size:(dx + 1) * size] = child
                expected = block.reshape(size, 2, size, 2, 3).mean(axis=(1, 3))
                parent = load(out / str(z) / str(x) / f"{y}.jpg")
                assert np.abs(parent - expected).mean() < 5, (z, x, y)
                # Same picture, not merely the same average colour.
                assert np.corrcoef(parent.ravel(), expected.ravel())[0, 1] > 0.97, (z, x, y)


def test_tile_files_are_exactly_those_on_the_map(mosaic, tmp_path):
    _, _, geometry, _ = mosaic
    out = tmp_path / "tiles"
    summary = render(mosaic, out)
    expected = {(z, x, y) for z in range(geometry.max_zoom + 1)
                for x in range(geometry.tiles_at(z)[0]) for y in range(geometry.tiles_at(z)[1])}
    assert tile_files(out) == expected
    # 7 x 9 cells of 48 px = 432 x 336 px in 64-px tiles: 7x6, 4x3, 2x2, 1x1.
    assert summary["tiles_per_zoom"] == [1, 4, 12, 42]
    assert summary["total_tiles"] == len(expected) == 59
    assert (out / "tiles.json").is_file()
    assert Image.open(out / "0/0/0.jpg").size == (64, 64)


def test_two_workers_match_one(mosaic, tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    one = render(mosaic, serial, n_jobs=1)
    two = render(mosaic, parallel, n_jobs=2)
    assert one["tiles_per_zoom"] == two["tiles_per_zoom"]
    files = tile_files(serial)
    assert files == tile_files(parallel)
    for z, x, y in files:
        name = Path(str(z), str(x), f"{y}.jpg")
        assert np.abs(load(serial / name) - load(parallel / name)).max() <= 1, name


def test_interrupted_render_leaves_no_output(mosaic, tmp_path, monkeypatch):
    out = tmp_path / "tiles"
    calls = []

    def failing_save(tile, path, quality):
        calls.append(path)
        if len(calls) > 5:
            raise RuntimeError("disk full")
        tile.save(path, "JPEG", quality=quality)

    monkeypatch.setattr(tiles, "_save_jpeg", failing_save)
    with pytest.raises(RuntimeError, match="disk full"):
        render(mosaic, out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boston.h5", "denver.h5"]


def test_rerender_replaces_old_pyramid_only_on_success(mosaic, tmp_path, monkeypatch):
    out = tmp_path / "tiles"
    render(mosaic, out)
    (out / "stale.txt").write_text("from an earlier run")
    render(mosaic, out)
    assert not (out / "stale.txt").exists()

    (out / "stale.txt").write_text("kept when the next run fails")
    monkeypatch.setattr(tiles, "_downsample", lambda block: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        render(mosaic, out)
    assert (out / "stale.txt").exists() and (out / "3/0/0.jpg").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_missing_thumbnails_are_skipped_with_reasons(mosaic, tmp_path):
    grid, paths, geometry, colour_of = mosaic
    grid = pd.concat([grid, pd.DataFrame({"id": ["austin/1.jpg", "boston/ghost.jpg"],
                                          "city": ["austin", "boston"],
                                          "row": [0, 6], "col": [1, 7]})])
    out = tmp_path / "tiles"
    summary = render_tiles(grid, paths, out, cell_px=48, tile_px=64, shape=(7, 9))
    assert summary["skipped"] == {"austin/1.jpg": "no thumbnails file for its city",
                                  "boston/ghost.jpg": "id not in its city's thumbnails file"}
    assert summary["photos"] == len(colour_of)
    # The skipped cells stay background; cell (0, 1) centre is at pixel (72, 24).
    pixel = load(out / "3/1/0.jpg")[24, 72 - 64]
    assert np.abs(pixel - BACKGROUND).max() <= JPEG_TOLERANCE


def test_update_redraws_only_tiles_over_changed_cells(mosaic, tmp_path):
    import hashlib
    import os

    from roomgrid.viewer.tiles import update_tiles

    grid, paths, geometry, _ = mosaic
    render(mosaic, tmp_path / "base", quality=85)
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "base").rglob("*.jpg")}
    # The boston file's unused photo joins the empty cell (0, 1); the photo in (6, 8) leaves.
    grown = pd.concat([grid[~((grid["row"] == 6) & (grid["col"] == 8))],
                       pd.DataFrame({"id": ["extra/unused.jpg"], "city": ["boston"], "row": [0], "col": [1]})])
    changed = pd.DataFrame({"row": [0, 6], "col": [1, 8]})
    shape = (geometry.rows, geometry.cols)
    summary = update_tiles(grown, paths, tmp_path / "base", changed, tmp_path / "updated",
                           cell_px=48, tile_px=64, shape=shape, quality=85)
    render_tiles(grown, paths, tmp_path / "full", cell_px=48, tile_px=64, shape=shape, quality=85)

    # Cell (0, 1) covers x 48..96 (tiles 0, 1 of row 0); cell (6, 8) x 384..432, y 288..336.
    deepest = geometry.max_zoom
    stale = {(deepest, 0, 0), (deepest, 1, 0), (deepest, 6, 4), (deepest, 6, 5)}
    stale |= {(z, x >> (deepest - z), y >> (deepest - z)) for _, x, y in list(stale) for z in range(deepest)}
    assert tile_files(tmp_path / "updated") == tile_files(tmp_path / "full")
    assert summary["rendered_tiles"] == len(stale)
    for z, x, y in tile_files(tmp_path / "updated"):
        name = Path(str(z), str(x), f"{y}.jpg")
        if (z, x, y) in stale:
            assert not os.path.samefile(tmp_path / "updated" / name, tmp_path / "base" / name)
            # Above the deepest zoom, unchanged children come decoded from the base's JPEGs:
            # the same picture up to one more round of JPEG noise (largest at the sharp edges of
            # these flat cells when a 64-px tile holds 60 of them).
            difference = np.abs(load(tmp_path / "updated" / name) - load(tmp_path / "full" / name))
            assert difference.mean() <= 4 and np.percentile(difference, 95) <= 2 * JPEG_TOLERANCE
        else:
            assert os.path.samefile(tmp_path / "updated" / name, tmp_path / "base" / name)
    # The deepest tiles are drawn from the thumbnails, exactly as a full render draws them.
    for _, x, y in [(z, x, y) for z, x, y in stale if z == deepest]:
        name = Path(str(deepest), str(x), f"{y}.jpg")
        assert (tmp_path / "updated" / name).read_bytes() == (tmp_path / "full" / name).read_bytes()
    # The base is left as it was: new tiles replaced the links instead of writing through them.
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "base").rglob("*.jpg")} == digest


def test_update_renders_everything_when_the_base_looks_different(mosaic, tmp_path):
    from roomgrid.viewer.tiles import update_tiles

    grid, paths, geometry, _ = mosaic
    render(mosaic, tmp_path / "base", quality=85)
    summary = update_tiles(grid, paths, tmp_path / "base", pd.DataFrame({"row": [], "col": []}),
                           tmp_path / "updated", cell_px=48, tile_px=64,
                           shape=(geometry.rows, geometry.cols), quality=60)
    assert summary["rendered_tiles"] == summary["total_tiles"] == len(tile_files(tmp_path / "base"))
