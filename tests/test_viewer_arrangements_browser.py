"""Switching arrangements in headless Chromium: the centred (or open) photo stays centred at the
same zoom, block labels appear above their blocks, and the address keeps the arrangement.

The site is test_viewer_browser's 5 x 6 look-alike map plus two arrangements: ``rent`` (bands of
price, with labels) and ``wide``, a shuffle three times wider than tall whose tile pyramid is one
level deeper than the look-alike map's; and ``labelled``, by a column no photo has a value in,
which is not built.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from roomgrid.layout.arrange import Arrangement, arrange, arrange_random
from roomgrid.viewer.page import build_viewer
from roomgrid.viewer.tiles import TileGeometry, render_tiles
from test_viewer_browser import (CLIENT_ZIP, GEOMETRY, LEAFLET, browser,  # noqa: F401
                                 open_viewer, page, site, wait_for_tiles)

pytestmark = pytest.mark.browser


def as_grid(result, ids, cities):
    rows, cols = np.divmod(result.cells, result.cols)
    return pd.DataFrame({"id": ids, "city": cities, "row": rows, "col": cols})


@pytest.fixture(scope="module")
def arranged(site):
    """The base site's viewer rebuilt with the two arrangements and their tiles."""
    base_site = site
    grid, photos, ids = base_site["grid"], base_site["photos"], base_site["ids"]
    root = base_site["root"]
    points = np.random.default_rng(0).normal(size=(len(ids), 2))
    rent = arrange(Arrangement("rent", "price", bands=3), points, photos)
    wide = arrange_random(len(ids), aspect=3.0, seed=1)
    arrangements = {}
    for name, result in (("rent", rent), ("wide", wide)):
        table = as_grid(result, ids, grid["city"])
        render_tiles(table, base_site["thumbs"], root / f"viewer/arrangements/{name}/tiles",
                     cell_px=128, shape=(result.rows, result.cols))
        arrangements[name] = (table, {"rows": result.rows, "cols": result.cols,
                                      "kind": name, "blocks": result.blocks})
    labelled = arrange(Arrangement("labelled", "label"), points, photos.assign(label=""))
    arrangements["labelled"] = (pd.DataFrame({"id": [], "city": [], "row": [], "col": []}),
                                {"rows": 0, "cols": 0, "kind": "categories", "by": "label",
                                 "blocks": [], "unavailable": labelled.unavailable})
    build_viewer(grid, photos, base_site["neighbours"], root / "viewer", geometry=GEOMETRY,
                 leaflet_dir=LEAFLET, client_zip_dir=CLIENT_ZIP,
                 photo_roots={"boston": root / "src/boston", "denver": root / "src/denver"},
                 arrangements=arrangements)
    assert TileGeometry(wide.rows, wide.cols).max_zoom == GEOMETRY.max_zoom + 1
    return dict(base_site, rent=rent, wide=wide, labelled=labelled)


CENTRE = """() => {
    const v = window.roomgrid;
    const cell = v.view.cellAt(v.map.getCenter());
    return {photo: cell >= 0 ? v.data.cells[cell] : -1, zoom: v.map.getZoom(),
            arrangement: v.arrangements.current()};
}"""


def viewer_index(page, photo_id: str) -> int:
    """The viewer's own index of a photo (it numbers photos by city, listing and id)."""
    return page.evaluate("(id) => window.roomgrid.data.findId(id)", photo_id)


def centre_on(page, photo: int, zoom: int) -> None:
    page.evaluate("""([photo, zoom]) => {
        const v = window.roomgrid;
        v.map.setView(v.view.cellBounds(v.data.cellOf[photo]).getCenter(), zoom, {animate: false});
    }""", [photo, zoom])


def switch(page, name: str) -> None:
    page.select_option("#arrangement", name)
    page.wait_for_function(f"document.getElementById('map').dataset.arrangement === '{name}'")
    wait_for_tiles(page)


def test_switching_keeps_the_centred_photo_centred_at_the_same_zoom(page, arranged):
    open_viewer(page, arranged)
    page.wait_for_selector("#arrangement")
    assert page.eval_on_selector_all("#arrangement option", "o => o.map(x => x.value)") == \
        ["similarity", "rent", "wide", "labelled"]
    photo = viewer_index(page, "denver/2-4.jpg")
    # Zoomed in past the deepest tiles, where every map is larger than the view: a small map that
    # fits the view is held centred by its bounds.
    zoom = GEOMETRY.max_zoom + 1
    centre_on(page, photo, zoom)
    shapes = {"similarity": (GEOMETRY.rows, GEOMETRY.cols),
              "rent": (arranged["rent"].rows, arranged["rent"].cols),
              "wide": (arranged["wide"].rows, arranged["wide"].cols)}
    assert shapes["wide"] != shapes["similarity"]
    assert page.text_content("#counts").endswith(f"{GEOMETRY.rows}\u00d7{GEOMETRY.cols} cells")
    for name in ("rent", "wide", "similarity", "wide"):
        switch(page, name)
        assert page.evaluate(CENTRE) == {"photo": photo, "zoom": zoom, "arrangement": name}
        # the header's grid size is the shown arrangement's
        rows, cols = shapes[name]
        assert page.text_content("#counts").endswith(f"{rows}\u00d7{cols} cells"), name
    # The deeper pyramid is read at the map's zoom: its tiles exist and none is outside it.
    wide = TileGeometry(arranged["wide"].rows, arranged["wide"].cols)
    requested = [(re.search(r"/arrangements/wide/tiles/(\d+)/(\d+)/(\d+)\.jpg$", url), status)
                 for url, status in page.responses]
    assert any(match for match, _ in requested)
    for match, status in requested:
        if match:
            z, x, y = map(int, match.groups())
            nx, ny = wide.tiles_at(z)
            assert status == 200 and 0 <= x < nx and 0 <= y < ny, match.group(0)


def test_an_arrangement_that_was_not_built_is_greyed_out_with_its_reason(page, arranged):
    reason = "no photo has a value in column 'label'"
    assert arranged["labelled"].unavailable == reason
    # an address naming it opens the look-alike map and fetches nothing of it
    open_viewer(page, arranged, "#arrangement=labelled")
    page.wait_for_selector("#arrangement")
    page.evaluate("window.roomgrid.arrangements.fromHash()")
    option = page.query_selector("#arrangement option[value=labelled]")
    assert option.is_disabled() and option.text_content() == f"labelled ({reason})"
    assert page.evaluate("window.roomgrid.arrangements.current()") == "similarity"
    assert page.evaluate("window.roomgrid.arrangements.show('labelled')") is False
    assert page.input_value("#arrangement") == "similarity"
    assert not [url for url, _ in page.responses if "/arrangements/labelled" in url]
    switch(page, "rent")  # the others still switch
    assert page.evaluate("window.roomgrid.arrangements.current()") == "rent"


def test_the_open_photo_stays_open_and_centred_and_the_address_keeps_the_arrangement(page, arranged):
    open_viewer(page, arranged)
    page.wait_for_selector("#arrangement")
    photo = viewer_index(page, "boston/1-1.jpg")
    page.evaluate(f"window.roomgrid.open({photo}, 'jump')")
    page.wait_for_function("location.hash.startsWith('#id=')")
    switch(page, "rent")
    assert page.evaluate(CENTRE)["photo"] == photo
    assert page.evaluate("location.hash") == "#arrangement=rent&id=boston%2F1-1.jpg"
    outline = page.evaluate("""() => {
        const b = document.querySelector('.selected-cell').getBoundingClientRect();
        const m = document.getElementById('map').getBoundingClientRect();
        return [b.left + b.width / 2 - m.left, b.top + b.height / 2 - m.top, m.width, m.height];
    }""")
    assert abs(outline[0] - outline[2] / 2) < 3 and abs(outline[1] - outline[3] / 2) < 3
    # A fresh page at that address shows the arrangement with the photo open at the centre.
    open_viewer(page, arranged, "#arrangement=rent&id=boston%2F1-1.jpg")
    page.wait_for_function("document.getElementById('map').dataset.arrangement === 'rent'")
    page.wait_for_selector("#panel:not([hidden])")
    assert page.evaluate(CENTRE)["photo"] == photo


def test_block_labels_sit_above_their_blocks_and_cover_no_photo_at_the_deepest_zoom(page, arranged):
    open_viewer(page, arranged)
    page.wait_for_selector("#arrangement")
    switch(page, "rent")
    blocks = arranged["rent"].blocks
    texts = page.eval_on_selector_all(".block-label-text", "e => e.map(x => x.textContent)")
    assert sorted(texts) == sorted(b["label"] for b in blocks)
    assert all(t.startswith("$") for t in texts)
    for block in blocks:
        page.evaluate("""([x, y]) => { const v = window.roomgrid;
            v.map.setView(v.map.unproject([x, y], v.config.max_zoom), v.config.max_zoom,
                          {animate: false}); }""", [block["col"] * 128 + 64, block["row"] * 128])
        page.wait_for_timeout(100)
        box, top = page.evaluate("""([label, x, y]) => {
            const v = window.roomgrid;
            const element = [...document.querySelectorAll('.block-label-text')]
                .find((e) => e.textContent === label);
            const b = element.getBoundingClientRect();
            const m = document.getElementById('map').getBoundingClientRect();
            const p = v.map.latLngToContainerPoint(v.map.unproject([x, y], v.config.max_zoom));
            return [[b.left - m.left, b.top - m.top, b.right - m.left, b.bottom - m.top], p.y];
        }""", [block["label"], block["col"] * 128, block["row"] * 128])
        # inside the empty header row: below the row above it, above the block's first row
        assert top - 128 <= box[1] and box[3] <= top, (block["label"], box, top)
        assert page.is_visible(f".block-label-text >> text='{block['label']}'")


def test_filters_and_selection_follow_the_photos_across_a_switch(page, arranged):
    open_viewer(page, arranged)
    page.wait_for_selector("#arrangement")
    page.select_option("#filter-city", "denver")
    page.wait_for_function("window.roomgrid.filter.active")
    before = page.evaluate("Array.from(window.roomgrid.filter.match)")
    switch(page, "wide")
    assert page.evaluate("Array.from(window.roomgrid.filter.match)") == before
    # a shift-click selects the photo shown in that cell of the arrangement
    cell = int(arranged["wide"].cells[arranged["ids"].index("denver/3-4.jpg")])
    photo = viewer_index(page, "denver/3-4.jpg")
    page.evaluate(f"window.roomgrid.selection.toggle({cell})")
    assert page.evaluate("window.roomgrid.selection.indices()") == [photo]


def test_a_photo_outside_its_folder_shows_its_region_of_the_shown_arrangements_tiles(page,
                                                                                    arranged):
    open_viewer(page, arranged)
    page.wait_for_selector("#arrangement")
    switch(page, "wide")
    cell = int(arranged["wide"].cells[arranged["ids"].index("denver/elsewhere.jpg")])
    row, col = divmod(cell, arranged["wide"].cols)
    page.evaluate("(id) => window.roomgrid.data.findId(id).then((i) => window.roomgrid.open(i, "
                  "'jump'))", "denver/elsewhere.jpg")
    page.wait_for_function("document.querySelector('#panel-photo .tile-crop img') !== null")
    deepest = GEOMETRY.max_zoom + 1  # the wide map's pyramid is one level deeper
    assert page.locator("#panel-photo .tile-crop img").first.get_attribute("src") == \
        f"arrangements/wide/tiles/{deepest}/{col * 128 // 256}/{row * 128 // 256}.jpg"
