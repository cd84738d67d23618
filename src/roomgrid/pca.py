"""Principal components of the feature stacks, fitted and applied batch by batch from HDF5."""

from __future__ import annotations

import logging
import os

import h5py
import numpy as np
from sklearn.decomposition import IncrementalPCA
from tqdm import tqdm

from .io import atomic_path
from .stackreader import StackReader, batch_bounds

logger = logging.getLogger(__name__)


def fit_transform_incremental(reader: StackReader, n_components: int, batch_size: int
                              ) -> tuple[np.ndarray, dict]:
    """IncrementalPCA over every row (two streaming passes: fit, then transform).

    ``n_components`` is capped at what the data allow (rows and features); the cap is reported.
    """
    n = len(reader)
    used = int(min(n_components, n, reader.n_features))
    if used < n_components:
        logger.warning("pca: %d components requested, only %d possible with %d photos",
                       n_components, used, n)
    bounds = batch_bounds(n, batch_size, min_rows=used)
    model = IncrementalPCA(n_components=used)
    for batch in tqdm(reader.batches(bounds), total=len(bounds), desc="pca fit", mininterval=5):
        model.partial_fit(batch)
    coords = np.empty((n, used), dtype=np.float32)
    for (start, stop), batch in tqdm(zip(bounds, reader.batches(bounds)), total=len(bounds),
                                     desc="pca transform", mininterval=5):
        coords[start:stop] = model.transform(batch)
    info = {"method": "incremental", "n_components_requested": int(n_components),
            "n_components": used, "batch_size": int(batch_size), "batches": len(bounds),
            "rows_fitted": int(model.n_samples_seen_),
            "explained_variance_ratio": model.explained_variance_ratio_.astype(float).tolist()}
    return coords, info


METHODS = {"incremental": fit_transform_incremental}


def reduce(reader: StackReader, n_components: int = 150, batch_size: int = 1000,
           method: str = "incremental") -> tuple[np.ndarray, dict]:
    if method not in METHODS:
        raise ValueError(f"unknown PCA method {method!r}; choose from {sorted(METHODS)}")
    coords, info = METHODS[method](reader, n_components, batch_size)
    logger.info("pca: %d rows -> %d components, %.1f%% of variance", len(coords),
                info["n_components"], 100 * sum(info["explained_variance_ratio"]))
    return coords, info


def write_embedding(path: str | os.PathLike, ids, coords: np.ndarray, info: dict) -> None:
    """HDF5 with ``ids``, ``coords`` (n, k) float32 and the fit's facts as attributes."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("ids", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())
        handle.create_dataset("coords", data=coords.astype(np.float32))
        for key, value in info.items():
            handle.attrs[key] = value


def read_embedding(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict]:
    with h5py.File(path, "r") as handle:
        return handle["ids"].asstr()[:], handle["coords"][:], dict(handle.attrs)
