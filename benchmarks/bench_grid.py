"""Benchmark grid assignment: exact lapjv against the scalable block scheme.

Each run happens in a fresh child process so that its peak RSS (``ru_maxrss`` of the child and
of its own worker processes) belongs to that run alone. Exact results are cached in
``benchmarks/out/`` because exact lapjv at 10k points takes minutes.

    python benchmarks/bench_grid.py --n 10000 125000 --block-size 1024 --jobs 2
    python benchmarks/bench_grid.py --points /work/bench/stages-10000/tsne.npy   # a real t-SNE map
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from pathlib import Path

import numpy as np

from roomgrid.layout.grid import (LAPJV_MAX_SIZE, assign_blocks, assign_exact, grid_shape,
                           layout_quality)

OUT = Path(__file__).resolve().parent / "out"


def clustered_points(n: int, seed: int = 0) -> np.ndarray:
    """A t-SNE-like sample: Gaussian blobs of varied size, shape and weight plus 8% uniform noise."""
    rng = np.random.default_rng(seed)
    n_blobs = 30
    n_noise = int(0.08 * n)
    weights = rng.dirichlet(np.full(n_blobs, 0.7))
    sizes = rng.multinomial(n - n_noise, weights)
    parts = [rng.uniform(-70, 70, size=(n_noise, 2))]
    for size in sizes:
        centre = rng.uniform(-60, 60, size=2)
        angle = rng.uniform(0, np.pi)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        scales = np.exp(rng.uniform(np.log(1.5), np.log(12))) * np.array([1.0, rng.uniform(0.4, 1.0)])
        parts.append(centre + (rng.standard_normal((size, 2)) * scales) @ rotation.T)
    points = np.concatenate(parts)
    return points[rng.permutation(n)]


def load_points(n: int, seed: int, points_file: str | None) -> np.ndarray:
    """The ``n`` synthetic points, or a saved (n, 2) t-SNE embedding when a file is given."""
    return np.load(points_file) if points_file else clustered_points(n, seed)


def _run(method: str, n: int, block_size: int, jobs: int, seed: int, points_file: str | None,
         queue) -> None:
    points = load_points(n, seed, points_file)
    rows, cols = grid_shape(n)
    start = time.perf_counter()
    if method == "exact":
        cells = assign_exact(points, rows, cols)
    else:
        cells = assign_blocks(points, rows, cols, block_size=block_size, n_jobs=jobs, seed=seed)
    seconds = time.perf_counter() - start
    # ru_maxrss is in KiB on Linux; the largest worker process is reported by RUSAGE_CHILDREN.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    queue.put((cells, seconds, own, workers))


def run_in_child(method: str, n: int, block_size: int, jobs: int, seed: int,
                 points_file: str | None = None) -> dict:
    """Time one assignment in a fresh process; returns cells, seconds and peak RSS in bytes."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_run, args=(method, n, block_size, jobs, seed, points_file, queue))
    child.start()
    cells, seconds, own, workers = queue.get()
    child.join()
    return {"cells": cells, "seconds": seconds, "rss": own, "worker_rss": workers}


def exact_result(n: int, seed: int, points_file: str | None = None) -> dict:
    """Exact lapjv result for ``n`` points, from the cache in benchmarks/out/ when present."""
    name = f"exact_{Path(points_file).stem}_n{n}" if points_file else f"exact_n{n}_seed{seed}"
    path = OUT / f"{name}.npz"
    if path.exists():
        cached = np.load(path)
        return {key: cached[key].item() if cached[key].ndim == 0 else cached[key] for key in cached.files}
    result = run_in_child("exact", n, 0, 1, seed, points_file)
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.npz")
    np.savez(tmp, **result)
    tmp.replace(path)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 125_000])
    parser.add_argument("--block-size", type=int, nargs="+", default=[1024])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--points", help="an (n, 2) .npy of t-SNE coordinates to use instead of "
                        "synthetic points (--n is then taken from it)")
    parser.add_argument("--exact-max", type=int, default=10_000,
                        help="run (or load cached) exact lapjv only up to this many points")
    args = parser.parse_args()

    header = (f"{'method':<14}{'n':>8}{'seconds':>9}{'RSS MiB':>9}{'wkr MiB':>9}"
              f"{'msd':>9}{'knn_kept':>9}{'msd/ex':>8}{'knn/ex':>8}{'t/ex':>7}  placed")
    print(header)
    print("-" * len(header))
    sizes = [len(np.load(args.points, mmap_mode="r"))] if args.points else args.n
    for n in sizes:
        rows, cols = grid_shape(n)
        points = load_points(n, args.seed, args.points)
        runs = []
        exact = None
        if n <= min(args.exact_max, LAPJV_MAX_SIZE):
            exact = exact_result(n, args.seed, args.points)
            runs.append(("exact", exact))
        for block_size in args.block_size:
            runs.append((f"blocks-{block_size}", run_in_child("blocks", n, block_size, args.jobs, args.seed,
                                                              args.points)))
        exact_quality = layout_quality(points, exact["cells"], rows, cols) if exact else None
        for name, result in runs:
            cells = result["cells"]
            quality = layout_quality(points, cells, rows, cols)
            placed = len(cells) == n and len(np.unique(cells)) == n and cells.min() >= 0 and cells.max() < rows * cols
            if exact_quality:
                ratios = (f"{quality['mean_sq_displacement'] / exact_quality['mean_sq_displacement']:>8.3f}"
                          f"{quality['knn_kept'] / exact_quality['knn_kept']:>8.3f}"
                          f"{result['seconds'] / exact['seconds']:>7.3f}")
            else:
                ratios = f"{'':>8}{'':>8}{'':>7}"
            print(f"{name:<14}{n:>8}{result['seconds']:>9.2f}{result['rss'] / 2**20:>9.0f}"
                  f"{result['worker_rss'] / 2**20:>9.0f}{quality['mean_sq_displacement']:>9.2f}"
                  f"{quality['knn_kept']:>9.4f}{ratios}  {'all' if placed else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
