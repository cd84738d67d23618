"""Growing a built map: new photos get free cells near their look-alikes, placed photos stay put.

A full build leaves a *base* (``results/base/``): the PCA basis, the fitted t-SNE embedding and
the grid. An extension is always computed from that base and the current selection, never from
an earlier extension, so it does not depend on how many extensions came before:

- photos of the base that are still selected keep their cell; photos no longer selected leave
  their cell empty;
- new photos are projected with the base's PCA basis and placed into the base's t-SNE map
  (:func:`roomgrid.layout.tsne.place`); their positions in cell units follow the base's normalisation;
- they then get free cells near those positions, an exact assignment over the free cells nearest
  to them (:func:`extend_grid`); the grid grows at its bottom or right edge only when the free
  cells are too few, so no placed photo's ``(row, col)`` changes.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .exact import cell_centres, solve
from .frame import to_cell_units
from .look_alikes import (DRIFT_NEIGHBOURS, match_look_alikes, look_alike_weights,
                          placement_score)

logger = logging.getLogger(__name__)

# Each new photo may go to one of this many free cells nearest to it (more when that is needed
# to give every new photo a cell); an exact assignment then chooses among them.
CANDIDATE_CELLS = 16
# Up to this many candidate cells the distance-only choice is an exact dense assignment (64 MiB).
DENSE_CANDIDATES = 4096
# Beyond it, at least this share of free cells more than new photos (the grid grows for them).
SPARSE_SLACK = 0.05
# A new photo's target cell follows the moves of this many nearest placed photos (in t-SNE).
TARGET_NEIGHBOURS = 8


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

    new_positions = np.asarray(new_positions, dtype=np.float64).reshape(-1, 2)
    m = len(new_positions)
    # Past the dense limit the matching is sparse, and a sparse matching that must fill every free
    # cell searches ever longer paths (20,000 photos for 20,000 cells: minutes; with 5% spare: 3 s).
    needed = m if m <= DENSE_CANDIDATES else math.ceil(m * (1 + SPARSE_SLACK))
    rows, cols = grown_shape(*base_shape, len(base), needed, aspect)
    if m == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), (rows, cols)
    taken = np.zeros(rows * cols, dtype=bool)
    base_cells = base["row"].to_numpy(np.int64) * cols + base["col"].to_numpy(np.int64)
    taken[base_cells] = True
    free = np.flatnonzero(~taken)
    chosen, nearest = nearest_free_cells(new_positions, free, rows, cols)
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
        cells_now = match_look_alikes(anchors, weights, ~taken, new_positions, near_target,
                                       rows, cols)
        score = placement_score(cells_now, look_alikes, weights, base_cells, cols)
        if score > best_score:
            best, best_score = cells_now, score
    return best // cols, best % cols, (rows, cols)


def nearest_free_cells(positions: np.ndarray, free: np.ndarray, rows: int, cols: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Distinct free cells for ``positions`` (cell units) minimising the squared distances, each
    photo choosing among its nearest free cells (widened until every photo can have one).

    Up to :data:`DENSE_CANDIDATES` candidate cells the assignment is exact over all of them
    (lapjv, dense); beyond, it is a sparse min-cost matching over each photo's own nearest cells,
    so memory grows with the photos, not with their square (20,000 new photos would need a
    1.6 GB dense matrix, and lapjv indexes at most 46,340 cells).

    Returns the chosen cells and each photo's candidate cells (indices into ``free``).
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching
    from scipy.spatial import cKDTree

    m = len(positions)
    centres = cell_centres(rows, cols)[free]
    tree = cKDTree(centres)
    k = min(len(free), CANDIDATE_CELLS)
    while True:
        distance, nearest = tree.query(positions, k=k)
        nearest = np.asarray(nearest).reshape(m, -1)
        candidates = np.unique(nearest)
        if len(candidates) >= m or k == len(free):
            if len(candidates) <= DENSE_CANDIDATES:
                return free[candidates[solve(positions, centres[candidates])[0]]], nearest
            # Costs shifted above zero: a sparse matrix would drop a zero-distance edge.
            cost = np.asarray(distance).reshape(m, -1) ** 2 + 1.0
            matrix = csr_matrix((cost.ravel(), nearest.ravel(), np.arange(0, m * k + 1, k)),
                                shape=(m, len(free)))
            try:
                photos, cells = min_weight_full_bipartite_matching(matrix)
            except ValueError:  # some photos crowd too few cells: give each more to choose from
                if k == len(free):
                    raise
            else:
                chosen = np.empty(m, dtype=np.int64)
                chosen[photos] = free[cells]
                return chosen, nearest
        k = min(len(free), 2 * k)


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
    positions = cell_centres(rows, cols)[cells]
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


# --- the stage on files ------------------------------------------------------------------------

def run_extend_grid(tsne_tsv, photos_tsv, pca_h5, base_dir, out_tsv, out_json, *, aspect: float,
                    rebuild_below: float) -> dict:
    """Cells for every selected photo: base photos keep theirs, new ones get free cells near
    their t-SNE position (the grid grows at its edge when needed); removed photos leave theirs
    empty. The facts add the drift (:func:`drift`) and whether a rebuild is
    recommended (new photos keep less than ``rebuild_below`` of the base photos' kNN share)."""
    import numpy as np
    import pandas as pd

    from ..core.io import read_json, read_table, write_json, write_table
    from ..selection.tables import selected_photos
    from .frame import grid_frame
    from .grid import layout_quality
    from .look_alikes import look_alikes
    from .pca import read_embedding

    base_dir = Path(base_dir)
    points = read_table(tsne_tsv)
    cities = selected_photos(photos_tsv, ["city"]).set_index("id")["city"]
    base = read_table(base_dir / "grid.tsv")
    base_facts = read_json(base_dir / "grid.json")
    frame = base_facts.get("frame") or grid_frame(
        read_table(base_dir / "tsne.tsv")[["x", "y"]].to_numpy(np.float64),
        base_facts["rows"], base_facts["cols"])
    kept = base[base["id"].isin(points["id"])]
    is_new = ~points["id"].isin(base["id"]).to_numpy()
    xy = points[["x", "y"]].to_numpy(np.float64)
    base_points = read_table(base_dir / "tsne.tsv").set_index("id").loc[kept["id"]]
    positions = grid_targets(xy[is_new], base_points[["x", "y"]].to_numpy(np.float64),
                                    kept[["row", "col"]].to_numpy(np.int64), frame)
    ids, features, _ = read_embedding(pca_h5)
    if list(ids) != list(points["id"]):
        raise ValueError(f"{pca_h5} and {tsne_tsv} list different photos")
    nearest = look_alikes(features, is_new, points["id"].map(
        pd.Series(np.arange(len(kept)), index=kept["id"])).to_numpy())
    new_rows, new_cols, (rows, cols) = extend_grid(
        kept, positions, (base_facts["rows"], base_facts["cols"]), aspect=aspect,
        look_alikes=nearest)
    row = points["id"].map(kept.set_index("id")["row"])
    col = points["id"].map(kept.set_index("id")["col"])
    row[is_new], col[is_new] = new_rows, new_cols
    table = pd.DataFrame({"id": points["id"], "city": points["id"].map(cities),
                          "row": row.astype(np.int64), "col": col.astype(np.int64)})
    write_table(table, out_tsv)

    cells = table["row"].to_numpy() * cols + table["col"].to_numpy()
    centres = np.column_stack([new_cols + 0.5, new_rows + 0.5])
    displacement = np.sqrt(((positions - centres) ** 2).sum(axis=1))
    shifted = drift(features, cells, is_new, displacement, rows=rows, cols=cols)
    recommended = shifted["knn_ratio"] is not None and shifted["knn_ratio"] < rebuild_below
    quality = layout_quality(xy, cells, rows, cols)
    facts = {"rows": int(rows), "cols": int(cols), "n": int(len(points)), "method": "extend",
             "mode": "extend", "frame": frame,
             "base": {"rows": int(base_facts["rows"]), "cols": int(base_facts["cols"]),
                      "n": int(len(base))},
             "removed": int(len(base) - len(kept)),
             "quality": {k: float(v) for k, v in quality.items()},
             "drift": shifted, "rebuild_below": float(rebuild_below),
             "rebuild_recommended": bool(recommended)}
    write_json(facts, out_json)
    if recommended:
        logger.warning("extend: new photos keep %.2f of the base photos' look-alike share "
                       "(threshold %.2f): a rebuild (layout.mode: rebuild) would place them better",
                       shifted["knn_ratio"], rebuild_below)
    logger.info("extend: %d new photos, %d removed, grid %dx%d (base %dx%d): %s", is_new.sum(),
                facts["removed"], rows, cols, base_facts["rows"], base_facts["cols"], shifted)
    return facts
