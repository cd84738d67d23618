"""Features that know what a room is: quality on real photos and cost per photo.

Quality, on ../shared/data/rooms-dev (600 real photos in 6 labelled folders; skipped with a reason
when absent): for the blur stacks and for each CNN input size, the share of each photo's 8 nearest
neighbours that show the same room type (chance 1/6), in the feature space itself, after PCA to 150
components and on the t-SNE map; and the culling classifier's cross-validated accuracy (6 types)
and "bathroom vs rest" balanced accuracy.

Cost, on a folder of generated 600x450 listing photos (benchmarks/make_photos.py): photos per second
of the per-city feature job (decode at reduced size + the network on the default runtime, on the
job's threads) for each input size, its peak memory, and what that makes for 125,000 photos.

Precision (``--precision``): the fp32 graph against int8 quantizations of it (the shipped choice
and the variants tried: format, per-channel or per-tensor weights, weight range, calibration
method, first convolution left in float), each run by each of ``--runtimes`` (onnxruntime,
OpenVINO) on rooms-dev: the same two quality measures, the cosine between its vectors and the
first row's, and inference photos per second on ``--threads`` threads
(photos decoded once beforehand; the variants take turns batch by batch over ``--rounds`` rounds,
so load from other jobs hits all of them alike; the speed-up is the median of the batch-by-batch
time ratios).

    python benchmarks/bench_features.py --quality
    python benchmarks/bench_features.py --throughput /work/bench/photos --n 2000 --sizes 224 160 128
    python benchmarks/bench_features.py --precision --sizes 224
"""

from __future__ import annotations

import argparse
import itertools
import statistics
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


def cnn_features(files, model: str, input_px: int, workdir: Path, precision: str) -> np.ndarray:
    from roomgrid.features import cnn

    onnx = workdir / f"{model.replace(':', '_')}-{input_px}-{precision}.onnx"
    if not onnx.exists():
        cnn.export_onnx(onnx, model=model, input_px=input_px, precision=precision)
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


def bench_quality(sizes, models, precisions) -> None:
    if not ROOMS_DEV.is_dir():
        print(f"skipped: {ROOMS_DEV} (real labelled photos) is absent")
        return
    files, labels = rooms_dev_files()
    rows = [quality_row("blur stacks 64 px, sigma 3 and 8", stack_features(files), labels)]
    with tempfile.TemporaryDirectory() as workdir:
        for model in models:
            for size in sizes:
                for precision in precisions:
                    features = cnn_features(files, model, size, Path(workdir), precision)
                    rows.append(quality_row(f"{model} {size} px {precision}", features, labels))
    print(f"rooms-dev: {len(files)} photos, {len(set(labels))} classes (chance 1/6 = 0.167)")
    print(format_table(rows, [("features", "features", "s"), ("dims", "dims", "d"),
                              ("knn_raw", "same type of 8-NN (features)", ".3f"),
                              ("knn_pca", "(PCA 150)", ".3f"), ("knn_tsne", "(t-SNE map)", ".3f"),
                              ("accuracy", "culling acc. 6 types", ".3f"),
                              ("bathroom", "bathroom vs rest (bal.)", ".3f"), ("C", "C", "g")]))


# Quantization variants compared by --precision: name -> quantize_onnx settings (None: fp32).
VARIANTS = {
    "fp32": None,
    "int8 QDQ, per-channel, 7-bit weights, MinMax (shipped)": {},
    "int8 QDQ, per-channel, 8-bit weights (shipped before 2026-12-02)": {"reduce_range": False},
    "int8 QDQ, per-tensor, MinMax": {"per_channel": False},
    "int8 QDQ, per-channel, Percentile": {"calibrate_method": "percentile"},
    "int8 QDQ, per-channel, first conv fp32": {"exclude_first_conv": True},
    "int8 QOperator, per-channel, MinMax": {"quant_format": "qoperator"},
}


def decode_square(files, size: int) -> np.ndarray:
    """The pixels embed_files would feed the network, decoded once."""
    from roomgrid.scan.decode import decode_photo
    from roomgrid.scan.stacks import square_thumbnail

    return np.stack([square_thumbnail(decode_photo(p.read_bytes(), min_side=size).image, size)
                     for p in files])


def embed_pixels(embedder, pixels: np.ndarray, batch_size: int = 32) -> np.ndarray:
    return np.concatenate([embedder.transform(pixels[i:i + batch_size])
                           for i in range(0, len(pixels), batch_size)])


def bench_precision(size: int, model: str, threads: int, rounds: int, variants, runtimes,
                    timed_photos: int = 256) -> None:
    from roomgrid.features import cnn
    from roomgrid.features.cull import cross_validate

    if not ROOMS_DEV.is_dir():
        print(f"skipped: {ROOMS_DEV} (real labelled photos) is absent")
        return
    files, labels = rooms_dev_files()
    pixels = decode_square(files, size)
    rows, embedders = [], {}
    with tempfile.TemporaryDirectory() as workdir:
        fp32 = Path(workdir) / "fp32.onnx"
        cnn.export_onnx(fp32, model=model, input_px=size, precision="fp32")
        calibration = cnn.calibration_pixels(size)
        for variant in variants:
            settings = VARIANTS[variant]
            path, start = fp32, time.perf_counter()
            if settings is not None:
                path = Path(workdir) / f"variant{len(embedders)}.onnx"
                cnn.quantize_onnx(fp32, path, input_px=size, calibration=calibration, **settings)
            took = time.perf_counter() - start if settings is not None else 0.0
            # Each variant on each runtime: the first pair is the reference.
            for runtime in runtimes:
                name = f"{variant} [{runtime}]"
                rows.append({"variant": name, "quantize_s": took,
                             "mib": path.stat().st_size / 2**20})
                embedders[name] = cnn.CnnEmbedder(path, threads=threads, device="cpu",
                                                  runtime=runtime)
        variants = list(embedders)
        features = {name: embed_pixels(embedders[name], pixels) for name in variants}
        # Batch by batch, the variants in turn (the order flipped every round): load from other
        # jobs that comes and goes hits every variant alike, and each batch's time is compared
        # with the reference's time for the same batch a moment earlier or later.
        seconds = {name: [] for name in variants}
        for round_ in range(rounds):
            for start in range(0, timed_photos, 32):
                batch = pixels[start:start + 32]
                for name in variants[::-1] if round_ % 2 else variants:
                    began = time.perf_counter()
                    embedders[name].transform(batch)
                    seconds[name].append(time.perf_counter() - began)
    reference = features[variants[0]]
    for row in rows:
        name = row["variant"]
        cosine = np.sum(features[name] * reference, axis=1)
        metrics = cross_validate(features[name], labels, np.arange(len(labels)).astype(str), folds=5)
        row.update(knn=knn_share(features[name], labels), accuracy=metrics["accuracy"],
                   cos_median=float(np.median(cosine)), cos_p1=float(np.percentile(cosine, 1)),
                   rate=32 / statistics.median(seconds[name]), best=32 / min(seconds[name]),
                   speedup=statistics.median(np.divide(seconds[variants[0]], seconds[name])))
    print(f"{model} {size} px on rooms-dev ({len(files)} photos), {threads} threads, batches of 32; "
          f"photos/s: inference only, batches of 32 taken in turn, {rounds} rounds over "
          f"{timed_photos} photos, from the median and the fastest batch; x {variants[0]}: median "
          f"of the batch-by-batch time ratios; cosine against {variants[0]}")
    print(format_table(rows, [("variant", "variant [runtime]", "s"), ("mib", "MiB", ".1f"),
                              ("quantize_s", "quantize s", ".1f"),
                              ("knn", "same type of 8-NN", ".3f"),
                              ("accuracy", "culling acc. 6 types", ".3f"),
                              ("cos_median", "cosine median", ".4f"), ("cos_p1", "cosine 1st pct", ".4f"),
                              ("rate", "photos/s", ".1f"), ("best", "fastest batch", ".1f"),
                              ("speedup", f"x {variants[0]}", ".2f")]))


def embed_folder(files: list[str], onnx: str, threads: int) -> dict:
    """The per-city job's work on these files, timed inside the child."""
    from roomgrid.features import cnn

    embedder = cnn.CnnEmbedder(onnx, threads=threads, device="cpu")
    start = time.perf_counter()
    count = sum(len(done) for done, _, _ in cnn.embed_files(files, embedder, batch_size=32))
    return {"count": count, "seconds": time.perf_counter() - start}


def bench_throughput(photos: Path, n: int, sizes, model: str, threads: int, precisions) -> None:
    from roomgrid.features import cnn

    files = sorted(str(p) for p in photos.glob("*/*.jpg"))[:n]
    if not files:
        raise SystemExit(f"no photos under {photos}/<city>/*.jpg: run benchmarks/make_photos.py first")
    for path in files:  # the page cache, as after the scan
        Path(path).read_bytes()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for size, precision in itertools.product(sizes, precisions):
            onnx = str(Path(workdir) / f"model-{size}-{precision}.onnx")
            cnn.export_onnx(onnx, model=model, input_px=size, precision=precision)
            measured = measure(embed_folder, files, onnx, threads)
            rate = measured["result"]["count"] / measured["result"]["seconds"]
            rows.append({"size": size, "precision": precision,
                         "photos": measured["result"]["count"], "rate": rate,
                         "minutes_125k": 125_000 / rate / 60, "rss": measured["tree_rss"] / 2**20})
    print(f"{model}, {threads} threads, batches of 32, {len(files)} photos from {photos}")
    print(format_table(rows, [("size", "input px", "d"), ("precision", "precision", "s"),
                              ("photos", "photos", "d"),
                              ("rate", "photos/s", ".1f"), ("minutes_125k", "min for 125k", ".1f"),
                              ("rss", "peak MiB", ".0f")]))


def main() -> None:
    global ROOMS_DEV
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quality", action="store_true", help="measure grouping and culling on rooms-dev")
    parser.add_argument("--rooms-dev", type=Path, default=ROOMS_DEV,
                        help="the labelled photos (default: ../shared/data/rooms-dev)")
    parser.add_argument("--throughput", type=Path, metavar="PHOTOS", help="folder of <city>/*.jpg")
    parser.add_argument("--n", type=int, default=2000, help="photos for the throughput run")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 160, 128])
    parser.add_argument("--models", nargs="+", default=["efficientnet-lite0"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precisions", nargs="+", default=["int8", "fp32"],
                        help="precisions of --quality and --throughput")
    parser.add_argument("--precision", action="store_true",
                        help="compare fp32 and int8 variants on rooms-dev (first of --sizes)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        metavar="VARIANT", help="--precision variants, the first is the reference")
    parser.add_argument("--rounds", type=int, default=10, help="--precision timing rounds")
    parser.add_argument("--runtimes", nargs="+", default=["onnxruntime", "openvino"],
                        choices=["onnxruntime", "openvino"],
                        help="--precision: each variant on each of these runtimes")
    args = parser.parse_args()
    ROOMS_DEV = args.rooms_dev  # from a git worktree the shared folder is elsewhere
    print(machine_description())
    if args.quality:
        bench_quality(args.sizes, args.models, args.precisions)
    if args.precision:
        for model in args.models:
            bench_precision(args.sizes[0], model, args.threads, args.rounds, args.variants,
                            args.runtimes)
    if args.throughput:
        for model in args.models:
            bench_throughput(args.throughput, args.n, args.sizes, model, args.threads,
                             args.precisions)


if __name__ == "__main__":
    main()
