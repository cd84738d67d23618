"""The viewer in headless Chromium: first paint, first click, bytes before the first paint, JS heap, switching arrangements.

Serves a built viewer folder on 127.0.0.1 and drives Debian's Chromium through Playwright.
Targets at 125k photos: first paint and first click each <= 2 s, <= 2 MB transferred before the
first paint (tiles and Leaflet aside; the viewer's own data is budgeted at 16 bytes a placed
photo), JS heap < 300 MB after panning across the whole map (and a search, which loads every chunk).

    .venv/bin/python benchmarks/bench_viewer.py --viewer results/viewer
    .venv/bin/python benchmarks/bench_viewer.py --synthetic 125000   # builds one in a temp dir

``--synthetic N`` lays N photos of 400 cities on a near-square grid with textured thumbnails and
listing fields (4 photos a listing), renders its tiles and builds the viewer, as the workflow would.
It also builds one more arrangement, ``city`` (a block per city, filled by similarity), with the
workflow's own stage functions: its grid (``run_arrangement`` on a t-SNE table and a selection
table), its tile pyramid (``run_tiles``) and its viewer data (``build_viewer(arrangements=...)``);
``--no-arrangement`` leaves it out.

When the viewer has arrangements, a fresh browser context (empty cache) also measures switching
to one (``--switch-to``, default the first after similarity) at the deepest native zoom, centred
on a photo: time from the switch to its first tile painted (target <= 0.5 s at 125k) and to all
tiles in view loaded, when its cells file arrived and when the page had swapped its cells (the
``arrangement`` event), the main thread's long tasks, and whether the centred photo stayed at
the centre; then the switch back and again (cells already loaded). Bytes fetched before the
first tile painted and before the page is usable are counted with the arrangement files apart
(target: the viewer's data <= 16 bytes a photo, unchanged by arrangements).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def build_synthetic(n: int, folder: Path, arrangement: bool = True) -> Path:
    import h5py

    from roomgrid.core.io import read_json, read_table
    from roomgrid.viewer.tiles import TileGeometry, render_tiles
    from roomgrid.viewer.page import build_viewer

    rng = np.random.default_rng(0)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cities = [f"city{c:03d}" for c in np.sort(rng.integers(0, 400, n))]
    ids = [f"{city}/{i:07d}_600x450.jpg" for i, city in enumerate(cities)]
    cells = rng.permutation(rows * cols)[:n]
    grid = pd.DataFrame({"id": ids, "city": cities, "row": cells // cols, "col": cells % cols})
    listing = np.arange(n) // 4
    photos = pd.DataFrame({
        "id": ids, "city": cities, "path": None,
        "listing_url": [f"https://{c}.example.invalid/apa/{7000000 + i}.html" for c, i in zip(cities, listing)],
        "post_id": [str(7000000 + i) for i in listing],
        "title": [f"Sunny {1 + i % 4}BR apartment near the park - listing {i}" for i in listing],
        "price": rng.integers(500, 6000, n).astype(float), "bedrooms": rng.integers(0, 5, n),
        "sqft": rng.integers(300, 2500, n), "neighbourhood": "Old Town", "posted": "2017-03-01",
        "bin": rng.choice(["photo", "maybe"], n), "duplicate_group": -1,
        "cluster": rng.integers(0, 50, n),
        "predicted_class": rng.choice(["bedroom", "kitchen", "bathroom", "living"], n)})
    neighbours = pd.DataFrame({"id": ids, "neighbours": [
        " ".join(ids[j] for j in rng.integers(0, n, 8)) for _ in range(n)]})
    size = 32  # small thumbnails keep the build quick; tiles are scaled up from them
    bank = rng.integers(0, 256, (64, size, size, 3), dtype=np.uint8)
    thumbs = {}
    for city in sorted(set(cities)):
        members = [i for i, c in enumerate(cities) if c == city]
        thumbs[city] = folder / f"{city}.h5"
        with h5py.File(thumbs[city], "w") as handle:
            handle.create_dataset("ids", data=[ids[i] for i in members], dtype=h5py.string_dtype())
            handle.create_dataset("thumbs", data=bank[np.array(members) % 64], chunks=(1, size, size, 3))
            handle.attrs["size"] = size
    viewer = folder / "viewer"
    geometry = TileGeometry(rows, cols, size, 256)
    started = time.perf_counter()
    render_tiles(grid, thumbs, viewer / "tiles", cell_px=size, shape=(rows, cols), n_jobs=2)
    print(f"similarity tiles in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    arrangements = {}
    if arrangement:
        # t-SNE positions that agree with the look-alike grid (each photo near its own cell), so a
        # city's block is filled with its photos in the order the look-alike map has them.
        points = pd.DataFrame({"id": ids, "x": grid["col"] + rng.uniform(0, 1, n),
                               "y": grid["row"] + rng.uniform(0, 1, n)})
        cells, facts = build_city_arrangement(points, photos, thumbs, folder, viewer, size)
        arrangements["city"] = (read_table(cells), read_json(facts))
    build_viewer(grid, photos, neighbours, viewer, geometry=geometry,
                 leaflet_dir=REPO / "node_modules/leaflet/dist",
                 client_zip_dir=REPO / "node_modules/client-zip", photo_roots=None,
                 arrangements=arrangements)
    return viewer


def build_city_arrangement(points: pd.DataFrame, photos: pd.DataFrame, thumbs: dict, folder: Path,
                           viewer: Path, cell_px: int) -> tuple[Path, Path]:
    """The ``city`` arrangement as the workflow makes it: rule arrange_photos (``run_arrangement``
    on ``tsne.tsv`` and the selection's ``photos.tsv``, the default grid settings) and rule
    render_arrangement_tiles (``run_tiles``) into ``viewer/arrangements/city/tiles``."""
    from roomgrid.core.io import write_table
    from roomgrid.layout.arrange import run_arrangement
    from roomgrid.viewer.tiles.pyramid import run_tiles

    layout = folder / "layout"
    layout.mkdir()
    write_table(points, layout / "tsne.tsv")
    write_table(photos.assign(selected=True), layout / "photos.tsv")
    cells, facts = layout / "city/grid.tsv", layout / "city/grid.json"
    cells.parent.mkdir()
    started = time.perf_counter()
    result = run_arrangement(layout / "tsne.tsv", layout / "photos.tsv", cells, facts, name="city",
                             by="city", aspect=1.0, method="auto", exact_max=3000,
                             block_size=1024, n_jobs=2)
    print(f"city arrangement: {len(result.blocks)} blocks on {result.rows} x {result.cols} cells "
          f"in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    run_tiles(cells, facts, thumbs, viewer / "arrangements/city/tiles", cell_px=cell_px,
              tile_px=256, quality=80, background=(24, 24, 24), n_jobs=2)
    print(f"city tiles in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return cells, facts


def serve(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# Marks 'roomgrid-first-tile' at the first animation frame that finds a loaded tile: the first paint.
FIRST_TILE_MARK = """(() => {
    function check() {
        const tiles = document.querySelectorAll('img.leaflet-tile');
        if ([...tiles].some((t) => t.complete && t.naturalWidth)) performance.mark('roomgrid-first-tile');
        else requestAnimationFrame(check);
    }
    requestAnimationFrame(check);
})()"""

# Centre the map on a photo's cell: the cell nearest the middle of the grid that holds one.
CENTRE_ON_MIDDLE_PHOTO = """(zoom) => {
    const v = window.roomgrid;
    const rows = v.config.rows, cols = v.config.cols;
    for (let radius = 0; radius < Math.max(rows, cols); radius++) {
        for (let r = (rows >> 1) - radius; r <= (rows >> 1) + radius; r++) {
            for (let c = (cols >> 1) - radius; c <= (cols >> 1) + radius; c++) {
                if (r < 0 || c < 0 || r >= rows || c >= cols) continue;
                const photo = v.data.cells[r * cols + c];
                if (photo < 0) continue;
                v.map.setView(v.view.cellBounds(r * cols + c).getCenter(), zoom, {animate: false});
                return photo;
            }
        }
    }
    return -1;
}"""

# The photo in the cell at the map's centre, the zoom, and how far (screen px) the centre of
# ``photo``'s cell is from the centre of the map.
CENTRE = """(photo) => {
    const v = window.roomgrid;
    const cell = v.view.cellAt(v.map.getCenter());
    const middle = v.map.getSize().divideBy(2);
    const at = v.map.latLngToContainerPoint(v.view.cellBounds(v.data.cellOf[photo]).getCenter());
    return {photo: cell >= 0 ? v.data.cells[cell] : -1, zoom: v.map.getZoom(),
            arrangement: v.arrangements.current(), offset_px: Math.round(at.distanceTo(middle) * 10) / 10};
}"""

# Switch with the page's own control and time, from the change event: the cells file's arrival,
# the 'arrangement' event (cells swapped, new tile layer added), the first of its tiles painted
# (first animation frame that finds one loaded) and every tile in view loaded; and long tasks.
SWITCH = """async (name) => {
    const v = window.roomgrid;
    const mine = (src) => name === 'similarity' ? !src.includes('/arrangements/')
                                                : src.includes('/arrangements/' + name + '/');
    const long = [];
    const observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) long.push([Math.round(e.startTime), Math.round(e.duration)]);
    });
    observer.observe({type: 'longtask'});
    let swapped = null;
    const select = document.getElementById('arrangement');
    const start = performance.now();
    v.map.once('arrangement', () => { swapped = performance.now(); });
    select.value = name;
    select.dispatchEvent(new Event('change'));
    const [first, all, shown] = await new Promise((resolve) => {
        let first = null;
        function frame() {
            const now = performance.now(); // not the frame's start, which may precede the switch
            const tiles = [...document.querySelectorAll('img.leaflet-tile')].filter((t) => mine(t.src));
            if (first === null && tiles.some((t) => t.complete && t.naturalWidth)) first = now;
            if (first !== null && tiles.every((t) => t.complete)) resolve([first, now, tiles.length]);
            else if (now - start > 30000) resolve([first, null, tiles.length]);
            else requestAnimationFrame(frame);
        }
        requestAnimationFrame(frame);
    });
    observer.disconnect();
    const files = performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/data/arrangements/' + name + '.') && e.startTime >= start)
        .map((e) => [e.name.split('/').pop(), Math.round(e.responseEnd - start), e.encodedBodySize]);
    const ms = (t) => (t === null ? null : Math.round(t - start));
    return {first_tile_ms: ms(first), all_tiles_ms: ms(all), tiles_in_view: shown,
            cells_swapped_ms: ms(swapped), files: files,
            long_tasks: long.filter(([t]) => t >= start - 1).map(([t, d]) => [Math.round(t - start), d])};
}"""


def measure_switch(browser, url: str, name: str) -> dict:
    """Switch to ``name`` and back on a fresh page (empty cache), centred on the middle photo at the
    deepest native zoom, and check that photo is still at the centre after each switch."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(url + "index.html")
    page.wait_for_function("document.body.dataset.ready === 'true'")
    page.wait_for_selector("#arrangement")
    zoom = page.evaluate("window.roomgrid.config.max_zoom")
    photo = page.evaluate(CENTRE_ON_MIDDLE_PHOTO, zoom)
    page.wait_for_function("[...document.querySelectorAll('img.leaflet-tile')].every(t => t.complete)")
    page.wait_for_load_state("networkidle")
    before = page.evaluate(CENTRE, photo)
    runs = []
    for label, target in (("first", name), ("back", "similarity"), ("again", name)):
        timing = page.evaluate(SWITCH, target)
        after = page.evaluate(CENTRE, photo)
        timing["centre_kept"] = after["photo"] == photo and after["zoom"] == before["zoom"]
        timing["centre_offset_px"] = after["offset_px"]
        timing["header"] = page.text_content("#counts")
        runs.append({"switch": f"{label}: to {target}", **timing})
        page.wait_for_load_state("networkidle")
    context.close()
    return {"arrangement": name, "zoom": zoom, "photo": photo,
            "photo_at_centre_before": before["photo"] == photo, "runs": runs}


def measure(viewer: Path, switch_to: str | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    index = json.loads((viewer / "data/index.json").read_text())
    listed = viewer / "data/arrangements/index.json"
    names = [a["name"] for a in json.loads(listed.read_text())["arrangements"]] if listed.exists() else []
    switch_to = switch_to or next((n for n in names if n != "similarity"), None)
    server, url = serve(viewer)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--enable-precise-memory-info"])
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_init_script(FIRST_TILE_MARK)
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            start = time.perf_counter()
            page.goto(url + "index.html")
            page.wait_for_function("[...document.querySelectorAll('img.leaflet-tile')].some(t => t.complete && t.naturalWidth)")
            first_paint = time.perf_counter() - start
            page.wait_for_function("document.body.dataset.ready === 'true'")
            ready = time.perf_counter() - start
            # Bytes fetched up to now, by kind (encoded = as sent over the wire); data the page asks
            # for after it is usable (place names, the clusters panel) is counted apart.
            # The arrangements' files are counted apart ("arrangements"), so "data" is the same
            # measure with or without them; so are the bytes that started before the first tile
            # was painted.
            page.wait_for_function("performance.getEntriesByName('roomgrid-first-tile').length > 0")
            entries = page.evaluate("""() => {
                const ready = performance.getEntriesByName('roomgrid-ready')[0];
                const painted = performance.getEntriesByName('roomgrid-first-tile')[0].startTime;
                return performance.getEntriesByType('resource').map(e => [e.name, e.encodedBodySize,
                    ready !== undefined && e.startTime >= ready.startTime, e.startTime < painted]);
            }""")
            nav = page.evaluate("performance.getEntriesByType('navigation')[0].encodedBodySize")
            by_kind = {"page": nav, "data": 0, "arrangements": 0, "scripts and css": 0, "leaflet": 0,
                       "tiles": 0}
            before_first_tile = dict.fromkeys(by_kind, 0) | {"page": nav}
            after_ready = {}
            for name, size, later, early in entries:
                kind = ("arrangements" if "/data/arrangements/" in name
                        else "tiles" if "/tiles/" in name else "leaflet" if "/lib/leaflet/" in name
                        else "data" if "/data/" in name else "scripts and css")
                if early:
                    before_first_tile[kind] += size
                if kind in ("data", "arrangements") and later:
                    after_ready[name.rsplit("/data/", 1)[1]] = size
                else:
                    by_kind[kind] += size
            # First click: the centre photo's panel filled in.
            box = page.locator("#map").bounding_box()
            click = time.perf_counter()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function("document.getElementById('panel-id').textContent !== ''", timeout=20000)
            click_latency = time.perf_counter() - click
            # Pan across the whole map, two zoom levels above the deepest, in a serpentine.
            config = page.evaluate("window.roomgrid.config")
            zoom = max(0, config["max_zoom"] - 2)
            step = 1400 * 2 ** (config["max_zoom"] - zoom)
            ys = range(0, config["height"] + step, step)
            for row, y in enumerate(ys):
                xs = list(range(0, config["width"] + step, step))
                for x in (xs if row % 2 == 0 else xs[::-1]):
                    page.evaluate(f"window.roomgrid.map.setView(window.roomgrid.map.unproject([{x}, {y}], {config['max_zoom']}), {zoom}, {{animate: false}})")
                    page.wait_for_timeout(150)
            page.fill("#search", "listing 1")
            page.wait_for_function("/match/.test(document.getElementById('search-count').textContent)", timeout=60000)
            cdp.send("HeapProfiler.collectGarbage")
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            context.close()
            switch = measure_switch(browser, url, switch_to) if switch_to else None
            browser.close()
    finally:
        server.shutdown()
    before_paint = (by_kind["page"] + by_kind["data"] + by_kind["arrangements"]
                    + by_kind["scripts and css"])
    result = {"photos": index["photos"], "cells": index["cells"],
              "first_paint_s": round(first_paint, 3), "ready_s": round(ready, 3),
              "first_click_s": round(click_latency, 3),
              "bytes_before_first_click": by_kind,
              "bytes_before_first_click_without_tiles_and_leaflet": before_paint,
              "data_bytes_per_photo": round(by_kind["data"] / index["photos"], 2),
              "bytes_before_first_tile_painted": before_first_tile,
              "data_fetched_after_ready": after_ready,
              "js_heap_after_panning_and_search_mb": round(metrics["JSHeapUsedSize"] / 2**20, 1)}
    if names:
        result["arrangements"] = names
        result["data_and_arrangement_bytes_per_photo_before_first_click"] = round(
            (by_kind["data"] + by_kind["arrangements"]) / index["photos"], 2)
    if switch is not None:
        result["switch"] = switch
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--viewer", type=Path, help="a built viewer folder (results/viewer)")
    source.add_argument("--synthetic", type=int, metavar="N", help="build a synthetic viewer of N photos")
    parser.add_argument("--no-arrangement", action="store_true",
                        help="--synthetic without the city arrangement")
    parser.add_argument("--switch-to", metavar="NAME",
                        help="the arrangement to switch to (default: the first after similarity)")
    args = parser.parse_args(argv)
    if args.viewer:
        print(json.dumps(measure(args.viewer, args.switch_to), indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        viewer = build_synthetic(args.synthetic, Path(tmp), arrangement=not args.no_arrangement)
        print(f"built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        print(json.dumps(measure(viewer, args.switch_to), indent=2))


if __name__ == "__main__":
    main()
