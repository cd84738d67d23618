"""Static viewer files: map description, compact photo table, page references, photo links."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from roomgrid.tiles import TileGeometry
from roomgrid.viewer import build_viewer

GEOMETRY = TileGeometry(rows=3, cols=4, cell_px=128, tile_px=256)


@pytest.fixture
def inputs(tmp_path):
    """Five photos from two cities on a 3 x 4 grid; one source file lies outside its root."""
    roots = {"boston": tmp_path / "src" / "boston", "denver": tmp_path / "src" / "denver"}
    (roots["denver"] / "sub").mkdir(parents=True)
    roots["boston"].mkdir(parents=True)
    ids = ["boston/a.jpg", "boston/b.jpg", "denver/sub/1.jpg", "denver/1.jpg", "boston/c.jpg"]
    paths = [roots["boston"] / "a.jpg", roots["boston"] / "b.jpg", roots["denver"] / "sub/1.jpg",
             roots["denver"] / "1.jpg", tmp_path / "elsewhere" / "c.jpg"]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"jpeg bytes")
    grid = pd.DataFrame({"id": ids, "city": ["boston", "boston", "denver", "denver", "boston"],
                         "row": [2, 0, 1, 0, 2], "col": [3, 0, 1, 2, 0]})
    photos = pd.DataFrame({
        "id": ids + ["boston/not-on-grid.jpg"],
        "city": list(grid["city"]) + ["boston"],
        "path": [str(p) for p in paths] + [str(roots["boston"] / "x.jpg")],
        "width": 600, "height": 450,
        "listing_url": ["https://example.org/1", None, None, "https://example.org/4", None, None],
        "title": ["Sunny loft", None, "Basement", None, None, None],
        "price": [1850.0, np.nan, 900.0, 1200.5, np.nan, 5.0],
        "bedrooms": [2.0, np.nan, 1.0, np.nan, np.nan, np.nan],
        "sqft": [850.0, np.nan, np.nan, np.nan, np.nan, np.nan],
        "neighbourhood": ["Back Bay", None, None, None, None, None],
        "posted": ["2017-03-01", None, None, None, None, None],
    })
    neighbours = pd.DataFrame({
        "id": ids,
        "neighbours": ["denver/sub/1.jpg boston/not-on-grid.jpg boston/b.jpg", "boston/a.jpg",
                       np.nan, "boston/c.jpg", "denver/1.jpg"],
    })
    leaflet = tmp_path / "node_modules" / "leaflet" / "dist"
    (leaflet / "images").mkdir(parents=True)
    (leaflet / "leaflet.js").write_text("/* leaflet */")
    (leaflet / "leaflet.css").write_text("/* css */")
    (leaflet / "images" / "marker-icon.png").write_bytes(b"png")
    return grid, photos, neighbours, roots, leaflet


def build(inputs, out_dir, photo_roots="default", title="roomgrid"):
    grid, photos, neighbours, roots, leaflet = inputs
    build_viewer(grid, photos, neighbours, out_dir, geometry=GEOMETRY, leaflet_dir=leaflet,
                 photo_roots=roots if photo_roots == "default" else photo_roots, title=title)


def read_json(path):
    return json.loads(path.read_text())


def test_writes_every_viewer_file_and_leaves_tiles_alone(inputs, tmp_path):
    out = tmp_path / "viewer"
    (out / "tiles" / "0" / "0").mkdir(parents=True)
    (out / "tiles" / "0" / "0" / "0.jpg").write_bytes(b"tile")
    build(inputs, out)
    for name in ("index.html", "app.js", "style.css", "data/map.json", "data/photos.json",
                 "lib/leaflet/leaflet.js", "lib/leaflet/leaflet.css",
                 "lib/leaflet/images/marker-icon.png"):
        assert (out / name).is_file(), name
    assert (out / "tiles" / "0" / "0" / "0.jpg").read_bytes() == b"tile"
    assert not [p for p in out.rglob(".*")]  # no temporary leftovers


def test_map_json_agrees_with_geometry(inputs, tmp_path):
    build(inputs, tmp_path / "viewer")
    info = read_json(tmp_path / "viewer" / "data" / "map.json")
    assert info == {"rows": 3, "cols": 4, "cell_px": 128, "tile_px": 256, "max_zoom": 1,
                    "width": 512, "height": 384, "tile_url": "tiles/{z}/{x}/{y}.jpg",
                    "overzoom": 2}


def test_photos_json_cells_round_trip_to_grid_ids(inputs, tmp_path):
    grid = inputs[0]
    build(inputs, tmp_path / "viewer")
    table = read_json(tmp_path / "viewer" / "data" / "photos.json")
    cells, columns = table["cells"], table["photos"]
    assert len(cells) == GEOMETRY.rows * GEOMETRY.cols
    expected = {(row, col): photo_id for photo_id, row, col in grid[["id", "row", "col"]].values}
    for row in range(GEOMETRY.rows):
        for col in range(GEOMETRY.cols):
            index = cells[row * GEOMETRY.cols + col]
            if (row, col) in expected:
                assert columns["id"][index] == expected[(row, col)]
                assert (columns["row"][index], columns["col"][index]) == (row, col)
            else:
                assert index == -1
    assert table["cities"] == ["boston", "denver"]
    assert {len(values) for values in columns.values()} == {len(grid)}


def test_photos_json_metadata_files_and_neighbours(inputs, tmp_path):
    build(inputs, tmp_path / "viewer")
    table = read_json(tmp_path / "viewer" / "data" / "photos.json")
    columns = table["photos"]
    at = {photo_id: index for index, photo_id in enumerate(columns["id"])}
    loft, sub, far = at["boston/a.jpg"], at["denver/sub/1.jpg"], at["boston/c.jpg"]
    assert table["cities"][columns["city"][sub]] == "denver"
    assert [columns[key][loft] for key in ("url", "title", "price", "beds", "sqft",
                                           "neighbourhood", "posted")] == [
        "https://example.org/1", "Sunny loft", 1850, 2, 850, "Back Bay", "2017-03-01"]
    assert columns["price"][at["denver/1.jpg"]] == 1200.5
    assert columns["price"][at["boston/b.jpg"]] is None
    assert columns["file"][loft] == "a.jpg" and columns["file"][sub] == "sub/1.jpg"
    assert columns["file"][far] is None  # source file outside its city's folder
    # Nearest first; the neighbour that is not on the grid is dropped.
    assert [columns["id"][i] for i in columns["neighbours"][loft]] == [
        "denver/sub/1.jpg", "boston/b.jpg"]
    assert columns["neighbours"][sub] == []


def test_index_html_references_script_leaflet_and_tiles(inputs, tmp_path):
    build(inputs, tmp_path / "viewer", title="Empty <rooms>")
    page = (tmp_path / "viewer" / "index.html").read_text()
    assert '<script src="app.js">' in page
    assert '<script src="lib/leaflet/leaflet.js">' in page
    assert 'href="lib/leaflet/leaflet.css"' in page and 'href="style.css"' in page
    assert "<title>Empty &lt;rooms&gt;</title>" in page
    config = page.split('<script id="map-config" type="application/json">')[1].split("</script>")[0]
    assert json.loads(config) == read_json(tmp_path / "viewer" / "data" / "map.json")
    assert json.loads(config)["tile_url"] == "tiles/{z}/{x}/{y}.jpg"
    assert "http://" not in page and "https://" not in page  # nothing from a CDN


def test_photo_links_point_at_source_folders_without_touching_them(inputs, tmp_path):
    roots = inputs[3]
    before = {p: p.read_bytes() for p in (tmp_path / "src").rglob("*.jpg")}
    out = tmp_path / "viewer"
    build(inputs, out)
    for city, root in roots.items():
        link = out / "photos" / city
        assert link.is_symlink() and os.readlink(link) == str(root.resolve())
    assert (out / "photos" / "denver" / "sub" / "1.jpg").read_bytes() == b"jpeg bytes"
    assert {p: p.read_bytes() for p in (tmp_path / "src").rglob("*.jpg")} == before


def test_without_photo_roots_no_links_and_no_files(inputs, tmp_path):
    out = tmp_path / "viewer"
    build(inputs, out)
    build(inputs, out, photo_roots=None)
    assert list((out / "photos").iterdir()) == []  # the earlier links are gone
    assert set(read_json(out / "data" / "photos.json")["photos"]["file"]) == {None}


def test_missing_leaflet_is_a_clear_error(inputs, tmp_path):
    grid, photos, neighbours, roots, _ = inputs
    with pytest.raises(FileNotFoundError, match="npm ci"):
        build_viewer(grid, photos, neighbours, tmp_path / "viewer", geometry=GEOMETRY,
                     leaflet_dir=tmp_path / "nowhere", photo_roots=roots)
