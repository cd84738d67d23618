"""Tile pyramid speed and memory on synthetic thumbnails.

Prints one row per (N photos, n_jobs): tiles written, seconds, tiles per second and the peak
resident memory of the rendering process and its workers. Each run happens in a fresh
subprocess so peak memory is its own. Target: about 500 tiles/s per process.

    .venv/bin/python benchmarks/bench_tiles.py --photos 2000 8000 --jobs 1 2
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from roomgrid.io import read_table, write_table
from roomgrid.tiles import render_tiles

CITIES = 8


def make_inputs(n_photos: int, size: int, folder: Path) -> tuple[pd.DataFrame, dict, tuple]:
    """A near-square grid of ``n_photos`` textured thumbnails spread over a few cities."""
    rng = np.random.default_rng(0)
    # A small bank of photo-like textures (smooth colour fields plus grain), recoloured per
    # photo so JPEG has real detail to encode.
    smooth = rng.integers(0, 256, (32, 4, 4, 3)).astype(np.float32)
    bank = np.repeat(np.repeat(smooth, size // 4, axis=1), size // 4, axis=2)
    bank += rng.normal(0, 12, bank.shape).astype(np.float32)
    cols = math.ceil(math.sqrt(n_photos))
    rows = math.ceil(n_photos / cols)
    ids = [f"city{i % CITIES}/{i}.jpg" for i in range(n_photos)]
    grid = pd.DataFrame({"id": ids, "city": [f"city{i % CITIES}" for i in range(n_photos)],
                         "row": np.arange(n_photos) // cols, "col": np.arange(n_photos) % cols})
    paths = {}
    for city_number in range(CITIES):
        mine = np.arange(city_number, n_photos, CITIES)
        path = folder / f"city{city_number}.h5"
        with h5py.File(path, "w") as handle:
            handle.create_dataset("ids", data=[ids[i] for i in mine], dtype=h5py.string_dtype())
            thumbs = handle.create_dataset("thumbs", (len(mine), size, size, 3), np.uint8,
                                           chunks=(1, size, size, 3))
            for start in range(0, len(mine), 256):
                block = mine[start:start + 256]
                shift = rng.integers(-40, 40, (len(block), 1, 1, 3))
                pixels = bank[block % len(bank)] + shift.astype(np.float32)
                thumbs[start:start + len(block)] = np.clip(pixels, 0, 255).astype(np.uint8)
            handle.attrs["size"] = size
        paths[f"city{city_number}"] = path
    return grid, paths, (rows, cols)


def render_once(workdir: Path, n_jobs: int, cell_px: int) -> dict:
    """Render the inputs prepared in ``workdir``; peak memory covers this process and workers."""
    grid = read_table(workdir / "grid.tsv")
    shape = tuple(json.loads((workdir / "shape.json").read_text()))
    paths = {path.stem: path for path in workdir.glob("*.h5")}
    start = time.perf_counter()
    summary = render_tiles(grid, paths, workdir / "tiles", cell_px=cell_px, shape=shape,
                           n_jobs=n_jobs)
    seconds = time.perf_counter() - start
    peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"tiles": summary["total_tiles"], "seconds": seconds, "peak_mib": peak_kib / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cell-px", type=int, default=128)
    parser.add_argument("--render", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    if args.render:  # one render in this fresh process; the parent reads its JSON line
        print(json.dumps(render_once(args.render, args.jobs[0], args.cell_px)))
        return

    print(f"{'N':>8} {'jobs':>4} {'tiles':>7} {'seconds':>8} {'tiles/s':>8} {'peak RSS MiB':>13}")
    for n_photos in args.photos:
        with tempfile.TemporaryDirectory(prefix="bench_tiles.") as workdir:
            grid, _, shape = make_inputs(n_photos, args.cell_px, Path(workdir))
            write_table(grid, Path(workdir) / "grid.tsv")
            (Path(workdir) / "shape.json").write_text(json.dumps(shape))
            for n_jobs in args.jobs:
                output = subprocess.run(
                    [sys.executable, __file__, "--render", workdir, "--jobs", str(n_jobs),
                     "--cell-px", str(args.cell_px)],
                    check=True, stdout=subprocess.PIPE, text=True).stdout
                row = json.loads(output.strip().splitlines()[-1])
                print(f"{n_photos:>8} {n_jobs:>4} {row['tiles']:>7} {row['seconds']:>8.2f} "
                      f"{row['tiles'] / row['seconds']:>8.0f} {row['peak_mib']:>13.0f}",
                      flush=True)


if __name__ == "__main__":
    main()
