"""How well a grid keeps photos that look alike together: distance preservation quality (DPQ).

DPQ (Barthel, Hezel, Jung, Schall 2023, "Improved evaluation and generation of grid layouts using
distance preservation quality and linear assignment sorting", Computer Graphics Forum 42(1)):
for every neighbourhood size k, how much closer in feature space a photo's k nearest *cells'*
photos are than the average photo, relative to how much closer its k nearest photos are; the
curves of both over k are each summarised by a p-norm (p = 16 in the paper, which weights the
small neighbourhoods a viewer sees first), and DPQ is their ratio: 1 when every photo's nearest
cells hold its nearest photos, about 0.3 for a random arrangement.

All pairs are needed for the exact value, so large maps are measured on a sample of photos (each
sampled photo still compares against every other photo, so its neighbourhoods are whole).
"""

from __future__ import annotations

import numpy as np


def distance_preservation_quality(features: np.ndarray, cells: np.ndarray, cols: int, *,
                                  p: float = 16, sample: int | None = 2000, seed: int = 0,
                                  chunk: int = 64) -> float:
    """DPQ_p of a grid arrangement of photos.

    Parameters
    ----------
    features : ndarray of shape (n, d)
        What "looks alike" means: each photo's feature vector (e.g. its PCA coordinates).
    cells : ndarray of shape (n,)
        Each photo's cell ``row * cols + col`` (distinct).
    cols : int
        Grid width.
    p : float
        The norm over neighbourhood sizes (16 in the paper).
    sample : int or None
        Measure this many photos, drawn with ``seed`` (None or >= n: all). Each is compared with
        all n photos, so memory and time grow with ``sample * n``.
    chunk : int
        Photos measured at once (a ``chunk x n`` block of distances).

    Returns
    -------
    float
        DPQ_p in [0, 1] (up to sampling noise).
    """
    features = np.asarray(features, dtype=np.float64)
    cells = np.asarray(cells, dtype=np.int64)
    n = len(features)
    if n < 3:
        raise ValueError(f"DPQ needs at least 3 photos, got {n}")
    if len(cells) != n or len(np.unique(cells)) != n:
        raise ValueError("cells must give each photo its own cell")
    rows_of, cols_of = np.divmod(cells, cols)
    grid = np.column_stack([rows_of, cols_of]).astype(np.float64)
    measured = np.arange(n)
    if sample is not None and sample < n:
        measured = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    squares = (features ** 2).sum(axis=1)
    # Running sums over photos of the k-nearest mean distance, by grid order and by feature order.
    by_grid = np.zeros(n - 1)
    by_features = np.zeros(n - 1)
    total_mean = 0.0
    counts = np.arange(1, n)
    for start in range(0, len(measured), chunk):
        rows = measured[start:start + chunk]
        distance = np.sqrt(np.clip(squares[rows, None] - 2 * features[rows] @ features.T
                                   + squares[None, :], 0, None))
        spatial = ((grid[rows, None, :] - grid[None, :, :]) ** 2).sum(axis=2)
        own = np.arange(len(rows))
        # Self first in both orders: grid distance -1 and feature distance -1 (never a neighbour).
        spatial[own, rows] = -1
        distance[own, rows] = -1
        # Order by grid distance; ties (cells at one distance) by feature distance, nearest first,
        # as the paper does, so equal-distance cells count at their best.
        order = np.lexsort((distance, spatial), axis=1)
        along_grid = np.take_along_axis(distance, order, axis=1)[:, 1:]
        along_features = np.sort(distance, axis=1)[:, 1:]
        by_grid += (np.cumsum(along_grid, axis=1) / counts).sum(axis=0)
        by_features += (np.cumsum(along_features, axis=1) / counts).sum(axis=0)
        total_mean += along_features.mean(axis=1).sum()
    m = len(measured)
    mean_distance = total_mean / m
    gain_grid = np.clip((mean_distance - by_grid / m) / mean_distance, 0, None)
    gain_best = np.clip((mean_distance - by_features / m) / mean_distance, 0, None)
    best = np.linalg.norm(gain_best, ord=p)
    return float(np.linalg.norm(gain_grid, ord=p) / best) if best > 0 else 1.0
