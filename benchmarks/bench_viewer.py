"""The viewer in headless Chromium: first paint, first click, bytes before the first paint, JS heap.

Serves a built viewer folder on 127.0.0.1 and drives Debian's Chromium through Playwright.
Targets at 125k photos: first paint and first click each <= 2 s, <= 2 MB transferred before the
first paint (tiles and Leaflet aside; the viewer's own data is budgeted at 16 bytes a placed
photo), JS heap < 300 MB after panning across the whole map (and a search, which loads every chunk).

    .venv/bin/python benchmarks/bench_viewer.py --viewer results/viewer
    .venv/bin/python benchmarks/bench_viewer.py --synthetic 125000   # builds one in a temp dir

``--synthetic N`` lays N photos of 400 cities on a near-square grid with textured thumbnails and
listing fields (4 photos a listing), renders its tiles and builds the viewer, as the workflow would.
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


def build_synthetic(n: int, folder: Path) -> Path:
    import h5py

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
    render_tiles(grid, thumbs, viewer / "tiles", cell_px=size, shape=(rows, cols), n_jobs=2)
    build_viewer(grid, photos, neighbours, viewer, geometry=geometry,
                 leaflet_dir=REPO / "node_modules/leaflet/dist",
                 client_zip_dir=REPO / "node_modules/client-zip", photo_roots=None)
    return viewer


def serve(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def measure(viewer: Path) -> dict:
    from playwright.sync_api import sync_playwright

    index = json.loads((viewer / "data/index.json").read_text())
    server, url = serve(viewer)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--enable-precise-memory-info"])
            context = browser.new_context(viewport={"width": 1400, "height": 900})
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
            entries = page.evaluate("""() => {
                const ready = performance.getEntriesByName('roomgrid-ready')[0];
                return performance.getEntriesByType('resource').map(e => [e.name, e.encodedBodySize,
                    ready !== undefined && e.startTime >= ready.startTime]);
            }""")
            nav = page.evaluate("performance.getEntriesByType('navigation')[0].encodedBodySize")
            by_kind = {"page": nav, "data": 0, "scripts and css": 0, "leaflet": 0, "tiles": 0}
            after_ready = {}
            for name, size, later in entries:
                kind = ("tiles" if "/tiles/" in name else "leaflet" if "/lib/leaflet/" in name
                        else "data" if "/data/" in name else "scripts and css")
                if kind == "data" and later:
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
            browser.close()
    finally:
        server.shutdown()
    before_paint = by_kind["page"] + by_kind["data"] + by_kind["scripts and css"]
    return {"photos": index["photos"], "cells": index["cells"],
            "first_paint_s": round(first_paint, 3), "ready_s": round(ready, 3),
            "first_click_s": round(click_latency, 3),
            "bytes_before_first_click": by_kind,
            "bytes_before_first_click_without_tiles_and_leaflet": before_paint,
            "data_bytes_per_photo": round(by_kind["data"] / index["photos"], 2),
            "data_fetched_after_ready": after_ready,
            "js_heap_after_panning_and_search_mb": round(metrics["JSHeapUsedSize"] / 2**20, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--viewer", type=Path, help="a built viewer folder (results/viewer)")
    source.add_argument("--synthetic", type=int, metavar="N", help="build a synthetic viewer of N photos")
    args = parser.parse_args(argv)
    if args.viewer:
        print(json.dumps(measure(args.viewer), indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        viewer = build_synthetic(args.synthetic, Path(tmp))
        print(f"built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        print(json.dumps(measure(viewer), indent=2))


if __name__ == "__main__":
    main()
