"""The loop the clusters panel closes, end to end: build a small demo, name two clusters in the
viewer and tick one "drop", download the config, pass it back as a user would, re-run.

Blur-stack features keep the build quick (no CNN), and 32-px stacks (3,072 numbers a photo, not
12,288) keep the culling classifier's cross-validation short; the classifier is the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from roomgrid.features.cull import culled
from roomgrid.core.io import read_table
from roomgrid.viewer.serving import serve_in_background
from test_workflow import planned_jobs, snakemake
from workflow_helpers import small_demo_config

pytestmark = [pytest.mark.workflow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CITIES = ["alpha", "beta", "gamma"]
CONFIG = small_demo_config(CITIES, 24, n_components=20, perplexity=10, n_iter=300)
CONFIG["features"] = {"kind": "stacks"}
CONFIG["scan"] = {"stack": {"size": 32, "sigmas": [3, 8], "colour": False}}
CONFIG["clusters"] = {"k": 4, "seed": 0}
# What a re-run with new cluster names and dropped types rebuilds, and nothing else: the
# classifier, the selection and everything after it.
AFTER_CULLING = {"predict_types", "select_photos", "reduce_pca", "embed_tsne", "find_neighbours",
                 "assign_grid", "render_tiles", "build_viewer", "plot_triage", "plot_pca_variance",
                 "plot_layout", "plot_culling", "plot_counts", "plot_examples",
                 "plot_tsne_thumbnails", "plot_clusters", "plot_benchmarks", "save_base", "all",
                 # the other arrangements are laid out from the selection too
                 "arrange_photos", "render_arrangement_tiles", "plot_arrangements"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    workdir = tmp_path_factory.mktemp("cull-loop")
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    snakemake(workdir)
    return workdir


def name_clusters_in_the_viewer(viewer: Path, names: dict[int, str], drop: int, target: Path):
    """Open the built viewer, type the names, tick "drop" on one, save the downloaded config."""
    from playwright.sync_api import sync_playwright

    server, url = serve_in_background(viewer)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
                "--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1300, "height": 800})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url + "index.html")
            page.wait_for_function("document.body.dataset.ready === 'true'")
            page.click("#clusters-open")
            page.wait_for_function("document.querySelectorAll('#clusters-list li').length > 0")
            for number, name in names.items():
                item = page.locator(f"#clusters-list li[data-cluster='{number}']")
                item.locator(".cluster-name").fill(name)
            page.locator(f"#clusters-list li[data-cluster='{drop}'] .cluster-drop").check()
            with page.expect_download() as download:
                page.click("#cull-download")
            download.value.save_as(target)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert errors == []


def test_named_and_dropped_cluster_is_culled_by_the_rerun(built):
    clusters = read_table(built / "results/clusters/clusters.tsv")
    assert clusters["cluster"].nunique() == 4
    names = {0: "floorplan", 1: "bedroom"}
    config = built / "cull.yaml"
    name_clusters_in_the_viewer(built / "results/viewer", names, 0, config)
    assert yaml.safe_load(config.read_text()) == {
        "cull": {"cluster_labels": names, "drop": ["floorplan"]}}

    # Only the classifier and what follows it re-run: no scan, no features, no clusters.
    assert {rule for rule, _ in planned_jobs(built, ("config.yaml", "cull.yaml"))} == AFTER_CULLING
    snakemake(built, configs=("config.yaml", "cull.yaml"))

    predictions = read_table(built / "results/cull/predictions.tsv")
    assert {"p_floorplan", "p_bedroom", "p_other"} <= set(predictions.columns)
    photos = read_table(built / "results/selection/photos.tsv").set_index("id")
    threshold = 0.5  # the default cull.threshold
    # The culled photos are exactly those the classifier gives the dropped name (or that are its
    # examples): the named cluster's photos and nothing of the other named one.
    expected = set(predictions.loc[culled(predictions, ["floorplan"], threshold).eq("floorplan"), "id"])
    is_culled = photos["culled"].fillna("").eq("floorplan")
    assert set(photos.index[is_culled]) == expected
    assert set(photos.index[photos["culled"].fillna("").ne("")]) == expected
    members = set(clusters.loc[clusters["cluster"].eq(0), "id"])
    assert members <= expected  # all of them are examples (cull.cluster_examples: 200)
    assert len(expected - members) <= 0.1 * len(members)
    assert not expected & set(clusters.loc[clusters["cluster"].eq(1), "id"])
    assert set(photos.index[photos["dropped"].fillna("").eq("culled floorplan")]) == expected
    grid = set(read_table(built / "results/layout/grid.tsv")["id"])
    assert not grid & expected and grid == set(photos.index[photos["selected"].astype(bool)])

    # The rebuilt viewer starts from the names the config now has.
    import json

    panel = json.loads((built / "results/viewer/data/clusters.json").read_text())
    assert panel["cull"]["cluster_labels"] == {"0": "floorplan", "1": "bedroom"}
    assert panel["cull"]["drop"] == ["floorplan"]
    assert panel["clusters"][0]["on_map"] == 0 and panel["clusters"][0]["region"] is None
