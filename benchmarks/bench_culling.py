"""Culling with a few labelled photos on real photos: does "drop bathrooms" take the bathrooms off?

On ../shared/data/rooms-dev (600 real photos, 6 classes of 100; skipped with a reason when absent),
embedded with the exported CNN as the per-city feature jobs do. rooms-dev has no cities, so its
photos are dealt at random into pseudo-cities of 15 (one features file each), which the classifier's
cross-validation groups by. For each of several random draws, ``--per-class`` photos of every class
are labelled (an ``id,class`` table, as ``cull.labels_csv``), the classifier is trained and applied
through :func:`roomgrid.features.cull.cull_photos`, bathrooms are dropped at the threshold chosen for
``cull.recall`` (:func:`roomgrid.features.cull.culling_thresholds`, :func:`roomgrid.features.cull.culled`, as the
selection does), and the photos not labelled tell what happened: the share of bathrooms culled and
of other photos culled. For comparison: the same model at the fixed threshold 0.5, and the share of
other photos culled at the threshold that, in hindsight, culls exactly ``--recall`` of the held-out
bathrooms (the best any threshold on that model could do).

    python benchmarks/bench_culling.py --draws 10 --per-class 15 --recall 0.95
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import format_table, machine_description  # noqa: E402

ROOMS_DEV = Path(__file__).resolve().parents[2] / "shared/data/rooms-dev"
DROP = "bathroom"
CITY_SIZE = 15


def embed_rooms_dev(folder: Path, workdir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Every rooms-dev photo (``file``, ``class``) and its CNN features (224 px EfficientNet-Lite0,
    exported as the workflow's ``export_cnn`` does)."""
    from roomgrid.features import cnn

    files = sorted(p for sub in folder.iterdir() if sub.is_dir() for p in sub.glob("*.jpg"))
    onnx = workdir / "model.onnx"
    cnn.export_onnx(onnx, model="efficientnet-lite0", input_px=224)
    embedder = cnn.CnnEmbedder(onnx, threads=2, device="cpu")
    done, rows = [], []
    for positions, failed, batch in cnn.embed_files(files, embedder, batch_size=32):
        if failed:
            raise SystemExit(f"rooms-dev photos could not be read: {failed[:3]}")
        done += list(positions)
        rows.append(batch)
    photos = pd.DataFrame({"file": [f"{files[i].parent.name}-{files[i].name}" for i in done],
                           "class": [files[i].parent.name for i in done]})
    return photos, np.concatenate(rows)


def write_pseudo_cities(photos: pd.DataFrame, features: np.ndarray, workdir: Path
                        ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Deal the photos into pseudo-cities of CITY_SIZE, one float16 features file each (as
    ``embed_city`` writes them); returns the readable table (``id``, ``city``, ``class``)."""
    import h5py

    order = np.random.default_rng(12345).permutation(len(photos))
    photos = photos.iloc[order].reset_index(drop=True)
    features = features[order]
    photos["city"] = [f"c{i // CITY_SIZE:02d}" for i in range(len(photos))]
    photos["id"] = photos["city"] + "/" + photos["file"]
    paths = {}
    for city, members in photos.groupby("city"):
        path = workdir / f"{city}.h5"
        with h5py.File(path, "w") as handle:
            handle.create_dataset("ids", data=members["id"].to_numpy(object),
                                  dtype=h5py.string_dtype())
            handle.create_dataset("features", data=features[members.index].astype(np.float16))
        paths[city] = str(path)
    return photos.sort_values("id").reset_index(drop=True), paths


def one_draw(photos: pd.DataFrame, paths: dict[str, str], workdir: Path, *, seed: int,
             per_class: int, recall: float) -> dict:
    from roomgrid.features.cull import cull_photos, culled, culling_thresholds

    rng = np.random.default_rng(seed)
    chosen = [rng.choice(members, per_class, replace=False)
              for _, members in sorted(photos.groupby("class").groups.items())]
    labelled = photos.loc[np.concatenate(chosen)]
    labels_csv = workdir / f"labels-{seed}.csv"
    labelled[["id", "class"]].to_csv(labels_csv, index=False)
    start = time.perf_counter()
    predictions, metrics = cull_photos(readable=photos[["id", "city"]], feature_files=paths,
                                       dataset="features", labels_csv=labels_csv,
                                       recall=recall)
    seconds = time.perf_counter() - start
    thresholds, how = culling_thresholds([DROP], None, metrics)
    held_out = ~predictions["id"].isin(labelled["id"]).to_numpy()
    truth = predictions["id"].map(photos.set_index("id")["class"]).to_numpy()
    is_drop = truth == DROP
    row = {"seed": seed, "C": metrics["C"], "threshold": thresholds[DROP],
           "cv_recall": how[DROP].get("recall"), "cv_false": how[DROP].get("false_drop_rate"),
           "seconds": seconds}
    for name, threshold in (("derived", thresholds), ("fixed", 0.5)):
        gone = culled(predictions, [DROP], threshold).eq(DROP).to_numpy()
        row[f"{name}_recall"] = gone[held_out & is_drop].mean()
        row[f"{name}_false"] = gone[held_out & ~is_drop].mean()
    # The best any threshold on this model could do: the one that culls exactly ``recall`` of the
    # held-out class, known only in hindsight.
    scores = predictions[f"p_{DROP}"].to_numpy()
    hindsight = np.quantile(scores[held_out & is_drop], 1 - recall, method="lower")
    row["oracle_false"] = (scores[held_out & ~is_drop] >= hindsight).mean()
    return row


def search_cost(features: np.ndarray, classes: np.ndarray, rows: int) -> dict:
    """CPU seconds of :func:`roomgrid.features.cull.cross_validate` (C search and thresholds) on ``rows``
    labelled photos: rooms-dev repeated with a little noise, as many examples as named clusters
    give (``cull.cluster_examples`` 200 a cluster), in 100 groups."""
    from roomgrid.features.cull import cross_validate

    rng = np.random.default_rng(0)
    repeats = -(-rows // len(features))
    many = np.concatenate([features + rng.normal(scale=0.01, size=features.shape)
                           for _ in range(repeats)])[:rows].astype(np.float32)
    many /= np.linalg.norm(many, axis=1, keepdims=True)
    labels = np.tile(classes, repeats)[:rows]
    start = time.process_time()
    metrics = cross_validate(many, labels, rng.integers(0, 100, rows).astype(str))
    return {"rows": rows, "cpu": time.process_time() - start, "C": metrics["C"],
            "tried": len(metrics["log_loss"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=10, help="random draws of the labels")
    parser.add_argument("--per-class", type=int, default=15, help="labelled photos of each class")
    parser.add_argument("--recall", type=float, default=0.95, help="cull.recall")
    parser.add_argument("--rooms-dev", type=Path, default=ROOMS_DEV, help="the photos' folder")
    parser.add_argument("--search-cost", type=int, nargs="*", default=[], metavar="ROWS",
                        help="also time the C search on this many labelled photos (run with "
                             "OMP_NUM_THREADS=1 for CPU seconds of one core)")
    args = parser.parse_args()
    print(machine_description())
    if not args.rooms_dev.is_dir():
        print(f"skipped: {args.rooms_dev} (real labelled photos) is absent")
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        start = time.perf_counter()
        photos, features = embed_rooms_dev(args.rooms_dev, workdir)
        embedded = time.perf_counter() - start
        classes = photos["class"].to_numpy()  # in the features' order
        photos, paths = write_pseudo_cities(photos, features, workdir)
        rows = [one_draw(photos, paths, workdir, seed=seed, per_class=args.per_class,
                         recall=args.recall) for seed in range(args.draws)]
    costs = [search_cost(features, classes, n) for n in args.search_cost]
    print(f"rooms-dev: {len(photos)} photos, {photos['class'].nunique()} classes, "
          f"{photos['city'].nunique()} pseudo-cities of {CITY_SIZE}; CNN features in "
          f"{embedded:.0f} s; {args.per_class} labelled a class, drop {DROP}, cull.recall "
          f"{args.recall:g}; held out: the {100 - args.per_class} unlabelled photos of each class")
    print(format_table(rows, [
        ("seed", "draw", "d"), ("C", "C", ".4g"), ("threshold", "threshold", ".4f"),
        ("cv_recall", "CV recall", ".3f"), ("cv_false", "CV false drops", ".3f"),
        ("derived_recall", "bathrooms culled", ".3f"), ("derived_false", "others culled", ".3f"),
        ("fixed_recall", "at 0.5: bathrooms", ".3f"), ("fixed_false", "others", ".3f"),
        ("oracle_false", "hindsight: others", ".3f"),
        ("seconds", "train+predict s", ".1f")]))
    table = pd.DataFrame(rows)
    summary = []
    for column, what, worst in (("derived_recall", "bathrooms culled, recall threshold", "min"),
                                ("derived_false", "other photos culled, recall threshold", "max"),
                                ("fixed_recall", "bathrooms culled, threshold 0.5", "min"),
                                ("fixed_false", "other photos culled, threshold 0.5", "max"),
                                ("oracle_false", "other photos culled, hindsight threshold",
                                 "max")):
        summary.append({"what": what, "mean": table[column].mean(),
                        "worst": getattr(table[column], worst)()})
    print(format_table(summary, [("what", "over draws", "s"), ("mean", "mean", ".3f"),
                                 ("worst", "worst", ".3f")]))
    if costs:
        print(format_table(costs, [("rows", "labelled photos", "d"), ("tried", "Cs tried", "d"),
                                   ("C", "C chosen", ".4g"), ("cpu", "CPU s", ".1f")]))


if __name__ == "__main__":
    main()
