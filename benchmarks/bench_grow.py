"""Benchmark growing a built map through the workflow: add one city to a map of all the others.

In ``--work`` (three Snakemake work directories, each a ``source.kind: folder`` run on
``--images``):

1. ``base/``: every city but the new one, ``layout.mode: rebuild`` (this leaves ``results/base/``);
2. the same directory, all cities, ``layout.mode: extend``: the timed step, from the new city's
   first job to the viewer and report figures, as a user runs it;
3. ``rebuild/``: all cities, ``layout.mode: rebuild``, for comparison.

Reported: wall seconds of each run and of each job of the extension (from Snakemake's log),
placed photos that moved, tiles rewritten on disk against the pyramid, and the new photos' kNN-8
kept (the share of a photo's 8 nearest photos in PCA space that sit in its 8 nearest occupied
cells) in the extension against the rebuild, and against the ceiling of any placement that moves
no placed photo (:func:`free_cell_ceiling`).

Per-city work (scan, CNN features) does not depend on the layout, so ``--per-city-from`` a
finished run of the same images (its ``results/cities``, ``results/model`` and Snakemake's
records) is hard-linked in, except the new city's, which the extension scans and embeds itself.

    python benchmarks/bench_grow.py --images /work/bench/photos125k --work /work/bench/grow \\
        --new-city newyork --spare 0.05 --per-city-from /work/bench/embed125k
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_workflow import snakemake  # noqa: E402
from common import MIB, city_counts, format_table, machine_description  # noqa: E402


def write_config(path: Path, images: str, cities: list[str], mode: str, spare: float) -> Path:
    config = {"source": {"kind": "folder",
                         "folder": {"images_dir": images, "cities": cities, "metadata_csv": None}},
              "layout": {"mode": mode, "spare": spare}}
    path.write_text(yaml.safe_dump(config))
    return path


def link_per_city(source: Path, work: Path, skip: str) -> None:
    """Hard-link a finished run's per-city results and Snakemake records into ``work``."""
    for city in (source / "results/cities").iterdir():
        if city.name != skip and not (work / "results/cities" / city.name).exists():
            shutil.copytree(city, work / "results/cities" / city.name, copy_function=os.link)
    for part in ("results/model", ".snakemake/metadata", ".snakemake/roomgrid"):
        if (source / part).exists() and not (work / part).exists():
            shutil.copytree(source / part, work / part, copy_function=shutil.copy2)
    # The per-city benchmark records are outputs too: without them the jobs would re-run.
    for rule in ("scan_city", "embed_city"):
        for record in (source / "results/benchmarks" / rule).glob("*.tsv"):
            target = work / "results/benchmarks" / rule / record.name
            if record.stem != skip and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(record, target)


def job_seconds(log: Path) -> list[dict]:
    """(rule, wildcards, seconds) of every job in a Snakemake log, from its time stamps."""
    stamp, started, jobs = None, {}, []
    lines = log.read_text().splitlines()
    for at, line in enumerate(lines):
        found = re.match(r"\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]", line)
        if found:
            stamp = dt.datetime.strptime(found.group(1), "%a %b %d %H:%M:%S %Y")
            continue
        rule = re.match(r"(?:local)?rule (\w+):", line)
        if rule:
            block = "\n".join(lines[at + 1:at + 14])
            job = re.search(r"jobid: (\d+)", block)
            city = re.search(r"wildcards: city=(\S+)", block)
            if job:
                started[job.group(1)] = (rule.group(1), city.group(1) if city else "", stamp)
            continue
        done = re.match(r"Finished jobid: (\d+)", line)
        if done and done.group(1) in started:
            name, city, begun = started[done.group(1)]
            jobs.append({"rule": name, "city": city, "seconds": (stamp - begun).total_seconds()})
    return jobs


def tile_files(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every tile under ``root``."""
    states = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".jpg"):
                path = os.path.join(folder, name)
                stat = os.stat(path)
                states[os.path.relpath(path, root)] = (stat.st_ino, stat.st_mtime_ns)
    return states


def new_photo_knn(work: Path, new_city: str) -> float:
    """kNN-8 kept by the new city's photos in a work directory's layout (the drift's measure)."""
    return layout_knn(work / "results/embedding/pca.h5", work / "results/layout/grid.tsv",
                      work / "results/layout/grid.json", new_city)


def layout_knn(pca_h5: Path, grid_tsv: Path, grid_json: Path, new_city: str) -> float:
    """kNN-8 kept by ``new_city``'s photos in a layout, from its PCA coordinates and grid."""
    from roomgrid.layout.extend import drift
    from roomgrid.core.io import read_json, read_table
    from roomgrid.layout.pca import read_embedding

    ids, features, _ = read_embedding(pca_h5)
    facts = read_json(grid_json)
    grid = read_table(grid_tsv).set_index("id").loc[ids]
    cells = grid["row"].to_numpy() * facts["cols"] + grid["col"].to_numpy()
    is_new = np.array([i.startswith(new_city + "/") for i in ids])
    return drift(features, cells, is_new, np.zeros(is_new.sum()), rows=facts["rows"],
                 cols=facts["cols"])["knn_kept_new"]


def free_cell_ceiling(pca_h5: Path, base_grid, base_shape: tuple[int, int]) -> float:
    """The most kNN-8 kept the new photos could get without moving a placed photo, ignoring
    each other: every new photo alone takes the free base cell whose 8 surrounding cells hold
    most of its 8 nearest placed photos (in PCA space). New photos that look alike could add a
    little by sitting together; the cells they compete for take away."""
    import pandas as pd

    from roomgrid.layout import look_alikes as placement
    from roomgrid.layout.pca import read_embedding

    ids, features, _ = read_embedding(pca_h5)
    ids = pd.Index(ids)
    is_new = ~ids.isin(base_grid.index)
    kept = base_grid.loc[ids[~is_new]]
    rows, cols = base_shape
    base_row = pd.Series(np.arange(len(kept)), index=kept.index).reindex(ids).to_numpy()
    nearest = placement.look_alikes(features, is_new, np.nan_to_num(base_row, nan=-1).astype(int),
                                 k=8)
    cells = kept["row"].to_numpy() * cols + kept["col"].to_numpy()
    anchors = np.where((nearest >= 0) & (nearest < len(kept)),
                       cells[np.clip(nearest, 0, len(kept) - 1)], -1)
    free = np.ones(rows * cols, bool)
    free[cells] = False
    photo, _, score = placement.look_alike_scores(anchors, np.ones(8), free, rows, cols,
                                               kernel=placement.SURROUNDING_CELLS)
    best = pd.Series(score).groupby(photo).max().reindex(range(len(nearest)), fill_value=0.0)
    return float(best.mean() / 8)


def main() -> None:
    from roomgrid.core.io import read_json, read_table

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--new-city", default=None)
    parser.add_argument("--new-photos", type=int, default=300,
                        help="without --new-city: the city with the nearest photo count")
    parser.add_argument("--spare", type=float, default=0.05, help="layout.spare of both builds")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--per-city-from", type=Path, default=None)
    parser.add_argument("--extend-only", action="store_true",
                        help="keep the base build and the rebuild of an earlier run; extend again "
                             "from the base, the new city's per-city jobs included")
    args = parser.parse_args()

    counts = city_counts(args.images)
    new_city = args.new_city or min(counts, key=lambda c: (abs(counts[c] - args.new_photos), c))
    others = [c for c in counts if c != new_city]
    base_dir, rebuild_dir = args.work / "base", args.work / "rebuild"
    base_dir.mkdir(parents=True, exist_ok=True)
    if args.per_city_from:
        link_per_city(args.per_city_from, base_dir, new_city)
    print(f"# machine: {machine_description()}")
    print(f"# {len(counts)} cities, {sum(counts.values())} photos; new city {new_city} "
          f"({counts[new_city]} photos); layout.spare {args.spare:g}", flush=True)

    runs, extra = [], ("--cores", str(args.cores))
    if args.extend_only:  # the base's files are the base build's own (hard links)
        shutil.rmtree(base_dir / "results/cities" / new_city, ignore_errors=True)
        for record in (base_dir / "results/benchmarks").glob(f"*/{new_city}.tsv"):
            record.unlink()
    else:
        base_config = write_config(args.work / "base.yaml", args.images, others, "rebuild",
                                   args.spare)
        seconds, peak, code = snakemake(base_dir, base_config, *extra, log=args.work / "base.log")
        runs.append({"step": "base build", "seconds": seconds, "peak": peak / MIB, "code": code})
    before = read_table(base_dir / "results/base/grid.tsv").set_index("id")
    tiles_before = tile_files(base_dir / "results/base/tiles")

    extend_config = write_config(args.work / "extend.yaml", args.images, [], "extend", args.spare)
    # Again: Snakemake does not re-make a deleted intermediate file whose consumers are up to
    # date, so the new city's first job is forced, and with it everything downstream.
    again = ("--forcerun", f"results/cities/{new_city}/photos.tsv") if args.extend_only else ()
    seconds, peak, code = snakemake(base_dir, extend_config, *extra, *again,
                                    log=args.work / "extend.log")
    runs.append({"step": "extend", "seconds": seconds, "peak": peak / MIB, "code": code})
    after = read_table(base_dir / "results/layout/grid.tsv").set_index("id")
    tiles_after = tile_files(base_dir / "results/viewer/tiles")
    facts = read_json(base_dir / "results/layout/grid.json")

    if not args.extend_only:
        rebuild_config = write_config(args.work / "rebuild.yaml", args.images, [], "rebuild",
                                      args.spare)
        rebuild_dir.mkdir(parents=True, exist_ok=True)
        if args.per_city_from:  # every city's per-city results, the new one's from the extension
            link_per_city(base_dir, rebuild_dir, "")
        seconds, peak, code = snakemake(rebuild_dir, rebuild_config, *extra,
                                        log=args.work / "rebuild.log")
        runs.append({"step": "rebuild", "seconds": seconds, "peak": peak / MIB, "code": code})

    print(format_table(runs, [("step", "step", "s"), ("seconds", "wall s", ".1f"),
                              ("peak", "peak tree MiB", ".0f"), ("code", "exit", "d")]))
    jobs = job_seconds(args.work / "extend.log")
    print("\nextension, job by job (start to finish, two at a time):")
    print(format_table(jobs, [("rule", "rule", "s"), ("city", "city", "s"),
                              ("seconds", "s", ".0f")]))

    kept = before.index.intersection(after.index)
    moved = int((after.loc[kept, ["row", "col"]] != before.loc[kept, ["row", "col"]])
                .any(axis=1).sum())
    rewritten = sum(1 for path, state in tiles_after.items() if tiles_before.get(path) != state)
    report = {"new_city": new_city, "new_photos": facts["drift"]["new_photos"],
              "base_photos": int(len(before)), "removed_photos": facts["removed"],
              "placed_photos_moved": moved,
              "grid": f"{facts['base']['rows']}x{facts['base']['cols']} -> "
                      f"{facts['rows']}x{facts['cols']}",
              "tiles_rewritten": rewritten, "tiles_total": len(tiles_after),
              "tiles_rewritten_share": rewritten / len(tiles_after),
              "knn8_new_extend": facts["drift"]["knn_kept_new"],
              "knn8_base_extend": facts["drift"]["knn_kept_base"],
              "knn8_new_rebuild": new_photo_knn(rebuild_dir, new_city)}
    report["knn8_ratio_to_rebuild"] = report["knn8_new_extend"] / report["knn8_new_rebuild"]
    report["knn8_new_ceiling"] = free_cell_ceiling(
        base_dir / "results/embedding/pca.h5", before, (facts["base"]["rows"], facts["base"]["cols"]))
    report["ceiling_ratio_to_rebuild"] = report["knn8_new_ceiling"] / report["knn8_new_rebuild"]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
