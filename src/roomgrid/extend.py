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


# Look-alike placement: a new photo's cell scores the look-alikes it touches. What counts is the
# layout's own promise (and its quality measure, kNN-8 kept): the photo's 8 nearest look-alikes
# in its 8 surrounding cells. Look-alikes one cell further out (which the 8 nearest occupied
# cells reach round a hole) and look-alikes of rank 9-16 only break ties: weighted as much as a
# surrounding look-alike (0.25), they won over it and cost 7% of kNN-8 kept on the 10k map.
LOOK_ALIKE_KERNEL = {1.0: 1.0, 2.0: 1.0, 4.0: 0.05, 5.0: 0.02}  # squared distance -> weight
LOOK_ALIKES = 16
TIE_BREAKING_WEIGHT = 0.05  # of look-alikes of rank 9-16
# Cost of a squared cell of distance from the t-SNE target, against 1 for each look-alike
# touched: 100 cells away weigh as one look-alike, so the target breaks ties and places photos
# with no free cell near any look-alike. (0.01 kept photos nearer their target and touched a
# third fewer look-alikes on the 10k benchmark map.)
TARGET_WEIGHT = 1e-4


def look_alike_weights(k: int) -> np.ndarray:
    """Weight of a photo's ``k`` nearest look-alikes by rank: 1 for the first 8, then
    :data:`TIE_BREAKING_WEIGHT`."""
    return np.where(np.arange(k) < DRIFT_NEIGHBOURS, 1.0, TIE_BREAKING_WEIGHT)


# Only the 8 surrounding cells: what kNN-8 kept counts.
SURROUNDING_CELLS = {1.0: 1.0, 2.0: 1.0}


def _kernel_offsets(kernel: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    kernel = LOOK_ALIKE_KERNEL if kernel is None else kernel
    reach = int(np.ceil(np.sqrt(max(kernel))))
    offsets, weights = [], []
    for dr in range(-reach, reach + 1):
        for dc in range(-reach, reach + 1):
            weight = kernel.get(float(dr * dr + dc * dc))
            if weight:
                offsets.append((dr, dc))
                weights.append(weight)
    return np.array(offsets, dtype=np.int64), np.array(weights)


def look_alike_scores(anchor_cells: np.ndarray, anchor_weights: np.ndarray, free: np.ndarray,
                      rows: int, cols: int, kernel: dict | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How many of each new photo's look-alikes (weighted) each free cell would touch.

    Parameters
    ----------
    anchor_cells : ndarray (m, k), int
        Cell (``row * cols + col``) of each new photo's look-alikes on the grid, -1 where a
        look-alike has no cell (yet).
    anchor_weights : ndarray (k,) or (m, k)
        Their weights.
    free : ndarray, bool (rows * cols,)
        Which cells a new photo may take.
    kernel : dict, optional
        Weight of a look-alike by its squared distance from the cell; default
        :data:`LOOK_ALIKE_KERNEL`.

    Returns
    -------
    photo, cell, score : ndarray
        One entry per (new photo, free cell near one of its look-alikes), score > 0.
    """
    m, k = anchor_cells.shape
    weights = np.broadcast_to(anchor_weights, (m, k))
    offsets, kernel = _kernel_offsets(kernel)
    photo = np.repeat(np.arange(m), k)
    cell = anchor_cells.reshape(-1)
    weight = weights.reshape(-1)
    placed = cell >= 0
    photo, cell, weight = photo[placed], cell[placed], weight[placed]
    r = cell[:, None] // cols + offsets[None, :, 0]
    c = cell[:, None] % cols + offsets[None, :, 1]
    inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
    near = np.where(inside, r * cols + c, 0)
    usable = inside & free[near]
    photo = np.broadcast_to(photo[:, None], near.shape)[usable]
    score = (weight[:, None] * kernel[None, :])[usable]
    near = near[usable]
    keys, inverse = np.unique(photo.astype(np.int64) * (rows * cols) + near, return_inverse=True)
    total = np.bincount(inverse, weights=score, minlength=len(keys))
    return keys // (rows * cols), keys % (rows * cols), total


def look_alikes(features: np.ndarray, is_new: np.ndarray, base_row: np.ndarray,
                k: int = LOOK_ALIKES) -> np.ndarray:
    """Each new photo's ``k`` nearest photos in feature space, as :func:`extend_grid` takes them.

    ``features`` has one row per photo on the extended map, ``is_new`` marks the new ones and
    ``base_row`` gives the others' row in the base table. Returns (m, k) indices: a base row,
    ``len(base) + j`` for the ``j``-th new photo, or -1 when there are fewer than ``k`` others.
    """
    from sklearn.neighbors import NearestNeighbors

    features = np.asarray(features, dtype=np.float32)
    new_rows = np.flatnonzero(is_new)
    out = np.full((len(new_rows), k), -1, dtype=np.int64)
    kk = min(k, len(features) - 1)
    if len(new_rows) == 0 or kk < 1:
        return out
    n_base = int((~is_new).sum())
    combined = np.empty(len(features), dtype=np.int64)
    combined[~is_new] = np.asarray(base_row)[~is_new]
    combined[new_rows] = n_base + np.arange(len(new_rows))
    # Brute force: a few hundred queries against all photos, no index worth building.
    finder = NearestNeighbors(n_neighbors=kk + 1, algorithm="brute").fit(features)
    _, nearest = finder.kneighbors(features[new_rows])
    for i, (row, found) in enumerate(zip(new_rows, nearest)):
        others = found[found != row][:kk]
        out[i, :len(others)] = combined[others]
    return out


def extend_grid(base: pd.DataFrame, new_positions: np.ndarray, base_shape: tuple[int, int], *,
                aspect: float, look_alikes: np.ndarray | None = None, rounds: int = 2
                ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Cells for new photos, keeping every kept photo's cell.

    Without ``look_alikes`` each new photo takes a free cell near its position: an exact
    assignment minimising the squared distances, over the free cells nearest to the photos.

    With ``look_alikes`` a new photo takes the free cell whose 8 surrounding cells hold most of
    its 8 nearest look-alikes; further look-alikes, look-alikes one cell further out (see
    :data:`LOOK_ALIKE_KERNEL`) and the distance to its position break ties. That is the layout's
    own promise, look-alikes side by side, where the t-SNE position alone often lands a few
    cells off: the grid spread the placed photos out, and a free cell among them is rarely the
    nearest one. The first round scores placed look-alikes only; later rounds add the new
    photos' own cells from the round before. Each round is an exact assignment over the
    candidate cells (a sparse min-cost matching), and the best round is kept.

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
    look_alikes : ndarray of shape (m, k), int, optional
        Each new photo's nearest photos in feature space, nearest first: ``i < len(base)`` is
        the base row ``i``, ``len(base) + j`` the new photo ``j``, ``-1`` none.
    rounds : int
        Rounds of look-alike placement (the first uses placed look-alikes only).

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
    base_cells = base["row"].to_numpy(np.int64) * cols + base["col"].to_numpy(np.int64)
    taken[base_cells] = True
    free = np.flatnonzero(~taken)
    centres = grid.cell_centres(rows, cols)[free]
    # Candidate cells: each new photo's nearest free cells; widened until they can hold them all.
    k = min(len(free), CANDIDATE_CELLS)
    tree = cKDTree(centres)
    while True:
        _, nearest = tree.query(new_positions, k=k)
        nearest = np.asarray(nearest).reshape(m, -1)
        candidates = np.unique(nearest)
        if len(candidates) >= m or k == len(free):
            break
        k = min(len(free), 2 * k)
    chosen = free[candidates[grid._solve(new_positions, centres[candidates])[0]]]
    if look_alikes is None or len(base) == 0:
        return chosen // cols, chosen % cols, (rows, cols)

    look_alikes = np.asarray(look_alikes, dtype=np.int64).reshape(m, -1)
    weights = look_alike_weights(look_alikes.shape[1])
    # Each photo may always take its nearest free cells and its distance-only cell, so a full
    # matching exists in every round.
    near_target = (np.concatenate([np.repeat(np.arange(m), nearest.shape[1]), np.arange(m)]),
                   np.concatenate([free[nearest.reshape(-1)], chosen]))
    best, best_score = chosen, placement_score(chosen, look_alikes, weights, base_cells, cols)
    cells_now = chosen
    for round_ in range(rounds):
        known = np.concatenate([base_cells, cells_now if round_ else np.full(m, -1)])
        anchors = np.where(look_alikes >= 0, known[np.maximum(look_alikes, 0)], -1)
        cells_now = _match_look_alikes(anchors, weights, ~taken, new_positions, near_target,
                                       rows, cols)
        score = placement_score(cells_now, look_alikes, weights, base_cells, cols)
        if score > best_score:
            best, best_score = cells_now, score
    return best // cols, best % cols, (rows, cols)


def placement_score(cells: np.ndarray, look_alikes: np.ndarray, weights: np.ndarray,
                    base_cells: np.ndarray, cols: int) -> float:
    """The look-alike score of a placement of the new photos (what the rounds maximise)."""
    offsets, kernel = _kernel_offsets()
    known = np.concatenate([base_cells, cells])
    anchors = known[np.maximum(look_alikes, 0)]
    dr = anchors // cols - (cells // cols)[:, None]
    dc = anchors % cols - (cells % cols)[:, None]
    gain = np.zeros(look_alikes.shape)
    for (r, c), w in zip(offsets, kernel):
        gain[(dr == r) & (dc == c)] = w
    return float((gain * weights[None, :] * (look_alikes >= 0)).sum())


def _match_look_alikes(anchors, weights, free, positions, near_target, rows, cols):
    """One round: a min-cost matching of new photos to free cells, cost = -score + distance."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    from . import grid

    photo, cell, score = look_alike_scores(anchors, weights, free, rows, cols)
    photo = np.concatenate([photo, near_target[0]])
    cell = np.concatenate([cell, near_target[1]])
    score = np.concatenate([score, np.zeros(len(near_target[0]))])
    key, inverse = np.unique(photo * (rows * cols) + cell, return_inverse=True)
    summed = np.bincount(inverse, weights=score, minlength=len(key))
    photo, cell = key // (rows * cols), key % (rows * cols)
    centre = grid.cell_centres(rows, cols)[cell]
    distance = ((positions[photo] - centre) ** 2).sum(axis=1)
    cost = -summed + TARGET_WEIGHT * distance
    columns, column_of = np.unique(cell, return_inverse=True)
    # Sparse matrices drop zeros: shift every cost above zero (a constant added to every cost
    # does not change which full matching is cheapest: each has one edge per photo).
    matrix = coo_matrix((cost - cost.min() + 1.0, (photo, column_of)),
                        shape=(len(positions), len(columns))).tocsr()
    matched_rows, matched_cols = min_weight_full_bipartite_matching(matrix)
    out = np.empty(len(positions), dtype=np.int64)
    out[matched_rows] = columns[matched_cols]
    return out


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
