"""Benchmark every roomgrid stage on a generated photo set, each against a reference measured in
the same run, and print one table.

Every measurement runs in a fresh child process (see ``common.measure``) so its peak RSS is its
own: ``RSS`` is the child itself, ``worker`` its largest worker process (ru_maxrss of
RUSAGE_CHILDREN) and ``tree`` the peak of their sum (psutil, every 0.5 s). Stages feed each other
through files under ``--work``:

    read (warm the page cache) -> index -> scan (vs bare draft decode) -> select -> PCA incremental vs randomized
          -> t-SNE (roomgrid vs bare openTSNE) -> grid -> tiles (vs libvips dzsave of a mosaic
          written by numpy, and vs libvips alone: arrayjoin of the thumbnails + dzsave)

The libvips reference needs ``apt-get install libvips-tools`` and ``pip install pyvips``
(benchmark only; skip it with ``--skip vips``).

    python benchmarks/make_photos.py --n 125000 --cities 400 --out /work/bench/photos
    python benchmarks/bench_stages.py --images /work/bench/photos --n 10000 --work /work/bench/stages-10k
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MIB, format_table, machine_description, measure, subset_cities  # noqa: E402
from roomgrid.selection.tables import selected_photos  # noqa: E402

STEPS = ("scan", "decode", "select", "incremental", "randomized", "tsne", "bare-tsne", "grid",
         "tiles", "vips", "vips-arrayjoin")
PCA_COMPONENTS = 150
PCA_BATCH = 1000
TSNE_SETTINGS = dict(perplexity=30.0, learning_rate="auto", n_iter=750, early_exaggeration_iter=250,
                     seed=42, initialization="pca")
TILE_SETTINGS = dict(cell_px=128, tile_px=256, quality=80, background=(24, 24, 24))


# --------------------------------------------------------------------------- work run in children

def index_cities(images: str, cities: list[str], work: str) -> int:
    from roomgrid.core.io import write_table
    from roomgrid.sources.folder import index_city

    total = 0
    for city in cities:
        table = index_city(city, Path(images) / city)
        write_table(table, Path(work) / "cities" / city / "photos.tsv")
        total += len(table)
    return total


def _by_size(images: str, cities: list[str]) -> list[str]:
    """Largest cities first, so two workers finish together."""
    return sorted(cities, key=lambda c: -sum(1 for _ in (Path(images) / c).iterdir()))


def read_photos(images: str, cities: list[str]) -> int:
    """Read every photo once, so the scan and the decode reference both start with a warm page
    cache (otherwise whichever runs first pays the disk reads)."""
    total = 0
    for city in cities:
        for path in (Path(images) / city).iterdir():
            total += len(path.read_bytes())
    return total


def _decode_city(city_dir: str) -> int:
    from PIL import Image

    count = 0
    for path in sorted(Path(city_dir).glob("*.jpg")):
        with Image.open(path) as image:
            image.draft("RGB", (128, 128))
            image.load()
        count += 1
    return count


def decode_reference(images: str, cities: list[str], jobs: int) -> int:
    dirs = [str(Path(images) / c) for c in _by_size(images, cities)]
    with mp.get_context("spawn").Pool(jobs) as pool:
        return sum(pool.imap_unordered(_decode_city, dirs))


def _scan_city(args: tuple[str, str]) -> int:
    from roomgrid.scan.city import scan_city

    work, city = args
    folder = Path(work) / "cities" / city
    table = scan_city(folder / "photos.tsv", folder / "scan.tsv", folder / "stacks.h5",
                      folder / "thumbs.h5")
    return len(table)


def scan_all(images: str, cities: list[str], work: str, jobs: int) -> int:
    import logging

    logging.disable(logging.WARNING)
    tasks = [(work, c) for c in _by_size(images, cities)]
    with mp.get_context("spawn").Pool(jobs) as pool:
        return sum(pool.imap_unordered(_scan_city, tasks))


def select_all(cities: list[str], work: str) -> dict:
    from roomgrid.selection.select import select_photos, write_selection

    folders = [Path(work) / "cities" / c for c in cities]
    table, duplicates = select_photos([f / "photos.tsv" for f in folders], [f / "scan.tsv" for f in folders],
                                      keep_bins=["photo", "maybe"], graphic_below=3.9, photo_from=4.4,
                                      max_distance=6)
    out = Path(work) / "selection"
    write_selection(table, duplicates, out / "photos.tsv", out / "duplicates.tsv", out / "summary.json")
    return {"files": len(table), "selected": int(table["selected"].astype(bool).sum())}


def run_pca(cities: list[str], work: str, method: str) -> dict:
    from roomgrid.layout.pca import reduce
    from roomgrid.core.stackreader import StackReader
    from roomgrid.selection.tables import selected_photos

    chosen = selected_photos(Path(work) / "selection" / "photos.tsv")
    stacks = {c: str(Path(work) / "cities" / c / "stacks.h5") for c in cities}
    with StackReader(stacks, chosen["id"], chosen["city"]) as reader:
        coords, info, _ = reduce(reader, PCA_COMPONENTS, PCA_BATCH, method)
    np.save(Path(work) / f"pca_{method}.npy", coords)
    return {"n": len(coords), "variance": float(sum(info["explained_variance_ratio"]))}


def run_tsne(work: str, pca_file: str, jobs: int) -> dict:
    from roomgrid.layout.tsne import fit

    coords = np.load(Path(work) / pca_file)
    embedding, info = fit(coords, n_jobs=jobs, **TSNE_SETTINGS)
    xy = np.asarray(embedding, dtype=np.float64)
    np.save(Path(work) / "tsne.npy", xy)
    return {"n": len(xy), "kl": info["kl_divergence"]}


def run_bare_tsne(work: str, pca_file: str, jobs: int) -> dict:
    from openTSNE import TSNE

    coords = np.load(Path(work) / pca_file).astype(np.float64)
    s = TSNE_SETTINGS
    embedding = TSNE(n_components=2, perplexity=s["perplexity"], learning_rate=s["learning_rate"],
                     n_iter=s["n_iter"], early_exaggeration_iter=s["early_exaggeration_iter"],
                     initialization=s["initialization"], random_state=s["seed"], n_jobs=jobs).fit(coords)
    return {"n": len(coords), "kl": float(embedding.kl_divergence)}


def run_grid(work: str, jobs: int) -> dict:
    import pandas as pd

    from roomgrid.layout.grid import assign_cells, grid_shape, layout_quality
    from roomgrid.core.io import write_json, write_table
    from roomgrid.selection.tables import selected_photos

    xy = np.load(Path(work) / "tsne.npy")
    rows, cols = grid_shape(len(xy), 1.0)
    start = time.perf_counter()
    cells, _ = assign_cells(xy, rows, cols, method="auto", exact_max=3000, block_size=1024,
                         n_jobs=jobs, seed=0)
    seconds = time.perf_counter() - start
    quality = layout_quality(xy, cells, rows, cols)
    chosen = selected_photos(Path(work) / "selection" / "photos.tsv")
    write_table(pd.DataFrame({"id": chosen["id"], "city": chosen["city"], "row": cells // cols,
                              "col": cells % cols}), Path(work) / "grid.tsv")
    write_json({"rows": rows, "cols": cols}, Path(work) / "grid.json")
    return {"n": len(xy), "assign_seconds": seconds, "rows": rows, "cols": cols,
            "msd": quality["mean_sq_displacement"], "knn_kept": quality["knn_kept"]}


def _thumbs(cities: list[str], work: str) -> dict[str, str]:
    return {c: str(Path(work) / "cities" / c / "thumbs.h5") for c in cities}


def run_tiles(cities: list[str], work: str, jobs: int) -> dict:
    from roomgrid.core.io import read_table
    from roomgrid.viewer.tiles import render_tiles

    facts = json.loads((Path(work) / "grid.json").read_text())
    out = Path(work) / "tiles"
    summary = render_tiles(read_table(Path(work) / "grid.tsv"), _thumbs(cities, work), out,
                           shape=(facts["rows"], facts["cols"]), n_jobs=jobs, **TILE_SETTINGS)
    return {"n": summary["photos"], "tiles": summary["total_tiles"]}


def build_mosaic(cities: list[str], work: str) -> dict:
    """The whole deepest-zoom map as one raw RGB file (what libvips needs as input)."""
    from roomgrid.core.io import read_table

    facts = json.loads((Path(work) / "grid.json").read_text())
    cell = TILE_SETTINGS["cell_px"]
    height, width = facts["rows"] * cell, facts["cols"] * cell
    grid = read_table(Path(work) / "grid.tsv")
    mosaic = np.lib.format.open_memmap(Path(work) / "mosaic.npy", mode="w+", dtype=np.uint8,
                                       shape=(height, width, 3))
    mosaic[:] = TILE_SETTINGS["background"]
    for row, col, pixels in _placed_thumbnails(cities, work, grid):
        mosaic[row * cell:(row + 1) * cell, col * cell:(col + 1) * cell] = pixels
    mosaic.flush()
    return {"n": len(grid), "width": width, "height": height}


def vips_dzsave(work: str) -> dict:
    """libvips dzsave (Google layout, 256-px JPEG tiles, same quality) of the mosaic."""
    import pyvips

    mosaic = np.load(Path(work) / "mosaic.npy", mmap_mode="r")
    height, width, _ = mosaic.shape
    image = pyvips.Image.rawload(str(Path(work) / "mosaic.npy"), width, height, 3,
                                 offset=mosaic.offset)
    return {"n": None, "tiles": _dzsave(image, Path(work) / "vips")}


def _dzsave(image, out: Path) -> int:
    """Google-layout pyramid of 256-px JPEG tiles at our quality; returns the number of tiles."""
    shutil.rmtree(out, ignore_errors=True)
    image.dzsave(str(out), layout="google", tile_size=256, overlap=0,
                 suffix=f".jpg[Q={TILE_SETTINGS['quality']}]", background=list(TILE_SETTINGS["background"]))
    return sum(1 for _ in out.rglob("*.jpg"))


def _placed_thumbnails(cities: list[str], work: str, grid):
    """(row, col, pixels) of every placed photo, each city's thumbnails read in one go."""
    import h5py

    for city, path in _thumbs(cities, work).items():
        mine = grid[grid["city"] == city]
        if not len(mine):
            continue
        with h5py.File(path, "r") as handle:
            position = {photo_id: i for i, photo_id in enumerate(handle["ids"].asstr()[:])}
            thumbs = handle["thumbs"][:]
        for photo_id, row, col in zip(mine["id"], mine["row"], mine["col"]):
            yield row, col, thumbs[position[photo_id]]


def vips_arrayjoin_dzsave(cities: list[str], work: str) -> dict:
    """libvips on its own: every thumbnail wrapped as a vips image, ``arrayjoin`` into the grid (a
    shared blank for empty cells), then ``dzsave`` as above. The way a libvips user lays out a
    mosaic without writing one to disk first."""
    import pyvips

    from roomgrid.core.io import read_table

    facts = json.loads((Path(work) / "grid.json").read_text())
    rows, cols, cell = facts["rows"], facts["cols"], TILE_SETTINGS["cell_px"]
    grid = read_table(Path(work) / "grid.tsv")
    blank = (pyvips.Image.black(cell, cell, bands=3) + list(TILE_SETTINGS["background"])).cast("uchar")
    cells: list = [blank] * (rows * cols)
    keep = []  # the pixels the vips images point into
    for row, col, pixels in _placed_thumbnails(cities, work, grid):
        pixels = np.ascontiguousarray(pixels)
        keep.append(pixels)
        cells[row * cols + col] = pyvips.Image.new_from_memory(pixels.data, cell, cell, 3, "uchar")
    mosaic = pyvips.Image.arrayjoin(cells, across=cols)
    return {"n": len(grid), "tiles": _dzsave(mosaic, Path(work) / "vips-arrayjoin")}


# --------------------------------------------------------------------------- the run

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="/work/bench/photos", help="generated photo root")
    parser.add_argument("--n", type=int, default=10_000, help="use the first cities holding >= n photos")
    parser.add_argument("--work", default=None, help="scratch folder (default /work/bench/stages-<n>)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], choices=STEPS,
                        help="measurements to leave out (their inputs must then exist in --work)")
    args = parser.parse_args()
    work = Path(args.work or f"/work/bench/stages-{args.n}")
    work.mkdir(parents=True, exist_ok=True)
    cities, n_photos = subset_cities(args.images, args.n)
    print(f"# machine: {machine_description()}")
    print(f"# photos: {n_photos} in {len(cities)} cities from {args.images}; work {work}", flush=True)
    skip = set(args.skip)
    rows = []

    def record(stage: str, n: int | None, measured: dict, **extra) -> dict:
        row = {"stage": stage, "n": n, "seconds": measured["seconds"],
               "rate": n / measured["seconds"] if n else None, "rss": measured["rss"] / MIB,
               "worker": measured["worker_rss"] / MIB, "tree": measured["tree_rss"] / MIB, **extra}
        rows.append(row)
        print(f"  {stage}: {row['seconds']:.1f} s, tree {row['tree']:.0f} MiB {extra}", flush=True)
        return row

    if "scan" not in skip or "decode" not in skip:
        warm = measure(read_photos, args.images, cities)
        record("read photos (warm page cache)", n_photos, warm,
               note=f"{warm['result'] / 2**30:.1f} GiB")
    if "scan" not in skip:
        index = measure(index_cities, args.images, cities, str(work))
        record("index (sources.index_city)", index["result"], index)
        scan = record("scan (scan_city, 2 procs)", n_photos, measure(scan_all, args.images, cities, str(work), args.jobs))
    if "decode" not in skip:
        decode = record("ref: bare draft decode", n_photos,
                        measure(decode_reference, args.images, cities, args.jobs))
        if "scan" not in skip:
            scan["ratio"] = scan["seconds"] / decode["seconds"]
    if "select" not in skip:
        selected = measure(select_all, cities, str(work))
        record("select (select_photos)", selected["result"]["files"], selected,
               note=f"selected {selected['result']['selected']}")
    n_selected = len(selected_photos(work / "selection" / "photos.tsv"))
    pca_rows = {}
    for method in ("incremental", "randomized"):
        if method in skip:
            continue
        done = measure(run_pca, cities, str(work), method)
        pca_rows[method] = record(f"pca {method}", done["result"]["n"], done,
                                  note=f"captured variance {done['result']['variance']:.4f}")
    if len(pca_rows) == 2:
        pca_rows["randomized"]["ratio"] = pca_rows["randomized"]["seconds"] / pca_rows["incremental"]["seconds"]
    pca_file = "pca_incremental.npy" if (work / "pca_incremental.npy").exists() else "pca_randomized.npy"
    if "tsne" not in skip:
        tsne = record("tsne (tsne.fit)", n_selected, measure(run_tsne, str(work), pca_file, args.jobs),
                      note=f"input {pca_file}")
    if "bare-tsne" not in skip:
        bare = record("ref: bare openTSNE", n_selected, measure(run_bare_tsne, str(work), pca_file, args.jobs))
        if "tsne" not in skip:
            tsne["ratio"] = tsne["seconds"] / bare["seconds"]
    if "grid" not in skip:
        grid = measure(run_grid, str(work), args.jobs)
        g = grid["result"]
        record("grid (assign_cells auto)", g["n"], grid,
               note=f"{g['rows']}x{g['cols']}, assign {g['assign_seconds']:.1f} s, msd {g['msd']:.2f}, "
                    f"knn_kept {g['knn_kept']:.3f}")
    if "tiles" not in skip:
        tiles = measure(run_tiles, cities, str(work), args.jobs)
        ours = record("tiles (render_tiles, 2 procs)", tiles["result"]["n"], tiles,
                      note=f"{tiles['result']['tiles']} tiles")
    if "vips" not in skip:
        mosaic = measure(build_mosaic, cities, str(work))
        built = record("ref: mosaic for vips", mosaic["result"]["n"], mosaic,
                       note=f"{mosaic['result']['width']}x{mosaic['result']['height']} px")
        dz = measure(vips_dzsave, str(work))
        dzsave = record("ref: vips dzsave", mosaic["result"]["n"], dz, note=f"{dz['result']['tiles']} tiles")
        (work / "mosaic.npy").unlink(missing_ok=True)
        if "tiles" not in skip:
            ours["ratio"] = ours["seconds"] / dzsave["seconds"]
            ours["ratio2"] = ours["seconds"] / (dzsave["seconds"] + built["seconds"])
    if "vips-arrayjoin" not in skip:
        joined = measure(vips_arrayjoin_dzsave, cities, str(work))
        native = record("ref: vips arrayjoin + dzsave", joined["result"]["n"], joined,
                        note=f"{joined['result']['tiles']} tiles")
        if "tiles" not in skip:
            ours["ratio3"] = ours["seconds"] / native["seconds"]
    print()
    print(format_table(rows, [("stage", "stage", ""), ("n", "N", "d"), ("seconds", "wall s", ".1f"),
                              ("rate", "photos/s", ".0f"), ("rss", "RSS MiB", ".0f"),
                              ("worker", "worker MiB", ".0f"), ("tree", "tree MiB", ".0f"),
                              ("ratio", "/ref", ".2f"), ("ratio2", "/ref+mosaic", ".2f"),
                              ("ratio3", "/arrayjoin", ".2f"),
                              ("note", "note", "")]))


if __name__ == "__main__":
    main()
