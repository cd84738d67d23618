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
                                  chunk: int = 32) -> float:
    """DPQ_p of one grid arrangement of photos (see :class:`DistancePreservation`).

    Parameters
    ----------
    features : ndarray of shape (n, d)
        What "looks alike" means: each photo's feature vector (e.g. its PCA coordinates).
    cells : ndarray of shape (n,)
        Each photo's cell ``row * cols + col`` (distinct).
    cols : int
        Grid width.
    p, sample, seed, chunk
        As for :class:`DistancePreservation`.

    Returns
    -------
    float
        DPQ_p in [0, 1] (up to sampling noise).
    """
    return DistancePreservation(p=p, sample=sample, seed=seed, chunk=chunk).fit(features).score(
        cells, cols)


class DistancePreservation:
    """Distance preservation quality (DPQ_p) of grid arrangements of one set of photos.

    The feature side of DPQ (how close each sampled photo's k nearest photos are, for every k)
    does not depend on the arrangement, so :meth:`fit` computes it once and :meth:`score` only
    orders the photos by grid distance: the report scores every arrangement of a map against one
    fit.

    Parameters
    ----------
    p : float
        The norm over neighbourhood sizes (16 in the paper).
    sample : int or None
        Measure this many photos, drawn with ``seed`` (None or >= n: all). Each is compared with
        all n photos, so memory and time grow with ``sample * n``.
    seed : int
        Seed of the sample.
    chunk : int
        Photos measured at once (a few ``chunk x n`` blocks of distances).

    Attributes
    ----------
    measured_ : ndarray of shape (m,)
        Rows of ``features`` measured.
    mean_distance_ : float
        Mean feature distance from a measured photo to every other photo.
    best_ : float
        The p-norm of the gains of the ideal order (each photo's nearest photos first), DPQ's
        denominator.
    """

    def __init__(self, *, p: float = 16, sample: int | None = 2000, seed: int = 0,
                 chunk: int = 32):
        self.p = p
        self.sample = sample
        self.seed = seed
        self.chunk = chunk

    def fit(self, features: np.ndarray) -> "DistancePreservation":
        """Measure the feature side on ``features`` (n, d), one row per photo."""
        features = np.asarray(features, dtype=np.float64)
        n = len(features)
        if n < 3:
            raise ValueError(f"DPQ needs at least 3 photos, got {n}")
        measured = np.arange(n)
        if self.sample is not None and self.sample < n:
            measured = np.sort(np.random.default_rng(self.seed).choice(n, self.sample,
                                                                       replace=False))
        self._features = features
        self._squares = (features ** 2).sum(axis=1)
        # Sum over measured photos of the distances to their k-th nearest photo, per k.
        nearest_sums = np.zeros(n - 1)
        total_mean = 0.0
        for rows in self._chunks(measured):
            along_features = np.sort(self._distances(rows), axis=1)[:, 1:]  # self (-1) first
            nearest_sums += along_features.sum(axis=0)
            total_mean += along_features.mean(axis=1).sum()
        self.measured_ = measured
        self.mean_distance_ = total_mean / len(measured)
        self.best_ = float(np.linalg.norm(self._gains(nearest_sums), ord=self.p))
        return self

    def score(self, cells: np.ndarray, cols: int) -> float:
        """DPQ_p of the arrangement putting photo i (row i of the fitted features) in cell
        ``cells[i]`` (``row * cols + col``, distinct) of a grid ``cols`` wide."""
        cells = np.asarray(cells, dtype=np.int64)
        n = len(self._features)
        if len(cells) != n or len(np.unique(cells)) != n:
            raise ValueError("cells must give each photo its own cell")
        grid_rows, grid_cols = np.divmod(cells, cols)
        # Order keys: grid distance in the high bits, the rank of the feature distance in the low
        # ones, so one integer sort orders by grid distance and, among cells at one distance, by
        # feature distance, nearest first, as the paper does (equal-distance cells count at their
        # best). Self sorts first in both (rank 0, grid distance 0 below everything else).
        rank_bits = int(n).bit_length()
        ranks = np.empty((min(self.chunk, len(self.measured_)), n), dtype=np.int64)
        positions = np.arange(n)[None, :]
        grid_sums = np.zeros(n - 1)
        for rows in self._chunks(self.measured_):
            distance = self._distances(rows)
            rank = ranks[:len(rows)]
            np.put_along_axis(rank, np.argsort(distance, axis=1), positions, axis=1)
            key = grid_rows[rows, None] - grid_rows[None, :]
            key *= key
            across = grid_cols[rows, None] - grid_cols[None, :]
            across *= across
            key += across
            del across
            key <<= rank_bits
            key |= rank
            order = np.argsort(key, axis=1)
            del key
            grid_sums += np.take_along_axis(distance, order[:, 1:], axis=1).sum(axis=0)
        gains = np.linalg.norm(self._gains(grid_sums), ord=self.p)
        return float(gains / self.best_) if self.best_ > 0 else 1.0

    def _chunks(self, rows: np.ndarray):
        for start in range(0, len(rows), self.chunk):
            yield rows[start:start + self.chunk]

    def _distances(self, rows: np.ndarray) -> np.ndarray:
        """Feature distances from ``rows`` to every photo, each row's own set to -1."""
        f, squares = self._features, self._squares
        distance = np.sqrt(np.clip(squares[rows, None] - 2 * f[rows] @ f.T + squares[None, :], 0,
                                   None))
        distance[np.arange(len(rows)), rows] = -1
        return distance

    def _gains(self, sums: np.ndarray) -> np.ndarray:
        """How much closer than average the first k photos of an order are, for every k, from the
        per-position sums of distances over the measured photos."""
        k_nearest_mean = np.cumsum(sums) / np.arange(1, len(sums) + 1) / len(self.measured_)
        mean = self.mean_distance_
        return np.clip((mean - k_nearest_mean) / mean, 0, None)
