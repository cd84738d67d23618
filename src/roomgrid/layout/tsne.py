"""t-SNE of the PCA coordinates to 2-D with openTSNE, and each photo's nearest look-alikes."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from openTSNE import TSNE
from openTSNE.nearest_neighbors import Annoy
from sklearn.neighbors import NearestNeighbors

from ..core.constants import MIN_PHOTOS

logger = logging.getLogger(__name__)

# Below this many photos an exact neighbour search costs less than building an Annoy index.
EXACT_NEIGHBOURS_MAX = 20_000


def fit(coords: np.ndarray, *, perplexity: float = 30.0, learning_rate: float | str = "auto",
        n_iter: int = 750, early_exaggeration_iter: int = 250, seed: int = 42,
        initialization: str = "pca", n_jobs: int = 1):
    """Embed ``coords`` (n, k) in 2-D; returns openTSNE's ``TSNEEmbedding`` and the facts.

    The embedding keeps its affinities (and their nearest-neighbour index), which is what
    :func:`place` needs to add photos to it later. Every setting is passed to openTSNE and echoed
    back in the returned facts, so a setting that did not take effect is visible. Perplexity is
    capped at (n - 1) / 3, the most the data support.
    """
    n = len(coords)
    if n < MIN_PHOTOS:
        raise ValueError(f"t-SNE needs at least {MIN_PHOTOS} photos, got {n}")
    used_perplexity = float(min(perplexity, (n - 1) / 3))
    if used_perplexity < perplexity:
        logger.warning("tsne: perplexity %.1f too high for %d photos, using %.1f", perplexity, n,
                       used_perplexity)
    model = TSNE(n_components=2, perplexity=used_perplexity, learning_rate=learning_rate,
                 n_iter=n_iter, early_exaggeration_iter=early_exaggeration_iter,
                 initialization=initialization, random_state=seed, n_jobs=n_jobs,
                 verbose=False)
    embedding = model.fit(np.ascontiguousarray(coords, dtype=np.float64))
    info = {"n": n, "perplexity_requested": float(perplexity), "perplexity": used_perplexity,
            "learning_rate": learning_rate,
            "n_iter": int(n_iter), "early_exaggeration_iter": int(early_exaggeration_iter),
            "seed": int(seed), "initialization": initialization,
            # openTSNE sums the KL divergence over threads in no fixed order, so its last digits
            # (~1e-15) change from run to run while the positions do not: six decimals keep
            # tsne.json byte-identical between identical runs.
            "kl_divergence": round(float(embedding.kl_divergence), 6)}
    logger.info("tsne: %s", info)
    return embedding, info


# From this many placed photos, new ones are optimised against the embedding's interpolation
# grid (FFT) rather than a Barnes-Hut tree; below it the tree is cheap and exact enough.
PLACE_FFT_FROM = 10_000


def place(embedding, coords: np.ndarray, *, perplexity: float = 5.0, n_iter: int = 250
          ) -> np.ndarray:
    """Positions (m, 2) of new photos in a fitted embedding, which stays as it is.

    openTSNE's ``transform``: each new photo starts at the median position of its nearest photos
    of the embedding (in PCA space) and is then optimised against the embedding alone, with the
    low learning rate and mild exaggeration its documentation recommends for adding points. The
    new photos are placed independently of each other, so adding them in one batch or several
    gives the same positions.
    """
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    if len(coords) == 0:
        return np.empty((0, 2))
    perplexity = float(min(perplexity, (len(embedding) - 1) / 3))
    before = np.array(embedding, dtype=np.float64)
    params = embedding.gradient_descent_params
    saved_method = params.get("negative_gradient_method")
    # openTSNE picks Barnes-Hut for a few hundred new points, which rebuilds a tree of the whole
    # embedding every iteration (34 s for 300 photos into 116k); the interpolation grid of the
    # fixed embedding is computed once (see PLACE_FFT_FROM).
    params["negative_gradient_method"] = "fft" if len(embedding) >= PLACE_FFT_FROM else "bh"
    try:
        partial = np.asarray(embedding.transform(coords, perplexity=perplexity, n_iter=n_iter),
                             dtype=np.float64)
    finally:
        params["negative_gradient_method"] = saved_method
        # transform centres the embedding in place first (a translation); report the new
        # positions in the embedding's own frame and give the embedding its positions back
        # (and drop the grid made for the centred ones).
        shift = (before - np.asarray(embedding, dtype=np.float64)).mean(axis=0)
        embedding[:] = before
        embedding.interp_coeffs = None
    return partial + shift


def nearest_neighbours(coords: np.ndarray, k: int = 8, *, seed: int = 42, n_jobs: int = 1,
                       exact_max: int = EXACT_NEIGHBOURS_MAX) -> np.ndarray:
    """Indices (n, k') of each row's nearest other rows, nearest first, k' = min(k, n - 1).

    Exact up to ``exact_max`` rows; Annoy (as openTSNE uses for its affinities) beyond.
    """
    n = len(coords)
    k = min(k, n - 1)
    if k <= 0:
        return np.empty((n, 0), dtype=np.int64)
    if n <= exact_max:
        finder = NearestNeighbors(n_neighbors=k + 1, n_jobs=n_jobs).fit(coords)
        _, found = finder.kneighbors(coords)
        return _drop_self(found, k)
    # openTSNE's Annoy drops the first hit of each row as "self"; among identical rows that first
    # hit may be another row, leaving the row itself in the list. One spare hit lets _drop_self
    # remove the row itself wherever it is.
    found, _ = Annoy(np.ascontiguousarray(coords, dtype=np.float32), min(k + 1, n - 1),
                     n_jobs=n_jobs, random_state=seed).build()
    return _drop_self(found, k)


def _drop_self(found: np.ndarray, k: int) -> np.ndarray:
    """Remove each row's own index (not always first when photos are identical)."""
    out = np.empty((len(found), k), dtype=np.int64)
    for i, row in enumerate(found):
        out[i] = row[row != i][:k]
    return out


# --- the stage on files ------------------------------------------------------------------------

def run_tsne(pca_h5, out_tsv, out_json, *, n_jobs: int = 1, model_pkl=None, **settings) -> None:
    import pickle

    import numpy as np
    import pandas as pd

    from ..core.io import atomic_path, write_json, write_table
    from .pca import read_embedding

    ids, coords, _ = read_embedding(pca_h5)
    embedding, info = fit(coords, n_jobs=n_jobs, **settings)
    xy = np.asarray(embedding, dtype=np.float64)
    write_table(pd.DataFrame({"id": ids, "x": xy[:, 0], "y": xy[:, 1]}), out_tsv)
    write_json(info, out_json)
    if model_pkl is not None:
        # The fitted embedding with its affinities: what places photos added later.
        with atomic_path(model_pkl) as tmp, open(tmp, "wb") as handle:
            pickle.dump(embedding, handle, protocol=pickle.HIGHEST_PROTOCOL)


def run_neighbours(pca_h5, out_tsv, *, k: int, seed: int, n_jobs: int = 1) -> None:
    import pandas as pd

    from ..core.io import write_table
    from .pca import read_embedding

    ids, coords, _ = read_embedding(pca_h5)
    found = nearest_neighbours(coords, k, seed=seed, n_jobs=n_jobs)
    neighbours = [" ".join(ids[row]) for row in found]
    write_table(pd.DataFrame({"id": ids, "neighbours": neighbours}), out_tsv)


def run_place_tsne(pca_h5, base_dir, out_tsv, out_json) -> None:
    """t-SNE positions of every photo: the base's for its photos, openTSNE's ``transform`` into
    the base embedding for new ones."""
    import pickle

    import numpy as np
    import pandas as pd

    from ..core.io import read_json, read_table, write_json, write_table
    from .pca import read_embedding

    base_dir = Path(base_dir)
    ids, coords, _ = read_embedding(pca_h5)
    base_points = read_table(base_dir / "tsne.tsv").set_index("id")
    known = pd.Index(ids).isin(base_points.index)
    xy = np.empty((len(ids), 2))
    xy[known] = base_points.loc[ids[known], ["x", "y"]].to_numpy(np.float64)
    if (~known).any():
        with open(base_dir / "tsne.pkl", "rb") as handle:
            embedding = pickle.load(handle)
        xy[~known] = place(embedding, coords[~known])
    write_table(pd.DataFrame({"id": ids, "x": xy[:, 0], "y": xy[:, 1]}), out_tsv)
    write_json(read_json(base_dir / "tsne.json") | {
        "mode": "extend", "n": int(len(ids)), "placed": int((~known).sum()),
        "removed": int((~base_points.index.isin(ids)).sum())}, out_json)
    logger.info("tsne: %d photos kept their base position, %d placed into the base map",
                known.sum(), (~known).sum())
