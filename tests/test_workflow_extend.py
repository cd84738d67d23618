"""Growing a built map with layout.mode extend: a fourth city joins a map of three.

The cities are demo photos in a folder (the folder source), so adding one leaves the others'
files as they were. One module-wide sequence: build three cities (rebuild), extend with the
fourth, then rebuild all four and compare with a clean build of all four elsewhere.
"""

import hashlib
import json
import re
import subprocess

import numpy as np
import pytest
import yaml

from roomgrid.sources.demo import make_demo_city
from roomgrid.core.io import read_table
from roomgrid.layout.pca import read_embedding
from roomgrid.viewer.tiles import TileGeometry
from workflow_helpers import small_demo_config, snakemake_command

pytestmark = pytest.mark.workflow

CITIES = ["alpha", "beta", "gamma", "delta"]
NEW = "delta"


def snakemake(workdir, *args, config="config.yaml"):
    done = subprocess.run(snakemake_command(workdir, "--cores", "2", *args, configs=(config,)),
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done.stdout + done.stderr


def planned_rules(workdir, config):
    """(rule, city or None) of every job a dry run would execute."""
    text = snakemake(workdir, "-n", config=config)
    jobs = set()
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", text):
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block.strip())
        if head:
            city = re.search(r"wildcards: city=([\w.-]+)", block)
            jobs.add((head.group(1), city.group(1) if city else None))
    return jobs


def write_config(workdir, name, cities, mode, images):
    config = small_demo_config(cities, 24, n_components=40, perplexity=10, n_iter=300)
    config["source"] = {"kind": "folder", "folder": {"images_dir": str(images), "cities": list(cities)}}
    config["layout"] = {"mode": mode, "rebuild_below": 0.9}
    (workdir / name).write_text(yaml.safe_dump(config))
    return name


def tile_states(root):
    """Per tile file: (sha256, mtime_ns, inode)."""
    states = {}
    for path in root.rglob("*.jpg"):
        stat = path.stat()
        states[path.relative_to(root)] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                          stat.st_mtime_ns, stat.st_ino)
    return states


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    images = tmp_path_factory.mktemp("photos")
    for city in CITIES:
        make_demo_city(city, images / city, cities=CITIES, photos_per_city=24, seed=3)
    work = tmp_path_factory.mktemp("grow")
    write_config(work, "config.yaml", CITIES[:3], "rebuild", images)
    snakemake(work)
    before = {"grid": read_table(work / "results/layout/grid.tsv"),
              "facts": json.loads((work / "results/layout/grid.json").read_text()),
              "tiles": tile_states(work / "results/viewer/tiles"),
              "base": tile_states(work / "results/base/tiles"),
              "clusters": read_table(work / "results/clusters/clusters.tsv")}
    extend = write_config(work, "extend.yaml", CITIES, "extend", images)
    planned = planned_rules(work, extend)
    snakemake(work, config=extend)
    return {"work": work, "images": images, "before": before, "planned": planned,
            "extend": extend}


def test_extend_plans_only_the_new_city_and_the_cheap_global_jobs(grown):
    planned = grown["planned"]
    assert {city for _, city in planned if city} == {NEW}
    assert {rule for rule, city in planned if city} == {"scan_city"}
    global_rules = {rule for rule, city in planned if not city}
    assert {"project_pca", "place_tsne", "extend_grid", "update_tiles", "build_viewer"} <= global_rules
    # the other arrangements are rebuilt from the extended look-alike positions
    assert {"arrange_photos", "render_arrangement_tiles"} <= global_rules
    assert not global_rules & {"reduce_pca", "embed_tsne", "assign_grid", "render_tiles", "save_base"}


def test_no_placed_photo_moves_and_new_photos_get_free_cells(grown):
    work = grown["work"]
    before = grown["before"]["grid"].set_index("id")
    after = read_table(work / "results/layout/grid.tsv").set_index("id")
    kept = before.index.intersection(after.index)
    # Nothing was deleted: every placed photo stays, even where the new city has a copy of it.
    assert len(kept) == len(before)
    assert (after.loc[kept, ["row", "col"]] == before.loc[kept, ["row", "col"]]).all().all()
    new = after.index[after.index.str.startswith(NEW + "/")]
    assert len(new) > 15 and set(after.index.difference(before.index)) == set(new)
    facts = json.loads((work / "results/layout/grid.json").read_text())
    cells = after["row"] * facts["cols"] + after["col"]
    assert cells.is_unique
    assert after["row"].between(0, facts["rows"] - 1).all() and after["col"].between(0, facts["cols"] - 1).all()
    old = grown["before"]["facts"]
    assert facts["rows"] >= old["rows"] and facts["cols"] >= old["cols"]


def test_new_photos_sit_near_their_look_alikes(grown):
    work = grown["work"]
    ids, features, _ = read_embedding(work / "results/embedding/pca.h5")
    grid = read_table(work / "results/layout/grid.tsv").set_index("id").loc[ids]
    cells = grid[["row", "col"]].to_numpy()
    is_new = np.array([i.startswith(NEW + "/") for i in ids])
    distance = ((features[:, None] - features[None]) ** 2).sum(axis=2)
    np.fill_diagonal(distance, np.inf)
    look_alikes = np.argsort(distance, axis=1)[:, :4]
    steps = np.abs(cells[:, None] - cells[None]).max(axis=2)  # cells apart (king's moves)
    near_share, chance = [], []
    for i in np.flatnonzero(is_new):
        near_share.append((steps[i, look_alikes[i]] <= 2).mean())
        chance.append((np.delete(steps[i], i) <= 2).mean())
    # A new photo's 4 look-alikes sit within two cells of it well over twice as often as photos
    # picked at random do. (The share itself depends on the few free cells of this 10x11 map:
    # 0.34 against 0.12 by chance with the packages of 2026-12; the placed photos' own 0.71.)
    assert np.mean(near_share) >= 0.3
    assert np.mean(near_share) >= 2.0 * np.mean(chance)


def test_base_photos_keep_their_cluster_and_new_photos_join_one(grown):
    work = grown["work"]
    before = grown["before"]["clusters"].set_index("id")
    after = read_table(work / "results/clusters/clusters.tsv").set_index("id")
    assert read_table(work / "results/base/clusters.tsv").set_index("id").equals(before)
    assert (after.loc[before.index, "cluster"] == before["cluster"]).all()
    new = after[after.index.str.startswith(NEW + "/")]
    assert len(new) > 15 and new["cluster"].isin(before["cluster"].unique()).all()
    facts = json.loads((work / "results/clusters/clusters.json").read_text())
    assert facts["mode"] == "extend" and facts["new_photos"] == len(new)


def test_only_tiles_over_changed_cells_are_rewritten(grown):
    work = grown["work"]
    before, after = grown["before"]["tiles"], tile_states(work / "results/viewer/tiles")
    facts = json.loads((work / "results/layout/grid.json").read_text())
    tiles_facts = json.loads((work / "results/viewer/tiles/tiles.json").read_text())
    geometry = TileGeometry(facts["rows"], facts["cols"], tiles_facts["cell_px"], tiles_facts["tile_px"])
    old = grown["before"]["grid"].set_index(["row", "col"])["id"]
    new = read_table(work / "results/layout/grid.tsv").set_index(["row", "col"])["id"]
    changed = {cell for cell in set(old.index) | set(new.index) if old.get(cell) != new.get(cell)}
    size, cell_px, deepest = geometry.tile_px, geometry.cell_px, geometry.max_zoom
    stale = set()
    for row, col in changed:
        for x in range(col * cell_px // size, ((col + 1) * cell_px - 1) // size + 1):
            for y in range(row * cell_px // size, ((row + 1) * cell_px - 1) // size + 1):
                stale |= {(z, x >> (deepest - z), y >> (deepest - z)) for z in range(deepest + 1)}
    unchanged = [path for path in after
                 if (int(path.parts[0]), int(path.parts[1]), int(path.stem)) not in stale]
    assert unchanged, "the test map is too small to have tiles away from the new photos"
    for path in after:
        key = (int(path.parts[0]), int(path.parts[1]), int(path.stem))
        if key in stale:
            assert after[path][2] != before.get(path, (None, None, None))[2]
        else:
            assert after[path][:2] == before[path][:2], path  # same bytes, same mtime
    assert tiles_facts["rendered_tiles"] == len({p for p in after if (int(p.parts[0]), int(p.parts[1]), int(p.stem)) in stale})
    # The base keeps the tiles it was built with.
    assert tile_states(work / "results/base/tiles") == grown["before"]["base"]


def test_drift_and_viewer_data_cover_the_new_photos(grown):
    work = grown["work"]
    facts = json.loads((work / "results/layout/grid.json").read_text())
    drift = facts["drift"]
    assert facts["mode"] == "extend" and drift["new_photos"] > 15
    assert 0 < drift["knn_kept_new"] <= 1 and 0 < drift["knn_kept_base"] <= 1
    assert facts["rebuild_recommended"] == (drift["knn_ratio"] < facts["rebuild_below"])
    text = "".join(p.read_text() for p in (work / "results/viewer/data/chunks").glob("*.json"))
    grid = read_table(work / "results/layout/grid.tsv")
    assert all(photo_id in text for photo_id in grid.loc[grid["id"].str.startswith(NEW + "/"), "id"])
    assert "nothing to be done" in snakemake(work, "-n", config=grown["extend"]).lower()


def test_a_rebuild_after_extending_equals_a_clean_build(grown, tmp_path):
    work, images = grown["work"], grown["images"]
    rebuild = write_config(work, "rebuild.yaml", CITIES, "rebuild", images)
    snakemake(work, config=rebuild)
    clean = tmp_path / "clean"
    clean.mkdir()
    write_config(clean, "config.yaml", CITIES, "rebuild", images)
    snakemake(clean)
    viewer_data = sorted(p.relative_to(clean) for p in (clean / "results/viewer/data").rglob("*")
                         if p.is_file())
    for name in ("results/embedding/tsne.tsv", "results/layout/grid.tsv", *viewer_data):
        assert (work / name).read_bytes() == (clean / name).read_bytes(), name
    rebuilt = {path: state[0] for path, state in tile_states(work / "results/viewer/tiles").items()}
    assert rebuilt == {path: state[0] for path, state in tile_states(clean / "results/viewer/tiles").items()}
    # The rebuild made a new base: the next extension grows from the four-city map.
    assert read_table(work / "results/base/grid.tsv").equals(read_table(work / "results/layout/grid.tsv"))


def test_extending_without_a_base_stops_naming_the_fix(tmp_path, room, make_jpeg):
    write_config(tmp_path, "config.yaml", CITIES[:1], "extend", tmp_path / "photos")
    (tmp_path / "photos" / CITIES[0]).mkdir(parents=True)
    for seed in range(4):  # enough photos for a map, so the missing base is what stops the run
        (tmp_path / "photos" / CITIES[0] / f"{seed}.jpg").write_bytes(make_jpeg(room(seed)))
    done = subprocess.run(snakemake_command(tmp_path, "-n"), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert "results/base/" in message and "layout.mode rebuild" in message


def test_the_time_figure_of_an_extension_plots_the_extension_stages(tmp_path, room, make_jpeg):
    """In extend mode the report's time figure reads the extend rules' timings, not the last
    rebuild's (which it once listed, plotting stale numbers or failing when they were gone)."""
    write_config(tmp_path, "config.yaml", CITIES[:1], "extend", tmp_path / "photos")
    (tmp_path / "photos" / CITIES[0]).mkdir(parents=True)
    for seed in range(4):
        (tmp_path / "photos" / CITIES[0] / f"{seed}.jpg").write_bytes(make_jpeg(room(seed)))
    (tmp_path / "results/base").mkdir(parents=True)
    (tmp_path / "results/base/grid.json").write_text("{}")  # what the mode check looks for
    planned = {rule for rule, _ in planned_rules(tmp_path, "config.yaml")}
    assert {"project_pca", "place_tsne", "extend_grid", "update_tiles", "plot_benchmarks"} <= planned
    assert not planned & {"reduce_pca", "embed_tsne", "assign_grid", "render_tiles", "save_base"}
    figure_inputs = subprocess.run(
        snakemake_command(tmp_path, "-n", "--forcerun", "plot_benchmarks", "--printshellcmds",
                          "--verbose", "results/report/benchmarks.png"),
        capture_output=True, text=True, timeout=300)
    plan = figure_inputs.stdout + figure_inputs.stderr
    block = plan[plan.index("rule plot_benchmarks:"):]
    inputs = block[:block.index("output:")]
    for stage in ("project_pca", "place_tsne", "extend_grid", "update_tiles"):
        assert f"results/benchmarks/{stage}.tsv" in inputs, stage
    assert "results/benchmarks/reduce_pca.tsv" not in inputs
