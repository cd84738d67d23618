"""Where the t-SNE map falls on the grid: the normalisation a build used, kept so that later
photos land in the same cell units, and the spare cells a build leaves for them."""

from __future__ import annotations

import numpy as np


def to_cell_units(points: np.ndarray, frame: dict) -> np.ndarray:
    """Map t-SNE positions into the base grid's cell units with the base's own normalisation.

    ``frame`` is what :func:`grid_frame` recorded for the base: the low and high t-SNE value of
    each axis and the grid shape. New photos may land beyond the base's extremes; they then lie
    outside ``[0, cols) x [0, rows)`` and are given the nearest free cells.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    out = np.empty_like(points)
    for axis, (name, size) in enumerate((("x", frame["cols"]), ("y", frame["rows"]))):
        low, high = frame[name]
        if high > low:
            out[:, axis] = 0.5 + (points[:, axis] - low) * ((size - 1) / (high - low))
        else:
            out[:, axis] = size / 2
    return out


def spare_points(points: np.ndarray, share: float, *, seed: int = 0) -> np.ndarray:
    """Placeholder t-SNE points, ``round(share * n)`` of them, distributed like ``points``.

    Laid out with the photos and then dropped, they leave empty cells where photos are dense in
    proportion to that density: where later photos that look like these are likely to land.
    Each is a random photo's position jittered by the median distance between neighbours.
    """
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    count = int(round(share * len(points)))
    if count == 0 or len(points) < 2:
        return np.empty((0, 2))
    rng = np.random.default_rng(seed)
    spacing = float(np.median(cKDTree(points).query(points, k=2)[0][:, 1]))
    return points[rng.integers(0, len(points), count)] + rng.normal(scale=spacing, size=(count, 2))


def grid_frame(points: np.ndarray, rows: int, cols: int) -> dict:
    """The normalisation :func:`roomgrid.layout.exact.normalise_points` applied, for ``to_cell_units``."""
    points = np.asarray(points, dtype=np.float64)
    return {"rows": int(rows), "cols": int(cols),
            "x": [float(points[:, 0].min()), float(points[:, 0].max())],
            "y": [float(points[:, 1].min()), float(points[:, 1].max())]}
