"""Report figures of the clusters and the culling classifier: what each cluster shows, and how
well the classifier tells the labelled types apart."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .report import _save, plt


def read_thumbnails(ids: pd.Series, cities: pd.Series, thumbs: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The stored square thumbnail of each id, read city file by city file."""
    import h5py

    found = {}
    for city, wanted in pd.DataFrame({"id": ids, "city": cities}).groupby("city")["id"]:
        with h5py.File(thumbs[city], "r") as handle:
            position = {photo_id: i for i, photo_id in enumerate(handle["ids"].asstr()[:])}
            for photo_id in wanted:
                found[photo_id] = handle["thumbs"][position[photo_id]]
    return found


def plot_clusters(clusters: pd.DataFrame, facts: dict, thumbs: Mapping[str, str], path, *,
                  names: Mapping[int, str] | None = None, per_cluster: int = 8) -> None:
    """One row per cluster: its most central photos, with its number, size and given name."""
    from .clusters import central_photos

    names = {int(k): v for k, v in (names or {}).items()}
    central = central_photos(clusters, per_cluster)
    central["city"] = central["id"].str.split("/").str[0]
    images = read_thumbnails(central["id"], central["city"], thumbs)
    k = int(facts["k"])
    height = k * 1.1 + 0.4
    figure, axes = plt.subplots(k, per_cluster, figsize=(per_cluster * 1.1 + 0.8, height),
                                squeeze=False)
    figure.subplots_adjust(left=0.8 / (per_cluster * 1.1 + 0.8), right=1.0, bottom=0.0,
                           top=1 - 0.4 / height, wspace=0.05, hspace=0.05)
    for axis in axes.ravel():
        axis.axis("off")
    for row in central.itertuples():
        axes[row.cluster, row.centrality].imshow(images[row.id])
    for cluster in range(k):
        label = f"{cluster}: {facts['sizes'][cluster]}"
        if cluster in names:
            label += f"\n= {names[cluster]}"
        axes[cluster, 0].text(-0.08, 0.5, label, transform=axes[cluster, 0].transAxes,
                              ha="right", va="center", fontsize=8)
    figure.suptitle(f"{k} clusters of {facts['rows']} photos: the {per_cluster} nearest each "
                    f"centre (number: photos)", fontsize=9)
    _save(figure, path)


def plot_culling(metrics: dict, summary: dict, path) -> None:
    """Cross-validated confusion matrix and per-class precision and recall."""
    classes = metrics["classes"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    if metrics.get("cross_validated"):
        confusion = np.asarray(metrics["confusion"])
        left.imshow(confusion, cmap="Blues")
        for (i, j), count in np.ndenumerate(confusion):
            left.text(j, i, str(count), ha="center", va="center", fontsize=8,
                      color="white" if count > confusion.max() / 2 else "black")
        left.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
        left.set_yticks(range(len(classes)), classes, fontsize=8)
        left.set_xlabel("predicted (out of fold)")
        left.set_ylabel("labelled")
        left.set_title(f"{metrics['folds']} folds grouped by city: accuracy "
                       f"{metrics['accuracy']:.3f}, balanced {metrics['balanced_accuracy']:.3f}",
                       fontsize=9)
        per_class = metrics["per_class"]
        positions = np.arange(len(classes))
        right.barh(positions - 0.2, [per_class[c]["precision"] for c in classes], height=0.4,
                   label="precision", color="#1b9e77")
        right.barh(positions + 0.2, [per_class[c]["recall"] for c in classes], height=0.4,
                   label="recall", color="#7570b3")
        right.set_yticks(positions, [f"{c} ({metrics['labelled'][c]} labelled)" for c in classes],
                         fontsize=8)
        right.set_xlim(0, 1)
        right.invert_yaxis()
        right.legend(loc="lower right", fontsize=8)
    else:
        left.text(0.5, 0.5, metrics.get("why", "not cross-validated"), ha="center", va="center",
                  wrap=True, fontsize=9)
        left.axis("off")
        right.axis("off")
    culled = summary.get("culled", {})
    right.set_title("culled: " + (", ".join(f"{c} {n}" for c, n in culled.items()) or "none")
                    + f" (C = {metrics['C']:g})", fontsize=9)
    _save(figure, path)
