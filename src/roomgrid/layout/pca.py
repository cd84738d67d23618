"""Principal components of the feature stacks, fitted and applied batch by batch from HDF5."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from sklearn.decomposition import IncrementalPCA
from tqdm import tqdm

from ..core.io import atomic_path
from ..core.stackreader import StackReader, batch_bounds

logger = logging.getLogger(__name__)


def fit_transform_incremental(reader: StackReader, n_components: int, batch_size: int
                              ) -> tuple[np.ndarray, dict, "Basis"]:
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
    return coords, info, Basis(model.components_.astype(np.float32), model.mean_.astype(np.float64))


def fit_transform_randomized(reader: StackReader, n_components: int, batch_size: int, *,
                             oversample: int = 10, power_iterations: int = 3, seed: int = 0
                             ) -> tuple[np.ndarray, dict, "Basis"]:
    """Randomized SVD of the centred data (Halko, Martinsson & Tropp 2011), streamed: one read of
    the stacks per power iteration, plus one for the sketch.

    Subspace iteration normally reads the data twice per iteration (``X^T Q``, then ``X P``) and
    orthonormalises an n-row matrix in between. Here each pass forms ``Y = X P`` batch by batch and
    in the same pass accumulates ``Y^T Y`` and ``X^T Y``; orthonormalising ``Y`` through the small
    Gram matrix (``Q = Y T`` with ``T^T (Y^T Y) T = I``) then gives ``X^T Q = (X^T Y) T`` without
    reading ``X`` again. ``Y``'s columns lie along ``X``'s top singular directions, so its Gram
    matrix is well conditioned and float64 accumulators suffice. Centring is algebraic
    (X - 1 mu^T): batches are never copied to centre them. Only the last pass keeps its n x
    (k + oversample) ``Y``, from which the coordinates follow without a transform pass.
    """
    n, features = len(reader), reader.n_features
    used = int(min(n_components, n, features))
    width = min(used + oversample, n, features)
    bounds = batch_bounds(n, batch_size)
    rng = np.random.default_rng(seed)
    right = rng.standard_normal((features, width)).astype(np.float32)  # P; first the sketch
    mean = None
    passes = power_iterations + 1
    for number in tqdm(range(passes), desc="pca passes", mininterval=5):
        last = number == passes - 1
        width = right.shape[1]  # may shrink if the data have lower rank than asked for
        keep = np.empty((n, width), dtype=np.float32) if last else None
        gram = np.zeros((width, width))               # Y^T Y (uncentred X, corrected below)
        cross = np.zeros((features, width))           # X^T Y
        y_sum = np.zeros(width)
        column_sum = np.zeros(features) if mean is None else None
        square_sum = 0.0
        shift = np.zeros(width, np.float32) if mean is None else mean.astype(np.float32) @ right
        for (start, stop), batch in zip(bounds, reader.batches(bounds)):
            if column_sum is not None:
                column_sum += batch.sum(axis=0, dtype=np.float64)
                square_sum += float(np.einsum("ij,ij->", batch, batch, dtype=np.float64))
            y = batch @ right
            y -= shift  # centred with the mean when known; the first pass is corrected below
            gram += y.T @ y
            cross += batch.T @ y
            y_sum += y.sum(axis=0, dtype=np.float64)
            if keep is not None:
                keep[start:stop] = y
        if mean is None:
            # First pass: X was uncentred. With A = X P, S = 1^T A and s = mu^T P:
            # (A - 1 s)^T (A - 1 s) = A^T A - S^T s - s^T S + n s^T s, and
            # (X - 1 mu)^T (A - 1 s) = X^T A - mu S.
            mean = column_sum / n
            total_variance = (square_sum - n * float(mean @ mean)) / max(n - 1, 1)
            # Identical photos: what variance remains is rounding noise, and so would be its ratios.
            spread = total_variance > 1e-9 * square_sum / n
            s = mean @ right.astype(np.float64)
            gram += -np.outer(y_sum, s) - np.outer(s, y_sum) + n * np.outer(s, s)
            if keep is not None:
                keep -= s.astype(np.float32)
        cross -= np.outer(mean, y_sum)
        transform = _gram_orthonormaliser(gram)       # Q = Y T
        projected = cross @ transform                 # (X - 1 mu)^T Q: (features, width)
        if not last:
            right = np.linalg.qr(projected)[0].astype(np.float32)
    # projected = B^T with B = Q^T (X - 1 mu); its SVD gives the components and, through Q,
    # the coordinates.
    u, singular, right_vectors = np.linalg.svd(projected.T, full_matrices=False)
    rank = min(used, len(singular))  # components beyond the data's rank are reported as zeros
    components = np.zeros((used, features), dtype=np.float32)
    components[:rank] = right_vectors[:rank]
    coords = np.zeros((n, used), dtype=np.float32)
    coords[:, :rank] = keep @ (transform @ (u[:, :rank] * singular[:rank])).astype(np.float32)
    variance = np.zeros(used)
    variance[:rank] = singular[:rank] ** 2 / max(n - 1, 1)
    if not spread:
        coords[:] = 0.0
    info = {"method": "randomized", "n_components_requested": int(n_components),
            "n_components": used, "batch_size": int(batch_size), "batches": len(bounds),
            "rows_fitted": int(n), "oversample": int(oversample),
            "power_iterations": int(power_iterations), "passes": int(passes), "seed": int(seed),
            "explained_variance_ratio": (variance / total_variance if spread
                                         else np.zeros(used)).astype(float).tolist()}
    return coords, info, Basis(components, mean)


def _gram_orthonormaliser(gram: np.ndarray) -> np.ndarray:
    """T with T^T G T = I on G's numerically non-null part, so that Y T is orthonormal."""
    values, vectors = np.linalg.eigh(gram)
    useful = values > values.max() * 1e-12 if values.max() > 0 else np.zeros(len(values), bool)
    return vectors[:, useful] / np.sqrt(values[useful])


@dataclass(frozen=True)
class Basis:
    """What projects a feature row to PCA coordinates: ``(row - mean) @ components.T``."""

    components: np.ndarray  # (k, features), orthonormal rows (zero rows beyond the data's rank)
    mean: np.ndarray        # (features,)

    def project(self, rows: np.ndarray) -> np.ndarray:
        return ((rows - self.mean) @ self.components.T).astype(np.float32)


def project_rows(reader: StackReader, basis: Basis, batch_size: int) -> np.ndarray:
    """PCA coordinates of every row of ``reader`` with a basis fitted earlier."""
    coords = np.empty((len(reader), len(basis.components)), dtype=np.float32)
    bounds = batch_bounds(len(reader), batch_size)
    for (start, stop), batch in zip(bounds, reader.batches(bounds)):
        coords[start:stop] = basis.project(batch)
    return coords


METHODS = {"incremental": fit_transform_incremental, "randomized": fit_transform_randomized}


def reduce(reader: StackReader, n_components: int = 150, batch_size: int = 1000,
           method: str = "randomized") -> tuple[np.ndarray, dict, Basis]:
    if method not in METHODS:
        raise ValueError(f"unknown PCA method {method!r}; choose from {sorted(METHODS)}")
    coords, info, basis = METHODS[method](reader, n_components, batch_size)
    logger.info("pca: %d rows -> %d components, %.1f%% of variance", len(coords),
                info["n_components"], 100 * sum(info["explained_variance_ratio"]))
    return coords, info, basis


def write_embedding(path: str | os.PathLike, ids, coords: np.ndarray, info: dict,
                    basis: Basis | None = None) -> None:
    """HDF5 with ``ids``, ``coords`` (n, k) float32, the fit's facts as attributes and, when
    given, the basis (``components``, ``mean``) that projects further photos."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("ids", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())
        handle.create_dataset("coords", data=coords.astype(np.float32))
        if basis is not None:
            handle.create_dataset("components", data=basis.components.astype(np.float32))
            handle.create_dataset("mean", data=basis.mean.astype(np.float64))
        for key, value in info.items():
            handle.attrs[key] = value


def read_embedding(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict]:
    with h5py.File(path, "r") as handle:
        return handle["ids"].asstr()[:], handle["coords"][:], dict(handle.attrs)


def read_basis(path: str | os.PathLike) -> Basis:
    """The stored basis of an embedding file written with one."""
    with h5py.File(path, "r") as handle:
        if "components" not in handle:
            raise ValueError(f"{path} holds no PCA basis (written before bases were stored)")
        return Basis(handle["components"][:], handle["mean"][:])


# --- the stage on files ------------------------------------------------------------------------

def run_pca(photos_tsv, features: Mapping[str, str], out_h5, *, n_components: int,
            batch_size: int, method: str, dataset: str = "stacks") -> None:
    from ..core.io import read_table
    from ..selection.tables import selected_photos, too_few_to_map

    # The first stage that needs photos says so, and the selection table saying why stays.
    problem = too_few_to_map(read_table(photos_tsv, ["selected", "dropped"]))
    if problem:
        raise ValueError(f"{problem}: see column 'dropped' of {photos_tsv}")
    chosen = selected_photos(photos_tsv, ["city"])
    with StackReader(features, chosen["id"], chosen["city"], dataset=dataset) as reader:
        coords, info, basis = reduce(reader, n_components, batch_size, method)
    write_embedding(out_h5, chosen["id"], coords, info, basis)


def run_project_pca(photos_tsv, features: Mapping[str, str], base_dir, out_h5, *, batch_size: int,
                    dataset: str) -> None:
    """PCA coordinates of every selected photo: the base's own for its photos, the base basis's
    projection for new ones."""
    import numpy as np

    from ..core.io import read_table
    from ..selection.tables import selected_photos, too_few_to_map

    # As in a rebuild: the first stage that needs photos says why too few are left.
    problem = too_few_to_map(read_table(photos_tsv, ["selected", "dropped"]))
    if problem:
        raise ValueError(f"{problem}: see column 'dropped' of {photos_tsv}")
    base_h5 = Path(base_dir) / "pca.h5"
    base_ids, base_coords, info = read_embedding(base_h5)
    basis = read_basis(base_h5)
    chosen = selected_photos(photos_tsv, ["city"])
    position = {photo_id: i for i, photo_id in enumerate(base_ids)}
    in_base = chosen["id"].map(position)
    new = chosen[in_base.isna()]
    coords = np.empty((len(chosen), base_coords.shape[1]), dtype=np.float32)
    known = in_base.notna().to_numpy()
    coords[known] = base_coords[in_base[known].astype(int).to_numpy()]
    if len(new):
        with StackReader(features, new["id"], new["city"], dataset=dataset) as reader:
            if reader.n_features != basis.components.shape[1]:
                raise ValueError(
                    f"the base's PCA basis takes {basis.components.shape[1]} features, but "
                    f"{dataset!r} holds {reader.n_features}: features changed since the base was "
                    "built; rebuild (layout.mode: rebuild)")
            coords[~known] = project_rows(reader, basis, batch_size)
    info = dict(info) | {"mode": "extend", "projected": int(len(new)),
                         "removed": int(len(base_ids) - known.sum())}
    write_embedding(out_h5, chosen["id"], coords, info, basis)
    logger.info("pca: %d photos from the base, %d new projected onto its basis, %d removed",
                known.sum(), len(new), info["removed"])
