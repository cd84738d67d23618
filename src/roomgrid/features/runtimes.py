"""The engines that run the exported network: OpenVINO (default) and onnxruntime.

Both read the same ONNX file (:func:`roomgrid.features.cnn.export_onnx`) and return the graph's
output for a uint8 batch. They differ in speed: on the int8 model, 224 px, batches of 32, one
thread, OpenVINO took 3.16 ms a photo against onnxruntime's 7.21 ms on a CPU with AVX-512 VNNI,
and 11.22 against 14.65 ms on one with AVX2 only (benchmarks/RESULTS.md). Their vectors agree to
a median cosine of 0.999. onnxruntime is the one that runs on a CUDA GPU
(``features.cnn.device: cuda``).

Like the device, the runtime changes how fast the vectors come, not what they say, so it is not a
param of any rule: switching it re-runs nothing. Each features file records which one made it.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

RUNTIMES = ("openvino", "onnxruntime")
DEFAULT_RUNTIME = "openvino"
DEVICES = ("auto", "cpu", "cuda")


class MissingExtra(RuntimeError):
    """A CNN feature needs the optional packages: ``pip install -e ".[cnn]"``."""


def _require(module: str, needed_by: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(f"{needed_by} needs the package {module} ({exc}): "
                           f"pip install -e \".[cnn]\"") from None


def providers_for(device: str, available: Sequence[str]) -> list[str]:
    """onnxruntime execution providers for ``device`` (auto | cpu | cuda)."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not has_cuda:
        raise RuntimeError("features.cnn.device is cuda but onnxruntime has no CUDA provider: "
                           "pip install onnxruntime-gpu, or set the device to auto or cpu")
    if device not in ("auto", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    return (["CUDAExecutionProvider"] if has_cuda else []) + ["CPUExecutionProvider"]


class OnnxRuntimeSession:
    """The network in an onnxruntime session on ``threads`` CPU threads (or a CUDA GPU)."""

    def __init__(self, model_path: str | os.PathLike, *, threads: int, device: str):
        ort = _require("onnxruntime", "features.cnn.runtime onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        self.providers = providers_for(device, ort.get_available_providers())
        self.session = ort.InferenceSession(str(model_path), options, providers=self.providers)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: pixels})[0]


class OpenVinoSession:
    """The network compiled by OpenVINO for this CPU, on ``threads`` threads. With ``cache_dir``
    the compiled model is kept there: compiling the int8 model takes ~0.35 s, loading it
    ~0.05 s, once per per-city job."""

    def __init__(self, model_path: str | os.PathLike, *, threads: int, device: str,
                 cache_dir: str | os.PathLike | None = None):
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
        if device == "cuda":
            raise ValueError("features.cnn.device cuda runs on onnxruntime: set "
                             "features.cnn.runtime: onnxruntime (and pip install onnxruntime-gpu)")
        ov = _require("openvino", "features.cnn.runtime openvino (or set it to onnxruntime)")
        settings = {
            "INFERENCE_NUM_THREADS": max(1, int(threads)),
            # One request at a time, as the batches come.
            "PERFORMANCE_HINT": "LATENCY",
            # What is not quantized runs in float32 on every CPU: OpenVINO would otherwise pick
            # bfloat16 where the CPU has it, and vectors would depend on the machine.
            "INFERENCE_PRECISION_HINT": "f32",
            # Pinned, two one-thread jobs of one machine landed on the same core: 5.6 ms a photo
            # each, against 2.5-3.2 ms unpinned. The jobs share the cores; the OS places them.
            "ENABLE_CPU_PINNING": False,
        }
        core = ov.Core()
        if cache_dir is None:
            self.compiled = core.compile_model(str(model_path), "CPU", settings)
        else:
            self.compiled = _compile_cached(core, model_path, settings, Path(cache_dir))
        self.request = self.compiled.create_infer_request()
        self.output = self.compiled.output(0)
        self.providers = ["OpenVINO CPU"]

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        # The request reuses its output buffer: copy before the next batch overwrites it.
        return np.array(self.request.infer({0: pixels})[self.output])


def _compile_cached(core, model_path, settings: dict, cache_dir: Path):
    """Compile through OpenVINO's model cache in ``cache_dir``, one process at a time, so that
    jobs starting together neither compile alike nor read a blob another is still writing."""
    import fcntl

    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / "compile.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return core.compile_model(str(model_path), "CPU", {**settings, "CACHE_DIR": str(cache_dir)})


def open_session(model_path: str | os.PathLike, *, runtime: str = DEFAULT_RUNTIME,
                 threads: int = 1, device: str = "auto",
                 cache_dir: str | os.PathLike | None = None):
    """The network at ``model_path`` ready to run on ``runtime`` (openvino | onnxruntime);
    ``cache_dir``: where OpenVINO keeps its compiled model (onnxruntime needs none)."""
    if runtime == "openvino":
        return OpenVinoSession(model_path, threads=threads, device=device, cache_dir=cache_dir)
    if runtime == "onnxruntime":
        return OnnxRuntimeSession(model_path, threads=threads, device=device)
    raise ValueError(f"unknown runtime {runtime!r}: use {' or '.join(RUNTIMES)}")


def model_metadata(model_path: str | os.PathLike) -> dict[str, str]:
    """The ONNX file's metadata (what export_onnx recorded: model, input size, precision...).
    Read through an onnxruntime session that skips every optimisation (~0.04 s), which is
    cheaper than importing the onnx package (~1 s) in each job."""
    ort = _require("onnxruntime", "reading the model's metadata")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)
