"""Culling by type: a classifier trained on a few labelled photos predicts what every photo shows.

Labels come from up to three places, strongest first:

- ``labels_csv``: rows ``id,class`` naming photos of the collection (as the viewer exports them);
- ``labels_dir``: one sub-folder per class (``labels/bathroom/*.jpg``, like torchvision's
  ImageFolder), with photos from the collection or from anywhere;
- ``cluster_labels``: ``{cluster: class}``, naming k-means clusters; the most central photos of
  each named cluster become examples of its class, and, when nothing else is labelled, those of the
  unnamed clusters examples of ``other``.

A class-weighted logistic regression on the features (scikit-learn) is scored by cross-validation
with folds grouped by city, so that one listing's photos never sit on both sides of a split (its
regularisation chosen by the cross-validated log loss, so that probabilities mean something for a
threshold), then fitted on every label and applied to every readable photo, batch by batch.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.stackreader import StackReader, batch_bounds

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
                       device: str = "auto", stack: Mapping | None = None,
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


def _label_features(paths: Sequence[str], kind: str, *, model_onnx, threads, device, stack,
                    max_pixels, failures: list):
    """(position, features) per readable photo, in the dtype the collection's files use."""
    if kind == "cnn":
        from .cnn import CnnEmbedder, embed_files

        embedder = CnnEmbedder(model_onnx, threads=threads, device=device)
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


# ----------------------------------------------------------------------------------------------
# The classifier


# Regularisation strengths tried; the one with the best cross-validated log loss is used. Few
# labels want a weak penalty (C=100) for probabilities that mean something, many a stronger one.
C_CHOICES = (1.0, 10.0, 100.0)
DEFAULT_C = 10.0


def make_classifier(C: float = DEFAULT_C, seed: int = 0):
    """Class-weighted logistic regression: rare classes (a few floor plans) count as much as common
    ones. On L2-normalised CNN features it needs no scaling."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed)


def cross_validate(features: np.ndarray, classes: np.ndarray, groups: np.ndarray, *,
                   folds: int = 5, seed: int = 0) -> dict:
    """Out-of-fold predictions with folds grouped (by city) and stratified by class, for each C in
    :data:`C_CHOICES`; reports the C with the lowest log loss and, for it, accuracy, balanced
    accuracy, per-class precision/recall, one-vs-rest balanced accuracy and the confusion matrix."""
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix,
                                 log_loss, precision_recall_fscore_support)
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

    labels = sorted(set(classes))
    smallest = int(pd.Series(classes).value_counts().min())
    splits = min(folds, smallest, len(set(groups)))
    if splits < 2:
        return {"cross_validated": False, "classes": labels, "C": DEFAULT_C,
                "why": f"too few labelled photos or groups to cross-validate "
                       f"(smallest class {smallest}, {len(set(groups))} groups)"}
    cv = StratifiedGroupKFold(n_splits=splits, shuffle=True, random_state=seed)
    losses, outcomes = {}, {}
    for C in C_CHOICES:
        probabilities = cross_val_predict(make_classifier(C, seed), features, classes,
                                          groups=groups, cv=cv, method="predict_proba")
        losses[C] = float(log_loss(classes, probabilities, labels=labels))
        outcomes[C] = np.asarray(labels, dtype=object)[probabilities.argmax(1)]
    chosen = min(C_CHOICES, key=lambda C: (losses[C], C))
    predicted = outcomes[chosen]
    precision, recall, f1, support = precision_recall_fscore_support(
        classes, predicted, labels=labels, zero_division=0)
    return {
        "cross_validated": True,
        "folds": int(splits),
        "grouped_by": "city",
        "classes": labels,
        "C": chosen,
        "log_loss": {str(C): round(loss, 4) for C, loss in losses.items()},
        "accuracy": round(float(accuracy_score(classes, predicted)), 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(classes, predicted)), 4),
        "per_class": {
            name: {"precision": round(float(p), 4), "recall": round(float(r), 4),
                   "f1": round(float(f), 4), "support": int(s),
                   "balanced_accuracy_vs_rest": round(float(balanced_accuracy_score(
                       classes == name, predicted == name)), 4)}
            for name, p, r, f, s in zip(labels, precision, recall, f1, support)},
        "confusion": confusion_matrix(classes, predicted, labels=labels).astype(int).tolist(),
    }


def predict(reader: StackReader, model, batch_size: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (n, classes) for every row of ``reader``, batch by batch."""
    probabilities = np.empty((len(reader), len(model.classes_)), np.float32)
    bounds = batch_bounds(len(reader), batch_size)
    for (start, stop), batch in zip(bounds, reader.batches(bounds)):
        probabilities[start:stop] = model.predict_proba(batch)
    return probabilities


# ----------------------------------------------------------------------------------------------
# The stage


def cull_photos(*, readable: pd.DataFrame, feature_files: Mapping[str, str], dataset: str,
                labels_csv=None, labels_h5=None, clusters: pd.DataFrame | None = None,
                cluster_labels: Mapping[int, str] | None = None, cluster_examples_per: int = 200,
                scan_sha256: pd.Series | None = None, seed: int = 0
                ) -> tuple[pd.DataFrame, dict]:
    """Train on the labels and predict every readable photo.

    ``readable``: ``id``, ``city`` of every photo with features. Returns the predictions table
    (``id``, ``label`` (the user's, if the photo is labelled), ``predicted_class``,
    ``predicted_probability``, ``p_<class>`` for each class) and the metrics.
    """
    readable = readable.sort_values("id").reset_index(drop=True)
    city_of = readable.set_index("id")["city"]
    sources = []
    if labels_csv:
        table = read_label_csv(labels_csv)
        unknown = ~table["id"].isin(city_of.index)
        if unknown.any():
            logger.warning("%d labelled ids are not readable photos of this collection and are "
                           "ignored, e.g. %s", int(unknown.sum()), table.loc[unknown, "id"].head(3).tolist())
        sources.append(table[~unknown].assign(source="labels_csv"))
    outside = None
    if labels_h5:
        files, outside_features = read_label_features(labels_h5)
        # A labels-folder photo that is a copy of a collection photo labels that photo too and
        # takes its city as its cross-validation group.
        by_digest = (pd.Series(scan_sha256.index, index=scan_sha256.values)
                     if scan_sha256 is not None else pd.Series(dtype=str))
        by_digest = by_digest[~by_digest.index.duplicated()]
        files["id"] = files["sha256"].map(by_digest)
        copies = files.dropna(subset=["id"])
        sources.append(copies[["id", "class"]].assign(source="labels_dir"))
        outside = (files, outside_features)
    if cluster_labels and clusters is not None:
        others = not labels_csv and not labels_h5
        sources.append(cluster_examples(clusters, cluster_labels, per_cluster=cluster_examples_per,
                                        others=others).assign(source="clusters"))
    labelled = (pd.concat(sources, ignore_index=True).drop_duplicates("id", keep="first")
                if sources else pd.DataFrame(columns=["id", "class", "source"]))
    labelled = labelled.sort_values("id").reset_index(drop=True)

    # Training rows: labelled collection photos, then labels-folder photos that are not copies.
    features, classes, groups = [], [], []
    if len(labelled):
        with StackReader(feature_files, labelled["id"], labelled["id"].map(city_of),
                         dataset=dataset) as reader:
            features.append(reader.read(0, len(reader)).copy())
        classes += labelled["class"].tolist()
        groups += labelled["id"].map(city_of).tolist()
    if outside is not None:
        files, outside_features = outside
        own = files["id"].isna().to_numpy()
        features.append(outside_features[own])
        classes += files.loc[own, "class"].tolist()
        # Unknown provenance: each photo is its own group.
        groups += ("labels_dir/" + files.loc[own, "file"]).tolist()
    if not features or sum(len(f) for f in features) == 0:
        raise ValueError("culling needs labelled photos: set cull.labels_dir, cull.labels_csv or "
                         "cull.cluster_labels")
    features = np.concatenate(features)
    classes, groups = np.asarray(classes, dtype=object), np.asarray(groups, dtype=object)
    names = sorted(set(classes))
    if len(names) < 2:
        raise ValueError(f"the labels name only one class ({names[0]}): a classifier needs at "
                         f"least two; add a folder of photos to keep, e.g. labels/{OTHER}/")

    metrics = cross_validate(features, classes, groups, seed=seed)
    metrics["labelled"] = {name: int((classes == name).sum()) for name in names}
    metrics["label_sources"] = {str(k): int(v) for k, v in
                                labelled["source"].value_counts().sort_index().items()}
    if outside is not None:
        metrics["label_sources"]["labels_dir (not in the collection)"] = int(own.sum())
    model = make_classifier(metrics["C"], seed).fit(features, classes)
    with StackReader(feature_files, readable["id"], readable["city"], dataset=dataset) as reader:
        probabilities = predict(reader, model)
    best = probabilities.argmax(1)
    table = pd.DataFrame({"id": readable["id"],
                          "label": readable["id"].map(labelled.set_index("id")["class"]).fillna(""),
                          "predicted_class": model.classes_[best],
                          "predicted_probability": probabilities[np.arange(len(best)), best].round(4)})
    for position, name in enumerate(model.classes_):
        table[f"p_{name}"] = probabilities[:, position].round(4)
    metrics["predicted"] = {str(k): int(v) for k, v in
                            table["predicted_class"].value_counts().sort_index().items()}
    logger.info("culling classifier on %d labelled photos, classes %s: %s", len(classes), names,
                {k: metrics.get(k) for k in ("accuracy", "balanced_accuracy")})
    return table, metrics


def culled(predictions: pd.DataFrame, drop: Sequence[str], threshold: float) -> pd.Series:
    """Per photo, the dropped class it is culled as, or "": its own label if it has one, else the
    most probable dropped class whose probability reaches ``threshold``."""
    reason = pd.Series("", index=predictions.index, dtype=object)
    if not drop:
        return reason
    columns = [f"p_{name}" for name in drop if f"p_{name}" in predictions.columns]
    if columns:
        scores = predictions[columns].to_numpy(float)
        best = scores.argmax(1)
        sure = scores[np.arange(len(scores)), best] >= threshold
        names = np.array([c[2:] for c in columns], dtype=object)
        reason[sure] = names[best[sure]]
    labelled = predictions["label"].fillna("").astype(str).ne("")
    reason[labelled] = predictions.loc[labelled, "label"].where(
        predictions.loc[labelled, "label"].isin(drop), "")
    return reason


# --- the stage on files ------------------------------------------------------------------------

def run_predict_types(scans: Mapping[str, str], features: Mapping[str, str], out_tsv, out_json, *,
                      dataset: str, labels_csv=None, labels_h5=None, clusters_tsv=None,
                      cluster_labels=None, cluster_examples: int = 200) -> None:
    from ..core.io import read_table, write_json, write_table
    from ..scan.tables import readable_photos

    photos = readable_photos(scans)
    table, metrics = cull_photos(
        readable=photos[["id", "city"]], feature_files=features, dataset=dataset,
        labels_csv=labels_csv, labels_h5=labels_h5,
        clusters=read_table(clusters_tsv) if clusters_tsv else None,
        cluster_labels=cluster_labels, cluster_examples_per=cluster_examples,
        scan_sha256=photos.set_index("id")["sha256"])
    write_table(table, out_tsv)
    write_json(metrics, out_json)


def run_embed_labels(labels_dir, out_h5, out_files_tsv, **settings) -> None:
    """Features of the labels folder (:func:`embed_label_folder`) and the table of its files."""
    from ..core.io import write_table

    write_table(embed_label_folder(labels_dir, out_h5, **settings), out_files_tsv)
