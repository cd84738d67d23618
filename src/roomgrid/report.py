"""Figures for the Snakemake report."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # no display on clusters or CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .io import atomic_path
from .triage import BINS

BIN_COLOURS = {"graphic": "#d95f02", "maybe": "#7570b3", "photo": "#1b9e77"}


def _save(figure, path: str | os.PathLike) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)


def plot_triage(photos: pd.DataFrame, summary: dict, path, *, graphic_below: float,
                photo_from: float) -> None:
    readable = photos[photos["status"].eq("ok")]
    figure, axis = plt.subplots(figsize=(7, 3.8))
    edges = np.linspace(0, np.log(256), 57)
    values = [readable.loc[readable["bin"].eq(b), "entropy"].to_numpy(float) for b in BINS]
    axis.hist(values, bins=edges, stacked=True, color=[BIN_COLOURS[b] for b in BINS],
              label=[f"{b} ({len(v)})" for b, v in zip(BINS, values)])
    for threshold in (graphic_below, photo_from):
        axis.axvline(threshold, color="black", linestyle="--", linewidth=1)
    axis.set_xlabel("entropy of the 8-bit grayscale histogram (nats)")
    axis.set_ylabel("photos")
    axis.legend(loc="upper left")
    axis.set_title(f"{summary['selected']} of {summary['photos']} photos placed; "
                   f"{summary['unreadable']} unreadable, {summary['duplicates_removed']} duplicates "
                   f"removed, {summary['excluded']} excluded", fontsize=9)
    _save(figure, path)


def plot_pca_variance(explained_variance_ratio, path) -> None:
    ratio = np.asarray(explained_variance_ratio, dtype=float)
    figure, axis = plt.subplots(figsize=(7, 3.5))
    components = np.arange(1, len(ratio) + 1)
    axis.bar(components, ratio, color="#7570b3", label="per component")
    twin = axis.twinx()
    twin.plot(components, np.cumsum(ratio), color="black", label="cumulative")
    twin.set_ylim(0, 1)
    axis.set_xlabel("principal component")
    axis.set_ylabel("share of variance")
    twin.set_ylabel("cumulative share")
    axis.set_title(f"{len(ratio)} components explain {100 * ratio.sum():.1f}% of the variance")
    _save(figure, path)


def plot_layout(points: pd.DataFrame, cells: pd.DataFrame, grid_facts: dict, tsne_facts: dict,
                path) -> None:
    merged = points.merge(cells, on="id")
    cities = sorted(merged["city"].unique())
    colour_of = {c: plt.cm.tab20(i % 20) for i, c in enumerate(cities)}
    colours = merged["city"].map(colour_of).tolist()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 5.2))
    size = max(1.0, 3000 / max(len(merged), 1))
    left.scatter(merged["x"], merged["y"], c=colours, s=size, linewidths=0)
    left.set_title(f"t-SNE (perplexity {tsne_facts['perplexity']:g}, "
                   f"learning rate {tsne_facts['learning_rate']})", fontsize=9)
    right.scatter(merged["col"], merged["row"], c=colours, s=size, marker="s", linewidths=0)
    right.invert_yaxis()
    quality = grid_facts["quality"]
    right.set_title(f"grid {grid_facts['rows']}x{grid_facts['cols']} ({grid_facts['method']}): "
                    f"msd {quality['mean_sq_displacement']:.2f} cells, "
                    f"8-NN kept {quality['knn_kept']:.3f}", fontsize=9)
    drift = grid_facts.get("drift")
    if drift and drift.get("knn_ratio") is not None:
        advice = "rebuild recommended" if grid_facts.get("rebuild_recommended") else "no rebuild needed"
        figure.suptitle(f"extended base {grid_facts['base']['rows']}x{grid_facts['base']['cols']} "
                        f"with {drift['new_photos']} new photos ({100 * drift['new_share']:.1f}%): "
                        f"their look-alikes kept {drift['knn_kept_new']:.2f} vs "
                        f"{drift['knn_kept_base']:.2f} for placed photos "
                        f"(ratio {drift['knn_ratio']:.2f}, threshold "
                        f"{grid_facts['rebuild_below']:.2f}): {advice}", fontsize=9)
    for axis in (left, right):
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
    if len(cities) <= 20:
        handles = [plt.Line2D([], [], marker="o", linestyle="", color=colour_of[c], label=c)
                   for c in cities]
        right.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    _save(figure, path)
