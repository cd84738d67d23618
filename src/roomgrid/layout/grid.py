"""Grid assignment: give every 2-D t-SNE point its own cell of a square-ish grid.

Cell ``row * cols + col`` has its centre at ``(col + 0.5, row + 0.5)`` in cell units; a point's
x coordinate runs along columns and its y along rows. The cost of putting a point in a cell is
the squared distance from the point (normalised into cell units) to the cell centre.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from .blocks import assign_blocks
from .exact import (LAPJV_MAX_SIZE, _as_points, assign_exact, cell_centres, normalise_points,
                    solve)

logger = logging.getLogger(__name__)

__all__ = ["ASPECT_TOLERANCE", "LAPJV_MAX_SIZE", "assign_blocks", "assign_cells", "assign_exact",
           "cell_centres", "chosen_method", "grid_shape", "layout_quality", "normalise_points",
           "solve"]

# A grid may deviate this much from the requested aspect ratio to waste fewer cells.
ASPECT_TOLERANCE = 1.1


def grid_shape(n: int, aspect: float = 1.0) -> tuple[int, int]:
    """Choose a grid just big enough for ``n`` items with roughly the requested aspect ratio.

    Parameters
    ----------
    n : int
        Number of items; must be positive.
    aspect : float
        Desired ``cols / rows``.

    Returns
    -------
    rows, cols : tuple of int
        ``rows * cols >= n``. Among shapes whose aspect ratio lies within a factor
        ``ASPECT_TOLERANCE`` of ``aspect`` (plus the closest-to-aspect shape, always allowed),
        the one with the fewest empty cells wins; ties go to the closer aspect ratio.
    """
    if n < 1:
        raise ValueError(f"need at least one item, got n={n}")
    if not aspect > 0:
        raise ValueError(f"aspect must be positive, got {aspect}")
    base_cols = max(1, math.ceil(math.sqrt(n * aspect)))

    def aspect_error(rows: int, cols: int) -> float:
        return abs(math.log(cols / rows / aspect))

    candidates = []
    for cols in range(max(1, int(base_cols / ASPECT_TOLERANCE) - 1), int(base_cols * ASPECT_TOLERANCE) + 2):
        rows = math.ceil(n / cols)
        allowed = cols == base_cols or aspect_error(rows, cols) <= math.log(ASPECT_TOLERANCE)
        if allowed:
            candidates.append((rows * cols - n, aspect_error(rows, cols), rows, cols))
    _, _, rows, cols = min(candidates)
    return rows, cols


def assign_cells(points: np.ndarray, rows: int, cols: int, *, method: str = "auto",
                 exact_max: int = 3000, block_size: int = 1024, n_jobs: int = 1,
                 seed: int = 0) -> tuple[np.ndarray, str]:
    """Assign every point its own grid cell, exactly when small, blockwise when large.

    Parameters
    ----------
    points : ndarray of shape (n, 2)
        t-SNE coordinates.
    rows, cols : int
        Grid shape with ``rows * cols >= n`` (see :func:`grid_shape`).
    method : {"auto", "exact", "blocks"}
        "auto" uses :func:`assign_exact` when the grid has at most ``exact_max`` cells (and
        lapjv can index it), else :func:`assign_blocks`.
    exact_max, block_size, n_jobs, seed
        See above and :func:`assign_blocks`.

    Returns
    -------
    cells : ndarray of shape (n,), int64
        Distinct cell ids ``row * cols + col``.
    method : str
        The method that ran, "exact" or "blocks" (what "auto" chose), for the run's records.
    """
    method = chosen_method(rows, cols, method=method, exact_max=exact_max)
    if method == "exact":
        return assign_exact(points, rows, cols), method
    if method == "blocks":
        return assign_blocks(points, rows, cols, block_size=block_size, n_jobs=n_jobs,
                             seed=seed), method
    raise ValueError(f"unknown method {method!r}; expected 'auto', 'exact' or 'blocks'")


def chosen_method(rows: int, cols: int, *, method: str = "auto", exact_max: int = 3000) -> str:
    """The method :func:`assign_cells` runs for a ``rows`` x ``cols`` grid: ``method`` itself,
    or for "auto" "exact" up to ``exact_max`` cells and "blocks" beyond."""
    if method == "auto":
        return "exact" if rows * cols <= min(exact_max, LAPJV_MAX_SIZE) else "blocks"
    return method


def layout_quality(points: np.ndarray, cells: np.ndarray, rows: int, cols: int, k: int = 8) -> dict:
    """How faithfully a grid layout keeps the t-SNE map.

    Parameters
    ----------
    points : ndarray of shape (n, 2)
        t-SNE coordinates.
    cells : ndarray of shape (n,)
        Cell id of each point.
    rows, cols : int
        Grid shape.
    k : int
        Neighbourhood size for ``knn_kept``.

    Returns
    -------
    dict
        ``mean_sq_displacement`` and ``mean_displacement``: from each normalised point to its
        cell centre, in cell units. ``knn_kept``: the mean share of each point's k nearest t-SNE
        neighbours that are among the points in its k nearest occupied cells.
    """
    from scipy.spatial import cKDTree

    points = _as_points(points)
    cells = np.asarray(cells, dtype=np.int64)
    centres = cell_centres(rows, cols)[cells]
    sq = ((normalise_points(points, rows, cols) - centres) ** 2).sum(axis=1)
    n = len(points)
    kk = min(k, n - 1)
    if kk < 1:
        knn_kept = 1.0
    else:
        # Query k + 1 and drop the first hit; with duplicate points the first hit need not be
        # the point itself, so drop "self" explicitly instead.
        near_tsne = _neighbours_without_self(cKDTree(points), points, kk)
        near_grid = _neighbours_without_self(cKDTree(centres), centres, kk)
        kept = [np.intersect1d(a, b, assume_unique=True).size for a, b in zip(near_tsne, near_grid)]
        knn_kept = float(np.mean(kept)) / kk
    return {
        "mean_sq_displacement": float(sq.mean()),
        "mean_displacement": float(np.sqrt(sq).mean()),
        "knn_kept": knn_kept,
    }


def _neighbours_without_self(tree, queries: np.ndarray, k: int) -> np.ndarray:
    """The k nearest indexed items of each query item, never counting the item itself."""
    _, idx = tree.query(queries, k=k + 1)
    own = np.arange(len(queries))[:, None]
    is_self = idx == own
    # Drop self where it appears, else the farthest hit; each row keeps exactly k entries.
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(len(idx)), drop] = False
    return idx[keep].reshape(len(idx), k)


# --- the stage on files ------------------------------------------------------------------------

def run_grid(tsne_tsv, photos_tsv, out_tsv, out_json, *, method: str, exact_max: int,
             block_size: int, aspect: float, spare: float = 0.0, seed: int = 0,
             n_jobs: int = 1) -> None:
    """Assign every photo its cell. ``spare`` > 0 leaves that share of extra cells empty, spread
    like the photos (:func:`roomgrid.layout.frame.spare_points`), for photos added later."""
    import numpy as np
    import pandas as pd

    from ..core.io import read_table, write_json, write_table
    from ..selection.tables import selected_photos
    from .frame import grid_frame, spare_points

    points = read_table(tsne_tsv)
    cities = selected_photos(photos_tsv, ["city"]).set_index("id")["city"]
    xy = points[["x", "y"]].to_numpy(dtype=np.float64)
    placeholders = spare_points(xy, spare, seed=seed)
    laid_out = np.vstack([xy, placeholders])
    rows, cols = grid_shape(len(laid_out), aspect)
    cells, used = assign_cells(laid_out, rows, cols, method=method, exact_max=exact_max,
                                    block_size=block_size, n_jobs=n_jobs, seed=seed)
    cells = cells[:len(xy)]  # the placeholders' cells stay empty
    quality = layout_quality(xy, cells, rows, cols)
    table = pd.DataFrame({"id": points["id"], "city": points["id"].map(cities),
                          "row": cells // cols, "col": cells % cols})
    write_table(table, out_tsv)
    write_json({"rows": int(rows), "cols": int(cols), "n": int(len(xy)), "method": used,
                "mode": "rebuild", "spare_cells": int(len(placeholders)),
                "frame": grid_frame(laid_out, rows, cols),
                "quality": {k: float(v) for k, v in quality.items()}}, out_json)
    logger.info("grid %dx%d for %d photos and %d spare cells (%s): %s", rows, cols, len(xy),
                len(placeholders), used, quality)
