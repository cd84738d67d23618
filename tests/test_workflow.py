"""The whole workflow on a small demo, run by snakemake in a temporary directory.

One complete run is shared by the tests of this module; the staleness tests only use dry runs and
undo what they change.
"""

import json
import re
import shutil
import subprocess

import h5py
import pytest
import yaml

from roomgrid.io import read_table
from roomgrid.tiles import TileGeometry
from workflow_helpers import small_demo_config, snakemake_command

pytestmark = pytest.mark.workflow

CITIES = ["alpha", "beta", "gamma"]
CONFIG = small_demo_config(CITIES, 24, n_components=40, perplexity=10, n_iter=300)


def snakemake(workdir, *args, configs=("config.yaml",), check=True):
    command = snakemake_command(workdir, "--cores", "2", *args, configs=configs)
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done


def planned_jobs(workdir, configs=("config.yaml",)):
    """(rule, city or None) of every job a dry run would execute."""
    out = snakemake(workdir, "-n", configs=configs)
    text = out.stdout + out.stderr
    jobs = []
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", text):
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block.strip())
        if head:
            city = re.search(r"wildcards: city=([\w.-]+)", block)
            jobs.append((head.group(1), city.group(1) if city else None))
    return set(jobs)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    snakemake(workdir)
    return workdir


def test_every_artifact_exists(built):
    for city in CITIES:
        for name in ("photos.tsv", "scan.tsv", "stacks.h5", "thumbs.h5"):
            assert (built / "results/cities" / city / name).stat().st_size > 0
        assert (built / "logs/scan_city" / f"{city}.log").exists()
    for path in ("results/selection/photos.tsv", "results/selection/duplicates.tsv",
                 "results/embedding/pca.h5", "results/embedding/tsne.tsv",
                 "results/embedding/neighbours.tsv", "results/layout/grid.tsv",
                 "results/viewer/index.html", "results/viewer/data/photos.json",
                 "results/viewer/tiles/tiles.json", "results/report/triage.png",
                 "results/report/pca_variance.png", "results/report/layout.png"):
        assert (built / path).stat().st_size > 0, path


def test_artifacts_agree_on_ids(built):
    photos = read_table(built / "results/selection/photos.tsv")
    selected = sorted(photos.loc[photos["selected"].astype(bool), "id"])
    assert len(selected) > 40
    for city in CITIES:
        with h5py.File(built / f"results/cities/{city}/stacks.h5") as stacks:
            stored = set(stacks["ids"].asstr()[:])
        scan = read_table(built / f"results/cities/{city}/scan.tsv")
        assert stored == set(scan.loc[scan["status"] == "ok", "id"])
        assert {i for i in selected if i.startswith(city + "/")} <= stored
    with h5py.File(built / "results/embedding/pca.h5") as pca:
        assert list(pca["ids"].asstr()[:]) == selected
        assert pca["coords"].shape == (len(selected), 40)
    tsne = read_table(built / "results/embedding/tsne.tsv")
    grid = read_table(built / "results/layout/grid.tsv")
    assert list(tsne["id"]) == selected and list(grid["id"]) == selected
    facts = json.loads((built / "results/layout/grid.json").read_text())
    assert facts["rows"] * facts["cols"] >= len(selected)
    cells = grid["row"] * facts["cols"] + grid["col"]
    assert cells.is_unique and grid["row"].between(0, facts["rows"] - 1).all()
    neighbours = read_table(built / "results/embedding/neighbours.tsv")
    assert list(neighbours["id"]) == selected
    assert all(set(n.split()) <= set(selected) for n in neighbours["neighbours"])


def test_demo_problems_are_caught(built):
    photos = read_table(built / "results/selection/photos.tsv").set_index("id")
    for city in CITIES:
        truth = read_table(built / f"resources/demo/{city}/demo_truth.tsv")
        for row in truth.itertuples():
            photo = photos.loc[f"{city}/{row.file}"]
            if row.kind == "unreadable":
                assert photo["dropped"] == "unreadable" and photo["reason"], row.file
            elif row.kind == "graphic":
                assert photo["bin"] == "graphic" and not photo["selected"], row.file
            elif row.kind == "odd":
                assert photo["status"] == "ok", row.file
    duplicates = read_table(built / "results/selection/duplicates.tsv")
    assert duplicates["identical_bytes"].astype(bool).any()
    assert (duplicates["city"] != duplicates["kept_id"].str.split("/").str[0]).any()  # across cities
    assert (duplicates.groupby("duplicate_group")["kept"].sum() == 1).all()


def test_tiles_cover_the_grid_at_every_zoom(built):
    facts = json.loads((built / "results/layout/grid.json").read_text())
    geometry = TileGeometry(facts["rows"], facts["cols"], 64, 256)
    tiles = built / "results/viewer/tiles"
    for z in range(geometry.max_zoom + 1):
        nx, ny = geometry.tiles_at(z)
        found = {p.relative_to(tiles / str(z)).as_posix() for p in (tiles / str(z)).rglob("*.jpg")}
        assert found == {f"{x}/{y}.jpg" for x in range(nx) for y in range(ny)}
    assert not (tiles / str(geometry.max_zoom + 1)).exists()
    summary = json.loads((tiles / "tiles.json").read_text())
    assert summary["max_zoom"] == geometry.max_zoom
    assert summary["photos"] == facts["n"]


def test_viewer_points_at_the_tiles(built):
    viewer = built / "results/viewer"
    html = (viewer / "index.html").read_text()
    assert "lib/leaflet/leaflet.js" in html and "app.js" in html
    map_facts = json.loads((viewer / "data/map.json").read_text())
    facts = json.loads((built / "results/layout/grid.json").read_text())
    assert (map_facts["rows"], map_facts["cols"], map_facts["cell_px"]) == (facts["rows"], facts["cols"], 64)
    template = map_facts["tile_url"] if "tile_url" in map_facts else map_facts["tiles"]
    assert template == "tiles/{z}/{x}/{y}.jpg"
    assert (viewer / "lib/leaflet/leaflet.js").exists()
    # readable by a web server running as another user (temporary files start private)
    for path in (viewer / "data/photos.json", viewer / "index.html", viewer / "tiles", viewer / "tiles/0/0/0.jpg"):
        assert path.stat().st_mode & 0o004, path
    first = read_table(built / "results/layout/grid.tsv").iloc[0]
    assert (viewer / "photos" / first["id"]).exists()  # the original, through the city link


def test_report_holds_the_figures(built):
    snakemake(built, "--report", "report.html")
    html = (built / "report.html").read_text(errors="replace")
    for figure in ("triage.png", "pca_variance.png", "layout.png", "duplicates.tsv"):
        assert figure in html, figure


def test_nothing_is_stale_after_a_complete_run(built):
    assert planned_jobs(built) == set()


def test_adding_a_photo_reruns_only_that_city_and_the_global_jobs(built):
    folder = built / "resources/demo/beta"
    source = sorted(folder.glob("*_600x450.jpg"))[0]
    added = folder / "added_by_test.jpg"
    shutil.copy(source, added)
    try:
        jobs = planned_jobs(built)
    finally:
        added.unlink()
    per_city = {(rule, city) for rule, city in jobs if city}
    assert per_city == {("index_city", "beta"), ("scan_city", "beta")}
    global_rules = {rule for rule, city in jobs if not city}
    assert {"select_photos", "reduce_pca", "embed_tsne", "assign_grid", "render_tiles",
            "build_viewer"} <= global_rules


def test_touching_a_photo_reruns_nothing_but_editing_it_in_secret_reruns_its_city(built):
    import os

    photo = sorted((built / "resources/demo/gamma").glob("*_600x450.jpg"))[0]
    original, before = photo.read_bytes(), photo.stat()
    try:
        os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns + 10**10))
        assert planned_jobs(built) == set()
        edited = bytearray(original)
        edited[len(edited) // 2] ^= 0xFF  # same size, and the old modification time put back
        photo.write_bytes(bytes(edited))
        os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns))
        jobs = planned_jobs(built)
    finally:
        photo.write_bytes(original)
        os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert {(rule, city) for rule, city in jobs if city} == {("index_city", "gamma"),
                                                             ("scan_city", "gamma")}
    assert planned_jobs(built) == set()


def override(built, name, section, **values):
    (built / name).write_text(yaml.safe_dump({section: {**CONFIG[section], **values}}))
    return ("config.yaml", name)


def test_changing_perplexity_reruns_tsne_and_what_follows(built):
    jobs = planned_jobs(built, override(built, "perplexity.yaml", "tsne", perplexity=7))
    rules = {rule for rule, _ in jobs}
    assert rules == {"embed_tsne", "assign_grid", "render_tiles", "build_viewer", "plot_layout", "all"}


def test_changing_tile_quality_reruns_only_tiles(built):
    jobs = planned_jobs(built, override(built, "quality.yaml", "tiles", quality=60))
    assert {rule for rule, _ in jobs} == {"render_tiles", "all"}


def test_a_wrong_config_key_stops_the_run_naming_it(built):
    (built / "bad.yaml").write_text(yaml.safe_dump({"tsne": {**CONFIG["tsne"], "perplexty": 5}}))
    done = snakemake(built, "-n", configs=("config.yaml", "bad.yaml"), check=False)
    said = done.stdout + done.stderr
    assert done.returncode != 0
    assert "config key tsne: unknown key(s) 'perplexty'" in said


def test_a_folder_of_photos_is_read_in_place(built, tmp_path):
    images = built / "resources/demo"
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in images.rglob("*") if p.is_file()}
    extra = tmp_path / "extra.csv"
    extra.write_text("file,price,title\nalpha/1.jpg,999,from the user's table\n")
    config = {"source": {"kind": "folder", "folder": {"images_dir": str(images), "cities": [],
                                                      "metadata_csv": str(extra)}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "results/selection/photos.tsv")
    photos = read_table(tmp_path / "results/selection/photos.tsv").set_index("id")
    assert set(photos["city"]) == set(CITIES)
    assert photos.loc["alpha/1.jpg", "title"] == "from the user's table"
    assert str(photos.loc["alpha/1.jpg", "price"]) in {"999", "999.0"}
    demo = read_table(built / "results/selection/photos.tsv").set_index("id")
    assert list(photos.index) == list(demo.index)  # same ids as the demo source gives
    after = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in images.rglob("*") if p.is_file()}
    assert after == before  # nothing moved, added or touched
