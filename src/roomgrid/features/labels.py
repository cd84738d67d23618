"""The user's labels for culling: a labels folder (one sub-folder per class), a CSV of ``id,class``
rows, or named clusters whose most central photos become examples; and the features of labelled
photos that lie outside the collection, computed as the collection's are."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .runtimes import DEFAULT_RUNTIME

logger = logging.getLogger(__name__)

OTHER = "other"


# ----------------------------------------------------------------------------------------------
# Labels


def label_folder_files(labels_dir: str | os.PathLike) -> pd.DataFrame:
    """Image files of a labels folder: ``file`` (relative, e.g. ``bathroom/a.jpg``), ``class``,
    ``path``. Sub-folders name the classes; deeper folders belong to their top sub-folder."""
    from ..sources.folder import IMAGE_EXTENSIONS

    root = Path(labels_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"cull.labels_dir {str(root)!r} is not a folder")
    rows = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(class_dir.rglob("*")):
            if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS \
                    and not path.name.startswith("."):
                rows.append({"file": path.relative_to(root).as_posix(), "class": class_dir.name,
                             "path": str(path)})
    return pd.DataFrame(rows, columns=["file", "class", "path"])


def read_label_csv(path: str | os.PathLike) -> pd.DataFrame:
    """``id,class`` rows (a header line is required); blank classes are ignored."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"id", "class"} - set(table.columns)
    if missing:
        raise ValueError(f"cull.labels_csv {str(path)!r} needs the columns id and class "
                         f"(missing: {', '.join(sorted(missing))})")
    table = table[["id", "class"]].apply(lambda column: column.str.strip())
    return table[table["class"].ne("")].drop_duplicates("id", keep="last").reset_index(drop=True)


def cluster_examples(clusters: pd.DataFrame, names: Mapping[int, str], *, per_cluster: int,
                     others: bool) -> pd.DataFrame:
    """``id,class`` examples from named clusters (their ``per_cluster`` most central photos), and
    from the unnamed ones as ``other`` when ``others``."""
    names = {int(k): str(v) for k, v in names.items()}
    unknown = set(names) - set(clusters["cluster"].unique())
    if unknown:
        raise ValueError(f"cull.cluster_labels names clusters {sorted(unknown)} that do not exist "
                         f"(clusters 0-{clusters['cluster'].max()})")
    central = clusters[clusters["centrality"] < per_cluster]
    classes = central["cluster"].map(names)
    if others:
        classes = classes.fillna(OTHER)
    table = pd.DataFrame({"id": central["id"], "class": classes}).dropna()
    return table.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Features of labelled photos outside the collection


def embed_label_folder(labels_dir, out_h5, *, kind: str, model_onnx=None, threads: int = 1,
                       device: str = "auto", runtime: str = DEFAULT_RUNTIME,
                       cache_dir=None, stack: Mapping | None = None,
                       max_pixels: int = 60_000_000) -> pd.DataFrame:
    """Features of every photo in a labels folder, as the collection's are computed (``kind``
    ``cnn``: the exported model; ``stacks``: blur stacks with the scan's ``stack`` settings).
    Writes ``ids`` (relative files), ``classes``, ``sha256`` and the features; returns the table of
    files with ``status``/``reason`` for those that could not be read."""
    import h5py

    from ..core.io import atomic_path

    files = label_folder_files(labels_dir)
    if files.empty:
        raise ValueError(f"cull.labels_dir {str(labels_dir)!r} has no images in class sub-folders "
                         f"(expected e.g. {labels_dir}/bathroom/photo.jpg)")
    rows, failures = [], []
    for position, features in _label_features(files["path"], kind, model_onnx=model_onnx,
                                              threads=threads, device=device, stack=stack,
                                              runtime=runtime, cache_dir=cache_dir,
                                              max_pixels=max_pixels, failures=failures):
        rows.append((position, features))
    ok = [position for position, _ in rows]
    files["status"] = "ok"
    files["reason"] = ""
    for position, reason in failures:
        files.loc[position, ["status", "reason"]] = ["skipped", reason]
        logger.warning("label photo %s skipped: %s", files.loc[position, "file"], reason)
    # Matches label photos that are copies of collection photos (see cull_photos).
    files["sha256"] = [hashlib.sha256(Path(path).read_bytes()).hexdigest()
                       if Path(path).is_file() else "" for path in files["path"]]
    dataset = "features" if kind == "cnn" else "stacks"
    with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("ids", data=files.loc[ok, "file"].to_numpy(object),
                              dtype=h5py.string_dtype())
        handle.create_dataset("classes", data=files.loc[ok, "class"].to_numpy(object),
                              dtype=h5py.string_dtype())
        handle.create_dataset("sha256", data=files.loc[ok, "sha256"].to_numpy(object),
                              dtype=h5py.string_dtype())
        data = np.stack([f for _, f in rows]) if rows else np.zeros((0, 1), np.float16)
        handle.create_dataset(dataset, data=data)
    logger.info("labels folder: %d photos in %d classes, %d skipped", len(ok),
                files.loc[ok, "class"].nunique(), len(failures))
    return files.drop(columns="path")


def _label_features(paths: Sequence[str], kind: str, *, model_onnx, threads, device, runtime,
                    cache_dir, stack, max_pixels, failures: list):
    """(position, features) per readable photo, in the dtype the collection's files use."""
    if kind == "cnn":
        from .cnn import CnnEmbedder, embed_files

        embedder = CnnEmbedder(model_onnx, threads=threads, device=device, runtime=runtime,
                               cache_dir=cache_dir)
        for done, failed, batch in embed_files(paths, embedder, max_pixels=max_pixels):
            failures.extend(failed)
            for position, row in zip(done, batch):
                yield position, row.astype(np.float16)
        return
    from ..scan.decode import BadPhoto, decode_photo
    from ..scan.stacks import blur_stack

    size, sigmas, colour = stack["size"], stack["sigmas"], stack["colour"]
    for position, path in enumerate(paths):
        try:
            decoded = decode_photo(Path(path).read_bytes(), min_side=size, max_pixels=max_pixels)
        except (BadPhoto, OSError) as exc:
            failures.append((position, str(exc)))
            continue
        yield position, blur_stack(decoded.image, size, sigmas, colour)


def read_label_features(labels_h5) -> tuple[pd.DataFrame, np.ndarray]:
    """The labels folder's table (``file``, ``class``, ``sha256``) and features as float32."""
    import h5py

    with h5py.File(labels_h5, "r") as handle:
        table = pd.DataFrame({"file": handle["ids"].asstr()[:],
                              "class": handle["classes"].asstr()[:],
                              "sha256": handle["sha256"].asstr()[:]})
        name = "features" if "features" in handle else "stacks"
        raw = handle[name][:]
    features = raw.reshape(len(raw), -1).astype(np.float32)
    if raw.dtype == np.uint8:
        features *= np.float32(1.0 / 255.0)
    return table, features




# --- the stage on files ------------------------------------------------------------------------

def run_embed_labels(labels_dir, out_h5, out_files_tsv, **settings) -> None:
    """Features of the labels folder (:func:`embed_label_folder`) and the table of its files."""
    from ..core.io import write_table

    write_table(embed_label_folder(labels_dir, out_h5, **settings), out_files_tsv)
