"""What the viewer's clusters panel costs at scale: build time and the bytes it adds.

Builds the viewer's data (no tiles) for N synthetic photos on a near-square grid twice, without
and with K k-means clusters, and reports the extra build time (CPU seconds), the first-load bytes a photo
(``data/index.json`` + ``data/grid.bin``: budget 16) and the size of the panel's own files.
Clusters are laid out as t-SNE lays them out, in patches (a Voronoi cell of a random centre each),
with a share of photos scattered elsewhere, so that each cluster has one large region and many
small ones, and ~10% of each cluster's photos are off the map (culled, excluded or duplicates).

    .venv/bin/python benchmarks/bench_clusters_panel.py --photos 125000 --clusters 50
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def synthetic(n: int, k: int, scattered: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cells = rng.permutation(rows * cols)[:n]
    r, c = cells // cols, cells % cols
    centres = rng.uniform(0, 1, (k, 2)) * [rows, cols]
    nearest = np.argmin((r[:, None] - centres[None, :, 0]) ** 2 + (c[:, None] - centres[None, :, 1]) ** 2, 1)
    away = rng.random(n) < scattered
    nearest[away] = rng.integers(0, k, away.sum())
    cities = [f"city{x:03d}" for x in np.sort(rng.integers(0, 400, n))]
    ids = [f"{city}/{i:07d}_600x450.jpg" for i, city in enumerate(cities)]
    grid = pd.DataFrame({"id": ids, "city": cities, "row": r, "col": c})
    photos = pd.DataFrame({"id": ids, "city": cities, "path": None, "cluster": nearest,
                           "predicted_class": rng.choice(["bedroom", "kitchen", "bathroom"], n)})
    off = n // 10
    extra = pd.DataFrame({"id": [f"city000/off{i:07d}.jpg" for i in range(off)], "city": "city000",
                          "path": None, "cluster": rng.integers(0, k, off), "predicted_class": "floorplan"})
    clusters = pd.concat([photos, extra], ignore_index=True)
    clusters["centrality"] = clusters.groupby("cluster").cumcount()
    return grid, photos, clusters, (rows, cols)


def main(argv=None) -> None:
    from roomgrid.viewer.tiles import TileGeometry
    from roomgrid.viewer.page import build_viewer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=125_000)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--scattered", type=float, default=0.1,
                        help="share of photos placed away from their cluster's patch")
    args = parser.parse_args(argv)
    grid, photos, clusters, (rows, cols) = synthetic(args.photos, args.clusters, args.scattered)
    geometry = TileGeometry(rows, cols, 32, 256)
    neighbours = pd.DataFrame({"id": grid["id"], "neighbours": ""})
    leaflet = REPO / "node_modules/leaflet/dist"
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, extra in (("without clusters", {}), ("with clusters", {
                "clusters": clusters, "cull": {"cluster_labels": {3: "floorplan"}, "drop": ["floorplan"]}})):
            out = Path(folder) / label.replace(" ", "_")
            # CPU seconds of this process: on a shared machine wall time mostly measures the others.
            start = time.process_time()
            build_viewer(grid, photos, neighbours, out, geometry=geometry, leaflet_dir=leaflet,
                         client_zip_dir=REPO / "node_modules/client-zip", photo_roots=None,
                         **extra)
            seconds = time.process_time() - start
            data = out / "data"
            first = (data / "index.json").stat().st_size + (data / "grid.bin").stat().st_size
            results[label] = {"build_cpu_s": round(seconds, 2),
                              "first_load_bytes_per_photo": round(first / args.photos, 2)}
            for name in ("places.json", "clusters.json", "cluster_members.json"):
                if (data / name).exists():
                    results[label][name + "_bytes"] = (data / name).stat().st_size
            if (data / "clusters.json").exists():
                panel = json.loads((data / "clusters.json").read_text())
                share = [c["region"]["cells"] / c["on_map"] for c in panel["clusters"] if c["region"]]
                results[label]["largest_region_share_median"] = round(float(np.median(share)), 3)
    results["extra_build_cpu_s"] = round(results["with clusters"]["build_cpu_s"]
                                         - results["without clusters"]["build_cpu_s"], 2)
    print(json.dumps({"photos": args.photos, "clusters": args.clusters, **results}, indent=1))


if __name__ == "__main__":
    main()
