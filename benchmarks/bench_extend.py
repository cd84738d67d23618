"""Benchmark growing a built map: add one city (~300 photos) to a map of the other cities, against
rebuilding the whole map.

Reads the per-city scans of a ``bench_stages.py`` work folder (``cities/<city>/{scan.tsv,
stacks.h5, thumbs.h5}`` and ``selection/photos.tsv``). The base is built from every selected
photo except those of ``--new-city`` (default: the city whose selected count is closest to
``--new-photos``), with the workflow's stage functions and default settings on the blur stacks
(PCA 150 components, t-SNE, grid, 128-px cells in 256-px tiles). Then:

- extend: project the new city's stacks on the base's PCA basis, place them with openTSNE's
  ``transform``, give them free cells, update the tiles (each step in a fresh child process);
- rebuild: PCA, t-SNE, grid and tiles of all photos, as a full build does.

Checks that no placed photo moved, counts re-rendered tiles, and compares the new photos'
kNN-8 kept (their 8 nearest photos in PCA space that sit in their 8 nearest cells) in the
extension against the rebuild, and against the ceiling of any layout that moves no placed photo
(``bench_grow.free_cell_ceiling``).

    python benchmarks/bench_stages.py --images /work/bench/photos --n 10000 --work W \\
        --skip decode incremental bare-tsne grid tiles vips vips-arrayjoin
    python benchmarks/bench_extend.py --work W
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_grow import free_cell_ceiling, layout_knn  # noqa: E402
from common import MIB, format_table, machine_description, measure  # noqa: E402

TSNE = dict(perplexity=30.0, learning_rate="auto", n_iter=750, early_exaggeration_iter=250,
            seed=42, initialization="pca")
TILES = dict(cell_px=128, tile_px=256, quality=80, background=(24, 24, 24))


# --features: which per-city file PCA reads, and its dataset (as the workflow's feature_files()).
FEATURES = {"stacks": ("stacks.h5", "stacks"), "cnn": ("cnn.h5", "features")}


def _features(work: Path, cities: list[str], kind: str) -> dict[str, str]:
    return {c: str(work / "cities" / c / FEATURES[kind][0]) for c in cities}


def _thumbs(work: Path, cities: list[str]) -> dict[str, str]:
    return {c: str(work / "cities" / c / "thumbs.h5") for c in cities}


def build(work: str, out: str, photos_tsv: str, cities: list[str], jobs: int, spare: float,
          kind: str) -> dict:
    """A full build (PCA, t-SNE, grid, tiles) into ``out``; returns each stage's seconds."""
    import time

    from roomgrid.layout import grid, pca, tsne
    from roomgrid.viewer.tiles import pyramid

    work, out = Path(work), Path(out)
    seconds = {}
    start = time.perf_counter()
    pca.run_pca(photos_tsv, _features(work, cities, kind), out / "pca.h5", n_components=150,
                   batch_size=1000, method="randomized", dataset=FEATURES[kind][1])
    seconds["pca"] = time.perf_counter() - start
    start = time.perf_counter()
    tsne.run_tsne(out / "pca.h5", out / "tsne.tsv", out / "tsne.json", n_jobs=jobs,
                    model_pkl=out / "tsne.pkl", **TSNE)
    seconds["tsne"] = time.perf_counter() - start
    start = time.perf_counter()
    grid.run_grid(out / "tsne.tsv", photos_tsv, out / "grid.tsv", out / "grid.json",
                    method="auto", exact_max=3000, block_size=1024, aspect=1.0, spare=spare,
                    n_jobs=jobs)
    seconds["grid"] = time.perf_counter() - start
    start = time.perf_counter()
    summary = pyramid.run_tiles(out / "grid.tsv", out / "grid.json", _thumbs(work, cities),
                               out / "tiles", n_jobs=jobs, **TILES)
    seconds["tiles"] = time.perf_counter() - start
    return {"seconds": seconds, "tiles": summary["total_tiles"]}


def save_base(out: str) -> None:
    from roomgrid.layout.base import BASE_FILES, run_save_base

    out = Path(out)
    run_save_base({name: out / name for name in BASE_FILES}, out / "base")


def extend(work: str, out: str, base: str, photos_tsv: str, cities: list[str], jobs: int,
           kind: str) -> dict:
    import time

    from roomgrid.layout import extend, pca, tsne
    from roomgrid.viewer.tiles import update

    work, out = Path(work), Path(out)
    seconds = {}
    start = time.perf_counter()
    pca.run_project_pca(photos_tsv, _features(work, cities, kind), base, out / "pca.h5",
                           batch_size=1000, dataset=FEATURES[kind][1])
    seconds["project"] = time.perf_counter() - start
    start = time.perf_counter()
    tsne.run_place_tsne(out / "pca.h5", base, out / "tsne.tsv", out / "tsne.json")
    seconds["place"] = time.perf_counter() - start
    start = time.perf_counter()
    facts = extend.run_extend_grid(out / "tsne.tsv", photos_tsv, out / "pca.h5", base,
                                   out / "grid.tsv", out / "grid.json", aspect=1.0,
                                   rebuild_below=0.5)
    seconds["grid"] = time.perf_counter() - start
    start = time.perf_counter()
    summary = update.run_update_tiles(out / "grid.tsv", out / "grid.json", _thumbs(work, cities),
                                      base, out / "tiles", n_jobs=jobs, **TILES)
    seconds["tiles"] = time.perf_counter() - start
    return {"seconds": seconds, "drift": facts["drift"], "shape": [facts["rows"], facts["cols"]],
            "base_shape": [facts["base"]["rows"], facts["base"]["cols"]],
            "rendered": summary["rendered_tiles"], "tiles": summary["total_tiles"]}


def new_photo_knn(out: Path, new_city: str) -> float:
    """kNN-8 kept of the new city's photos in a layout (the drift's measure)."""
    return layout_knn(out / "pca.h5", out / "grid.tsv", out / "grid.json", new_city)


def main() -> None:

    from roomgrid.core.io import read_table, write_table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, help="a bench_stages.py work folder")
    parser.add_argument("--new-city", default=None)
    parser.add_argument("--new-photos", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--spare", type=float, default=0.0, help="layout.spare of both builds")
    parser.add_argument("--features", choices=sorted(FEATURES), default="stacks",
                        help="what PCA reads: the blur stacks or the CNN embedding (cnn.h5)")
    args = parser.parse_args()
    work = Path(args.work)
    photos = read_table(work / "selection/photos.tsv")
    selected = photos[photos["selected"].astype(bool)]
    counts = selected["city"].value_counts()
    new_city = args.new_city or (counts - args.new_photos).abs().idxmin()
    cities = sorted(photos["city"].unique())
    runs = work / f"extend-{args.features}-spare{args.spare:g}"
    base_photos = photos.copy()
    base_photos.loc[base_photos["city"] == new_city, "selected"] = False
    write_table(base_photos, runs / "base_photos.tsv")
    print(f"# machine: {machine_description()}")
    print(f"# base: {len(selected) - counts[new_city]} photos; new city {new_city}: "
          f"{counts[new_city]} photos; layout.spare {args.spare:g}", flush=True)

    base = measure(build, str(work), str(runs / "base"), str(runs / "base_photos.tsv"), cities, args.jobs,
                   args.spare, args.features)
    measure(save_base, str(runs / "base"))
    grown = measure(extend, str(work), str(runs / "extended"), str(runs / "base/base"),
                    str(work / "selection/photos.tsv"), cities, args.jobs, args.features)
    full = measure(build, str(work), str(runs / "rebuild"), str(work / "selection/photos.tsv"),
                   cities, args.jobs, args.spare, args.features)

    before = read_table(runs / "base/grid.tsv").set_index("id")
    after = read_table(runs / "extended/grid.tsv").set_index("id")
    kept = before.index.intersection(after.index)
    moved = int((after.loc[kept, ["row", "col"]] != before.loc[kept, ["row", "col"]]).any(axis=1).sum())
    knn_extend, knn_rebuild = new_photo_knn(runs / "extended", new_city), new_photo_knn(runs / "rebuild", new_city)
    g = grown["result"]
    ceiling = free_cell_ceiling(runs / "extended/pca.h5", before, tuple(g["base_shape"]))
    rows = []
    for name, measured in (("base build", base), ("extend", grown), ("rebuild", full)):
        result = measured["result"]
        rows.append({"step": name, "seconds": measured["seconds"],
                     "stages": ", ".join(f"{k} {v:.1f}" for k, v in result["seconds"].items()),
                     "tree": measured["tree_rss"] / MIB})
    print(format_table(rows, [("step", "step", "s"), ("seconds", "wall s", ".1f"),
                              ("tree", "tree MiB", ".0f"), ("stages", "stages (s)", "s")]))
    report = {"new_city": new_city, "new_photos": int(counts[new_city]),
              "base_photos": int(len(before)), "placed_photos_moved": moved,
              "tiles_rendered": g["rendered"], "tiles_total": g["tiles"],
              "tiles_rendered_share": g["rendered"] / g["tiles"],
              "grid": f"{g['base_shape'][0]}x{g['base_shape'][1]} -> {g['shape'][0]}x{g['shape'][1]}",
              "knn8_new_extend": knn_extend, "knn8_new_rebuild": knn_rebuild,
              "knn8_ratio": knn_extend / knn_rebuild, "knn8_new_ceiling": ceiling,
              "ceiling_ratio": ceiling / knn_rebuild, "drift": g["drift"]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
