"""Features that know what a room is: quality on real photos and cost per photo.

Quality, on ../shared/data/rooms-dev (600 real photos in 6 labelled folders; skipped with a reason
when absent): for the blur stacks and for each CNN input size, the share of each photo's 8 nearest
neighbours that show the same room type (chance 1/6), in the feature space itself, after PCA to 150
components and on the t-SNE map; and the culling classifier's cross-validated accuracy (6 types)
and "bathroom vs rest" balanced accuracy.

Cost, on a folder of generated 600x450 listing photos (benchmarks/make_photos.py): photos per second
of the per-city feature job (decode at reduced size + onnxruntime on the job's threads) for each
input size, its peak memory, and what that makes for 125,000 photos.

    python benchmarks/bench_features.py --quality
    python benchmarks/bench_features.py --throughput /work/bench/photos --n 2000 --sizes 224 160 128
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import format_table, machine_description, measure  # noqa: E402

ROOMS_DEV = Path(__file__).resolve().parents[2] / "shared/data/rooms-dev"


def knn_share(features: np.ndarray, labels: np.ndarray, k: int = 8) -> float:
    from sklearn.neighbors import NearestNeighbors

    found = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features, return_distance=False)
    return float((labels[found[:, 1:]] == labels[:, None]).mean())


def rooms_dev_files() -> tuple[list[Path], np.ndarray]:
    files = sorted(p for folder in ROOMS_DEV.iterdir() if folder.is_dir() for p in folder.glob("*.jpg"))
    return files, np.array([p.parent.name for p in files])


def stack_features(files) -> np.ndarray:
    from roomgrid.scan.decode import decode_photo
    from roomgrid.scan.stacks import blur_stack

    rows = [blur_stack(decode_photo(p.read_bytes(), min_side=64).image, 64, (3.0, 8.0)).ravel()
            for p in files]
    return np.stack(rows).astype(np.float32) / 255.0


def cnn_features(files, model: str, input_px: int, workdir: Path) -> np.ndarray:
    from roomgrid.features import cnn

    onnx = workdir / f"{model.replace(':', '_')}-{input_px}.onnx"
    if not onnx.exists():
        cnn.export_onnx(onnx, model=model, input_px=input_px)
    embedder = cnn.CnnEmbedder(onnx, threads=2, device="cpu")
    return np.concatenate([b for _, _, b in cnn.embed_files(files, embedder, batch_size=32)])


def quality_row(name: str, features: np.ndarray, labels: np.ndarray) -> dict:
    from openTSNE import TSNE
    from sklearn.decomposition import PCA

    from roomgrid.features.cull import cross_validate

    pca = PCA(n_components=min(150, features.shape[1]), random_state=0).fit_transform(features)
    tsne = np.asarray(TSNE(n_jobs=2, random_state=1).fit(pca))
    # rooms-dev has no cities: every photo is its own group, so the folds are stratified only.
    metrics = cross_validate(features, labels, np.arange(len(labels)).astype(str), folds=5)
    return {"features": name, "dims": features.shape[1], "knn_raw": knn_share(features, labels),
            "knn_pca": knn_share(pca, labels), "knn_tsne": knn_share(tsne, labels),
            "accuracy": metrics["accuracy"],
            "bathroom": metrics["per_class"]["bathroom"]["balanced_accuracy_vs_rest"],
            "C": metrics["C"]}


def bench_quality(sizes, models) -> None:
    if not ROOMS_DEV.is_dir():
        print(f"skipped: {ROOMS_DEV} (real labelled photos) is absent")
        return
    files, labels = rooms_dev_files()
    rows = [quality_row("blur stacks 64 px, sigma 3 and 8", stack_features(files), labels)]
    with tempfile.TemporaryDirectory() as workdir:
        for model in models:
            for size in sizes:
                rows.append(quality_row(f"{model} {size} px",
                                        cnn_features(files, model, size, Path(workdir)), labels))
    print(f"rooms-dev: {len(files)} photos, {len(set(labels))} classes (chance 1/6 = 0.167)")
    print(format_table(rows, [("features", "features", "s"), ("dims", "dims", "d"),
                              ("knn_raw", "same type of 8-NN (features)", ".3f"),
                              ("knn_pca", "(PCA 150)", ".3f"), ("knn_tsne", "(t-SNE map)", ".3f"),
                              ("accuracy", "culling acc. 6 types", ".3f"),
                              ("bathroom", "bathroom vs rest (bal.)", ".3f"), ("C", "C", "g")]))


def embed_folder(files: list[str], onnx: str, threads: int) -> dict:
    """The per-city job's work on these files, timed inside the child."""
    from roomgrid.features import cnn

    embedder = cnn.CnnEmbedder(onnx, threads=threads, device="cpu")
    start = time.perf_counter()
    count = sum(len(done) for done, _, _ in cnn.embed_files(files, embedder, batch_size=32))
    return {"count": count, "seconds": time.perf_counter() - start}


def bench_throughput(photos: Path, n: int, sizes, model: str, threads: int) -> None:
    from roomgrid.features import cnn

    files = sorted(str(p) for p in photos.glob("*/*.jpg"))[:n]
    if not files:
        raise SystemExit(f"no photos under {photos}/<city>/*.jpg: run benchmarks/make_photos.py first")
    for path in files:  # the page cache, as after the scan
        Path(path).read_bytes()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for size in sizes:
            onnx = str(Path(workdir) / f"model-{size}.onnx")
            cnn.export_onnx(onnx, model=model, input_px=size)
            measured = measure(embed_folder, files, onnx, threads)
            rate = measured["result"]["count"] / measured["result"]["seconds"]
            rows.append({"size": size, "photos": measured["result"]["count"], "rate": rate,
                         "minutes_125k": 125_000 / rate / 60, "rss": measured["tree_rss"] / 2**20})
    print(f"{model}, {threads} threads, batches of 32, {len(files)} photos from {photos}")
    print(format_table(rows, [("size", "input px", "d"), ("photos", "photos", "d"),
                              ("rate", "photos/s", ".1f"), ("minutes_125k", "min for 125k", ".1f"),
                              ("rss", "peak MiB", ".0f")]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quality", action="store_true", help="measure grouping and culling on rooms-dev")
    parser.add_argument("--throughput", type=Path, metavar="PHOTOS", help="folder of <city>/*.jpg")
    parser.add_argument("--n", type=int, default=2000, help="photos for the throughput run")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 160, 128])
    parser.add_argument("--models", nargs="+", default=["efficientnet-lite0"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(machine_description())
    if args.quality:
        bench_quality(args.sizes, args.models)
    if args.throughput:
        for model in args.models:
            bench_throughput(args.throughput, args.n, args.sizes, model, args.threads)


if __name__ == "__main__":
    main()
