"""Figures for the Snakemake report."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.io import read_table
from ..layout.grid import cell_centres, normalise_points
from ..scan.triage import BINS, trimming_moves
from .common import plt, read_thumbnails, save_figure, thumbnail_grid

BIN_COLOURS = {"graphic": "#d95f02", "maybe": "#7570b3", "photo": "#1b9e77"}


def plot_triage(photos: pd.DataFrame, summary: dict, path, *, graphic_below: float,
                photo_from: float) -> dict[str, int]:
    """Histogram of entropies by bin, and as measured before uniform borders were trimmed.
    Returns the bin moves that trimming caused (also written on the figure)."""
    readable = photos[photos["status"].eq("ok")]
    figure, axis = plt.subplots(figsize=(7, 3.8))
    edges = np.linspace(0, np.log(256), 57)
    values = [readable.loc[readable["bin"].eq(b), "entropy"].to_numpy(float) for b in BINS]
    axis.hist(values, bins=edges, stacked=True, color=[BIN_COLOURS[b] for b in BINS],
              label=[f"{b} ({len(v)})" for b, v in zip(BINS, values)])
    moves = trimming_moves(readable["entropy_untrimmed"].to_numpy(float), readable["bin"],
                           graphic_below, photo_from)
    axis.hist(readable["entropy_untrimmed"].to_numpy(float), bins=edges, histtype="step",
              color="black", linewidth=0.8, label="before trimming uniform borders")
    moved = "; ".join(f"{n} {move}" for move, n in moves.items()) or "none"
    axis.text(0.01, 0.62, f"bins changed by border trimming: {moved}", transform=axis.transAxes,
              fontsize=8, va="top")
    for threshold in (graphic_below, photo_from):
        axis.axvline(threshold, color="black", linestyle="--", linewidth=1)
    axis.set_xlabel("entropy of the 8-bit grayscale histogram (nats)")
    axis.set_ylabel("photos")
    axis.legend(loc="upper left")
    axis.set_title(f"{summary['selected']} of {summary['photos']} photos placed; "
                   f"{summary['unreadable']} unreadable, {summary['duplicates_removed']} duplicates "
                   f"removed, {summary['excluded']} excluded", fontsize=9)
    save_figure(figure, path)
    return moves


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
    save_figure(figure, path)


def plot_layout(points: pd.DataFrame, cells: pd.DataFrame, grid_facts: dict, tsne_facts: dict,
                path) -> None:
    merged = points.merge(cells, on="id")
    cities = sorted(merged["city"].unique())
    colour_of = {c: plt.cm.tab20(i % 20) for i, c in enumerate(cities)}
    colours = merged["city"].map(colour_of).tolist()
    figure, (left, right, spread) = plt.subplots(
        1, 3, figsize=(15, 5.2), gridspec_kw={"width_ratios": [1, 1, 0.8]})
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
        left.legend(handles=handles, loc="upper left", fontsize=7, ncols=2)
    # How far each photo moved from its t-SNE position to its cell, in cells.
    rows, cols = grid_facts["rows"], grid_facts["cols"]
    moved = np.sqrt(((normalise_points(merged[["x", "y"]].to_numpy(float), rows, cols)
                      - cell_centres(rows, cols)[merged["row"] * cols + merged["col"]]) ** 2
                     ).sum(axis=1))
    spread.hist(moved, bins=40, color="#1b9e77")
    spread.axvline(np.median(moved), color="black", linestyle="--", linewidth=1,
                   label=f"median {np.median(moved):.2f}")
    spread.set_xlabel("distance from t-SNE position to cell (cells)")
    spread.set_ylabel("photos")
    spread.legend(fontsize=8)
    spread.set_title("displacement", fontsize=9)
    save_figure(figure, path)


# Counts, thumbnails and stage costs ------------------------------------------------------------

def plot_counts(photos: pd.DataFrame, path) -> None:
    """Photos per city, split by what became of them, and photos per entropy bin."""
    fate = photos["dropped"].fillna("").astype(str).replace("", "placed")
    table = pd.crosstab(photos["city"], fate)
    order = ["placed"] + sorted(c for c in table.columns if c != "placed")
    table = table.reindex(columns=[c for c in order if c in table.columns])
    cities = len(table)
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(11, max(3.5, 0.18 * min(cities, 60) + 1.5)),
        gridspec_kw={"width_ratios": [3, 1]})
    shown = table.sort_values("placed" if "placed" in table else table.columns[0],
                              ascending=False).head(60)
    colours = plt.cm.Set2(np.arange(len(shown.columns)) % 8)
    shown[::-1].plot.barh(stacked=True, ax=left, color=colours, width=0.8)
    left.set_xlabel("photos")
    left.set_ylabel("")
    left.set_title(f"{int(table.to_numpy().sum())} photos in {cities} cities"
                   + (" (60 largest shown)" if cities > 60 else ""), fontsize=9)
    left.legend(fontsize=7, loc="lower right")
    bins = photos["bin"].fillna("unreadable").astype(str).value_counts()
    bins = bins.reindex([b for b in (*BINS, "unreadable") if b in bins.index])
    right.bar(bins.index, bins.to_numpy(),
              color=[BIN_COLOURS.get(b, "#999999") for b in bins.index])
    for x, n in enumerate(bins.to_numpy()):
        right.annotate(str(n), (x, n), ha="center", va="bottom", fontsize=8)
    right.set_title("entropy bins", fontsize=9)
    save_figure(figure, path)


def plot_bin_examples(photos: pd.DataFrame, thumbs_paths: Mapping[str, str], path, *,
                      per_bin: int = 8) -> None:
    """For each entropy bin, photos spread evenly over its entropy range, lowest first."""
    readable = photos[photos["status"].eq("ok")].sort_values(["entropy", "id"])
    picks = []
    for name in BINS:
        members = readable[readable["bin"].eq(name)]
        if len(members):
            at = np.unique(np.linspace(0, len(members) - 1, min(per_bin, len(members))).round())
            picks.append((name, members.iloc[at.astype(int)]))
    chosen = pd.concat([rows for _, rows in picks]) if picks else readable.iloc[:0]
    thumbs = read_thumbnails(thumbs_paths, chosen["id"], chosen["city"])
    rows = [(f"{name}\n({int(readable['bin'].eq(name).sum())})",
             [(f"{e:.2f} nats", thumbs[i]) for i, e in zip(members["id"], members["entropy"])
              if i in thumbs]) for name, members in picks]
    thumbnail_grid(rows, "Examples of each entropy bin (entropy under each photo)", path, per_bin)


def plot_duplicate_examples(duplicates: pd.DataFrame, thumbs_paths: Mapping[str, str], path, *,
                            groups: int = 6, per_group: int = 6) -> None:
    """The largest duplicate groups: the kept copy first, then the copies dropped for it."""
    if len(duplicates):
        sizes = duplicates.groupby("duplicate_group").size().sort_values(ascending=False,
                                                                         kind="stable")
        shown = duplicates[duplicates["duplicate_group"].isin(sizes.index[:groups])]
    else:
        sizes, shown = pd.Series(dtype=int), duplicates
    thumbs = read_thumbnails(thumbs_paths, shown["id"], shown["city"])
    rows = []
    for group in sizes.index[:groups]:
        members = shown[shown["duplicate_group"].eq(group)].head(per_group)
        items = [(("kept " if kept else f"d={distance} ") + str(photo_id).split("/")[0],
                  thumbs[photo_id])
                 for photo_id, kept, distance in zip(members["id"], members["kept"].astype(bool),
                                                     members["distance"]) if photo_id in thumbs]
        rows.append((f"group {group}\n({sizes[group]})", items))
    thumbnail_grid(rows, f"{len(sizes)} duplicate groups; the largest {min(groups, len(sizes))} "
                          "(d: dHash bits from the kept copy)", path, per_group)


def plot_tsne_thumbnails(points: pd.DataFrame, cities: Mapping[str, str],
                         thumbs_paths: Mapping[str, str], path, *, max_photos: int = 1500,
                         seed: int = 0) -> None:
    """The t-SNE map drawn with the photos themselves (an even sample past ``max_photos``)."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    sample = points.sample(n=min(max_photos, len(points)), random_state=seed).sort_values("id")
    thumbs = read_thumbnails(thumbs_paths, sample["id"], [cities[i] for i in sample["id"]])
    figure, axis = plt.subplots(figsize=(12, 12))
    axis.scatter(points["x"], points["y"], s=1, color="#cccccc", linewidths=0)
    zoom = float(np.clip(6.0 / np.sqrt(max(len(sample), 1)), 0.04, 0.35))
    for photo_id, x, y in zip(sample["id"], sample["x"], sample["y"]):
        if photo_id in thumbs:
            axis.add_artist(AnnotationBbox(OffsetImage(thumbs[photo_id], zoom=zoom), (x, y),
                                           frameon=False, pad=0))
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_aspect("equal")
    axis.set_title(f"t-SNE map, {len(thumbs)} of {len(points)} photos drawn", fontsize=10)
    save_figure(figure, path)


def read_benchmarks(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """One row per stage: wall seconds summed over its jobs, the largest max_rss (MB), jobs.

    The stage is the benchmark file's name, or its folder's for per-city jobs
    (``results/benchmarks/scan_city/<city>.tsv``); missing or empty files are skipped."""
    rows = []
    for path in paths:
        path = os.fspath(path)
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            continue
        table = read_table(path)
        parent = os.path.basename(os.path.dirname(path))
        stage = parent if parent != "benchmarks" else os.path.splitext(os.path.basename(path))[0]
        rss = pd.to_numeric(table["max_rss"], errors="coerce")
        rows.append({"stage": stage, "s": float(pd.to_numeric(table["s"]).sum()),
                     "max_rss": float(rss.max()) if rss.notna().any() else np.nan})
    frame = pd.DataFrame(rows, columns=["stage", "s", "max_rss"])
    return frame.groupby("stage", sort=False).agg(
        s=("s", "sum"), max_rss=("max_rss", "max"), jobs=("s", "size")).reset_index()


def plot_benchmarks(paths: Sequence[str | os.PathLike], path) -> None:
    costs = read_benchmarks(paths)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 0.35 * max(len(costs), 4) + 1.5))
    labels = [f"{s} (x{j})" if j > 1 else s for s, j in zip(costs["stage"], costs["jobs"])]
    left.barh(labels, costs["s"], color="#7570b3")
    left.set_xlabel("wall time, summed over jobs (s)")
    right.barh(labels, costs["max_rss"], color="#d95f02")
    right.set_xlabel("peak resident memory of one job (MB)")
    right.set_yticks([])
    for axis in (left, right):
        axis.invert_yaxis()
    left.set_title(f"{costs['s'].sum():.0f} s in all", fontsize=9)
    save_figure(figure, path)


# --- the figures on files ----------------------------------------------------------------------

def run_plot_triage(photos_tsv, summary_json, path, **thresholds) -> None:
    from ..core.io import read_json

    plot_triage(read_table(photos_tsv), read_json(summary_json), path, **thresholds)


def run_plot_pca_variance(pca_h5, path) -> None:
    from ..layout.pca import read_embedding

    _, _, facts = read_embedding(pca_h5)
    plot_pca_variance(facts["explained_variance_ratio"], path)


def run_plot_layout(points_tsv, cells_tsv, grid_json, tsne_json, path) -> None:
    from ..core.io import read_json

    plot_layout(read_table(points_tsv), read_table(cells_tsv), read_json(grid_json),
                read_json(tsne_json), path)


def run_plot_counts(photos_tsv, path) -> None:
    plot_counts(read_table(photos_tsv), path)


def run_plot_examples(photos_tsv, duplicates_tsv, thumbs: Mapping[str, str], bins_path,
                      duplicates_path) -> None:
    plot_bin_examples(read_table(photos_tsv), thumbs, bins_path)
    plot_duplicate_examples(read_table(duplicates_tsv), thumbs, duplicates_path)


def run_plot_tsne_thumbnails(points_tsv, cells_tsv, thumbs: Mapping[str, str], path, *,
                             seed: int) -> None:
    cells = read_table(cells_tsv)
    plot_tsne_thumbnails(read_table(points_tsv), dict(zip(cells["id"], cells["city"])), thumbs,
                         path, seed=seed)
