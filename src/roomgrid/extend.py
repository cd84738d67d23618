"""Growing a built map: new photos get free cells near their look-alikes, placed photos stay put.

A full build leaves a *base* (``results/base/``): the PCA basis, the fitted t-SNE embedding and
the grid. An extension is always computed from that base and the current selection, never from
an earlier extension, so it does not depend on how many extensions came before:

- photos of the base that are still selected keep their cell; photos no longer selected leave
  their cell empty;
- new photos are projected with the base's PCA basis and placed into the base's t-SNE map
  (:func:`roomgrid.tsne.place`); their positions in cell units follow the base's normalisation;
- they then get free cells near those positions, an exact assignment over the free cells nearest
  to them (:func:`extend_grid`); the grid grows at its bottom or right edge only when the free
  cells are too few, so no placed photo's ``(row, col)`` changes.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

# Each new photo may go to one of this many free cells nearest to it (more when that is needed
# to give every new photo a cell); an exact assignment then chooses among them.
CANDIDATE_CELLS = 16
# A new photo's target cell follows the moves of this many nearest placed photos (in t-SNE).
TARGET_NEIGHBOURS = 8
# Neighbourhood size of the drift's kNN measure, as in grid.layout_quality.
DRIFT_NEIGHBOURS = 8


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


def grid_targets(new_points: np.ndarray, base_points: np.ndarray, base_cells: np.ndarray,
                 frame: dict, k: int = TARGET_NEIGHBOURS) -> np.ndarray:
    """Where new photos belong on the base grid, in cell units.

    The grid spreads dense t-SNE clusters out, so a placed photo's cell lies several cells from
    its own t-SNE position. A new photo should land where its look-alikes landed, not where the
    t-SNE map has them: it moves as its ``k`` nearest placed photos (in t-SNE) moved, on average.

    Parameters
    ----------
    new_points : ndarray (m, 2)
        New photos' t-SNE positions.
    base_points : ndarray (n, 2)
        The placed photos' t-SNE positions.
    base_cells : ndarray (n, 2)
        Their ``(row, col)``.
    frame : dict
        The base's normalisation (:func:`grid_frame`).
    """
    from scipy.spatial import cKDTree

    new_at = to_cell_units(new_points, frame)
    if len(new_at) == 0 or len(base_points) == 0:
        return new_at
    base_at = to_cell_units(base_points, frame)
    moves = np.column_stack([base_cells[:, 1] + 0.5, base_cells[:, 0] + 0.5]) - base_at
    k = min(k, len(base_at))
    _, nearest = cKDTree(base_at).query(new_at, k=k)
    return new_at + moves[np.asarray(nearest).reshape(len(new_at), k)].mean(axis=1)


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
    """The normalisation :func:`roomgrid.grid.normalise_points` applied, for ``to_cell_units``."""
    points = np.asarray(points, dtype=np.float64)
    return {"rows": int(rows), "cols": int(cols),
            "x": [float(points[:, 0].min()), float(points[:, 0].max())],
            "y": [float(points[:, 1].min()), float(points[:, 1].max())]}


def grown_shape(rows: int, cols: int, occupied: int, needed: int, aspect: float
                ) -> tuple[int, int]:
    """The base shape, grown by whole rows (bottom) or columns (right) until ``needed`` more
    photos fit next to the ``occupied`` cells; each step adds the line that keeps ``cols / rows``
    closer to ``aspect``."""
    def aspect_error(rows_: int, cols_: int) -> float:
        return round(abs(float(np.log(cols_ / rows_ / aspect))), 9)  # ties go to columns

    while rows * cols - occupied < needed:
        if aspect_error(rows, cols + 1) <= aspect_error(rows + 1, cols):
            cols += 1
        else:
            rows += 1
    return rows, cols


def extend_grid(base: pd.DataFrame, new_positions: np.ndarray, base_shape: tuple[int, int], *,
                aspect: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Cells for new photos, keeping every kept photo's cell.

    Parameters
    ----------
    base : DataFrame
        ``row``, ``col`` of the base photos that stay on the map.
    new_positions : ndarray of shape (m, 2)
        New photos' positions in base cell units (x along columns, y along rows).
    base_shape : (rows, cols)
        The base grid's shape.
    aspect : float
        Desired ``cols / rows`` when the grid must grow.

    Returns
    -------
    rows_of_new, cols_of_new : ndarray of shape (m,)
        The new photos' cells, all distinct and free in the base.
    shape : (rows, cols)
        The grid's shape after growing (the base shape when nothing needed to grow).
    """
    from scipy.spatial import cKDTree

    from . import grid

    new_positions = np.asarray(new_positions, dtype=np.float64).reshape(-1, 2)
    m = len(new_positions)
    rows, cols = grown_shape(*base_shape, len(base), m, aspect)
    if m == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), (rows, cols)
    taken = np.zeros(rows * cols, dtype=bool)
    taken[base["row"].to_numpy(np.int64) * cols + base["col"].to_numpy(np.int64)] = True
    free = np.flatnonzero(~taken)
    centres = grid.cell_centres(rows, cols)[free]
    # Candidate cells: each new photo's nearest free cells; widened until they can hold them all.
    k = min(len(free), CANDIDATE_CELLS)
    tree = cKDTree(centres)
    while True:
        _, nearest = tree.query(new_positions, k=k)
        candidates = np.unique(np.asarray(nearest).reshape(-1))
        if len(candidates) >= m or k == len(free):
            break
        k = min(len(free), 2 * k)
    chosen = grid._solve(new_positions, centres[candidates])[0]
    cells = free[candidates[chosen]]
    return cells // cols, cells % cols, (rows, cols)


def changed_cells(base: pd.DataFrame, extended: pd.DataFrame) -> pd.DataFrame:
    """``row``, ``col`` of every cell whose photo differs between two grids (id per cell)."""
    before = base.set_index(["row", "col"])["id"]
    after = extended.set_index(["row", "col"])["id"]
    both = pd.concat([before.rename("before"), after.rename("after")], axis=1)
    differs = both["before"].ne(both["after"]) & ~(both["before"].isna() & both["after"].isna())
    return both.index[differs].to_frame(index=False)


def drift(features: np.ndarray, cells: np.ndarray, is_new: np.ndarray, new_displacement: np.ndarray,
          *, rows: int, cols: int, base_sample: int = 2000, seed: int = 0,
          k: int = DRIFT_NEIGHBOURS) -> dict:
    """How well the extension keeps look-alikes together, against the base photos.

    ``knn_kept_new`` is the mean share of a new photo's ``k`` nearest photos in feature (PCA)
    space that sit in its ``k`` nearest occupied cells; ``knn_kept_base`` is the same for (a
    sample of) the base photos, and ``knn_ratio`` their ratio: 1 means the new photos are as well
    placed as the base ones, lower means they drift from their look-alikes, and a rebuild would
    place them better. ``mean_displacement_new`` is how far, in cells, new photos sit from where
    the t-SNE map put them.
    """
    from scipy.spatial import cKDTree
    from sklearn.neighbors import NearestNeighbors

    from . import grid

    n = len(features)
    new_share = float(is_new.mean()) if n else 0.0
    facts = {"photos": int(n), "new_photos": int(is_new.sum()), "new_share": new_share,
             "mean_displacement_new": float(np.mean(new_displacement)) if len(new_displacement)
             else 0.0}
    kk = min(k, n - 1)
    if kk < 1 or not is_new.any():
        return facts | {"knn_kept_new": None, "knn_kept_base": None, "knn_ratio": None}
    rng = np.random.default_rng(seed)
    base_rows = np.flatnonzero(~is_new)
    if len(base_rows) > base_sample:
        base_rows = np.sort(rng.choice(base_rows, base_sample, replace=False))
    queries = {"new": np.flatnonzero(is_new), "base": base_rows}
    # Brute force: only the queried photos' neighbours are needed, among all photos.
    finder = NearestNeighbors(n_neighbors=kk + 1, algorithm="brute").fit(features)
    positions = grid.cell_centres(rows, cols)[cells]
    cell_tree = cKDTree(positions)
    kept = {}
    for name, rows_ in queries.items():
        if len(rows_) == 0:
            kept[name] = None
            continue
        _, near_features = finder.kneighbors(features[rows_])
        _, near_cells = cell_tree.query(positions[rows_], k=kk + 1)
        shares = [len(set(a[a != r][:kk]) & set(b[b != r][:kk])) / kk
                  for r, a, b in zip(rows_, near_features, near_cells)]
        kept[name] = float(np.mean(shares))
    ratio = kept["new"] / kept["base"] if kept["base"] else None
    return facts | {"knn_kept_new": kept["new"], "knn_kept_base": kept["base"], "knn_ratio": ratio}
