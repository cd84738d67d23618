"""Culling by type: a classifier trained on a few labelled photos predicts what every photo shows.

Labels come from up to three places, strongest first:

- ``labels_csv``: rows ``id,class`` naming photos of the collection (as the viewer exports them);
- ``labels_dir``: one sub-folder per class (``labels/bathroom/*.jpg``, like torchvision's
  ImageFolder), with photos from the collection or from anywhere;
- ``cluster_labels``: ``{cluster: class}``, naming k-means clusters; the most central photos of
  each named cluster become examples of its class, and, when nothing else is labelled, those of the
  unnamed clusters examples of ``other``. They train the classifier but, unlike the user's own
  labels, never overrule its prediction: k-means can be wrong about a photo.

A class-weighted logistic regression on the features (scikit-learn) is scored by cross-validation
with folds grouped by city, so that one listing's photos never sit on both sides of a split (its
regularisation chosen by the cross-validated log loss, so that probabilities mean something for a
threshold), then fitted on every label and applied to every readable photo, batch by batch. The
out-of-fold probabilities also give, per class, the threshold that culls ``cull.recall`` of its
labelled photos, and what that costs; ``cull.threshold``, when set, replaces it.
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.stackreader import StackReader, batch_bounds
from .labels import OTHER, cluster_examples, read_label_csv, read_label_features

logger = logging.getLogger(__name__)



# ----------------------------------------------------------------------------------------------
# The classifier


# Regularisation strengths tried, a decade apart, then refined by thirds of a decade around the
# best; the one with the lowest cross-validated log loss is used. On L2-normalised CNN features a
# few labels want a weak penalty (C of 100 to 10,000) for probabilities that mean something; many
# labels a stronger one.
C_CHOICES = tuple(10.0 ** k for k in range(-2, 6))
C_REFINE = (10 ** (-2 / 3), 10 ** (-1 / 3), 10 ** (1 / 3), 10 ** (2 / 3))
DEFAULT_C = 10.0
DEFAULT_RECALL = 0.95
# With fewer labelled photos of a class, a threshold for a share of them is guesswork.
MIN_FOR_RECALL = 5
# The threshold used when none can be derived from cull.recall.
FALLBACK_THRESHOLD = 0.5


def make_classifier(C: float = DEFAULT_C, seed: int = 0, *, warm_start: bool = False):
    """Class-weighted logistic regression: rare classes (a few floor plans) count as much as common
    ones. On L2-normalised CNN features it needs no scaling."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed,
                              warm_start=warm_start)


def out_of_fold(features: np.ndarray, classes: np.ndarray, splits, labels: Sequence[str],
                Cs: Sequence[float], seed: int = 0) -> dict[float, np.ndarray]:
    """Out-of-fold class probabilities (columns in ``labels`` order) for each C. Within a fold the
    Cs are fitted in increasing order, each starting from the previous solution, which makes the
    weakly penalised fits cheap."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    column = {name: position for position, name in enumerate(labels)}
    found = {C: np.zeros((len(classes), len(labels))) for C in Cs}
    for train, test in splits:
        model = make_classifier(seed=seed, warm_start=True)
        for C in sorted(Cs):
            with warnings.catch_warnings():
                # The last few iterations of a weak penalty barely move the probabilities.
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.set_params(C=C).fit(features[train], classes[train])
            # A class missing from a training fold gets probability 0 there.
            found[C][np.ix_(test, [column[c] for c in model.classes_])] = \
                model.predict_proba(features[test])
    for probabilities in found.values():  # float32 features give float32 sums
        probabilities /= probabilities.sum(1, keepdims=True)
    return found


def recall_threshold(positives: np.ndarray, negatives: np.ndarray, recall: float) -> dict:
    """The threshold on a class's probability that keeps ``recall`` of its labelled photos, from
    their out-of-fold probabilities (``positives``; ``negatives``: those of every other labelled
    photo), and what it costs.

    Of the two estimates the lower is taken: the empirical quantile, and the quantile of a normal
    fitted to the logits. With 15 labelled photos the empirical one sits at the lowest of them,
    which the next photo undercuts one time in 16; the normal one reaches below the sample.
    """
    from scipy.stats import norm

    n = len(positives)
    if n < MIN_FOR_RECALL:
        return {"threshold": None, "examples": int(n),
                "why": f"{n} labelled photos; at least {MIN_FOR_RECALL} are needed to choose a "
                       f"threshold that culls {recall:.0%} of them"}
    ordered = np.sort(positives)
    empirical = float(ordered[int(np.floor((1 - recall) * n + 1e-9))])
    clipped = np.clip(positives, 1e-6, 1 - 1e-6)
    logits = np.log(clipped / (1 - clipped))
    fitted = float(1 / (1 + np.exp(-(logits.mean() - norm.ppf(recall) * logits.std(ddof=1)))))
    # Rounded down, so that the photo it was set by is culled too (predictions carry 4 decimals).
    threshold = float(np.floor(min(empirical, fitted) * 1e4) / 1e4)
    return {"threshold": threshold, "examples": int(n), **threshold_costs(positives, negatives,
                                                                           threshold)}


def threshold_costs(positives: np.ndarray, negatives: np.ndarray, threshold: float) -> dict:
    """Out of fold at ``threshold``: the share of the class's labelled photos culled (recall), of
    the other labelled photos culled (false-drop rate), and of the culled that are the class
    (precision, at the labels' class mix, not the collection's)."""
    hits, false = int((positives >= threshold).sum()), int((negatives >= threshold).sum())
    return {"recall": round(hits / max(len(positives), 1), 4),
            "false_drop_rate": round(false / max(len(negatives), 1), 4),
            "precision": round(hits / (hits + false), 4) if hits + false else None}


def cross_validate(features: np.ndarray, classes: np.ndarray, groups: np.ndarray, *,
                   folds: int = 5, seed: int = 0, recall: float = DEFAULT_RECALL) -> dict:
    """Out-of-fold predictions with folds grouped (by city) and stratified by class, for each C in
    :data:`C_CHOICES` and then around the best; reports the C with the lowest log loss and, for it,
    accuracy, balanced accuracy, per-class precision/recall, one-vs-rest balanced accuracy, the
    confusion matrix, and per class the probability threshold that culls ``recall`` of its
    labelled photos out of fold (``thresholds``, with its recall, false-drop rate and
    precision)."""
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix,
                                 log_loss, precision_recall_fscore_support)
    from sklearn.model_selection import StratifiedGroupKFold

    labels = sorted(set(classes))
    smallest = int(pd.Series(classes).value_counts().min())
    splits = min(folds, smallest, len(set(groups)))
    if splits < 2:
        why = (f"too few labelled photos or groups to cross-validate (smallest class {smallest}, "
               f"{len(set(groups))} groups)")
        return {"cross_validated": False, "classes": labels, "C": DEFAULT_C, "why": why,
                "recall": recall,
                "thresholds": {name: {"threshold": None, "examples": int((classes == name).sum()),
                                      "why": why} for name in labels}}
    folds_ = list(StratifiedGroupKFold(n_splits=splits, shuffle=True, random_state=seed)
                  .split(features, classes, groups))
    probabilities = out_of_fold(features, classes, folds_, labels, C_CHOICES, seed)
    losses = {C: float(log_loss(classes, p, labels=labels)) for C, p in probabilities.items()}
    coarse = min(losses, key=lambda C: (losses[C], C))
    finer = [coarse * factor for factor in C_REFINE]
    probabilities.update(out_of_fold(features, classes, folds_, labels, finer, seed))
    losses.update({C: float(log_loss(classes, probabilities[C], labels=labels)) for C in finer})
    chosen = min(losses, key=lambda C: (losses[C], C))
    best = probabilities[chosen]
    predicted = np.asarray(labels, dtype=object)[best.argmax(1)]
    precision, recall_, f1, support = precision_recall_fscore_support(
        classes, predicted, labels=labels, zero_division=0)
    return {
        "cross_validated": True,
        "folds": int(splits),
        "grouped_by": "city",
        "classes": labels,
        "C": float(f"{chosen:.4g}"),
        "log_loss": {f"{C:.4g}": round(loss, 4) for C, loss in sorted(losses.items())},
        "accuracy": round(float(accuracy_score(classes, predicted)), 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(classes, predicted)), 4),
        "per_class": {
            name: {"precision": round(float(p), 4), "recall": round(float(r), 4),
                   "f1": round(float(f), 4), "support": int(s),
                   "balanced_accuracy_vs_rest": round(float(balanced_accuracy_score(
                       classes == name, predicted == name)), 4)}
            for name, p, r, f, s in zip(labels, precision, recall_, f1, support)},
        "confusion": confusion_matrix(classes, predicted, labels=labels).astype(int).tolist(),
        "recall": recall,
        "thresholds": {name: recall_threshold(best[classes == name, k], best[classes != name, k],
                                              recall)
                       for k, name in enumerate(labels)},
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
                scan_sha256: pd.Series | None = None, seed: int = 0,
                recall: float = DEFAULT_RECALL) -> tuple[pd.DataFrame, dict]:
    """Train on the labels and predict every readable photo.

    ``readable``: ``id``, ``city`` of every photo with features. Returns the predictions table
    (``id``, ``label`` (the user's own, from ``labels_csv`` or ``labels_dir``, if the photo is
    labelled; the examples taken from named clusters are training data, not labels),
    ``predicted_class``, ``predicted_probability``, ``p_<class>`` for each class) and the metrics,
    with per class the threshold that culls ``recall`` of its labelled photos
    (:func:`cross_validate`).
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

    metrics = cross_validate(features, classes, groups, seed=seed, recall=recall)
    metrics["labelled"] = {name: int((classes == name).sum()) for name in names}
    metrics["label_sources"] = {str(k): int(v) for k, v in
                                labelled["source"].value_counts().sort_index().items()}
    if outside is not None:
        metrics["label_sources"]["labels_dir (not in the collection)"] = int(own.sum())
    model = make_classifier(metrics["C"], seed).fit(features, classes)
    with StackReader(feature_files, readable["id"], readable["city"], dataset=dataset) as reader:
        probabilities = predict(reader, model)
    best = probabilities.argmax(1)
    # Only the user's own labels overrule the prediction (README); a cluster's central photos
    # are the classifier's examples, and k-means can be wrong about them.
    own = labelled[labelled["source"].ne("clusters")].set_index("id")["class"]
    table = pd.DataFrame({"id": readable["id"],
                          "label": readable["id"].map(own).astype(object).fillna(""),
                          "predicted_class": model.classes_[best],
                          "predicted_probability": probabilities[np.arange(len(best)), best].round(4)})
    for position, name in enumerate(model.classes_):
        table[f"p_{name}"] = probabilities[:, position].round(4)
    metrics["predicted"] = {str(k): int(v) for k, v in
                            table["predicted_class"].value_counts().sort_index().items()}
    logger.info("culling classifier on %d labelled photos, classes %s: %s", len(classes), names,
                {k: metrics.get(k) for k in ("accuracy", "balanced_accuracy")})
    return table, metrics


def culling_thresholds(drop: Sequence[str], threshold: float | None,
                       metrics: Mapping | None) -> tuple[dict[str, float], dict]:
    """The probability each dropped class is culled at, and how it was chosen: ``cull.threshold``
    when it is set (for every class), else the class's threshold for ``cull.recall`` from the
    classifier's cross-validation, else :data:`FALLBACK_THRESHOLD` with the reason."""
    if threshold is not None:
        return ({name: float(threshold) for name in drop},
                {name: {"threshold": float(threshold), "from": "cull.threshold"} for name in drop})
    found = (metrics or {}).get("thresholds", {})
    chosen, how = {}, {}
    for name in drop:
        entry = found.get(name, {})
        if entry.get("threshold") is not None:
            chosen[name] = float(entry["threshold"])
            how[name] = {**entry, "from": f"cull.recall {metrics.get('recall', DEFAULT_RECALL):g}"}
        else:
            why = entry.get("why", "the classifier has no labelled photos of this class")
            chosen[name] = FALLBACK_THRESHOLD
            how[name] = {"threshold": FALLBACK_THRESHOLD, "from": "fallback", "why": why}
            logger.warning("cull.recall: no threshold for %s (%s); culling at probability %g",
                           name, why, FALLBACK_THRESHOLD)
    return chosen, how


def culled(predictions: pd.DataFrame, drop: Sequence[str],
           threshold: float | Mapping[str, float]) -> pd.Series:
    """Per photo, the dropped class it is culled as, or "": its own label if it has one, else the
    most probable dropped class whose probability reaches its threshold (``threshold``: one for
    all, or per class)."""
    reason = pd.Series("", index=predictions.index, dtype=object)
    if not drop:
        return reason
    names = [name for name in drop if f"p_{name}" in predictions.columns]
    if names:
        limits = np.array([threshold[name] if isinstance(threshold, Mapping) else threshold
                           for name in names], dtype=float)
        scores = predictions[[f"p_{name}" for name in names]].to_numpy(float)
        # Classes below their threshold do not compete for the photo.
        scores = np.where(scores >= limits, scores, -1.0)
        best = scores.argmax(1)
        sure = scores[np.arange(len(scores)), best] >= 0
        reason[sure] = np.asarray(names, dtype=object)[best[sure]]
    labelled = predictions["label"].fillna("").astype(str).ne("")
    reason[labelled] = predictions.loc[labelled, "label"].where(
        predictions.loc[labelled, "label"].isin(drop), "")
    return reason


# --- the stage on files ------------------------------------------------------------------------

def run_predict_types(scans: Mapping[str, str], features: Mapping[str, str], out_tsv, out_json, *,
                      dataset: str, labels_csv=None, labels_h5=None, clusters_tsv=None,
                      cluster_labels=None, cluster_examples: int = 200, recall: float = 0.95
                      ) -> None:
    from ..core.io import read_table, write_json, write_table
    from ..scan.tables import readable_photos

    photos = readable_photos(scans)
    table, metrics = cull_photos(
        readable=photos[["id", "city"]], feature_files=features, dataset=dataset,
        labels_csv=labels_csv, labels_h5=labels_h5,
        clusters=read_table(clusters_tsv) if clusters_tsv else None,
        cluster_labels=cluster_labels, cluster_examples_per=cluster_examples,
        scan_sha256=photos.set_index("id")["sha256"], recall=recall)
    write_table(table, out_tsv)
    write_json(metrics, out_json)
