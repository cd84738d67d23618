"""Arrangements measured: time, fill, kNN-8 kept, DPQ16 and, per block, kNN-8 kept against an exact
lapjv grid of that block alone, and print one table.

The per-block reference lays the block's photos alone on a near-square grid by exact lapjv
(``roomgrid.layout.grid.assign_exact``): the best the in-block assignment could keep. Blocks with
more cells than ``--exact-max`` are left out of that comparison (lapjv's cost grows fast).

    # a built workflow (its results/ folder: tsne.tsv, pca.h5, selection/photos.tsv)
    python benchmarks/bench_arrangements.py --results /work/main/results
    # generated: clustered features, openTSNE positions, cities of Zipf sizes, prices, dates
    python benchmarks/bench_arrangements.py --synthetic 10000

``--flas`` also sorts every block (and the whole look-alike map) with FLAS (``pip install
vc-flas``, benchmark only) on the block's features in the block's own shape, and compares DPQ16
and time with the t-SNE + grid solver arrangement of the same photos in the same cells.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from roomgrid.core.io import read_table
from roomgrid.layout.arrange import arrange, parse_arrangements
from roomgrid.layout.grid import assign_exact, grid_shape, layout_quality
from roomgrid.layout.pca import read_embedding
from roomgrid.layout.quality import distance_preservation_quality
from roomgrid.selection.tables import selected_photos

ARRANGEMENTS = [{"name": "similarity"}, {"name": "city", "by": "city"},
                {"name": "rent", "by": "price", "bands": 12},
                {"name": "posted", "by": "posted", "bands": 12},
                {"name": "shuffle", "by": "random"}]


def from_results(results: Path):
    points = read_table(results / "embedding/tsne.tsv")
    table = selected_photos(results / "selection/photos.tsv")
    table = table.set_index("id").reindex(points["id"]).reset_index()
    ids, coords, _ = read_embedding(results / "embedding/pca.h5")
    features = pd.DataFrame(coords, index=ids).loc[points["id"]].to_numpy()
    return table, points[["x", "y"]].to_numpy(dtype=np.float64), features


def synthetic(n: int, seed: int = 0):
    """Features in 30-d from 25 clusters of unequal size, their openTSNE map, and listing
    fields: 8 cities of Zipf sizes, a price that depends on the cluster (5% missing) and a date."""
    from openTSNE import TSNE

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(25, 30))
    cluster = rng.choice(25, n, p=rng.dirichlet(np.ones(25)))
    features = centres[cluster] + rng.normal(size=(n, 30))
    start = time.perf_counter()
    points = np.asarray(TSNE(n_jobs=2, random_state=seed).fit(features))
    print(f"openTSNE on {n} synthetic photos: {time.perf_counter() - start:.1f} s")
    sizes = 1 / np.arange(1, 9)
    price = np.round(np.exp(7.3 + 0.02 * cluster + rng.normal(scale=0.3, size=n)), -1)
    price[rng.random(n) < 0.05] = np.nan
    table = pd.DataFrame({
        "id": [f"c/{i:06d}.jpg" for i in range(n)],
        "city": np.array([f"city{c}" for c in range(8)])[rng.choice(8, n, p=sizes / sizes.sum())],
        "price": price,
        "posted": (pd.Timestamp("2017-01-01") + pd.to_timedelta(rng.integers(0, 180, n), "D"))
        .strftime("%Y-%m-%d"),
    })
    return table, points, features


def measure(table, points, features, *, exact_max: int, dpq_sample: int) -> list[dict]:
    rows = []
    for spec in parse_arrangements(ARRANGEMENTS):
        start = time.perf_counter()
        result = arrange(spec, points, table, aspect=1.0, method="auto", exact_max=3000,
                         block_size=1024, n_jobs=2)
        seconds = time.perf_counter() - start
        knn = layout_quality(points, result.cells, result.rows, result.cols)["knn_kept"]
        dpq = distance_preservation_quality(features, result.cells, result.cols, p=16,
                                            sample=dpq_sample)
        ratios, ours, best, compared = [], [], [], 0
        for block in result.blocks:
            if block["count"] < 9:  # kNN-8 needs 9 photos
                continue
            r0, c0 = block["row"], block["col"]
            rows_of, cols_of = np.divmod(result.cells, result.cols)
            members = np.nonzero((rows_of >= r0) & (rows_of < r0 + block["rows"]) &
                                 (cols_of >= c0) & (cols_of < c0 + block["cols"]))[0]
            shape = grid_shape(len(members))
            if shape[0] * shape[1] > exact_max:
                continue
            reference = layout_quality(points[members], assign_exact(points[members], *shape),
                                       *shape)["knn_kept"]
            ratios.append(block["knn_kept"] / reference)
            ours.append(block["knn_kept"])
            best.append(reference)
            compared += 1
        rows.append({"arrangement": spec.name, "seconds": round(seconds, 2),
                     "grid": f"{result.rows}x{result.cols}",
                     "fill": round(len(points) / (result.rows * result.cols), 3),
                     "blocks": len(result.blocks), "knn8": round(knn, 3), "dpq16": round(dpq, 3),
                     "block_knn8": round(float(np.mean(ours)), 3) if ours else None,
                     "exact_block_knn8": round(float(np.mean(best)), 3) if best else None,
                     "ratio": round(float(np.mean(ratios)), 3) if ratios else None,
                     "min_ratio": round(float(np.min(ratios)), 3) if ratios else None,
                     "compared": compared})
    return rows


def flas_comparison(table, points, features, *, dpq_sample: int) -> list[dict]:
    """Per arrangement: DPQ16 of our blocks and of FLAS on the same photos and block shapes
    (means over blocks of at least 9 photos; similarity is one block), and the time of each."""
    from vc_flas import Grid, flas

    rows = []
    for spec in parse_arrangements(ARRANGEMENTS):
        if spec.kind == "random":
            continue
        start = time.perf_counter()
        result = arrange(spec, points, table, method="auto", exact_max=3000, block_size=1024,
                         n_jobs=2)
        ours_seconds = time.perf_counter() - start
        blocks = result.blocks or [{"row": 0, "col": 0, "rows": result.rows,
                                    "cols": result.cols, "count": len(points)}]
        rows_of, cols_of = np.divmod(result.cells, result.cols)
        ours, theirs, flas_seconds = [], [], 0.0
        for block in blocks:
            if block["count"] < 9:
                continue
            r0, c0, h, w = block["row"], block["col"], block["rows"], block["cols"]
            members = np.nonzero((rows_of >= r0) & (rows_of < r0 + h) &
                                 (cols_of >= c0) & (cols_of < c0 + w))[0]
            local = (rows_of[members] - r0) * w + cols_of[members] - c0
            own = features[members]
            ours.append(distance_preservation_quality(own, local, w, sample=dpq_sample))
            start = time.perf_counter()
            sorting = flas(Grid.from_features(own.astype(np.float32), size=(h, w),
                                              freeze_holes=False), seed=0).sorting.ravel()
            flas_seconds += time.perf_counter() - start
            cells = np.empty(len(members), np.int64)
            placed = sorting >= 0
            cells[sorting[placed]] = np.nonzero(placed)[0]
            theirs.append(distance_preservation_quality(own, cells, w, sample=dpq_sample))
        rows.append({"arrangement": spec.name, "blocks": len(ours),
                     "dpq16_ours": round(float(np.mean(ours)), 3),
                     "dpq16_flas": round(float(np.mean(theirs)), 3),
                     "seconds_ours": round(ours_seconds, 2),
                     "seconds_flas": round(flas_seconds, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--results", type=Path, help="a built workflow's results/ folder")
    source.add_argument("--synthetic", type=int, help="this many generated photos")
    parser.add_argument("--exact-max", type=int, default=2500,
                        help="largest block (in cells) compared with an exact lapjv grid")
    parser.add_argument("--dpq-sample", type=int, default=1000)
    parser.add_argument("--flas", action="store_true", help="compare with FLAS (vc-flas)")
    args = parser.parse_args()
    data = from_results(args.results) if args.results else synthetic(args.synthetic)
    start = time.perf_counter()
    if args.flas:
        print(pd.DataFrame(flas_comparison(*data, dpq_sample=args.dpq_sample))
              .to_markdown(index=False))
        return
    rows = measure(*data, exact_max=args.exact_max, dpq_sample=args.dpq_sample)
    print(pd.DataFrame(rows).to_markdown(index=False))
    print(f"{len(data[1])} photos, measured in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
