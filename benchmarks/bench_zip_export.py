"""The viewer's ZIP of selected originals in headless Chromium: time, and memory as the ZIP grows.

Builds a viewer of N photo files (random bytes, so the sizes are exact) in one linked city, serves
it on 127.0.0.1, selects every photo and exports the ZIP twice:

* streamed, as in Chrome and Edge: a stand-in for the save picker hands the page a file whose
  writable stream counts the bytes and drops them (a real picker cannot be driven headless);
* as a Blob download, as in browsers without the File System Access API.

Memory: the page's JS heap (sampled every 100 ms in the page) and how far the summed RSS of this
process and its children (Playwright's driver and every Chromium process, blob storage included)
rises above its level just before the export.

    .venv/bin/python benchmarks/bench_zip_export.py --photos 2000 --kb 100
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from common import MIB, TreeSampler

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# Counts what the page writes and keeps none of it; the page's own heap is sampled alongside.
STAND_IN = """
    window.bench = { written: 0, closed: false, heap: 0 };
    setInterval(() => { window.bench.heap = Math.max(window.bench.heap, performance.memory.usedJSHeapSize); }, 100);
    window.showSaveFilePicker = async () => ({ createWritable: async () => new WritableStream({
        write(chunk) { window.bench.written += chunk.byteLength; },
        close() { window.bench.closed = true; },
    }) });
"""


def build(folder: Path, n: int, kb: int) -> Path:
    from roomgrid.viewer.page import build_viewer
    from roomgrid.viewer.tiles import TileGeometry

    rng = np.random.default_rng(0)
    root = folder / "photos"
    root.mkdir()
    ids = [f"bench/{i:06d}.jpg" for i in range(n)]
    for photo_id in ids:
        (root / photo_id.split("/")[1]).write_bytes(rng.bytes(kb * 1000))
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = pd.DataFrame({"id": ids, "city": "bench", "row": np.arange(n) // cols,
                         "col": np.arange(n) % cols})
    photos = pd.DataFrame({"id": ids, "city": "bench",
                           "path": [str(root / i.split("/")[1]) for i in ids],
                           "listing_url": [f"https://bench.example.invalid/{i // 4}" for i in range(n)],
                           "title": [f'Sunny, "bright" {i // 4}' for i in range(n)],
                           "price": 1500.0, "bedrooms": 2})
    viewer = folder / "viewer"
    build_viewer(grid, photos, pd.DataFrame({"id": ids, "neighbours": ""}), viewer,
                 geometry=TileGeometry(rows, cols, 32, 256),
                 leaflet_dir=REPO / "node_modules/leaflet/dist",
                 client_zip_dir=REPO / "node_modules/client-zip", photo_roots={"bench": root})
    return viewer


def export(browser, url: str, streamed: bool, n: int) -> dict:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.add_init_script(STAND_IN if streamed else
                         STAND_IN.split("window.showSaveFilePicker")[0] + "delete window.showSaveFilePicker;")
    page.goto(url + "index.html")
    page.wait_for_function("document.body.dataset.ready === 'true'", timeout=60000)
    page.evaluate("""() => {
        window.roomgrid.selection.selected.fill(1);
        Object.assign(window.roomgrid.zip.limits, { photos: Infinity, bytes: Infinity });
    }""")
    entries = None
    with TreeSampler(os.getpid(), interval=0.2) as idle:
        time.sleep(1)
    with TreeSampler(os.getpid(), interval=0.2) as sampler:
        start = time.perf_counter()
        if streamed:
            page.click("#export-zip")
            page.wait_for_function("window.bench.closed", timeout=0, polling=500)
            size = page.evaluate("window.bench.written")
        else:
            with page.expect_download(timeout=0) as info:
                page.click("#export-zip")
            path = info.value.path()
            size = Path(path).stat().st_size
        seconds = time.perf_counter() - start
    if not streamed:
        with zipfile.ZipFile(path) as archive:
            entries = len(archive.namelist())
    result = {"seconds": round(seconds, 1), "zip_mb": round(size / 1e6, 1),
              "mb_per_s": round(size / 1e6 / seconds, 1),
              "peak_js_heap_mb": round(page.evaluate("window.bench.heap") / MIB, 1),
              "rss_before_mib": round(idle.peak / MIB),
              "rss_growth_mib": round((sampler.peak - idle.peak) / MIB)}
    if entries is not None:
        result["entries"] = entries
        assert entries == n + 1, entries  # every photo and metadata.csv
    context.close()
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--kb", type=int, default=100, help="size of each photo file (kB)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from roomgrid.viewer.serving import serve_in_background

    with tempfile.TemporaryDirectory() as folder:
        viewer = build(Path(folder), args.photos, args.kb)
        server, url = serve_in_background(viewer)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                    "--headless", "--no-sandbox", "--disable-gpu", "--enable-precise-memory-info"])
                results = {"photos": args.photos, "photo_kb": args.kb,
                           "streamed": export(browser, url, True, args.photos),
                           "blob": export(browser, url, False, args.photos)}
                browser.close()
        finally:
            server.shutdown()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
