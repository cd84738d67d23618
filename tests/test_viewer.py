"""Static viewer files: the page, its scripts, the first-paint data, chunks and photo links."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from roomgrid.viewer.tiles import TileGeometry
from roomgrid.viewer.page import CLIENT_ZIP_FILES, SCRIPTS, build_viewer

GEOMETRY = TileGeometry(rows=3, cols=4, cell_px=128, tile_px=256)


def fake_client_zip(folder):
    """Stand-in files for node_modules/client-zip (the page loads them only to export a ZIP)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in CLIENT_ZIP_FILES:
        (folder / name).write_text(f"/* client-zip {name} */")
    return folder


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
    fake_client_zip(tmp_path / "node_modules" / "client-zip")
    return grid, photos, neighbours, roots, leaflet


def build(inputs, out_dir, photo_roots="default", title="roomgrid"):
    grid, photos, neighbours, roots, leaflet = inputs
    build_viewer(grid, photos, neighbours, out_dir, geometry=GEOMETRY, leaflet_dir=leaflet,
                 client_zip_dir=leaflet.parents[1] / "client-zip",
                 photo_roots=roots if photo_roots == "default" else photo_roots, title=title)


def read_json(path):
    return json.loads(path.read_text())


def read_data(out):
    """index.json, the typed columns of grid.bin and every chunk, as the page reads them."""
    index = read_json(out / "data" / "index.json")
    raw = (out / "data" / "grid.bin").read_bytes()
    columns = {name: np.frombuffer(raw, np.dtype(spec["type"]).newbyteorder("<"), spec["length"],
                                   spec["offset"])
               for name, spec in index["columns"].items()}
    chunks = [read_json(out / "data" / "chunks" / f"{n}.json") for n in range(len(index["chunks"]))]
    return index, columns, chunks


def photo_ids(chunks):
    return [photo_id for chunk in chunks for photo_id in chunk["ids"]]


def listing_field(chunks, index, field):
    for chunk in chunks:
        local = index - chunk["start"]
        if 0 <= local < len(chunk["ids"]):
            listing = chunk["listing"][local]
            return None if listing < 0 else chunk["listings"][field][listing]
    raise IndexError(index)


def test_writes_every_viewer_file_and_leaves_tiles_alone(inputs, tmp_path):
    out = tmp_path / "viewer"
    (out / "tiles" / "0" / "0").mkdir(parents=True)
    (out / "tiles" / "0" / "0" / "0.jpg").write_bytes(b"tile")
    (out / "data").mkdir()
    (out / "data" / "map.json").write_text("{}")  # from an older build: the data folder is replaced
    build(inputs, out)
    for name in ("index.html", "style.css", "data/index.json", "data/grid.bin",
                 "data/chunks/0.json", "lib/leaflet/leaflet.js", "lib/leaflet/leaflet.css",
                 "lib/leaflet/images/marker-icon.png", "lib/client-zip/index.js",
                 "lib/client-zip/LICENSE.txt", *(f"js/{name}" for name in SCRIPTS)):
        assert (out / name).is_file(), name
    assert (out / "lib/client-zip/index.js").read_text() == "/* client-zip index.js */"
    assert not (out / "data" / "map.json").exists()
    assert (out / "tiles" / "0" / "0" / "0.jpg").read_bytes() == b"tile"
    assert not [p for p in out.rglob(".*")]  # no temporary leftovers


def test_page_scripts_import_only_files_that_are_written(inputs, tmp_path):
    build(inputs, tmp_path / "viewer")
    imports = {name: re.findall(r"from '\./([\w.]+)'",
                                (tmp_path / "viewer" / "js" / name).read_text())
               for name in SCRIPTS}
    for name, imported in imports.items():
        assert set(imported) <= set(SCRIPTS), name
    # Every concern is reached from main.js, directly or through the script that uses it.
    reached, todo = set(), ["main.js"]
    while todo:
        name = todo.pop()
        reached.add(name)
        todo += [other for other in imports[name] if other not in reached]
    assert reached == set(SCRIPTS)


def test_cells_round_trip_to_grid_ids_and_cities_are_runs(inputs, tmp_path):
    grid = inputs[0]
    build(inputs, tmp_path / "viewer")
    index, columns, chunks = read_data(tmp_path / "viewer")
    ids = photo_ids(chunks)
    cells = columns["cells"]
    assert len(cells) == GEOMETRY.rows * GEOMETRY.cols == index["cells"]
    expected = {(row, col): photo_id for photo_id, row, col in grid[["id", "row", "col"]].values}
    for row in range(GEOMETRY.rows):
        for col in range(GEOMETRY.cols):
            photo = cells[row * GEOMETRY.cols + col]
            assert (ids[photo] if photo >= 0 else None) == expected.get((row, col))
    assert index["photos"] == len(ids) == len(grid)
    assert [(c["name"], c["start"], c["count"]) for c in index["cities"]] == [
        ("boston", 0, 3), ("denver", 3, 2)]
    assert all(photo_id.startswith("boston/") for photo_id in ids[:3])
    assert [chunk["start"] for chunk in chunks] == index["chunks"]


def test_filter_columns_hold_each_photos_attributes(inputs, tmp_path):
    grid, photos, neighbours, roots, leaflet = inputs
    photos = photos.assign(
        bin=["photo", "maybe", "photo", "graphic", "photo", "photo"],
        duplicate_group=[3, -1, -1, -1, 5, -1],
        cluster=[2, 0, -1, 1, np.nan, 4],
        predicted_class=["kitchen", "", "bedroom", np.nan, "kitchen", "x"],
        predicted_probability=[0.91, np.nan, 0.5, np.nan, 0.7, 0.2],
        label=["", "floorplan", "", "", "", ""],
        bedrooms=[2.0, np.nan, 1.0, 300.0, np.nan, np.nan],
        price=[1850.0, np.nan, 900.0, 1_000_000.0, np.nan, 5.0])
    build((grid, photos, neighbours, roots, leaflet), tmp_path / "viewer")
    index, columns, chunks = read_data(tmp_path / "viewer")
    at = {photo_id: i for i, photo_id in enumerate(photo_ids(chunks))}
    assert index["classes"] == ["bedroom", "kitchen"] and index["labels"] == ["floorplan"]
    assert index["bins"] == ["graphic", "maybe", "photo"]
    expected = {  # id: price, beds, bin, duplicate, cluster, predicted, label
        "boston/a.jpg": (1850, 2, "photo", 1, 2, "kitchen", None),
        "boston/b.jpg": (None, None, "maybe", 0, 0, None, "floorplan"),
        "denver/sub/1.jpg": (900, 1, "photo", 0, -1, "bedroom", None),
        "denver/1.jpg": (65534, 254, "graphic", 0, 1, None, None),  # clamped
        "boston/c.jpg": (None, None, "photo", 1, -1, "kitchen", None),
    }
    def name(values, code):
        return values[code] if code != 255 else None
    for photo_id, row in expected.items():
        i = at[photo_id]
        price = int(columns["price"][i])
        beds = int(columns["beds"][i])
        assert (None if price == 65535 else price, None if beds == 255 else beds,
                name(index["bins"], columns["bin"][i]), columns["duplicate"][i],
                columns["cluster"][i], name(index["classes"], columns["predicted"][i]),
                name(index["labels"], columns["label"][i])) == row, photo_id
    assert index["present"] == {"price": True, "beds": True, "bin": True, "duplicate": True,
                                "cluster": True, "predicted": True, "label": True}
    probability = {i: p for c in chunks for i, p in zip(range(c["start"], 99), c["probability"])}
    assert probability[at["boston/a.jpg"]] == 0.91 and probability[at["boston/b.jpg"]] is None


def test_older_tables_without_cull_columns_leave_those_filters_absent(inputs, tmp_path):
    build(inputs, tmp_path / "viewer")
    index, columns, chunks = read_data(tmp_path / "viewer")
    assert not any(index["present"][k] for k in ("bin", "duplicate", "cluster", "predicted", "label"))
    assert set(columns["predicted"]) == {255} and set(columns["cluster"]) == {-1}
    assert all("probability" not in chunk for chunk in chunks)


def test_chunks_hold_listing_fields_once_files_and_neighbours(inputs, tmp_path):
    build(inputs, tmp_path / "viewer")
    index, columns, chunks = read_data(tmp_path / "viewer")
    ids = photo_ids(chunks)
    at = {photo_id: i for i, photo_id in enumerate(ids)}
    loft, sub, far = at["boston/a.jpg"], at["denver/sub/1.jpg"], at["boston/c.jpg"]
    assert [listing_field(chunks, loft, key) for key in ("url", "title", "price", "beds", "sqft",
                                                         "neighbourhood", "posted")] == [
        "https://example.org/1", "Sunny loft", 1850, 2, 850, "Back Bay", "2017-03-01"]
    assert listing_field(chunks, at["denver/1.jpg"], "price") == 1200.5
    assert listing_field(chunks, at["boston/b.jpg"], "price") is None
    # Files: only photos that do not follow photos/<id> are listed (null: none to show).
    files = {chunk["start"] + int(local): file for chunk in chunks
             for local, file in chunk["files"].items()}
    assert files == {far: None}
    # Nearest first; the neighbour that is not on the grid is dropped.
    lists = [n for chunk in chunks for n in chunk["neighbours"]]
    assert [ids[i] for i in lists[loft]] == ["denver/sub/1.jpg", "boston/b.jpg"]
    assert lists[sub] == []


def test_photos_of_one_listing_share_one_stored_listing(inputs, tmp_path, monkeypatch):
    grid, photos, neighbours, roots, leaflet = inputs
    grid = pd.concat([grid, pd.DataFrame({"id": [f"boston/l{i}.jpg" for i in range(4)],
                                          "city": "boston", "row": 1, "col": [0, 2, 3, 4 % 4]})])
    grid = grid.drop_duplicates(["row", "col"])
    extra = pd.DataFrame({"id": [f"boston/l{i}.jpg" for i in range(4)], "city": "boston",
                          "path": None, "listing_url": "https://example.org/same",
                          "title": "Shared listing", "price": 2000.0})
    photos = pd.concat([photos, extra], ignore_index=True)
    monkeypatch.setattr("roomgrid.viewer.page.CHUNK_PHOTOS", 2)
    build((grid, photos, neighbours, roots, leaflet), tmp_path / "viewer")
    index, columns, chunks = read_data(tmp_path / "viewer")
    titles = [t for chunk in chunks for t in chunk["listings"]["title"]]
    assert titles.count("Shared listing") == 1
    shared = [i for i, photo_id in enumerate(photo_ids(chunks)) if photo_id.startswith("boston/l")]
    assert shared == list(range(shared[0], shared[0] + len(shared)))  # one run of indices
    assert all(listing_field(chunks, i, "title") == "Shared listing" for i in shared)
    assert len(chunks) > 2  # small chunks, yet the listing was not split


def test_first_paint_data_is_small_per_photo(tmp_path):
    """index.json + grid.bin stay under 16 bytes a placed photo for a 20,000-photo map."""
    geometry = TileGeometry(rows=142, cols=142, cell_px=128, tile_px=256)
    n = 20_000
    rng = np.random.default_rng(0)
    cities = [f"city{c:03d}" for c in rng.integers(0, 200, n)]
    ids = [f"{city}/{i:06d}.jpg" for i, city in enumerate(cities)]
    cells = rng.permutation(geometry.rows * geometry.cols)[:n]
    grid = pd.DataFrame({"id": ids, "city": cities, "row": cells // 142, "col": cells % 142})
    photos = pd.DataFrame({"id": ids, "city": cities, "path": None,
                           "listing_url": [f"https://x.example/{i // 4}" for i in range(n)],
                           "title": [f"Listing {i // 4}" for i in range(n)],
                           "price": rng.integers(500, 5000, n).astype(float), "bedrooms": 2.0,
                           "bin": "photo", "duplicate_group": -1, "cluster": rng.integers(0, 30, n),
                           "predicted_class": "kitchen", "label": ""})
    neighbours = pd.DataFrame({"id": ids, "neighbours": ""})
    leaflet = tmp_path / "leaflet"
    leaflet.mkdir()
    (leaflet / "leaflet.js").write_text("")
    (leaflet / "leaflet.css").write_text("")
    # With clusters: the panel's data is a file of its own, fetched after the first paint.
    clusters = photos[["id", "cluster"]].assign(
        centrality=photos.groupby("cluster").cumcount(), city=cities, path=None)
    build_viewer(grid, photos, neighbours, tmp_path / "viewer", geometry=geometry,
                 leaflet_dir=leaflet, client_zip_dir=fake_client_zip(tmp_path / "client-zip"),
                 photo_roots=None, clusters=clusters,
                 cull={"cluster_labels": {3: "floorplan"}, "drop": ["floorplan"]})
    data = tmp_path / "viewer" / "data"
    first = (data / "index.json").stat().st_size + (data / "grid.bin").stat().st_size
    assert first / n <= 16, first / n
    assert len(read_json(data / "clusters.json")["clusters"]) == 30


def test_index_html_references_scripts_leaflet_and_tiles(inputs, tmp_path):
    build(inputs, tmp_path / "viewer", title="Empty <rooms>")
    page = (tmp_path / "viewer" / "index.html").read_text()
    assert '<script type="module" src="js/main.js">' in page
    assert '<script src="lib/leaflet/leaflet.js">' in page
    assert 'href="lib/leaflet/leaflet.css"' in page and 'href="style.css"' in page
    assert "<title>Empty &lt;rooms&gt;</title>" in page and "<rooms>" not in page
    config = page.split('<script id="map-config" type="application/json">')[1].split("</script>")[0]
    assert json.loads(config) == {"rows": 3, "cols": 4, "cell_px": 128, "tile_px": 256,
                                  "max_zoom": 1, "width": 512, "height": 384,
                                  "tile_url": "tiles/{z}/{x}/{y}.jpg", "overzoom": 2}
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
    index, _, _ = read_data(out)
    assert not any(city["linked"] for city in index["cities"])


def test_missing_leaflet_is_a_clear_error(inputs, tmp_path):
    grid, photos, neighbours, roots, leaflet = inputs
    with pytest.raises(FileNotFoundError, match="npm ci"):
        build_viewer(grid, photos, neighbours, tmp_path / "viewer", geometry=GEOMETRY,
                     leaflet_dir=tmp_path / "nowhere", client_zip_dir=tmp_path / "nowhere",
                     photo_roots=roots)
    # Leaflet there, client-zip not (a checkout installed before the ZIP export came).
    with pytest.raises(FileNotFoundError, match="npm ci.*client-zip"):
        build_viewer(grid, photos, neighbours, tmp_path / "viewer", geometry=GEOMETRY,
                     leaflet_dir=leaflet, client_zip_dir=tmp_path / "nowhere", photo_roots=roots)
    assert not (tmp_path / "viewer" / "data").exists()  # nothing half-built


def test_chunks_give_the_size_of_every_file_the_page_can_fetch(inputs, tmp_path):
    grid, photos, neighbours, roots, leaflet = inputs
    (roots["denver"] / "1.jpg").write_bytes(b"x" * 12345)
    (roots["boston"] / "b.jpg").unlink()  # gone before the build: its size is not known
    build(inputs, tmp_path / "viewer")
    _, _, chunks = read_data(tmp_path / "viewer")
    sizes = {photo_id: size for chunk in chunks for photo_id, size in zip(chunk["ids"], chunk["bytes"])}
    assert sizes == {"boston/a.jpg": 10, "boston/b.jpg": None, "denver/sub/1.jpg": 10,
                     "denver/1.jpg": 12345,
                     "boston/c.jpg": None}  # outside boston's folder: the page cannot fetch it
    # Without photo folders no file is served, and the chunks carry no sizes.
    build(inputs, tmp_path / "bare", photo_roots=None)
    assert all("bytes" not in chunk for chunk in read_data(tmp_path / "bare")[2])


def cluster_map(tmp_path):
    """A 7 x 7 map of one city whose clusters have known regions.

    Cluster 0 is an L along the top row and the left column (its centroid lies outside it),
    cluster 1 a solid 5 x 5 block in the lower right, cluster 2 one cell and, apart from it, a pair
    of cells in row 1; cluster 3 is not on the map at all, and cluster 1 has one photo off the map.
    """
    cells = {}
    for i in range(7):
        cells[(0, i)] = cells[(i, 0)] = 0
    for r in range(2, 7):
        for c in range(2, 7):
            cells[(r, c)] = 1
    cells[(1, 2)] = cells[(1, 4)] = cells[(1, 5)] = 2
    placed = sorted(cells)
    ids = [f"boston/r{r}c{c}.jpg" for r, c in placed]
    root = tmp_path / "src" / "boston"
    root.mkdir(parents=True)
    grid = pd.DataFrame({"id": ids, "city": "boston", "row": [r for r, _ in placed],
                         "col": [c for _, c in placed]})
    photos = pd.DataFrame({"id": ids, "city": "boston", "path": [str(root / i[7:]) for i in ids],
                           "cluster": [cells[p] for p in placed]})
    away = ["boston/off-1.jpg", "boston/off-3a.jpg", "boston/off-3b.jpg"]
    clusters = pd.concat([photos[["id", "cluster", "city", "path"]], pd.DataFrame({
        "id": away, "cluster": [1, 3, 3], "city": "boston",
        "path": [str(root / i[7:]) for i in away]})], ignore_index=True)
    clusters["centrality"] = (clusters.sort_values("id").groupby("cluster").cumcount())
    block = clusters["cluster"].eq(1)
    clusters["predicted_class"] = ""
    clusters.loc[block, "predicted_class"] = "kitchen"
    clusters.loc[block[block].index[:5], "predicted_class"] = "bedroom"
    leaflet = tmp_path / "leaflet"
    leaflet.mkdir()
    (leaflet / "leaflet.js").write_text("")
    (leaflet / "leaflet.css").write_text("")
    geometry = TileGeometry(rows=7, cols=7, cell_px=64, tile_px=256)
    return grid, photos, clusters, geometry, leaflet, root


def test_clusters_data_lists_every_cluster_with_its_central_photos_and_region(tmp_path):
    grid, photos, clusters, geometry, leaflet, root = cluster_map(tmp_path)
    out = tmp_path / "viewer"
    build_viewer(grid, photos, pd.DataFrame({"id": [], "neighbours": []}), out, geometry=geometry,
                 leaflet_dir=leaflet, client_zip_dir=fake_client_zip(tmp_path / "client-zip"),
                 photo_roots={"boston": root}, clusters=clusters,
                 cull={"cluster_labels": {1: "kitchen", 3: "floorplan"}, "drop": ["floorplan"],
                       "labels_csv": None})
    index, columns, chunks = read_data(out)
    ids = photo_ids(chunks)
    panel = read_json(out / "data" / "clusters.json")
    assert index["clusters"] == 4 and panel["photos"] == len(clusters)
    by_number = {c["number"]: c for c in panel["clusters"]}
    assert sorted(by_number) == [0, 1, 2, 3]
    sizes = clusters["cluster"].value_counts()
    for number, entry in by_number.items():
        assert entry["size"] == sizes[number]
        assert entry["share"] == round(sizes[number] / len(clusters), 4)
        assert entry["on_map"] == int((photos["cluster"] == number).sum())
        # The central photos are the cluster's nearest its centre, in that order.
        expected = clusters[clusters["cluster"] == number].sort_values("centrality")["id"][:4]
        assert [p["id"] for p in entry["central"]] == list(expected)
        for photo in entry["central"]:
            assert photo["index"] == (ids.index(photo["id"]) if photo["id"] in ids else -1)
            assert photo["file"] == photo["id"].split("/", 1)[1] and photo["city"] == "boston"
    assert [by_number[n]["name"] for n in range(4)] == [None, "kitchen", None, "floorplan"]
    assert panel["cull"] == {"cluster_labels": {"1": "kitchen", "3": "floorplan"},
                             "drop": ["floorplan"], "labels_csv": None}
    assert by_number[1]["predicted"] == {"type": "kitchen", "share": round(21 / 26, 3)}
    assert "predicted" not in by_number[0]  # no classifier ran for these photos
    # Regions: the block's label sits in its middle, the L's on the L itself, the pair wins
    # over the single cell, and a cluster with nothing on the map has none.
    assert by_number[1]["region"] == {"cells": 25, "row": 4, "col": 4, "bounds": [2, 2, 6, 6]}
    l_region = by_number[0]["region"]
    assert l_region["cells"] == 13 and l_region["bounds"] == [0, 0, 6, 6]
    assert 0 in (l_region["row"], l_region["col"])
    assert by_number[2]["region"]["cells"] == 2 and by_number[2]["region"]["bounds"] == [1, 4, 1, 5]
    assert by_number[2]["region"]["row"] == 1 and by_number[2]["region"]["col"] in (4, 5)
    assert by_number[3]["region"] is None
    # The map's place names: clusters with a region, their label cell, name and type.
    places = read_json(out / "data" / "places.json")
    assert places == {"clusters": [
        {"number": n, "name": by_number[n]["name"],
         "region": {k: by_number[n]["region"][k] for k in ("cells", "row", "col")},
         **({"predicted": {"type": "kitchen"}} if n == 1 else {})} for n in (0, 1, 2)]}
    # Photos off the map are listed for the CSV export; those on it come from the chunks.
    members = read_json(out / "data" / "cluster_members.json")
    assert members == {"off_map": {"1": ["boston/off-1.jpg"],
                                   "3": ["boston/off-3a.jpg", "boston/off-3b.jpg"]}}


def test_without_clusters_there_is_no_clusters_data(inputs, tmp_path):
    out = tmp_path / "viewer"
    build(inputs, out)
    index, _, _ = read_data(out)
    assert "clusters" not in index
    for name in ("clusters.json", "cluster_members.json", "places.json"):
        assert not (out / "data" / name).exists()


def test_read_clusters_joins_files_of_photos_on_and_off_the_map(tmp_path):
    from roomgrid.core.io import write_table
    from roomgrid.viewer.clusters import read_clusters

    write_table(pd.DataFrame({"id": ["a/1.jpg", "a/2.jpg"], "cluster": [0, 1],
                              "distance": [0.5, 0.25], "centrality": [0, 0]}),
                tmp_path / "clusters.tsv")
    write_table(pd.DataFrame({"id": ["a/1.jpg", "a/2.jpg", "a/3.jpg"], "city": "a",
                              "path": ["/p/1.jpg", "/p/2.jpg", "/p/3.jpg"],
                              "predicted_class": ["kitchen", "", "bedroom"],
                              "selected": [True, False, False]}), tmp_path / "photos.tsv")
    table = read_clusters(tmp_path / "clusters.tsv", tmp_path / "photos.tsv")
    assert table[["id", "cluster", "centrality", "city", "path"]].values.tolist() == [
        ["a/1.jpg", 0, 0, "a", "/p/1.jpg"], ["a/2.jpg", 1, 0, "a", "/p/2.jpg"]]
    assert table["predicted_class"].fillna("").tolist() == ["kitchen", ""]


def test_readme_states_how_many_central_photos_the_panel_shows():
    from roomgrid.viewer.clusters import CENTRAL_PHOTOS
    from workflow_helpers import REPO

    readme = (REPO / "README.md").read_text()
    claimed = re.search(r"listing every cluster with its (\d+) photos nearest the\s+centre", readme)
    assert claimed and int(claimed.group(1)) == CENTRAL_PHOTOS


def test_readme_states_the_zip_exports_limits():
    from workflow_helpers import REPO

    script = (REPO / "src/roomgrid/viewer/assets/js/ziparchive.js").read_text()
    limits = re.search(r"LIMITS = \{ bytes: ([\d.e]+), photos: (\d+) \}", script)
    claimed = re.search(r"Past ([\d,]+) photos or an estimated (\d+) MB", " ".join(
        (REPO / "README.md").read_text().split()))
    assert limits and claimed
    assert int(claimed.group(1).replace(",", "")) == int(limits.group(2))
    assert int(claimed.group(2)) * 1e6 == float(limits.group(1))
