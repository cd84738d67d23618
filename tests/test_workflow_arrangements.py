"""Arrangements through the workflow: a small demo built once (stacks features, no clusters), then
dry runs that change one arrangement, add one, or get it wrong."""

import json
import re
import subprocess

import numpy as np
import pytest
import yaml

from roomgrid.core.io import read_table
from roomgrid.selection.tables import selected_photos
from workflow_helpers import small_demo_config, snakemake_command

pytestmark = pytest.mark.workflow

CONFIG = small_demo_config(["alpha", "beta"], 20, n_components=10, perplexity=8, n_iter=250)
CONFIG |= {"features": {"kind": "stacks"}, "clusters": {"k": 0, "seed": 0}}
ARRANGEMENTS = [{"name": "similarity"}, {"name": "city", "by": "city"},
                {"name": "rent", "by": "price", "bands": 4},
                {"name": "posted", "by": "posted", "bands": 3},
                {"name": "shuffle", "by": "random", "seed": 1},
                # the demo has no labelled photos (cull.labels): not built, listed with the reason
                {"name": "labelled", "by": "label"}]
NOT_BUILT = {"labelled": "no photo has a value in column 'label'"}
TARGETS = ["results/viewer/index.html", "results/viewer/tiles"] + [
    f"results/viewer/arrangements/{a['name']}/tiles" for a in ARRANGEMENTS[1:]]


def snakemake(workdir, *args, configs=("config.yaml",), check=True):
    done = subprocess.run(snakemake_command(workdir, "--cores", "2", *args, configs=configs),
                          capture_output=True, text=True, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{done.stdout[-3000:]}\n{done.stderr[-4000:]}")
    return done


def with_arrangements(workdir, name, arrangements):
    config = {"layout": {"mode": "rebuild", "spare": 0.0, "rebuild_below": 0.5,
                         "arrangements": arrangements}}
    (workdir / name).write_text(yaml.safe_dump(config))
    return ("config.yaml", name)


def planned(workdir, configs):
    """(rule, arrangement or None) of every job a dry run of TARGETS would execute."""
    done = snakemake(workdir, "-n", *TARGETS, configs=configs)
    jobs = set()
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", done.stdout + done.stderr):
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block.strip())
        if head:
            name = re.search(r"wildcards: arrangement=([\w-]+)", block)
            jobs.add((head.group(1), name.group(1) if name else None))
    return jobs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("arrangements")
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    configs = with_arrangements(workdir, "arrangements.yaml", ARRANGEMENTS)
    snakemake(workdir, *TARGETS, configs=configs)
    return workdir


def test_every_arrangement_places_every_selected_photo_once(built):
    selected = set(selected_photos(built / "results/selection/photos.tsv", [])["id"])
    index = json.loads((built / "results/viewer/data/arrangements/index.json").read_text())
    assert [a["name"] for a in index["arrangements"]] == [a["name"] for a in ARRANGEMENTS]
    for entry in ARRANGEMENTS[1:]:
        name = entry["name"]
        if name in NOT_BUILT:
            continue
        grid = read_table(built / f"results/layout/{name}/grid.tsv")
        facts = json.loads((built / f"results/layout/{name}/grid.json").read_text())
        assert set(grid["id"]) == selected and grid["id"].is_unique
        assert not grid.duplicated(["row", "col"]).any()
        assert grid["row"].between(0, facts["rows"] - 1).all()
        assert grid["col"].between(0, facts["cols"] - 1).all()
        cells = np.fromfile(built / f"results/viewer/data/arrangements/{name}.bin", "<i4")
        assert len(cells) == len(selected) and len(np.unique(cells)) == len(selected)
        assert (built / f"results/viewer/arrangements/{name}/tiles/0/0/0.jpg").is_file()
    labels = json.loads((built / "results/viewer/data/arrangements/rent.json").read_text())
    assert all(block["label"].startswith("$") or block["label"] == "no price"
               for block in labels["blocks"])


def test_an_arrangement_by_a_column_without_values_is_listed_as_not_built(built):
    index = json.loads((built / "results/viewer/data/arrangements/index.json").read_text())
    listed = {a["name"]: a.get("unavailable") for a in index["arrangements"]}
    assert {name: why for name, why in listed.items() if why} == NOT_BUILT
    for name, reason in NOT_BUILT.items():
        assert read_table(built / f"results/layout/{name}/grid.tsv").empty
        assert json.loads((built / f"results/layout/{name}/grid.json").read_text())[
            "unavailable"] == reason
        tiles = built / f"results/viewer/arrangements/{name}/tiles"
        assert [f.name for f in tiles.iterdir() if not f.name.startswith(".")] == ["tiles.json"]
        assert not (built / f"results/viewer/data/arrangements/{name}.bin").exists()
        assert reason in (built / f"logs/arrange_photos/{name}.log").read_text()


def test_nothing_is_stale(built):
    assert planned(built, ("config.yaml", "arrangements.yaml")) == set()


def test_changing_one_arrangement_reruns_only_its_grid_tiles_and_the_viewer_data(built):
    changed = [dict(a, bands=3) if a["name"] == "rent" else a for a in ARRANGEMENTS]
    jobs = planned(built, with_arrangements(built, "changed.yaml", changed))
    assert jobs == {("arrange_photos", "rent"), ("render_arrangement_tiles", "rent"),
                    ("build_viewer", None)}


def test_adding_an_arrangement_runs_only_its_jobs_and_the_viewer_data(built):
    added = ARRANGEMENTS + [{"name": "beds", "by": "bedrooms", "order": "size"}]
    configs = with_arrangements(built, "added.yaml", added)
    done = snakemake(built, "-n", *TARGETS, "results/viewer/arrangements/beds/tiles",
                     configs=configs)
    said = done.stdout + done.stderr
    assert re.findall(r"^(\w+)\s+1$", said, re.M) and set(
        re.findall(r"wildcards: arrangement=([\w-]+)", said)) == {"beds"}
    assert "rule build_viewer:" in said and "rule assign_grid:" not in said


@pytest.mark.parametrize("arrangements, message", [
    ([{"name": "a", "by": "rent"}], ("'by: rent' names no column of the selection table; the "
                                     "columns are city, bytes, skip_reason, post_id")),
    ([{"name": "a", "by": "city"}, {"name": "a", "by": "price"}], "two arrangements are named 'a'"),
    ([{"name": "a", "by": "price", "bands": 0}], "bands: 0 is less than the minimum of 1"),
])
def test_a_wrong_arrangement_stops_before_any_job_with_one_sentence(tmp_path, arrangements,
                                                                    message):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    done = snakemake(tmp_path, "-n", configs=with_arrangements(tmp_path, "bad.yaml", arrangements),
                     check=False)
    said = done.stdout + done.stderr
    assert done.returncode != 0 and message in said, said[-2000:]
    assert "Traceback" not in said and not (tmp_path / "results").exists()
