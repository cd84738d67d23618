"""The built viewer in headless Chromium: tiles, clicks, the panel, neighbours, the hash, filters,
search, selection exports (the ZIP of originals too) and hostile strings.

Needs Debian's Chromium at /usr/bin/chromium (driven by Playwright for Python, never a browser
that Playwright downloads) and Leaflet in node_modules (``npm ci`` at the repo root).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import quote, urlparse

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from roomgrid.viewer.tiles import TileGeometry, render_tiles
from roomgrid.viewer.page import build_viewer
from roomgrid.viewer.serving import QuietHandler, serve_in_background

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LEAFLET = Path(__file__).resolve().parents[1] / "node_modules" / "leaflet" / "dist"
CLIENT_ZIP = Path(__file__).resolve().parents[1] / "node_modules" / "client-zip"
GEOMETRY = TileGeometry(rows=5, cols=6, cell_px=128, tile_px=256)  # 768 x 640 px, zoom 0..2
TILE_PATH = re.compile(r"/tiles/(\d+)/(\d+)/(\d+)\.jpg$")
HOSTILE_TITLE = '<script>window.injected=1</script><img src=x onerror="window.injected=2">Cosy'
# A title that only quoting keeps in one CSV field.
CSV_TITLE = 'Sunny, "quiet" loft\r\nnear the park\rsay ""hi"", then\n, more'
# The build's cull settings: cluster 2 is named and dropped, bathrooms (from a labels folder) too.
CULL = {"cluster_labels": {2: "kitchen"}, "drop": ["kitchen", "bathroom"], "labels_csv": None}



def cell_colour(row: int, col: int) -> tuple[int, int, int]:
    return (40 + 40 * col, 60 + 35 * row, 200 - 30 * col)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A built viewer with tiles, served over HTTP on a free port of 127.0.0.1."""
    root = tmp_path_factory.mktemp("browser")
    cells = [(r, c) for r in range(GEOMETRY.rows) for c in range(GEOMETRY.cols)
             if (r, c) not in {(0, 5), (3, 2)}]  # two empty cells
    cities = ["boston" if c < 3 else "denver" for _, c in cells]
    ids = [f"{city}/{r}-{c}.jpg" for city, (r, c) in zip(cities, cells)]
    ids[cells.index((4, 5))] = "denver/elsewhere.jpg"  # its file is outside the photo folder
    paths = []
    for photo_id, city, (r, c) in zip(ids, cities, cells):
        folder = root / ("outside" if "elsewhere" in photo_id else f"src/{city}")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / photo_id.split("/")[1]
        Image.new("RGB", (600, 450), cell_colour(r, c)).save(path, quality=90)
        paths.append(str(path))
    grid = pd.DataFrame({"id": ids, "city": cities,
                         "row": [r for r, _ in cells], "col": [c for _, c in cells]})
    thumbs = {}
    for city in ("boston", "denver"):
        mine = [i for i, name in enumerate(cities) if name == city]
        pixels = np.array([np.full((128, 128, 3), cell_colour(*cells[i]), np.uint8)
                           for i in mine])
        thumbs[city] = root / f"{city}.h5"
        with h5py.File(thumbs[city], "w") as handle:
            handle.create_dataset("ids", data=[ids[i] for i in mine], dtype=h5py.string_dtype())
            handle.create_dataset("thumbs", data=pixels, chunks=(1, 128, 128, 3))
            handle.attrs["size"] = 128
    photos = pd.DataFrame({
        "id": ids, "city": cities, "path": paths, "width": 600, "height": 450,
        "listing_url": [f"https://listings.example/{i}" for i in range(len(ids))],
        "title": [f"Room {i}" for i in range(len(ids))],
        "price": [1000 + 50 * i for i in range(len(ids))],
        "bedrooms": [1 + i % 3 for i in range(len(ids))],
        "sqft": [500 + 10 * i for i in range(len(ids))],
        "neighbourhood": ["Back Bay" if c == "boston" else "LoDo" for c in cities],
        "posted": ["2017-03-01"] * len(ids),
        "post_id": [str(7000000 + i) for i in range(len(ids))],
        "bin": ["maybe" if i % 5 == 0 else "photo" for i in range(len(ids))],
        "duplicate_group": [i if i % 7 == 0 else -1 for i in range(len(ids))],
        "cluster": [i % 4 for i in range(len(ids))],
        "predicted_class": ["kitchen" if i % 2 else "bedroom" for i in range(len(ids))],
        "predicted_probability": [0.5 + i / 100 for i in range(len(ids))],
    })
    hostile = cells.index((2, 4))
    photos.loc[hostile, "title"] = HOSTILE_TITLE
    photos.loc[hostile, "listing_url"] = "javascript:window.injected=3"
    photos.loc[cells.index((1, 1)), "title"] = CSV_TITLE
    # Neighbours: the next three photos in grid order.
    neighbours = pd.DataFrame({"id": ids, "neighbours": [
        " ".join(ids[(i + k) % len(ids)] for k in (1, 2, 3)) for i in range(len(ids))]})

    # k-means clusters: the map's photos by cluster column, and one photo off the map (culled,
    # say) that is its cluster's most central.
    Image.new("RGB", (600, 450), (250, 250, 250)).save(root / "src/boston/off-map.jpg")
    clusters = pd.concat([photos[["id", "city", "path", "cluster", "predicted_class"]],
                          pd.DataFrame({"id": ["boston/off-map.jpg"], "city": ["boston"],
                                        "path": [str(root / "src/boston/off-map.jpg")],
                                        "cluster": [0], "predicted_class": ["kitchen"]})],
                         ignore_index=True)
    first = [len(clusters) - 1, *range(len(clusters) - 1)]  # the photo off the map, then in order
    clusters["centrality"] = clusters.loc[first].groupby("cluster").cumcount().reindex(clusters.index)

    for folder in (LEAFLET, CLIENT_ZIP):
        if not folder.is_dir():
            pytest.fail(f"{folder} is missing: run `npm ci` at the repo root")
    viewer = root / "viewer"
    render_tiles(grid, thumbs, viewer / "tiles", cell_px=128, shape=(5, 6))
    roots = {"boston": root / "src/boston", "denver": root / "src/denver"}
    build_viewer(grid, photos, neighbours, viewer, geometry=GEOMETRY, leaflet_dir=LEAFLET,
                 client_zip_dir=CLIENT_ZIP, photo_roots=roots, clusters=clusters, cull=CULL)
    # The same map built without clusters (clusters.k: 0), served from plain/.
    build_viewer(grid, photos.assign(cluster=-1), neighbours, viewer / "plain", geometry=GEOMETRY,
                 leaflet_dir=LEAFLET, client_zip_dir=CLIENT_ZIP, photo_roots=roots)
    (viewer / "plain" / "tiles").symlink_to(viewer / "tiles")
    (root / "src/denver/0-4.jpg").unlink()  # a photo deleted after the build

    requests = []  # (path, status) of every request the server answered

    class Recording(QuietHandler):
        def log_request(self, code="-", size="-"):
            requests.append((self.path, int(code)))

    server, url = serve_in_background(viewer, Recording)
    yield {"url": url, "grid": grid,
           "photos": photos, "neighbours": neighbours, "ids": ids, "cells": cells,
           "requests": requests, "clusters": clusters, "root": root, "thumbs": thumbs}
    server.shutdown()
    server.server_close()


BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=BROWSER_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site):
    """A page that records every response; only 127.0.0.1 may be reached."""
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"), lambda route: route.abort())
    page = context.new_page()
    page.responses = []
    page.on("response", lambda response: page.responses.append((response.url, response.status)))
    yield page
    context.close()


def open_viewer(page, site, fragment=""):
    page.goto(site["url"] + "index.html" + fragment)
    page.wait_for_function("document.body.dataset.ready === 'true'")
    wait_for_tiles(page)


def wait_for_tiles(page):
    page.wait_for_function(
        "document.querySelectorAll('img.leaflet-tile').length > 0 && "
        "[...document.querySelectorAll('img.leaflet-tile')].every(t => t.complete)")
    page.wait_for_load_state("networkidle")


def tile_requests(page) -> list[tuple[int, int, int, int]]:
    found = []
    for url, status in page.responses:
        match = TILE_PATH.search(urlparse(url).path)
        if match:
            found.append((*map(int, match.groups()), status))
    return found


def cell_centre(page, row: int, col: int) -> tuple[float, float]:
    """Page coordinates of the centre of a grid cell, wherever the map shows it now."""
    return tuple(page.evaluate(
        """([x, y]) => {
            const viewer = window.roomgrid;
            const latlng = viewer.map.unproject([x, y], viewer.config.max_zoom);
            const p = viewer.map.latLngToContainerPoint(latlng);
            const box = document.getElementById('map').getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""", [col * 128 + 64, row * 128 + 64]))


def click_cell(page, row: int, col: int) -> None:
    page.mouse.click(*cell_centre(page, row, col))


def panel_text(page, name: str) -> str:
    return page.locator(f"#panel-{name}").inner_text()


def test_tiles_load_and_stay_inside_the_map(page, site):
    open_viewer(page, site)
    assert tile_requests(page), "no tile was requested"
    # Zoom in past the deepest tiles, pan to the corners, zoom back out.
    box = page.locator("#map").bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*centre)
    for delta in (-300, -300, -300):
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(350)
    for dx, dy in ((400, 300), (-800, -600), (800, 0)):
        page.mouse.move(*centre)
        page.mouse.down()
        page.mouse.move(centre[0] + dx, centre[1] + dy, steps=8)
        page.mouse.up()
        page.wait_for_timeout(200)
    for delta in (300, 300, 300, 300):
        page.mouse.move(*centre)
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(350)
    wait_for_tiles(page)
    requests = tile_requests(page)
    zooms = {z for z, _, _, _ in requests}
    assert len(zooms) >= 2, f"zooming requested tiles at only {zooms}"
    for z, x, y, status in requests:
        assert z <= GEOMETRY.max_zoom, (z, x, y)
        nx, ny = GEOMETRY.tiles_at(z)
        assert 0 <= x < nx and 0 <= y < ny, f"tile {z}/{x}/{y} is outside the map"
        assert status == 200, f"tile {z}/{x}/{y} answered {status}"
    assert all(status == 200 for _, status in page.responses)


def test_click_shows_photo_neighbours_and_updates_hash(page, site, tmp_path):
    open_viewer(page, site)
    photos, ids = site["photos"], site["ids"]
    index = site["cells"].index((1, 4))
    click_cell(page, 1, 4)
    page.wait_for_function("!document.getElementById('panel').hidden")
    assert panel_text(page, "city") == "denver"
    assert panel_text(page, "price") == f"${photos['price'][index]:,}"
    beds, sqft = photos["bedrooms"][index], photos["sqft"][index]
    assert panel_text(page, "size") == f"{beds} bd · {sqft} sqft"
    assert panel_text(page, "id") == ids[index]
    assert page.locator("#panel-link").get_attribute("href") == photos["listing_url"][index]
    assert page.evaluate("location.hash") == "#id=" + quote(ids[index], safe="")
    # The original photo is shown from the linked source folder.
    photo = page.locator("#panel-photo img")
    assert photo.get_attribute("src") == "photos/" + quote(ids[index], safe="/")
    page.wait_for_function("document.querySelector('#panel-photo img').naturalWidth === 600")

    # Neighbours: three loaded images; clicking one selects it.
    buttons = page.locator("#panel-neighbours button")
    assert buttons.count() == 3
    page.wait_for_function("[...document.querySelectorAll('#panel-neighbours img')]"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    expected = site["neighbours"]["neighbours"][index].split()
    assert [buttons.nth(i).get_attribute("title") for i in range(3)] == expected
    buttons.nth(1).click()
    page.wait_for_function(f"document.getElementById('panel-id').textContent === {expected[1]!r}")
    assert page.evaluate("location.hash") == "#id=" + quote(expected[1], safe="")
    chosen = site["cells"][ids.index(expected[1])]
    assert panel_text(page, "city") == site["grid"]["city"][ids.index(expected[1])]
    page.wait_for_timeout(800)  # let the fly-to finish
    highlight = page.evaluate("""() => {
        const b = document.querySelector('.selected-cell').getBoundingClientRect();
        return [b.left + b.width / 2, b.top + b.height / 2];
    }""")
    clicked = cell_centre(page, *chosen)
    assert np.allclose(highlight, clicked, atol=3), "highlight is not on the selected cell"
    page.screenshot(path=str(tmp_path / "viewer.png"))
    assert (tmp_path / "viewer.png").stat().st_size > 10_000

    # Escape closes the panel and clears the hash.
    page.keyboard.press("Escape")
    page.wait_for_function("document.getElementById('panel').hidden")
    assert page.evaluate("location.hash") == ""


def test_empty_cell_closes_panel_and_hash_opens_photo(page, site):
    ids = site["ids"]
    target = ids[site["cells"].index((2, 1))]
    open_viewer(page, site, "#id=" + quote(target, safe=""))
    page.wait_for_function("!document.getElementById('panel').hidden")
    assert panel_text(page, "id") == target
    assert panel_text(page, "city") == "boston"
    page.evaluate("window.roomgrid.map.setView(window.roomgrid.map.unproject([384, 320], 2), 1)")
    wait_for_tiles(page)
    click_cell(page, 3, 2)  # empty
    page.wait_for_function("document.getElementById('panel').hidden")
    assert page.evaluate("location.hash") == ""


def test_photo_outside_its_folder_shows_its_tile_region(page, site):
    open_viewer(page, site, "#id=" + quote("denver/elsewhere.jpg", safe=""))
    page.wait_for_function("!document.getElementById('panel').hidden")
    crop = page.locator("#panel-photo .tile-crop img")
    assert crop.count() == 1
    assert crop.get_attribute("src") == "tiles/2/2/2.jpg"  # cell (4, 5) at 640..768, 512..640
    page.wait_for_function("document.querySelector('#panel-photo .tile-crop img').naturalWidth "
                           "=== 256")


def screen_pixel(page, tmp_path, row: int, col: int) -> np.ndarray:
    """The colour shown at the centre of a cell, from a screenshot of the page."""
    path = tmp_path / f"shot-{row}-{col}.png"
    page.screenshot(path=str(path))
    x, y = cell_centre(page, row, col)
    with Image.open(path) as shot:
        return np.asarray(shot.convert("RGB"))[int(y), int(x)].astype(int)


def show_whole_map(page):
    page.evaluate("window.roomgrid.map.setView(window.roomgrid.map.unproject([384, 320], 2), 0)")
    page.wait_for_timeout(300)
    wait_for_tiles(page)


def hide_place_names(page):
    """Zoomed out, cluster names are written over the cells; hidden where pixels are compared."""
    page.wait_for_function("document.querySelector('.leaflet-placenames-pane') !== null")
    page.evaluate("document.querySelector('.leaflet-placenames-pane').style.visibility = 'hidden'")


def download_text(page, button: str) -> str:
    with page.expect_download() as info:
        page.click(button)
    return Path(info.value.path()).read_text()


def test_filter_counts_and_dims_the_photos_it_leaves_out(page, site, tmp_path):
    open_viewer(page, site)
    show_whole_map(page)
    hide_place_names(page)
    photos, cells = site["photos"], site["cells"]
    page.select_option("#filter-city", "denver")
    page.fill("#filter-price-min", "1500")
    page.fill("#filter-price-max", "2100")
    expected = photos["city"].eq("denver") & photos["price"].between(1500, 2100)
    page.wait_for_function(
        f"document.getElementById('filter-count').textContent.startsWith('{expected.sum()} of')")
    assert page.locator("#filter-count").inner_text() == f"{expected.sum()} of {len(photos)} photos match"
    assert "in denver" in page.locator("#legend-filter").inner_text()
    page.wait_for_timeout(300)
    # A matching cell keeps its colour; a cell outside the filter is drawn much darker.
    kept = cells[int(np.flatnonzero(expected)[0])]
    dropped = cells[int(np.flatnonzero(~expected)[0])]
    assert np.abs(screen_pixel(page, tmp_path, *kept) - cell_colour(*kept)).max() <= 12
    assert screen_pixel(page, tmp_path, *dropped).sum() < 0.5 * sum(cell_colour(*dropped))
    # Predicted type and duplicates (columns present here) combine with the rest.
    page.select_option("#filter-predicted", label="kitchen")
    page.check("#filter-duplicate")
    both = expected & photos["predicted_class"].eq("kitchen") & photos["duplicate_group"].ge(0)
    page.wait_for_function(
        f"document.getElementById('filter-count').textContent.startsWith('{both.sum()} of')")
    page.click("#filter-clear")
    assert page.locator("#filter-count").inner_text() == f"{len(photos)} photos"
    page.fill("#filter-cluster", "2")
    page.select_option("#filter-beds", "2")
    clustered = photos["cluster"].eq(2) & photos["bedrooms"].eq(2)
    page.wait_for_function(
        f"document.getElementById('filter-count').textContent.startsWith('{clustered.sum()} of')")
    assert page.locator("#filter-label").is_hidden()  # no labels in this table: no control


def test_search_finds_a_listing_by_title_post_id_and_file(page, site):
    open_viewer(page, site)
    photos, ids = site["photos"], site["ids"]
    target = 17
    page.fill("#search", f"room {target}")
    page.wait_for_function("document.getElementById('search-count').textContent === '1 match'")
    page.press("#search", "Enter")
    page.wait_for_function(f"document.getElementById('panel-id').textContent === {ids[target]!r}")
    assert panel_text(page, "title") == f"Room {target}"
    assert page.evaluate("location.hash") == "#id=" + quote(ids[target], safe="")
    page.fill("#search", photos["post_id"][3])
    page.wait_for_function(f"document.getElementById('search-results').textContent.includes({ids[3]!r})")
    assert page.locator("#search-count").inner_text() == "1 match"
    page.locator("#search-results button").first.click()
    page.wait_for_function(f"document.getElementById('panel-id').textContent === {ids[3]!r}")
    page.fill("#search", "elsewhere.jpg")
    page.wait_for_function("document.getElementById('search-results').textContent"
                           ".includes('denver/elsewhere.jpg')")
    assert page.locator("#search-count").inner_text() == "1 match"


def test_rectangle_lasso_and_shift_click_export_exactly_those_ids(page, site):
    open_viewer(page, site)
    show_whole_map(page)
    ids, cells = site["ids"], site["cells"]
    at = {cell: photo_id for cell, photo_id in zip(cells, ids)}
    # Rectangle from the middle of cell (0, 1) to the middle of cell (2, 2).
    page.check("input[name=mode][value=rectangle]")
    page.mouse.move(*cell_centre(page, 0, 1))
    page.mouse.down()
    page.mouse.move(*cell_centre(page, 2, 2), steps=6)
    page.mouse.up()
    rectangle = {at[(r, c)] for r in range(3) for c in (1, 2)}
    page.wait_for_function(f"document.getElementById('selection-count').textContent === "
                           f"'{len(rectangle)} selected'")
    text = download_text(page, "#export-csv")
    lines = text.splitlines()
    assert lines[0] == "id,city,row,col"
    assert {line.split(",")[0] for line in lines[1:]} == rectangle
    assert f"{at[(1, 2)]},boston,1,2" in lines
    page.click("#selection-clear")

    # A lasso: a triangle whose inside holds the centres of exactly the cells computed here.
    page.check("input[name=mode][value=lasso]")
    corners = [(0.1, 2.9), (4.9, 5.6), (4.9, 2.6)]  # (row, col) in cells
    path = [(c * 128, r * 128) for r, c in corners]
    centres = {(r, c): ((c + 0.5) * 128, (r + 0.5) * 128) for r, c in cells}
    from matplotlib.path import Path as Polygon

    polygon = Polygon(path)
    lasso = {at[cell] for cell, centre in centres.items() if polygon.contains_point(centre)}
    assert 3 < len(lasso) < len(ids)

    def to_screen(x, y):
        return cell_centre(page, y / 128 - 0.5, x / 128 - 0.5)

    page.mouse.move(*to_screen(*path[0]))
    page.mouse.down()
    for x, y in path[1:] + path[:1]:
        page.mouse.move(*to_screen(x, y), steps=5)
    page.mouse.up()
    # Shift-click adds one more photo, outside the lasso.
    page.check("input[name=mode][value=pan]")
    page.keyboard.down("Shift")
    click_cell(page, 0, 0)
    page.keyboard.up("Shift")
    expected = lasso | {at[(0, 0)]}
    page.wait_for_function(f"document.getElementById('selection-count').textContent === "
                           f"'{len(expected)} selected'")
    assert set(json.loads(download_text(page, "#export-json"))) == expected
    assert set(download_text(page, "#export-exclude").splitlines()) == expected
    page.fill("#label-class", "floor plan")
    labels = download_text(page, "#export-labels").splitlines()
    assert labels[0] == "id,class" and set(labels[1:]) == {f"{i},floor plan" for i in expected}


def test_with_a_filter_on_a_selection_takes_only_highlighted_photos(page, site):
    open_viewer(page, site)
    show_whole_map(page)
    photos, ids, cells = site["photos"], site["ids"], site["cells"]
    page.select_option("#filter-bin", label="maybe")
    page.check("input[name=mode][value=rectangle]")
    page.mouse.move(*cell_centre(page, 0, 0))
    page.mouse.down()
    page.mouse.move(*cell_centre(page, 4, 5), steps=6)
    page.mouse.up()
    expected = {ids[i] for i in range(len(ids)) if photos["bin"][i] == "maybe"}
    assert set(download_text(page, "#export-exclude").splitlines()) == expected


def test_malformed_address_still_starts_the_page(page, site):
    page.goto(site["url"] + "index.html#id=%E0%A4%A")
    page.wait_for_function("document.body.dataset.ready === 'true'")
    assert "no readable photo id" in page.locator("#status").inner_text()
    wait_for_tiles(page)
    click_cell(page, 1, 1)
    page.wait_for_function(f"document.getElementById('panel-id').textContent === "
                           f"{site['ids'][site['cells'].index((1, 1))]!r}")


def test_address_naming_an_unknown_photo_says_so(page, site):
    page.goto(site["url"] + "index.html#id=" + quote("boston/not-here.jpg", safe=""))
    page.wait_for_function("document.body.dataset.ready === 'true'")
    page.wait_for_function("document.getElementById('status').textContent.includes('not on this map')")
    assert page.locator("#panel").is_hidden()


def test_hostile_title_and_javascript_link_render_inertly(page, site):
    hostile = site["ids"][site["cells"].index((2, 4))]
    open_viewer(page, site, "#id=" + quote(hostile, safe=""))
    page.wait_for_function(f"document.getElementById('panel-id').textContent === {hostile!r}")
    assert panel_text(page, "title") == HOSTILE_TITLE  # shown as the text it is
    assert page.locator("#panel script, #panel img[src='x']").count() == 0
    link = page.locator("#panel-link")
    assert link.is_hidden() and link.get_attribute("href") is None
    page.fill("#search", "cosy")
    page.wait_for_function("document.getElementById('search-count').textContent === '1 match'")
    assert HOSTILE_TITLE in page.locator("#search-results").inner_text()
    assert page.locator("#search-results script, #search-results img").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.injected") is None


def test_arrow_keys_move_between_photos_skipping_empty_cells(page, site):
    ids, cells = site["ids"], site["cells"]
    open_viewer(page, site, "#id=" + quote(ids[cells.index((3, 1))], safe=""))
    page.wait_for_function(f"document.getElementById('panel-id').textContent === "
                           f"{ids[cells.index((3, 1))]!r}")
    page.locator("#map").focus()
    page.keyboard.press("ArrowRight")  # (3, 2) is empty: lands on (3, 3)
    page.wait_for_function(f"document.getElementById('panel-id').textContent === "
                           f"{ids[cells.index((3, 3))]!r}")
    page.keyboard.press("ArrowUp")
    page.wait_for_function(f"document.getElementById('panel-id').textContent === "
                           f"{ids[cells.index((2, 3))]!r}")


def test_photo_deleted_after_the_build_shows_its_tile_region(page, site):
    open_viewer(page, site, "#id=" + quote("denver/0-4.jpg", safe=""))
    page.wait_for_function("document.getElementById('panel-id').textContent === 'denver/0-4.jpg'")
    page.wait_for_function("document.querySelector('#panel-photo .tile-crop img') !== null")
    assert page.locator("#panel-photo .tile-crop img").first.get_attribute("src").startswith("tiles/2/")
    assert panel_text(page, "title") == f"Room {site['ids'].index('denver/0-4.jpg')}"


def test_unreachable_details_still_open_the_panel_with_a_note(page, site):
    """Chunks fail to load (a half-copied site): the map, filters and panel still work."""
    page.route(re.compile(r".*/data/chunks/.*"), lambda route: route.abort())
    open_viewer(page, site)
    click_cell(page, 1, 4)
    page.wait_for_function("document.getElementById('panel-title').textContent"
                           ".startsWith('Details could not be loaded')")
    assert panel_text(page, "city") == "denver"
    assert page.locator("#panel-photo .tile-crop img").count() >= 1
    page.select_option("#filter-city", "boston")
    boston = int(site["photos"]["city"].eq("boston").sum())
    page.wait_for_function(f"document.getElementById('filter-count').textContent.startsWith('{boston} of')")


def test_exclude_lines_match_exactly_their_own_ids_in_the_workflow(page, site, tmp_path):
    """The page writes ids with glob characters so that the workflow's exclusion reader and
    matcher take exactly those photos."""
    from roomgrid.selection.select import is_excluded, read_exclusions

    open_viewer(page, site)
    ids = ["boston/a[1].jpg", "boston/star*.jpg", "boston/what?.jpg", "boston/x#1.jpg",
           "boston/plain.jpg"]
    others = ["boston/a1.jpg", "boston/starry.jpg", "boston/what!.jpg", "boston/x",
              "boston/plain.jpgx"]
    lines = page.evaluate("""async (ids) => {
        const module = await import(new URL('js/export.js', location.href).href);
        return ids.map(module.excludeLine);
    }""", ids)
    (tmp_path / "exclude.txt").write_text("".join(line + "\n" for line in lines))
    patterns = read_exclusions(tmp_path / "exclude.txt")
    assert len(patterns) == len(ids)
    assert list(is_excluded(ids, patterns)) == [True] * len(ids)
    assert list(is_excluded(others, patterns)) == [False] * len(others)


def test_hover_outlines_the_cell_and_the_overview_moves_the_map(page, site):
    open_viewer(page, site)
    # No animation: the outline and the cell are compared where the map has come to rest.
    page.evaluate("window.roomgrid.map.setView(window.roomgrid.map.unproject([64, 64], 2), 2,"
                  " {animate: false})")
    wait_for_tiles(page)
    page.mouse.move(*cell_centre(page, 0, 0))
    page.wait_for_function("document.querySelector('.hover-cell') !== null")
    outline = page.evaluate("""() => {
        const b = document.querySelector('.hover-cell').getBoundingClientRect();
        return [b.left + b.width / 2, b.top + b.height / 2];
    }""")
    assert np.allclose(outline, cell_centre(page, 0, 0), atol=3)
    # A click on the overview's lower right pans the map there.
    box = page.locator("#minimap").bounding_box()
    side = 256 * 2 ** GEOMETRY.max_zoom  # the overview shows tile 0/0/0: this many map pixels
    target = (500, 430)  # within reach of the bounded map at this zoom
    page.mouse.click(box["x"] + box["width"] * target[0] / side,
                     box["y"] + box["height"] * target[1] / side)
    page.wait_for_timeout(600)
    centre = page.evaluate("""() => {
        const m = window.roomgrid.map;
        const p = m.project(m.getCenter(), window.roomgrid.config.max_zoom);
        return [p.x, p.y];
    }""")
    assert np.allclose(centre, target, atol=40), centre


@pytest.fixture
def unrouted_page(browser):
    """A page of a Chromium of its own that intercepts no request: with Playwright's routing on,
    Chromium does not ask for the page's icon at all. Its host resolver knows no name, so it
    cannot reach beyond 127.0.0.1 either."""
    own = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        args=[*BROWSER_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
    page = own.new_context(viewport={"width": 1100, "height": 700}).new_page()
    page.responses = []
    yield page
    own.close()


def test_loading_the_page_asks_for_nothing_missing_and_logs_no_error(unrouted_page, site):
    page = unrouted_page
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    seen = len(site["requests"])
    open_viewer(page, site)
    page.wait_for_timeout(1500)  # the browser asks for an icon after the load
    assert errors == []
    answered = site["requests"][seen:]
    assert ("/index.html", 200) in answered
    assert [(path, status) for path, status in answered if status >= 400] == []


# --- the clusters panel ------------------------------------------------------------------------

def open_clusters(page, site):
    open_viewer(page, site)
    page.click("#clusters-open")
    page.wait_for_function("document.querySelectorAll('#clusters-list li').length > 0")


def cluster_item(page, number: int):
    return page.locator(f"#clusters-list li[data-cluster='{number}']")


def test_the_panel_lists_every_cluster_with_thumbnails_that_load(page, site):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    open_clusters(page, site)
    clusters = site["clusters"]
    assert page.locator("#clusters-list li").count() == clusters["cluster"].nunique() == 4
    page.wait_for_function("[...document.querySelectorAll('#clusters-list img')]"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    for number, members in clusters.groupby("cluster"):
        item = cluster_item(page, number)
        central = list(members.sort_values("centrality")["id"][:4])
        thumbs = item.locator(".cluster-thumb")
        assert [thumbs.nth(i).get_attribute("title") for i in range(thumbs.count())] == central
        assert item.locator(".cluster-thumb").count() == 4
        facts = item.locator(".cluster-facts").inner_text()
        assert facts.startswith(f"{len(members)} photos · {100 * len(members) / len(clusters):.1f}%")
        top = members["predicted_class"].value_counts()
        assert f"mostly {top.index[0]} ({round(100 * top.iloc[0] / len(members))}%)" in facts
    # The photo off the map shows from its file, and the panel says it is not on the map.
    assert cluster_item(page, 0).locator("img").first.get_attribute("src") == "photos/boston/off-map.jpg"
    assert "on the map" in cluster_item(page, 0).locator(".cluster-facts").inner_text()
    assert cluster_item(page, 2).locator(".cluster-name").input_value() == "kitchen"  # from the config
    # A photo deleted after the build shows its region of the tiles instead.
    missing = [url for url, status in page.responses if status != 200]
    assert [urlparse(url).path for url in missing] == ["/photos/denver/0-4.jpg"]
    deleted = page.locator(".cluster-thumb[title='denver/0-4.jpg']")
    assert deleted.locator(".tile-crop img").first.get_attribute("src").startswith("tiles/2/")
    assert len(errors) == len(missing)  # the browser reports each failed request, nothing else


def test_hovering_a_cluster_highlights_exactly_its_members(page, site, tmp_path):
    open_clusters(page, site)
    show_whole_map(page)
    hide_place_names(page)
    cluster_item(page, 1).hover()
    page.wait_for_timeout(400)
    shot = tmp_path / "hover.png"
    page.screenshot(path=str(shot))
    members = set(site["photos"].index[site["photos"]["cluster"].eq(1)])
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    for i, (row, col) in enumerate(site["cells"]):
        x, y = cell_centre(page, row, col)
        shown = pixels[int(y), int(x)]
        if i in members:
            assert np.abs(shown - cell_colour(row, col)).max() <= 12, (row, col)
        else:
            assert shown.sum() < 0.5 * sum(cell_colour(row, col)), (row, col)
    # Leaving the cluster shows every photo again.
    page.mouse.move(5, 5)
    page.wait_for_timeout(400)
    dimmed = site["cells"][0]
    assert np.abs(screen_pixel(page, tmp_path, *dimmed) - cell_colour(*dimmed)).max() <= 12


def test_clicking_a_cluster_filters_to_it_and_flies_to_it(page, site):
    open_clusters(page, site)
    cluster_item(page, 3).locator(".cluster-go").click()
    expected = int(site["photos"]["cluster"].eq(3).sum())
    page.wait_for_function(
        f"document.getElementById('filter-count').textContent.startsWith('{expected} of')")
    assert page.locator("#filter-cluster").input_value() == "3"
    page.wait_for_timeout(900)  # the flight
    region = page.evaluate("window.roomgrid.data.loadClusters()")["clusters"][3]["region"]
    r0, c0, r1, c1 = region["bounds"]
    # The region is in view, at a zoom where its photos are drawn full size.
    left, top, right, bottom, zoom = page.evaluate("""() => {
        const m = window.roomgrid.map;
        const a = m.project(m.getBounds().getNorthWest(), window.roomgrid.config.max_zoom);
        const b = m.project(m.getBounds().getSouthEast(), window.roomgrid.config.max_zoom);
        return [a.x, a.y, b.x, b.y, m.getZoom()];
    }""")
    assert left <= c0 * 128 and (c1 + 1) * 128 <= right and top <= r0 * 128 and (r1 + 1) * 128 <= bottom
    assert zoom == GEOMETRY.max_zoom


def test_place_names_show_zoomed_out_and_are_gone_at_the_deepest_zoom(page, site):
    open_viewer(page, site)
    show_whole_map(page)
    page.wait_for_function("document.querySelectorAll('.place-name').length === 4")
    # The names come from their own small file; the panel's data waits until the panel opens.
    fetched = {urlparse(url).path for url, _ in page.responses}
    assert "/data/places.json" in fetched and "/data/clusters.json" not in fetched
    panel = page.evaluate("window.roomgrid.data.loadClusters()")
    names = {n: page.locator(f".place-name[data-cluster='{n}']") for n in range(4)}
    assert names[2].inner_text() == "kitchen"  # named in the config
    assert names[0].inner_text() == "0 · " + panel["clusters"][0]["predicted"]["type"]
    for number, name in names.items():  # each on its label cell
        region = panel["clusters"][number]["region"]
        box = name.bounding_box()
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert np.allclose(centre, cell_centre(page, region["row"], region["col"]), atol=2)
    opacity = lambda: float(page.evaluate(  # noqa: E731
        "getComputedStyle(document.querySelector('.leaflet-placenames-pane')).opacity"))
    assert opacity() > 0.5 and names[0].is_visible()
    page.evaluate("window.roomgrid.map.setZoom(1, {animate: false})")
    assert 0 < opacity() < 0.5  # fading as the photos grow
    page.evaluate(f"window.roomgrid.map.setZoom({GEOMETRY.max_zoom}, {{animate: false}})")
    assert not names[0].is_visible()
    page.evaluate(f"window.roomgrid.map.setZoom({GEOMETRY.max_zoom + 2}, {{animate: false}})")
    assert not names[0].is_visible()
    # A name typed in the panel is the name on the map.
    page.evaluate("window.roomgrid.map.setZoom(0, {animate: false})")
    page.click("#clusters-open")
    cluster_item(page, 0).locator(".cluster-name").fill("living room")
    assert names[0].inner_text() == "living room"


def test_names_and_drop_ticks_write_the_cull_config(page, site):
    open_clusters(page, site)
    cluster_item(page, 0).locator(".cluster-name").fill("floorplan")
    cluster_item(page, 0).locator(".cluster-drop").check()
    cluster_item(page, 1).locator(".cluster-name").fill("yes")  # a YAML boolean unless quoted
    cluster_item(page, 2).locator(".cluster-drop").uncheck()  # kitchens stay after all
    written = yaml.safe_load(download_text(page, "#cull-download"))
    assert written == {"cull": {"cluster_labels": {0: "floorplan", 1: "yes", 2: "kitchen"},
                                "drop": ["bathroom", "floorplan"]}}
    assert yaml.safe_load(page.locator("#cull-yaml").inner_text()) == written
    # A name the schema would refuse is marked and blocks the download.
    cluster_item(page, 3).locator(".cluster-name").fill('a": [1]')
    assert "letter or digit" in cluster_item(page, 3).locator(".problem").inner_text()
    assert page.locator("#cull-download").is_disabled()
    cluster_item(page, 3).locator(".cluster-name").fill("")
    assert page.locator("#cull-download").is_enabled()
    # A selection labelled as a group joins the config: its rows for cull.labels_csv, its drop.
    show_whole_map(page)
    page.check("input[name=mode][value=rectangle]")
    page.mouse.move(*cell_centre(page, 0, 0))
    page.mouse.down()
    page.mouse.move(*cell_centre(page, 1, 1), steps=4)
    page.mouse.up()
    page.fill("#label-class", "staging")
    page.check("#label-drop")
    rows = download_text(page, "#export-labels").splitlines()
    assert rows[0] == "id,class" and len(rows) == 5
    written = yaml.safe_load(page.locator("#cull-yaml").inner_text())["cull"]
    assert written["labels_csv"] == "labels.csv" and written["drop"] == ["bathroom", "floorplan", "staging"]


def test_clusters_csv_lists_every_member_with_its_cluster_and_name(page, site):
    open_clusters(page, site)
    cluster_item(page, 1).locator(".cluster-name").fill("bedroom")
    rows = list(csv.DictReader(io.StringIO(download_text(page, "#clusters-csv"))))
    clusters = site["clusters"]
    on_map = set(site["ids"])
    assert sorted((int(r["cluster"]), r["id"]) for r in rows) == sorted(
        zip(clusters["cluster"], clusters["id"]))
    for row in rows:
        assert row["on_map"] == ("true" if row["id"] in on_map else "false")
        assert row["name"] == {1: "bedroom", 2: "kitchen"}.get(int(row["cluster"]), "")
        assert int(row["size"]) == int(clusters["cluster"].eq(int(row["cluster"])).sum())


def test_a_map_without_clusters_has_no_panel_and_no_error(page, site):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site["url"] + "plain/index.html")
    page.wait_for_function("document.body.dataset.ready === 'true'")
    wait_for_tiles(page)
    page.wait_for_timeout(500)
    assert page.locator("#clusters-open").is_hidden() and page.locator("#clusters").is_hidden()
    assert page.locator("#label-drop").is_hidden() and page.locator(".place-name").count() == 0
    assert not [url for url, _ in page.responses if re.search(r"/data/(cluster|places)", url)]
    assert all(status == 200 for _, status in page.responses)
    assert errors == []


def test_the_cull_config_reads_back_as_written_whatever_the_class_names(page, site):
    """Group names come from free text: each must read back as the same string, not as a number,
    a boolean, null or YAML syntax."""
    open_viewer(page, site)
    names = ["floorplan", "yes", "No", "null", "1e3", "007", "a: b", "#hash", "it's", 'say "hi"',
             "[x]", "- dash", "tab\there", "line\nbreak", "ünïcode ✓", "back\\slash", "~", ""]
    start = {"cluster_labels": {"4": "kitchen", "9": "bathroom"}, "drop": ["kitchen", "pool"],
             "labels_csv": None}
    text = page.evaluate("""async ([names, start]) => {
        const module = await import(new URL('js/cullconfig.js', location.href).href);
        const clusters = [{number: 4, name: '', drop: false}, {number: 2, name: 'floorplan', drop: true}];
        return names.map((name) => module.cullYaml(module.mergeCull(start, clusters,
            {name: name, drop: true, file: 'labels.csv'}), ['a note: with # and "quotes"']));
    }""", [names, start])
    for name, written in zip(names, text):
        cull = yaml.safe_load(written)["cull"]
        # Cluster 4's name from the config was cleared, 9's kept; kitchen is no longer a
        # cluster's name but was dropped by the config (it may come from a labels folder): kept.
        assert cull["cluster_labels"] == {2: "floorplan", 9: "bathroom"}
        group = [name] if name not in ("", "floorplan") else []
        assert cull["drop"] == ["kitchen", "pool", "floorplan", *group], name
        assert cull.get("labels_csv") == ("labels.csv" if name else None)


# --- the ZIP of the selected originals -----------------------------------------------------------

# Without the File System Access API (Firefox, Safari): the ZIP comes as a Blob download.
NO_SAVE_PICKER = "delete window.showSaveFilePicker;"


def shift_click(page, cells) -> None:
    page.keyboard.down("Shift")
    for cell in cells:
        click_cell(page, *cell)
    page.keyboard.up("Shift")
    page.wait_for_function(f"document.getElementById('selection-count').textContent === "
                           f"'{len(cells)} selected'")


def source_file(site, photo_id) -> Path:
    return Path(site["photos"].set_index("id").loc[photo_id, "path"])


def test_zip_holds_the_selected_originals_their_listings_and_what_is_missing(page, site, tmp_path):
    page.add_init_script(NO_SAVE_PICKER)
    open_viewer(page, site)
    show_whole_map(page)
    ids, cells, photos = site["ids"], site["cells"], site["photos"]
    # A rectangle over denver's top corner (its photo 0-4 was deleted after the build), then the
    # photo with the CSV-hostile title, the hostile one, and the photo outside denver's folder.
    page.check("input[name=mode][value=rectangle]")
    page.mouse.move(*cell_centre(page, 0, 3))
    page.mouse.down()
    page.mouse.move(*cell_centre(page, 1, 5), steps=6)
    page.mouse.up()
    page.check("input[name=mode][value=pan]")
    chosen = [(0, 3), (0, 4), (1, 3), (1, 4), (1, 5), (1, 1), (2, 4), (4, 5)]
    page.keyboard.down("Shift")
    for cell in chosen[5:]:
        click_cell(page, *cell)
    page.keyboard.up("Shift")
    page.wait_for_function(f"document.getElementById('selection-count').textContent === "
                           f"'{len(chosen)} selected'")
    with page.expect_download() as info:
        page.click("#export-zip")
    assert info.value.suggested_filename == "photos.zip"
    selected = {ids[cells.index(cell)] for cell in chosen}
    missing = {"denver/0-4.jpg": "not found (HTTP 404)",
               "denver/elsewhere.jpg": "outside its city's photo folder"}
    with zipfile.ZipFile(info.value.path()) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert sorted(names) == sorted((selected - set(missing)) | {"metadata.csv", "missing.txt"})
        for photo_id in selected - set(missing):  # the files themselves, not re-encoded
            assert archive.read(photo_id) == source_file(site, photo_id).read_bytes(), photo_id
        metadata = archive.read("metadata.csv")
        lost = archive.read("missing.txt").decode()
    lines = lost.splitlines()
    assert lines[0] == "id\treason" and len(lines) == 1 + len(missing)
    reasons = dict(line.split("\t") for line in lines[1:])
    assert set(reasons) == set(missing)
    for photo_id, reason in missing.items():
        assert reason in reasons[photo_id], reasons[photo_id]
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Saved')")
    assert "2 could not be fetched, listed in missing.txt" in page.locator("#status").inner_text()

    # One row per photo, read back alike by pandas and csv, with the listing's own values.
    table = pd.read_csv(io.BytesIO(metadata), dtype=str, keep_default_na=False)
    rows = list(csv.DictReader(io.StringIO(metadata.decode(), newline="")))
    assert table.to_dict("records") == rows
    assert list(table.columns) == ["id", "city", "file", "url", "title", "price", "bedrooms",
                                   "sqft", "neighbourhood", "posted", "post_id", "row", "col",
                                   "bin", "predicted_class", "predicted_probability", "cluster",
                                   "label"]
    assert sorted(table["id"]) == sorted(selected)
    expected = photos.set_index("id")
    for row in rows:
        photo = expected.loc[row["id"]]
        r, c = cells[ids.index(row["id"])]
        assert row["file"] == ("" if row["id"] in missing else row["id"])
        assert (row["city"], row["url"], row["title"], row["neighbourhood"], row["posted"],
                row["post_id"]) == (photo["city"], photo["listing_url"], photo["title"],
                                    photo["neighbourhood"], photo["posted"], photo["post_id"])
        assert [int(row[k]) for k in ("price", "bedrooms", "sqft", "row", "col", "cluster")] == [
            photo["price"], photo["bedrooms"], photo["sqft"], r, c, photo["cluster"]]
        assert (row["bin"], row["predicted_class"], row["label"]) == (
            photo["bin"], photo["predicted_class"], "")
        assert float(row["predicted_probability"]) == pytest.approx(photo["predicted_probability"])
    titles = set(table["title"])
    assert CSV_TITLE in titles and HOSTILE_TITLE in titles


def test_where_the_browser_can_write_a_file_the_zip_streams_into_it(page, site):
    """Chromium's save picker cannot be driven headless: a stand-in hands the page a file whose
    writable stream keeps what it is given, so the bytes the page pipes into it can be read."""
    page.add_init_script("""
        window.saved = { chunks: [], closed: false, options: null };
        window.showSaveFilePicker = async (options) => {
            window.saved.options = options;
            return { createWritable: async () => new WritableStream({
                write(chunk) { window.saved.chunks.push(new Uint8Array(chunk)); },
                close() { window.saved.closed = true; },
            }) };
        };""")
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    open_viewer(page, site)
    show_whole_map(page)
    ids, cells = site["ids"], site["cells"]
    chosen = [(0, 0), (3, 3), (4, 1)]
    shift_click(page, chosen)
    page.click("#export-zip")
    page.wait_for_function("window.saved.closed")
    assert page.evaluate("window.saved.options.suggestedName") == "photos.zip"
    data = bytes(page.evaluate("[].concat(...window.saved.chunks.map((c) => Array.from(c)))"))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted([ids[cells.index(c)] for c in chosen] +
                                                    ["metadata.csv"])  # nothing missing
        for cell in chosen:
            photo_id = ids[cells.index(cell)]
            assert archive.read(photo_id) == source_file(site, photo_id).read_bytes()
    assert downloads == []


def test_a_large_zip_says_how_big_it_will_be_and_waits_to_be_asked(page, site):
    page.add_init_script(NO_SAVE_PICKER)
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    open_viewer(page, site)
    show_whole_map(page)
    ids, cells = site["ids"], site["cells"]
    chosen = [(0, 0), (0, 1), (2, 2)]
    shift_click(page, chosen)
    # Limits low enough for three small photos: past the count, nothing starts before a yes.
    page.evaluate("Object.assign(window.roomgrid.zip.limits, { photos: 2 })")
    page.click("#export-zip")
    notice = page.locator("#zip-notice")
    notice.wait_for(state="visible")
    text = notice.inner_text()
    assert "The ZIP of 3 original photos will be about" in text
    assert "cannot write straight to a file" in text  # said where the ZIP is held in memory
    page.click("#zip-cancel")
    notice.wait_for(state="hidden")
    page.wait_for_timeout(500)
    assert downloads == []
    # Past the size: the estimate comes from the file sizes the build recorded.
    page.evaluate("Object.assign(window.roomgrid.zip.limits, { photos: 2000, bytes: 1000 })")
    page.click("#export-zip")
    notice.wait_for(state="visible")
    stated = re.search(r"about ([\d.]+) kB", notice.inner_text())
    assert stated, notice.inner_text()
    with page.expect_download() as info:
        page.click("#zip-start")
    actual = Path(info.value.path()).stat().st_size
    with zipfile.ZipFile(info.value.path()) as archive:
        assert sorted(archive.namelist()) == sorted([ids[cells.index(c)] for c in chosen] +
                                                    ["metadata.csv"])
    photos_bytes = sum(source_file(site, ids[cells.index(c)]).stat().st_size for c in chosen)
    # The photos and their ZIP headers; metadata.csv (a few hundred bytes here) is left out.
    assert float(stated.group(1)) * 1000 == pytest.approx(actual, rel=0.1)
    assert float(stated.group(1)) * 1000 >= photos_bytes
    # Under both limits the export starts at once.
    page.evaluate("Object.assign(window.roomgrid.zip.limits, { photos: 2000, bytes: 500e6 })")
    with page.expect_download():
        page.click("#export-zip")
    assert notice.is_hidden()


def test_cancelling_a_zip_stops_it_and_saves_nothing(page, site):
    page.add_init_script(NO_SAVE_PICKER)
    held = []  # the photo requests, left unanswered until the export is cancelled
    page.route(re.compile(r".*/photos/.*"), lambda route: held.append(route))
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    open_viewer(page, site)
    show_whole_map(page)
    shift_click(page, [(0, 0), (0, 1)])
    page.click("#export-zip")
    page.wait_for_function("document.getElementById('zip-notice-text').textContent"
                           ".startsWith('Writing photos.zip: 0 of 2 photos')")
    assert page.locator("#export-zip").is_disabled()
    page.click("#zip-cancel")
    page.wait_for_function("document.getElementById('status').textContent === 'ZIP export cancelled.'")
    assert page.locator("#zip-notice").is_hidden() and page.locator("#export-zip").is_enabled()
    assert held, "no photo was asked for"
    for route in held:
        route.continue_()
    page.wait_for_timeout(500)
    assert downloads == []
