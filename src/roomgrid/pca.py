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


def fit_transform_randomized(reader: StackReader, n_components: int, batch_size: int, *,
                             oversample: int = 10, power_iterations: int = 3, seed: int = 0
                             ) -> tuple[np.ndarray, dict]:
    """Randomized SVD of the centred data, streamed: every pass reads the stacks once, batch by batch.

    The range of the data is sketched with a random projection and sharpened by power iterations
    (Halko, Martinsson & Tropp 2011). Only the n x (k + oversample) sketch and a
    (k + oversample) x features matrix are held, and the coordinates fall out of the last pass, so
    no separate transform pass is needed. Centring is applied algebraically (X - 1 mu^T) so batches
    are never copied to centre them.
    """
    n, features = len(reader), reader.n_features
    used = int(min(n_components, n, features))
    width = min(used + oversample, n, features)
    bounds = batch_bounds(n, batch_size)
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((features, width)).astype(np.float32)

    # Pass 1: column sums (mean), total variance, and the first sketch X @ omega.
    column_sum = np.zeros(features, dtype=np.float64)
    square_sum = 0.0
    sketch = np.empty((n, width), dtype=np.float32)
    for (start, stop), batch in tqdm(zip(bounds, reader.batches(bounds)), total=len(bounds),
                                     desc="pca sketch", mininterval=5):
        column_sum += batch.sum(axis=0, dtype=np.float64)
        square_sum += float(np.einsum("ij,ij->", batch, batch, dtype=np.float64))
        sketch[start:stop] = batch @ omega
    mean = column_sum / n
    total_variance = (square_sum - n * float(mean @ mean)) / max(n - 1, 1)
    mean32 = mean.astype(np.float32)
    sketch -= mean32 @ omega
    basis = _orthonormal(sketch)
    del sketch  # n x width arrays are the largest things held: keep one alive at a time

    for _ in tqdm(range(power_iterations), desc="pca power iterations", mininterval=5):
        projected = _project_rows(reader, bounds, basis, mean32)      # (X - mu)^T Q
        del basis
        basis = _orthonormal(_multiply_rows(reader, bounds, _orthonormal(projected), mean32))

    # Last pass: B = Q^T (X - mu); its SVD gives the components and, through Q, the coordinates.
    small = _project_rows(reader, bounds, basis, mean32).T            # (width, features)
    u, singular, components = np.linalg.svd(small.astype(np.float64), full_matrices=False)
    coords = (basis @ (u[:, :used] * singular[:used]).astype(np.float32)).astype(np.float32)
    variance = singular[:used] ** 2 / max(n - 1, 1)
    info = {"method": "randomized", "n_components_requested": int(n_components),
            "n_components": used, "batch_size": int(batch_size), "batches": len(bounds),
            "rows_fitted": int(n), "oversample": int(oversample),
            "power_iterations": int(power_iterations), "seed": int(seed),
            "explained_variance_ratio": (variance / total_variance).astype(float).tolist()}
    return coords, info


def _orthonormal(matrix: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(matrix)
    return q.astype(np.float32)


def _project_rows(reader: StackReader, bounds, basis: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(X - 1 mu^T)^T @ basis, accumulated over batches: (features, width)."""
    out = np.zeros((reader.n_features, basis.shape[1]), dtype=np.float64)
    for (start, stop), batch in zip(bounds, reader.batches(bounds)):
        out += batch.T @ basis[start:stop]
    out -= np.outer(mean, basis.sum(axis=0, dtype=np.float64))
    return out.astype(np.float32)


def _multiply_rows(reader: StackReader, bounds, right: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(X - 1 mu^T) @ right, batch by batch: (n, width)."""
    out = np.empty((len(reader), right.shape[1]), dtype=np.float32)
    shift = mean @ right
    for (start, stop), batch in zip(bounds, reader.batches(bounds)):
        out[start:stop] = batch @ right - shift
    return out


METHODS = {"incremental": fit_transform_incremental, "randomized": fit_transform_randomized}


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
