"""Global selection: which scanned photos go on the map.

A photo is placed when it was readable, its entropy bin is one the user keeps, it is not on the
user's exclusion list, the culling classifier does not say it shows a type the user drops, and it
survives duplicate collapsing (per group, a plain 8-bit RGB or grey file is kept before a palette,
CMYK, alpha or 16-bit one, then the copy with the most pixels, then the larger file, then the
smaller id, so the choice is deterministic).
"""

from __future__ import annotations

import fnmatch
import logging
import os
from pathlib import Path
from typing import Collection, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.io import as_whole_numbers, read_json, read_table, write_json, write_table
from ..scan.dedup import duplicate_groups, hamming, pixel_check
from ..sources.folder import WHOLE_NUMBER_COLUMNS
from .tables import too_few_to_map  # noqa: F401  (part of this module's interface)
from ..scan.triage import entropy_bins

logger = logging.getLogger(__name__)



def read_exclusions(path: str | os.PathLike | None) -> list[str]:
    """Patterns from an exclusion list: one photo id or glob (``boston/*``) per line, ``#`` comments."""
    if not path:
        return []
    lines = Path(path).read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def is_excluded(ids: Iterable[str], patterns: Sequence[str]) -> np.ndarray:
    exact = {p for p in patterns if not any(c in p for c in "*?[")}
    globs = [p for p in patterns if p not in exact]
    return np.array([i in exact or any(fnmatch.fnmatchcase(i, g) for g in globs) for i in ids],
                    dtype=bool)


def select_photos(photo_tables: Sequence[str | os.PathLike], scan_tables: Sequence[str | os.PathLike],
                  *, keep_bins: Sequence[str], graphic_below: float, photo_from: float,
                  max_distance: int, exclusions: Sequence[str] = (),
                  clusters: pd.DataFrame | None = None, predictions: pd.DataFrame | None = None,
                  cull_drop: Sequence[str] = (),
                  cull_threshold: float | Mapping[str, float] = 0.5,
                  stacks: Mapping[str, str | os.PathLike] | None = None,
                  max_pixel_difference: float | None = None,
                  placed: Collection[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join the per-city tables and decide what is placed.

    ``clusters`` (``id``, ``cluster``) and ``predictions`` (the culling classifier's table) are
    optional; with predictions, photos labelled or predicted (probability >= ``cull_threshold``,
    one for all or per class: :func:`roomgrid.features.cull.culling_thresholds`) as one of the
    ``cull_drop`` classes leave the map.

    With ``stacks`` (city -> stacks.h5), photos whose dHashes are close count as duplicates only
    when their stored grey images also differ by at most ``max_pixel_difference`` grey levels on
    average (:func:`roomgrid.scan.dedup.pixel_check`); without, a close dHash suffices.

    ``placed`` (``layout.mode: extend``: the base map's photo ids) are the best copies of their
    duplicate groups, so a new city's copy of a photo already on the map never takes it off.

    Returns the photo table (every file, with ``bin``, ``excluded``, ``cluster``, ``label``,
    ``predicted_class``, ``predicted_probability``, ``culled``, ``duplicate_group``, ``selected``
    and ``dropped`` saying why a photo is not placed) sorted by id, and the duplicates table (one
    row per member of every duplicate group).
    """
    photos = as_whole_numbers(pd.concat([read_table(p) for p in photo_tables], ignore_index=True),
                              WHOLE_NUMBER_COLUMNS)
    scans = pd.concat([read_table(p) for p in scan_tables], ignore_index=True)
    table = photos.merge(scans, on="id", how="left", validate="one_to_one")
    table = table.sort_values("id", kind="stable").reset_index(drop=True)
    readable = table["status"].eq("ok").to_numpy()
    table["bin"] = entropy_bins(table["entropy"].to_numpy(dtype=float), graphic_below, photo_from)
    table["excluded"] = is_excluded(table["id"], exclusions)
    _join_culling(table, clusters, predictions, cull_drop, cull_threshold)
    is_culled = table["culled"].ne("").to_numpy()
    candidate = (readable & table["bin"].isin(keep_bins).to_numpy() & ~table["excluded"].to_numpy()
                 & ~is_culled)

    # Best copy first: one already on the map (extend), a plain file (the others were converted
    # on reading: palette colours, CMYK, alpha), then most pixels, then the larger file, then the
    # smaller id.
    converted = ~table["mode"].isin(["RGB", "L"]).to_numpy()
    pixels = (table["width"].fillna(0) * table["height"].fillna(0)).to_numpy()
    new_copy = ~table["id"].isin(placed).to_numpy() if placed is not None else np.zeros(len(table), bool)
    index = np.nonzero(candidate)[0]
    rank = np.lexsort((table["id"].to_numpy()[index], -table["bytes"].to_numpy(float)[index],
                       -pixels[index], converted[index], new_copy[index]))
    if stacks is not None and max_pixel_difference is None:
        raise ValueError("max_pixel_difference is needed to compare the stacks")
    confirm = None if stacks is None else pixel_check(
        stacks, table["id"].to_numpy()[index], table["city"].to_numpy()[index], max_pixel_difference)
    groups = np.full(len(table), -1, dtype=np.int64)
    survivor = np.zeros(len(table), dtype=bool)
    groups[index], survivor[index] = duplicate_groups(
        table["dhash"].to_numpy()[index].astype(str), table["sha256"].to_numpy()[index].astype(str),
        max_distance, priority=rank, confirm=confirm)
    table["duplicate_group"] = groups
    table["selected"] = candidate & ((groups < 0) | survivor)

    dropped = np.full(len(table), "", dtype=object)
    dropped[~table["selected"].to_numpy()] = "duplicate"
    dropped[~readable] = "unreadable"
    not_kept_bin = readable & ~table["bin"].isin(keep_bins).to_numpy()
    dropped[not_kept_bin] = "bin " + table["bin"].to_numpy()[not_kept_bin]
    dropped[readable & table["excluded"].to_numpy() & ~not_kept_bin] = "excluded"
    culled_here = readable & is_culled & ~not_kept_bin & ~table["excluded"].to_numpy()
    dropped[culled_here] = "culled " + table["culled"].to_numpy()[culled_here]
    table["dropped"] = dropped
    duplicates = _duplicates_table(table, survivor)
    return table, duplicates


def _join_culling(table: pd.DataFrame, clusters: pd.DataFrame | None,
                  predictions: pd.DataFrame | None, drop: Sequence[str],
                  threshold: float | Mapping[str, float]) -> None:
    """Add the cluster and culling columns to ``table`` in place (blank where not computed)."""
    from ..features.cull import culled

    cluster = clusters.set_index("id")["cluster"] if clusters is not None else pd.Series(dtype=int)
    table["cluster"] = table["id"].map(cluster).fillna(-1).astype(int)
    columns = ["label", "predicted_class", "predicted_probability"]
    if predictions is None:
        for column in columns:
            table[column] = np.nan if column == "predicted_probability" else ""
        table["culled"] = ""
        if drop:
            logger.warning("cull.drop is set but no classifier ran (no labels): nothing is culled")
        return
    unknown = [name for name in drop if f"p_{name}" not in predictions.columns]
    if unknown:
        logger.warning("cull.drop names classes the classifier does not know: %s (it knows %s)",
                       unknown, sorted(c[2:] for c in predictions.columns if c.startswith("p_")))
    predictions = predictions.assign(culled=culled(predictions, drop, threshold)).set_index("id")
    for column in columns + ["culled"]:
        values = table["id"].map(predictions[column])
        table[column] = values if column == "predicted_probability" else values.fillna("")


def _duplicates_table(table: pd.DataFrame, survivor: np.ndarray) -> pd.DataFrame:
    members = table[table["duplicate_group"] >= 0].copy()
    members["kept"] = survivor[members.index]
    kept = members[members["kept"]].set_index("duplicate_group")
    members["kept_id"] = members["duplicate_group"].map(kept["id"])
    kept_hash = members["duplicate_group"].map(kept["dhash"])
    kept_sha = members["duplicate_group"].map(kept["sha256"])
    members["identical_bytes"] = members["sha256"].eq(kept_sha)
    members["distance"] = [hamming(a, b) for a, b in zip(members["dhash"], kept_hash)]
    columns = ["duplicate_group", "id", "city", "kept", "kept_id", "identical_bytes", "distance",
               "width", "height", "bytes"]
    return members[columns].sort_values(["duplicate_group", "kept", "id"],
                                         ascending=[True, False, True]).reset_index(drop=True)


def summarise(table: pd.DataFrame, duplicates: pd.DataFrame) -> dict:
    """Counts worth reading at a glance (and plotting in the report)."""
    return {
        "photos": int(len(table)),
        "selected": int(table["selected"].sum()),
        "unreadable": int(table["dropped"].eq("unreadable").sum()),
        "bins": {b: int(n) for b, n in table.loc[table["status"].eq("ok"), "bin"].value_counts().items()},
        "excluded": int(table["dropped"].eq("excluded").sum()),
        "culled": {c[len("culled "):]: int(n) for c, n in table["dropped"].value_counts().items()
                   if c.startswith("culled ")},
        "duplicate_groups": int(duplicates["duplicate_group"].nunique()) if len(duplicates) else 0,
        "duplicates_removed": int(table["dropped"].eq("duplicate").sum()),
        "cities": int(table["city"].nunique()),
    }


def write_selection(table: pd.DataFrame, duplicates: pd.DataFrame, photos_tsv, duplicates_tsv,
                    summary_json, culling: Mapping | None = None) -> None:
    """The tables and the summary; ``culling``: per dropped class, the threshold it was culled at
    and how it was chosen (:func:`roomgrid.features.cull.culling_thresholds`), kept for the report."""
    write_table(table, photos_tsv)
    write_table(duplicates, duplicates_tsv)
    summary = summarise(table, duplicates)
    if culling:
        summary["culling"] = dict(culling)
    write_json(summary, summary_json)
    logger.info("selection: %s", summary)


# --- the stage on files ------------------------------------------------------------------------

def run_select_photos(photos_tsv: Sequence[str], scans_tsv: Sequence[str],
                      stacks: Mapping[str, str], out_photos, out_duplicates, out_summary, *,
                      keep_bins, graphic_below: float, photo_from: float, max_distance: int,
                      max_pixel_difference: float, exclusions=None, clusters=None,
                      predictions=None, cull_drop=(), cull_threshold=None, cull_metrics=None,
                      base_dir=None) -> None:
    """Select the photos of every city and write the selection table, the duplicate groups and
    the summary. ``clusters``, ``predictions``, ``cull_metrics`` (the classifier's thresholds
    for ``cull.recall``) and ``base_dir`` (an extension's base, whose placed photos stay the kept
    copy of their duplicates) are optional files."""
    from ..features.cull import culling_thresholds

    thresholds, culling = culling_thresholds(
        cull_drop, cull_threshold, read_json(cull_metrics) if cull_metrics else None)
    table, duplicates = select_photos(
        photos_tsv, scans_tsv, keep_bins=keep_bins, graphic_below=graphic_below,
        photo_from=photo_from, max_distance=max_distance,
        exclusions=read_exclusions(exclusions),
        clusters=read_table(clusters, ["id", "cluster"]) if clusters else None,
        predictions=read_table(predictions) if predictions else None,
        cull_drop=cull_drop, cull_threshold=thresholds, stacks=stacks,
        max_pixel_difference=max_pixel_difference,
        placed=read_table(Path(base_dir) / "grid.tsv", ["id"])["id"] if base_dir else None)
    write_selection(table, duplicates, out_photos, out_duplicates, out_summary, culling=culling)
