"""Report figures of the clusters and the culling classifier: what each cluster shows, and how
well the classifier tells the labelled types apart."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .common import plt, read_thumbnails, save_figure, thumbnail_grid


def plot_clusters(clusters: pd.DataFrame, facts: dict, thumbs: Mapping[str, str], path, *,
                  names: Mapping[int, str] | None = None, per_cluster: int = 8) -> None:
    """One row per cluster: its most central photos, with its number, size and given name."""
    from ..features.clusters import central_photos

    names = {int(k): v for k, v in (names or {}).items()}
    central = central_photos(clusters, per_cluster)
    images = read_thumbnails(thumbs, central["id"], central["id"].str.split("/").str[0])
    rows = []
    for cluster, members in central.groupby("cluster", sort=True):
        heading = f"{cluster}: {facts['sizes'][cluster]}" + (
            f"\n= {names[cluster]}" if cluster in names else "")
        rows.append((heading, [("", images[i]) for i in members["id"] if i in images]))
    thumbnail_grid(rows, f"{facts['k']} clusters of {facts['rows']} photos: the {per_cluster} "
                          f"nearest each centre (number: photos)", path, per_cluster)


def threshold_lines(summary: dict) -> list[str]:
    """One line per dropped class: the threshold it was culled at, how it was chosen, and what
    that costs out of fold (recall, false-drop rate, precision on the labelled photos)."""
    lines = []
    for name, how in summary.get("culling", {}).items():
        line = f"{name}: culled at p \u2265 {how['threshold']:.4g}"
        if how["from"] == "cull.threshold":
            line += " (cull.threshold)"
        elif how["from"] == "fallback":
            line += f" (fallback: {how['why']})"
        else:
            precision = "-" if how.get("precision") is None else f"{how['precision']:.2f}"
            line += (f" ({how['from']}): out of fold {how['recall']:.0%} of its {how['examples']} "
                     f"labelled culled, {how['false_drop_rate']:.1%} of the other labelled "
                     f"photos, precision {precision}")
        lines.append(line)
    return lines


def plot_culling(metrics: dict, summary: dict, path) -> None:
    """Cross-validated confusion matrix and per-class precision and recall; under them, each
    dropped class's threshold and its cost."""
    classes = metrics["classes"]
    lines = threshold_lines(summary)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2 + 0.25 * len(lines)))
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
    if lines:
        figure.text(0.01, 0.01, "\n".join(lines), fontsize=8, va="bottom")
        figure.subplots_adjust(bottom=0.22 + 0.05 * len(lines))
    save_figure(figure, path)


# --- the figures on files ----------------------------------------------------------------------

def run_plot_clusters(clusters_tsv, facts_json, thumbs: Mapping[str, str], path, *,
                      names=None) -> None:
    from ..core.io import read_json, read_table

    plot_clusters(read_table(clusters_tsv), read_json(facts_json), thumbs, path, names=names)


def run_plot_culling(metrics_json, summary_json, path) -> None:
    from ..core.io import read_json

    plot_culling(read_json(metrics_json), read_json(summary_json), path)
