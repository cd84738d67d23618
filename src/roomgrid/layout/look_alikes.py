"""Look-alike placement: which free cell puts a new photo among the photos it looks like.

A cell's score counts the new photo's nearest look-alikes (in PCA space) in the cells around it;
all new photos are then matched to cells at once, in one sparse minimum-cost matching.
"""

from __future__ import annotations

import numpy as np

from .exact import cell_centres

# Neighbourhood size of the kNN measure, as in grid.layout_quality.
DRIFT_NEIGHBOURS = 8

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


def match_look_alikes(anchors, weights, free, positions, near_target, rows, cols):
    """One round: a min-cost matching of new photos to free cells, cost = -score + distance."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    photo, cell, score = look_alike_scores(anchors, weights, free, rows, cols)
    photo = np.concatenate([photo, near_target[0]])
    cell = np.concatenate([cell, near_target[1]])
    score = np.concatenate([score, np.zeros(len(near_target[0]))])
    key, inverse = np.unique(photo * (rows * cols) + cell, return_inverse=True)
    summed = np.bincount(inverse, weights=score, minlength=len(key))
    photo, cell = key // (rows * cols), key % (rows * cols)
    centre = cell_centres(rows, cols)[cell]
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
