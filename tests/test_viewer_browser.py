"""The built viewer in headless Chromium: tiles, clicks, the panel, neighbours, the hash, filters,
search, selection exports and hostile strings.

Needs Debian's Chromium at /usr/bin/chromium (driven by Playwright for Python, never a browser
that Playwright downloads) and Leaflet in node_modules (``npm ci`` at the repo root).
"""

from __future__ import annotations

import functools
import json
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import quote, urlparse

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from roomgrid.viewer.tiles import TileGeometry, render_tiles
from roomgrid.viewer.page import build_viewer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LEAFLET = Path(__file__).resolve().parents[1] / "node_modules" / "leaflet" / "dist"
GEOMETRY = TileGeometry(rows=5, cols=6, cell_px=128, tile_px=256)  # 768 x 640 px, zoom 0..2
TILE_PATH = re.compile(r"/tiles/(\d+)/(\d+)/(\d+)\.jpg$")
HOSTILE_TITLE = '<script>window.injected=1</script><img src=x onerror="window.injected=2">Cosy'



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
    # Neighbours: the next three photos in grid order.
    neighbours = pd.DataFrame({"id": ids, "neighbours": [
        " ".join(ids[(i + k) % len(ids)] for k in (1, 2, 3)) for i in range(len(ids))]})

    if not LEAFLET.is_dir():
        pytest.fail(f"{LEAFLET} is missing: run `npm ci` at the repo root")
    viewer = root / "viewer"
    render_tiles(grid, thumbs, viewer / "tiles", cell_px=128, shape=(5, 6))
    build_viewer(grid, photos, neighbours, viewer, geometry=GEOMETRY, leaflet_dir=LEAFLET,
                 photo_roots={"boston": root / "src/boston", "denver": root / "src/denver"})
    (root / "src/denver/0-4.jpg").unlink()  # a photo deleted after the build

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(viewer)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}/", "grid": grid,
           "photos": photos, "neighbours": neighbours, "ids": ids, "cells": cells,
           "root": root, "thumbs": thumbs}
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"])
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


def download_text(page, button: str) -> str:
    with page.expect_download() as info:
        page.click(button)
    return Path(info.value.path()).read_text()


def test_filter_counts_and_dims_the_photos_it_leaves_out(page, site, tmp_path):
    open_viewer(page, site)
    show_whole_map(page)
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
