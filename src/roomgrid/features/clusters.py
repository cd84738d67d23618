"""k-means clusters of the features: groups a person can look at and name before labelling anything.

Streamed: k-means is fitted on an evenly spaced sample of the rows (scikit-learn's KMeans,
k-means++ with several starts), refined by Lloyd iterations that each read every row once in
batches, then every row is assigned to its nearest centre. Nothing holds all rows at once.

Rows wider than :data:`PROJECTED_DIMS` are first multiplied by a fixed Gaussian random matrix
(Johnson-Lindenstrauss: distances, and so clusters, are kept to a few percent), which makes the
12,288-wide blur stacks as cheap to cluster as the 1280-wide CNN vectors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.stackreader import StackReader, batch_bounds

logger = logging.getLogger(__name__)

# The sample k-means++ starts from: enough rows per cluster, within this much memory.
SAMPLE_ROWS = 20_000
SAMPLE_BYTES = 256 * 2**20
PROJECTED_DIMS = 256


def fit_clusters(reader: StackReader, k: int, *, seed: int = 0, refine_passes: int = 2,
                 batch_size: int = 2000) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Cluster every row of ``reader``.

    Returns a table (``id``, ``cluster``, ``distance`` to its centre, ``centrality``: 0 for the
    photo nearest its centre, 1 for the next, ...), the centres and facts about the fit.
    ``k`` is capped at the number of rows.
    """
    from sklearn.cluster import KMeans

    n = len(reader)
    k = int(min(k, n))
    bounds = batch_bounds(n, batch_size)
    projection = _projection(reader.n_features, seed)
    dims = reader.n_features if projection is None else projection.shape[1]
    sample_rows = int(max(k, min(n, SAMPLE_ROWS, SAMPLE_BYTES // (4 * dims))))
    sample = _even_sample(reader, bounds, sample_rows, projection)
    model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(sample)
    centres = model.cluster_centers_.astype(np.float64)

    def rows():
        for batch in reader.batches(bounds):
            yield batch if projection is None else batch @ projection

    for _ in range(refine_passes):
        sums, counts = np.zeros_like(centres), np.zeros(k)
        for batch in rows():
            nearest, _ = _assign(batch, centres)
            members = np.zeros((len(batch), k), np.float32)
            members[np.arange(len(batch)), nearest] = 1.0
            sums += members.T @ batch  # per-centre sums as one product (np.add.at is far slower)
            counts += members.sum(0)
        moved = counts > 0  # an emptied centre keeps its place
        centres[moved] = sums[moved] / counts[moved, None]
    labels = np.empty(n, np.int64)
    distances = np.empty(n, np.float64)
    for (start, stop), batch in zip(bounds, rows()):
        labels[start:stop], distances[start:stop] = _assign(batch, centres)
    # Cluster numbers by size, largest first, so that they read the same run to run.
    sizes = np.bincount(labels, minlength=k)
    order = np.lexsort((np.arange(k), -sizes))
    renumber = np.empty(k, np.int64)
    renumber[order] = np.arange(k)
    labels, centres = renumber[labels], centres[order]
    table = pd.DataFrame({"id": reader.ids, "cluster": labels, "distance": distances.round(5)})
    table["centrality"] = (table.sort_values(["cluster", "distance", "id"])
                           .groupby("cluster").cumcount())
    facts = {"k": k, "rows": int(n), "dims": int(reader.n_features), "projected_to": int(dims),
             "sample_rows": int(len(sample)),
             "refine_passes": int(refine_passes), "seed": int(seed),
             "sizes": np.bincount(labels, minlength=k).astype(int).tolist(),
             "inertia": float(np.sum(distances ** 2))}
    logger.info("%d clusters of %d photos: sizes %s", k, n, facts["sizes"])
    return table, centres.astype(np.float32), facts


def extend_clusters(reader: StackReader, base: pd.DataFrame, base_facts: dict, *,
                    batch_size: int = 2000) -> tuple[pd.DataFrame, dict]:
    """Clusters for a grown map: base photos keep their cluster, new photos join the nearest.

    A cluster's centre is the mean of its base members' (projected) rows, read in one streamed
    pass, so cluster numbers (and the ``cull.cluster_labels`` that name them) mean the same
    photos after an extension as before it. ``base`` is the base's clusters table,
    ``base_facts`` its facts (for the seed of the projection). Photos of the base that are gone
    leave their cluster; a cluster left with no member takes no new photo.
    """
    n = len(reader)
    k = int(base_facts["k"])
    projection = _projection(reader.n_features, int(base_facts["seed"]))
    dims = reader.n_features if projection is None else projection.shape[1]
    known = pd.Series(reader.ids).map(base.set_index("id")["cluster"])
    is_new = known.isna().to_numpy()
    member = known.fillna(-1).to_numpy(np.int64)
    sums, counts = np.zeros((k, dims)), np.zeros(k)
    new_rows, new_parts = np.flatnonzero(is_new), []
    bounds = batch_bounds(n, batch_size)
    for (start, stop), batch in zip(bounds, reader.batches(bounds)):
        batch = batch if projection is None else batch @ projection
        labels = member[start:stop]
        inside = labels >= 0
        counts += np.bincount(labels[inside], minlength=k)
        for cluster in np.unique(labels[inside]):
            sums[cluster] += batch[labels == cluster].sum(0)
        new_parts.append(batch[is_new[start:stop]])
    alive = np.flatnonzero(counts > 0)
    table = pd.DataFrame({"id": reader.ids, "cluster": member,
                          "distance": pd.Series(reader.ids).map(base.set_index("id")["distance"])})
    if len(new_rows) and len(alive):
        centres = sums[alive] / counts[alive, None]
        nearest, distance = _assign(np.concatenate(new_parts), centres)
        table.loc[new_rows, "cluster"] = alive[nearest]
        table.loc[new_rows, "distance"] = distance.round(5)
    elif len(new_rows):
        raise ValueError("no photo of the base's clusters is left to place new photos by")
    table["cluster"] = table["cluster"].astype(np.int64)
    table["centrality"] = (table.sort_values(["cluster", "distance", "id"])
                           .groupby("cluster").cumcount())
    facts = dict(base_facts) | {
        "rows": int(n), "mode": "extend", "new_photos": int(is_new.sum()),
        "removed": int(len(base) - (~is_new).sum()),
        "sizes": np.bincount(table["cluster"], minlength=k).astype(int).tolist()}
    logger.info("%d new photos joined the base's %d clusters: sizes %s", is_new.sum(), k,
                facts["sizes"])
    return table, facts


def _projection(features: int, seed: int) -> np.ndarray | None:
    """A fixed random map to :data:`PROJECTED_DIMS` dimensions, or None for narrower rows."""
    if features <= PROJECTED_DIMS:
        return None
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((features, PROJECTED_DIMS)) / np.sqrt(PROJECTED_DIMS)).astype(np.float32)


def _even_sample(reader: StackReader, bounds, rows: int, projection: np.ndarray | None) -> np.ndarray:
    """Every (n / rows)-th row, read batch by batch: spread over all cities, deterministic."""
    n = len(reader)
    picks = np.unique(np.linspace(0, n - 1, rows).round().astype(np.int64))
    width = reader.n_features if projection is None else projection.shape[1]
    sample = np.empty((len(picks), width), np.float32)
    filled = 0
    for (start, stop), batch in zip(bounds, reader.batches(bounds)):
        mine = batch[picks[(picks >= start) & (picks < stop)] - start]
        sample[filled:filled + len(mine)] = mine if projection is None else mine @ projection
        filled += len(mine)
    return sample


def _assign(batch: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre of each row and the Euclidean distance to it."""
    squared = ((batch.astype(np.float64) ** 2).sum(1)[:, None] - 2 * batch @ centres.T
               + (centres ** 2).sum(1)[None, :])
    nearest = squared.argmin(1)
    return nearest, np.sqrt(np.maximum(squared[np.arange(len(batch)), nearest], 0.0))


def central_photos(clusters: pd.DataFrame, per_cluster: int = 8) -> pd.DataFrame:
    """The ``per_cluster`` photos nearest each centre, cluster by cluster."""
    return (clusters[clusters["centrality"] < per_cluster]
            .sort_values(["cluster", "centrality"]).reset_index(drop=True))


# --- the stage on files ------------------------------------------------------------------------

def run_clusters(scans: Mapping[str, str], features: Mapping[str, str], out_tsv, out_json, *,
                 dataset: str, k: int, seed: int, base_dir=None) -> None:
    """k-means clusters of every readable photo. With ``base_dir`` (``layout.mode: extend``)
    the base's clusters are kept and new photos join the nearest one, unless the base has no
    clusters or was clustered with another ``k`` or ``seed``: those are fitted afresh."""
    from ..core.io import read_json, read_table, write_json, write_table
    from ..scan.tables import readable_photos

    photos = readable_photos(scans)
    base_facts = None
    if base_dir is not None and (Path(base_dir) / "clusters.json").exists():
        base_facts = read_json(Path(base_dir) / "clusters.json")
        if (base_facts["k"], base_facts["seed"]) != (min(k, len(photos)), seed):
            logger.info("clusters: the base has k=%s, seed=%s; fitting k=%s, seed=%s afresh",
                        base_facts["k"], base_facts["seed"], k, seed)
            base_facts = None
    with StackReader(features, photos["id"], photos["city"], dataset=dataset) as reader:
        if base_facts is None:
            table, _, facts = fit_clusters(reader, k, seed=seed)
        else:
            table, facts = extend_clusters(reader, read_table(Path(base_dir) / "clusters.tsv"),
                                           base_facts)
    write_table(table, out_tsv)
    write_json(facts, out_json)
