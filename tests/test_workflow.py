"""The whole workflow on a small demo, run by snakemake in a temporary directory.

One complete run is shared by the tests of this module; the staleness tests only use dry runs and
undo what they change.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import yaml

from roomgrid.core.io import read_table
from roomgrid.layout.pca import read_embedding
from roomgrid.viewer.tiles import TileGeometry
from workflow_helpers import REPO, small_demo_config, snakemake_command

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
    # Kept job scripts let test_each_rule_runs_with_only_its_conda_env_packages re-run every job.
    snakemake(workdir, "--skip-script-cleanup")
    return workdir


def test_every_artifact_exists(built):
    for city in CITIES:
        for name in ("photos.tsv", "scan.tsv", "stacks.h5", "thumbs.h5"):
            assert (built / "results/cities" / city / name).stat().st_size > 0
        assert (built / "logs/scan_city" / f"{city}.log").exists()
    for path in ("results/selection/photos.tsv", "results/selection/duplicates.tsv",
                 "results/embedding/pca.h5", "results/embedding/tsne.tsv",
                 "results/embedding/neighbours.tsv", "results/layout/grid.tsv",
                 "results/viewer/index.html", "results/viewer/data/index.json",
                 "results/viewer/tiles/tiles.json", "results/report/triage.png",
                 "results/report/pca_variance.png", "results/report/layout.png",
                 "results/report/tsne_thumbnails.png", "results/report/benchmarks.png"):
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


def test_the_configured_default_pca_method_ran(built):
    """The test config leaves pca.method to config/config.yaml, so its default runs end to end."""
    default = yaml.safe_load((REPO / "config/config.yaml").read_text())["pca"]["method"]
    assert "method" not in CONFIG["pca"]
    _, _, facts = read_embedding(built / "results/embedding/pca.h5")
    assert facts["method"] == default


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
    assert "lib/leaflet/leaflet.js" in html and "js/main.js" in html
    map_facts = json.loads(html.split('<script id="map-config" type="application/json">')[1]
                           .split("</script>")[0])
    facts = json.loads((built / "results/layout/grid.json").read_text())
    assert (map_facts["rows"], map_facts["cols"], map_facts["cell_px"]) == (facts["rows"], facts["cols"], 64)
    template = map_facts["tile_url"] if "tile_url" in map_facts else map_facts["tiles"]
    assert template == "tiles/{z}/{x}/{y}.jpg"
    assert (viewer / "lib/leaflet/leaflet.js").exists()
    # readable by a web server running as another user (temporary files start private)
    for path in (viewer / "data/grid.bin", viewer / "data/chunks/0.json", viewer / "index.html", viewer / "tiles", viewer / "tiles/0/0/0.jpg"):
        assert path.stat().st_mode & 0o004, path
    first = read_table(built / "results/layout/grid.tsv").iloc[0]
    assert (viewer / "photos" / first["id"]).exists()  # the original, through the city link


def test_report_holds_the_figures(built):
    snakemake(built, "--report", "report.html")
    html = (built / "report.html").read_text(errors="replace")
    for figure in ("counts.png", "triage.png", "bin_examples.png", "duplicates.png",
                   "pca_variance.png", "layout.png", "tsne_thumbnails.png", "benchmarks.png",
                   "duplicates.tsv"):
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
    # The scan's pass embeds the city's photos: no feature job of its own.
    assert per_city == {("scan_city", "beta")}
    global_rules = {rule for rule, city in jobs if not city}
    assert {"cluster_photos", "select_photos", "reduce_pca", "embed_tsne", "assign_grid", "render_tiles",
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
    assert {(rule, city) for rule, city in jobs if city} == {("scan_city", "gamma")}
    assert planned_jobs(built) == set()


def override(built, name, section, **values):
    (built / name).write_text(yaml.safe_dump({section: {**CONFIG[section], **values}}))
    return ("config.yaml", name)


def test_changing_perplexity_reruns_tsne_and_what_follows(built):
    jobs = planned_jobs(built, override(built, "perplexity.yaml", "tsne", perplexity=7))
    rules = {rule for rule, _ in jobs}
    assert rules == {"embed_tsne", "assign_grid", "render_tiles", "build_viewer", "plot_layout",
                     "plot_tsne_thumbnails", "plot_benchmarks", "save_base", "all",
                     "arrange_photos", "render_arrangement_tiles", "plot_arrangements"}


def test_changing_tile_quality_reruns_only_tiles(built):
    jobs = planned_jobs(built, override(built, "quality.yaml", "tiles", quality=60))
    # plot_benchmarks reads every stage's benchmark file, so a re-run stage re-draws it (cheap).
    # the arrangements figure is drawn from the tiles
    assert {rule for rule, _ in jobs} == {"render_tiles", "render_arrangement_tiles",
                                          "plot_arrangements", "plot_benchmarks", "save_base",
                                          "all"}


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


def rule_conda_envs() -> dict[str, Path]:
    """Each rule's conda environment file, as its ``conda:`` directive names it."""
    envs = {}
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        # Rules of one layout mode sit indented under `if LAYOUT == ...:`.
        for block in re.split(r"\n(?=[ ]*(?:rule|checkpoint) )", smk.read_text()):
            head = re.match(r"\s*(?:rule|checkpoint) (\w+):", block)
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            if head and env:
                envs[head.group(1)] = (smk.parent / env.group(1)).resolve()
    return envs


def saved_job(script: Path):
    """The Snakemake job object pickled into a job script's preamble."""
    preamble = script.read_text().partition("######## snakemake preamble end")[0]
    namespace = {"__file__": str(script)}
    exec(preamble, namespace)
    return namespace["snakemake"]


def run_in_env(env_file: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    helper = Path(__file__).with_name("env_imports.py")
    # In its own process: a warm server (roomgrid.core.warm) would import beyond the env's packages.
    return subprocess.run([sys.executable, str(helper), str(env_file), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "ROOMGRID_WARM": "0"})


# Rules this module's run has no labels for; tests/test_workflow_features.py runs them in their envs.
CULLING_RULES = {"embed_labels", "predict_types", "plot_culling"}
# Rules of layout.mode extend: they run in tests/test_workflow_extend.py, not in this build.
EXTEND_RULES = {"project_pca", "place_tsne", "extend_grid", "update_tiles"}
# Runs only after a change of model or precision (tests/test_workflow_features.py runs it).
REEMBED_RULES = {"embed_city"}


def rerun_jobs_in_their_envs(built, work, only=None) -> set[str]:
    """What ``--use-conda`` would do, without conda: one job of each rule of the run in ``built``
    (of the rules ``only``, if given) again in a copy, ``work``, each allowed to import only what
    its rule's envs/*.yaml provides. Returns the rules that ran."""
    shutil.copytree(built, work, symlinks=True)
    envs = rule_conda_envs()
    ran = set()
    for script in sorted((work / ".snakemake/scripts").glob("*.py")):
        job = saved_job(script)
        if job.rule in ran or (only is not None and job.rule not in only):
            continue
        for output in job.output:  # as Snakemake does before a job
            target = work / output
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
        done = run_in_env(envs[job.rule], str(script), cwd=work)
        log = (work / job.log[0]).read_text() if job.log and (work / job.log[0]).exists() else ""
        assert done.returncode == 0, f"{job.rule} in {envs[job.rule].name}:\n{done.stderr[-3000:]}\n{log[-3000:]}"
        assert all((work / output).exists() for output in job.output), job.rule
        ran.add(job.rule)
    return ran


def test_each_rule_runs_with_only_its_conda_env_packages(built, tmp_path):
    envs = rule_conda_envs()
    assert set(envs) >= {"scan_city", "reduce_pca", "render_tiles", "build_viewer", "scrape_city",
                         "embed_city"}
    ran = rerun_jobs_in_their_envs(built, tmp_path / "again")
    # Scraping needs the network; its code must still import in its environment.
    assert ran == set(envs) - {"scrape_city"} - CULLING_RULES - EXTEND_RULES - REEMBED_RULES
    done = run_in_env(envs["scrape_city"], "--import", "roomgrid.sources.scrape", cwd=tmp_path / "again")
    assert done.returncode == 0, done.stderr[-3000:]
    # The extension's tiles run in the viewer's environment, without scipy or lapjv.
    for module in ("roomgrid.layout.extend", "roomgrid.viewer.tiles.update"):
        done = run_in_env(envs["update_tiles"], "--import", module, cwd=tmp_path / "again")
        assert done.returncode == 0, done.stderr[-3000:]


def test_a_missing_package_is_caught_by_the_env_check(tmp_path):
    """The check above can fail: without openTSNE in the environment t-SNE cannot be imported."""
    env = tmp_path / "no_opentsne.yaml"
    env.write_text(yaml.safe_dump({"channels": ["conda-forge"],
                                   "dependencies": ["python=3.11", "numpy", "scipy", "pandas"]}))
    done = run_in_env(env, "--import", "roomgrid.layout.tsne", cwd=tmp_path)
    assert done.returncode != 0 and "No module named 'openTSNE'" in done.stderr


def test_an_exclude_list_exported_by_the_viewer_removes_those_photos_downstream_only(built, tmp_path):
    """The lines the page's "Exclude these" downloads, fed back through exclude.list_file."""
    work = tmp_path / "copy"
    shutil.copytree(built, work, symlinks=True)
    chunk = json.loads((work / "results/viewer/data/chunks/0.json").read_text())
    excluded = chunk["ids"][:3]
    (work / "exclude.txt").write_text("".join(f"{photo_id}\n" for photo_id in excluded))
    (work / "exclude.yaml").write_text(yaml.safe_dump(
        {"exclude": {"list_file": str(work / "exclude.txt")}}))
    configs = ("config.yaml", "exclude.yaml")
    jobs = planned_jobs(work, configs)
    assert {city for _, city in jobs} == {None}  # no city is scanned again
    assert {rule for rule, _ in jobs} == {
        "select_photos", "reduce_pca", "embed_tsne", "find_neighbours", "assign_grid",
        "render_tiles", "build_viewer", "plot_triage", "plot_pca_variance", "plot_layout",
        "plot_counts", "plot_examples", "plot_tsne_thumbnails", "plot_benchmarks", "save_base",
        "all", "arrange_photos", "render_arrangement_tiles", "plot_arrangements"}
    snakemake(work, configs=configs)
    photos = read_table(work / "results/selection/photos.tsv").set_index("id")
    assert list(photos.loc[excluded, "dropped"]) == ["excluded"] * 3
    grid = read_table(work / "results/layout/grid.tsv")
    assert not set(excluded) & set(grid["id"])
    index = json.loads((work / "results/viewer/data/index.json").read_text())
    shown = [i for n in range(len(index["chunks"])) for i in
             json.loads((work / f"results/viewer/data/chunks/{n}.json").read_text())["ids"]]
    assert len(shown) == len(grid) and not set(excluded) & set(shown)
