"""Clusters and culling on features with a known structure (no network, no model)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from roomgrid.features import cull
from roomgrid.features import labels as user_labels
from roomgrid.features.clusters import central_photos, fit_clusters
from roomgrid.core.io import write_table
from roomgrid.selection.select import select_photos
from roomgrid.core.stackreader import StackReader

CLASSES = ["bathroom", "bedroom", "kitchen"]


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def write_cities(tmp_path, features_by_city: dict[str, np.ndarray]) -> dict[str, str]:
    paths = {}
    for city, features in features_by_city.items():
        path = tmp_path / f"{city}.h5"
        with h5py.File(path, "w") as handle:
            ids = [f"{city}/{i:03d}.jpg" for i in range(len(features))]
            handle.create_dataset("ids", data=np.array(ids, dtype=object), dtype=h5py.string_dtype())
            handle.create_dataset("features", data=features.astype(np.float16))
        paths[city] = str(path)
    return paths


@pytest.fixture
def rooms(tmp_path):
    """Three well-separated 'room types' in 32-d, spread over three cities; type of each id."""
    rng = np.random.default_rng(0)
    centres = unit(rng.normal(size=(3, 32)))
    by_city, truth = {}, {}
    for c, city in enumerate(["austin", "boston", "denver"]):
        kinds = rng.integers(0, 3, 40)
        by_city[city] = unit(centres[kinds] + rng.normal(scale=0.08, size=(40, 32)))
        truth.update({f"{city}/{i:03d}.jpg": CLASSES[k] for i, k in enumerate(kinds)})
    files = write_cities(tmp_path, by_city)
    readable = pd.DataFrame({"id": sorted(truth)})
    readable["city"] = readable["id"].str.split("/").str[0]
    return files, readable, pd.Series(truth)


def reader_for(files, readable):
    return StackReader(files, readable["id"], readable["city"], dataset="features")


def test_clusters_recover_the_room_types(rooms):
    files, readable, truth = rooms
    with reader_for(files, readable) as reader:
        table, centres, facts = fit_clusters(reader, 3, seed=1, batch_size=25)
    assert list(table["id"]) == list(readable["id"])
    crosstab = pd.crosstab(table["cluster"], truth.loc[table["id"]].to_numpy())
    assert ((crosstab > 0).sum(axis=1) == 1).all()  # each cluster holds one type
    assert facts["sizes"] == sorted(facts["sizes"], reverse=True)  # numbered largest first
    assert facts["sizes"] == table["cluster"].value_counts().sort_index().tolist()
    # centrality 0 is the member nearest its centre
    for cluster, members in table.groupby("cluster"):
        assert members.loc[members["distance"].idxmin(), "centrality"] == 0
    central = central_photos(table, per_cluster=2)
    assert len(central) == 6 and set(central["centrality"]) == {0, 1}
    with reader_for(files, readable) as reader:
        again, _, _ = fit_clusters(reader, 3, seed=1, batch_size=40)
    assert again["cluster"].tolist() == table["cluster"].tolist()  # batching does not matter


def test_more_clusters_than_photos_is_capped(rooms):
    files, readable, _ = rooms
    few = readable.head(5)
    with reader_for(files, few) as reader:
        table, _, facts = fit_clusters(reader, 12)
    assert facts["k"] == 5 and table["cluster"].nunique() == 5


def test_labels_csv_trains_a_classifier_that_predicts_every_photo(rooms, tmp_path):
    files, readable, truth = rooms
    kinds = truth.loc[readable["id"]].to_numpy()
    labelled = readable.groupby([readable["city"], kinds]).head(2)  # 2 per type and city
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"id": labelled["id"], "class": truth.loc[labelled["id"]].to_numpy()}).to_csv(labels, index=False)
    table, metrics = cull.cull_photos(readable=readable, feature_files=files, dataset="features",
                                      labels_csv=labels)
    assert list(table["id"]) == list(readable["id"])
    assert (table["predicted_class"].to_numpy() == truth.loc[table["id"]].to_numpy()).all()
    assert set(table.columns) >= {"label", "predicted_probability", "p_bathroom", "p_bedroom", "p_kitchen"}
    probabilities = table[[f"p_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-3)
    assert (table.set_index("id").loc[labelled["id"], "label"].to_numpy() ==
            truth.loc[labelled["id"]].to_numpy()).all()
    assert metrics["cross_validated"] and metrics["accuracy"] == 1.0
    assert metrics["labelled"] == {c: 6 for c in CLASSES}
    assert np.trace(metrics["confusion"]) == 18


def test_cross_validation_never_splits_a_city():
    """Features that only identify the city, each city of one class: a classifier that saw the
    city in training is always right, one that did not is guessing."""
    rng = np.random.default_rng(3)
    signatures = unit(rng.normal(size=(12, 64)))
    groups = np.repeat([f"city{i}" for i in range(12)], 10)
    classes = np.repeat(np.array(["bathroom", "kitchen"] * 6, dtype=object), 10)
    features = unit(signatures[np.repeat(np.arange(12), 10)] + rng.normal(scale=0.05, size=(120, 64)))
    metrics = cull.cross_validate(features, classes, groups, folds=4)
    assert metrics["cross_validated"] and metrics["folds"] == 4
    assert metrics["accuracy"] < 0.8


def test_one_class_or_no_labels_is_a_clear_error(rooms, tmp_path):
    files, readable, _ = rooms
    labels = tmp_path / "labels.csv"
    labels.write_text("id,class\n" + "".join(f"{i},bathroom\n" for i in readable["id"][:5]))
    with pytest.raises(ValueError, match="only one class"):
        cull.cull_photos(readable=readable, feature_files=files, dataset="features", labels_csv=labels)
    with pytest.raises(ValueError, match="needs labelled photos"):
        cull.cull_photos(readable=readable, feature_files=files, dataset="features")


def test_named_clusters_become_labels_and_the_rest_other(rooms):
    files, readable, truth = rooms
    with reader_for(files, readable) as reader:
        clusters, _, _ = fit_clusters(reader, 3, seed=0)
    bathroom_cluster = int(clusters.loc[truth.loc[clusters["id"]].to_numpy() == "bathroom", "cluster"].mode()[0])
    table, metrics = cull.cull_photos(readable=readable, feature_files=files, dataset="features",
                                      clusters=clusters, cluster_labels={bathroom_cluster: "bathroom"},
                                      cluster_examples_per=5)
    assert metrics["labelled"] == {"bathroom": 5, "other": 10}
    is_bathroom = truth.loc[table["id"]].to_numpy() == "bathroom"
    assert (table["predicted_class"].to_numpy() == np.where(is_bathroom, "bathroom", "other")).all()
    with pytest.raises(ValueError, match="do not exist"):
        cull.cull_photos(readable=readable, feature_files=files, dataset="features",
                         clusters=clusters, cluster_labels={7: "bathroom"})


def test_culled_follows_labels_first_then_the_threshold():
    predictions = pd.DataFrame({
        "id": ["a", "b", "c", "d", "e"],
        "label": ["", "", "bedroom", "bathroom", ""],
        "p_bathroom": [0.9, 0.3, 0.95, 0.1, 0.45],
        "p_bedroom": [0.1, 0.7, 0.05, 0.9, 0.55],
    })
    assert cull.culled(predictions, ["bathroom"], 0.5).tolist() == ["bathroom", "", "", "bathroom", ""]
    assert cull.culled(predictions, ["bathroom"], 0.4).tolist() == ["bathroom", "", "", "bathroom", "bathroom"]
    assert cull.culled(predictions, [], 0.5).tolist() == [""] * 5


def test_a_labels_folder_is_read_like_imagefolder(tmp_path, room, make_jpeg):
    for name, seeds in (("bathroom", (1, 2)), ("floorplan", (3,))):
        (tmp_path / "labels" / name / "sub").mkdir(parents=True)
        for seed in seeds:
            (tmp_path / "labels" / name / f"{seed}.jpg").write_bytes(make_jpeg(room(seed)))
    (tmp_path / "labels/floorplan/sub/deep.jpg").write_bytes(make_jpeg(room(4)))
    (tmp_path / "labels/floorplan/notes.txt").write_text("not a photo")
    (tmp_path / "labels/.hidden").mkdir()
    (tmp_path / "labels/bathroom/broken.jpg").write_bytes(b"\xff\xd8 not really")
    files = user_labels.label_folder_files(tmp_path / "labels")
    assert files[["file", "class"]].values.tolist() == [
        ["bathroom/1.jpg", "bathroom"], ["bathroom/2.jpg", "bathroom"],
        ["bathroom/broken.jpg", "bathroom"], ["floorplan/3.jpg", "floorplan"],
        ["floorplan/sub/deep.jpg", "floorplan"]]
    table = user_labels.embed_label_folder(tmp_path / "labels", tmp_path / "labels.h5", kind="stacks",
                                         stack={"size": 16, "sigmas": [2], "colour": False})
    assert table.set_index("file").loc["bathroom/broken.jpg", "status"] == "skipped"
    stored, features = user_labels.read_label_features(tmp_path / "labels.h5")
    assert stored["file"].tolist() == ["bathroom/1.jpg", "bathroom/2.jpg", "floorplan/3.jpg",
                                       "floorplan/sub/deep.jpg"]
    assert features.shape == (4, 32 * 16) and 0 <= features.min() and features.max() <= 1


def test_culled_photos_leave_the_selection_with_their_reason(tmp_path):
    ids = ["a/1.jpg", "a/2.jpg", "a/3.jpg"]
    write_table(pd.DataFrame({"id": ids, "city": "a", "path": ids}), tmp_path / "photos.tsv")
    write_table(pd.DataFrame({"id": ids, "status": "ok", "mode": "RGB", "width": 600, "height": 450,
                              "bytes": [10, 20, 30], "entropy": 5.0,
                              "dhash": ["0f0f0f0f0f0f0f0f", "f0f0f0f0f0f0f0f0", "00ff00ff00ff00ff"],
                              "sha256": ["x", "y", "z"]}), tmp_path / "scan.tsv")
    predictions = pd.DataFrame({"id": ids, "label": ["", "", "bathroom"],
                                "predicted_class": ["bathroom", "bedroom", "bedroom"],
                                "predicted_probability": [0.8, 0.6, 0.6],
                                "p_bathroom": [0.8, 0.4, 0.4], "p_bedroom": [0.2, 0.6, 0.6]})
    clusters = pd.DataFrame({"id": ids, "cluster": [0, 1, 1]})
    table, _ = select_photos([tmp_path / "photos.tsv"], [tmp_path / "scan.tsv"],
                             keep_bins=["photo", "maybe"], graphic_below=3.9, photo_from=4.4,
                             max_distance=4, clusters=clusters, predictions=predictions,
                             cull_drop=["bathroom"], cull_threshold=0.5)
    table = table.set_index("id")
    assert table["selected"].tolist() == [False, True, False]
    assert table["dropped"].tolist() == ["culled bathroom", "", "culled bathroom"]
    assert table["cluster"].tolist() == [0, 1, 1]
    assert table.loc["a/2.jpg", "predicted_class"] == "bedroom"


def test_wide_rows_are_clustered_through_a_projection(tmp_path):
    """Rows wider than the projection (blur stacks are 12,288 wide) keep their clusters."""
    from roomgrid.features.clusters import PROJECTED_DIMS

    rng = np.random.default_rng(4)
    width = 4 * PROJECTED_DIMS
    centres = unit(rng.normal(size=(4, width)))
    kinds = rng.integers(0, 4, 90)
    rows = unit(centres[kinds] + rng.normal(scale=0.02, size=(90, width)))
    files = write_cities(tmp_path, {"austin": rows[:45], "boston": rows[45:]})
    readable = pd.DataFrame({"id": [f"austin/{i:03d}.jpg" for i in range(45)] +
                             [f"boston/{i:03d}.jpg" for i in range(45)]})
    readable["city"] = readable["id"].str.split("/").str[0]
    with reader_for(files, readable) as reader:
        table, centres_found, facts = fit_clusters(reader, 4, seed=0)
    assert facts["projected_to"] == PROJECTED_DIMS and centres_found.shape == (4, PROJECTED_DIMS)
    crosstab = pd.crosstab(table["cluster"], kinds)
    assert ((crosstab > 0).sum(axis=1) == 1).all() and ((crosstab > 0).sum(axis=0) == 1).all()


def test_an_extension_keeps_the_base_clusters_and_new_photos_join_their_type(rooms):
    from roomgrid.features.clusters import extend_clusters

    files, readable, truth = rooms
    in_base = readable[readable["city"] != "denver"]
    with reader_for(files, in_base) as reader:
        base, _, base_facts = fit_clusters(reader, 3, seed=1, batch_size=25)
    # Denver's photos are new; one Boston photo has gone.
    gone = in_base["id"].iloc[45]
    now = readable[readable["id"] != gone]
    with reader_for(files, now) as reader:
        table, facts = extend_clusters(reader, base, base_facts, batch_size=25)
    assert list(table["id"]) == list(now["id"])
    kept = table.set_index("id").loc[base["id"][base["id"] != gone]]
    np.testing.assert_array_equal(kept["cluster"], base.set_index("id").loc[kept.index, "cluster"])
    # Each new photo joins the cluster its room type has in the base.
    cluster_of_type = pd.Series(base["cluster"].to_numpy(), index=truth.loc[base["id"]].to_numpy())
    cluster_of_type = cluster_of_type.groupby(level=0).agg(lambda c: c.mode()[0])
    new = table[table["id"].str.startswith("denver/")]
    assert (new["cluster"].to_numpy() == cluster_of_type.loc[truth.loc[new["id"]]].to_numpy()).all()
    assert facts["new_photos"] == 40 and facts["removed"] == 1 and sum(facts["sizes"]) == len(now)
    # Centrality is a rank within each cluster again, over old and new photos.
    for _, members in table.groupby("cluster"):
        assert sorted(members["centrality"]) == list(range(len(members)))


def test_cluster_examples_train_but_never_overrule_the_prediction(rooms):
    """k-means put a bathroom among the central photos of an unnamed cluster: it is an `other`
    example for training, yet the user never labelled it, so the prediction decides."""
    files, readable, truth = rooms
    with reader_for(files, readable) as reader:
        clusters, _, _ = fit_clusters(reader, 3, seed=0)
    kind = truth.loc[clusters["id"]].to_numpy()
    bathroom_cluster = int(clusters.loc[kind == "bathroom", "cluster"].mode()[0])
    stray = clusters.index[(kind == "bathroom") & (clusters["centrality"] >= 8)][0]
    other_cluster = int(clusters.loc[kind != "bathroom", "cluster"].iloc[0])
    members = clusters["cluster"].eq(other_cluster)
    clusters.loc[members, "centrality"] += 1
    clusters.loc[stray, ["cluster", "centrality"]] = [other_cluster, 0]
    table, metrics = cull.cull_photos(readable=readable, feature_files=files, dataset="features",
                                      clusters=clusters, cluster_labels={bathroom_cluster: "bathroom"},
                                      cluster_examples_per=8)
    assert metrics["label_sources"] == {"clusters": 24}
    assert table["label"].eq("").all()  # nothing here was labelled by the user
    table = table.set_index("id")
    stray_id = clusters.loc[stray, "id"]
    assert table.loc[stray_id, "predicted_class"] == "bathroom"
    verdict = cull.culled(table, ["bathroom"], 0.5)
    assert verdict[stray_id] == "bathroom"
    assert (verdict.eq("bathroom") == (truth.loc[table.index] == "bathroom")).all()


def test_a_users_label_still_overrules_the_prediction(rooms, tmp_path):
    files, readable, truth = rooms
    kinds = truth.loc[readable["id"]].to_numpy()
    labelled = readable.groupby([readable["city"], kinds]).head(3)
    classes = truth.loc[labelled["id"]].to_numpy().copy()
    kitchen = labelled["id"].to_numpy()[classes == "kitchen"][0]
    classes[labelled["id"].to_numpy() == kitchen] = "bathroom"  # the user says so
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"id": labelled["id"], "class": classes}).to_csv(labels, index=False)
    table, _ = cull.cull_photos(readable=readable, feature_files=files, dataset="features",
                                labels_csv=labels)
    table = table.set_index("id")
    assert table.loc[kitchen, "label"] == "bathroom"
    assert cull.culled(table, ["bathroom"], 0.99)[kitchen] == "bathroom"


def test_the_regularisation_search_goes_past_100_when_the_loss_keeps_falling(rooms, tmp_path):
    """Well-separated types: the weaker the penalty, the surer and better the probabilities."""
    files, readable, truth = rooms
    kinds = truth.loc[readable["id"]].to_numpy()
    labelled = readable.groupby([readable["city"], kinds]).head(3)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"id": labelled["id"], "class": truth.loc[labelled["id"]].to_numpy()}).to_csv(labels, index=False)
    _, metrics = cull.cull_photos(readable=readable, feature_files=files, dataset="features",
                                  labels_csv=labels)
    assert metrics["C"] > 100
    tried = sorted(float(C) for C in metrics["log_loss"])
    assert tried[0] <= 0.01 and tried[-1] >= 1e5
    assert len(tried) == len(cull.C_CHOICES) + len(cull.C_REFINE)
    assert metrics["log_loss"][f"{metrics['C']:.4g}"] == min(metrics["log_loss"].values())


def test_the_recall_threshold_keeps_the_stated_share_of_the_labelled_photos():
    rng = np.random.default_rng(5)
    positives = 1 / (1 + np.exp(-rng.normal(3.0, 1.5, 40)))
    negatives = 1 / (1 + np.exp(-rng.normal(-3.0, 1.5, 200)))
    found = cull.recall_threshold(positives, negatives, 0.9)
    assert found["examples"] == 40
    assert found["recall"] == (positives >= found["threshold"]).mean() >= 0.9
    assert found["false_drop_rate"] == (negatives >= found["threshold"]).mean()
    hits, false = (positives >= found["threshold"]).sum(), (negatives >= found["threshold"]).sum()
    assert found["precision"] == round(hits / (hits + false), 4)
    # Fewer than MIN_FOR_RECALL photos: no threshold, and why.
    few = cull.recall_threshold(positives[:3], negatives, 0.9)
    assert few["threshold"] is None and "3 labelled photos" in few["why"]


def test_the_threshold_rounds_down_so_the_last_labelled_photo_is_culled():
    positives = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.12347])
    found = cull.recall_threshold(positives, np.array([0.01]), 0.95)
    assert found["threshold"] <= 0.1234 and found["recall"] == 1.0


def test_an_explicit_threshold_wins_over_recall_and_too_few_labels_fall_back():
    metrics = {"recall": 0.95, "thresholds": {
        "bathroom": {"threshold": 0.21, "examples": 15, "recall": 1.0, "false_drop_rate": 0.03,
                     "precision": 0.88},
        "floorplan": {"threshold": None, "examples": 2, "why": "2 labelled photos; at least 5"}}}
    chosen, how = cull.culling_thresholds(["bathroom", "floorplan"], None, metrics)
    assert chosen == {"bathroom": 0.21, "floorplan": cull.FALLBACK_THRESHOLD}
    assert how["bathroom"]["from"] == "cull.recall 0.95" and how["bathroom"]["false_drop_rate"] == 0.03
    assert how["floorplan"]["from"] == "fallback" and "2 labelled" in how["floorplan"]["why"]
    chosen, how = cull.culling_thresholds(["bathroom", "floorplan"], 0.7, metrics)
    assert chosen == {"bathroom": 0.7, "floorplan": 0.7}
    assert {h["from"] for h in how.values()} == {"cull.threshold"}
    # A class the classifier never saw falls back too, with a reason.
    chosen, how = cull.culling_thresholds(["kitchen"], None, metrics)
    assert chosen == {"kitchen": cull.FALLBACK_THRESHOLD} and how["kitchen"]["why"]


def test_culled_applies_each_dropped_classs_own_threshold():
    predictions = pd.DataFrame({
        "id": ["a", "b", "c", "d"], "label": ["", "", "", ""],
        "p_bathroom": [0.30, 0.10, 0.25, 0.05],
        "p_floorplan": [0.60, 0.15, 0.70, 0.05],
        "p_bedroom": [0.10, 0.75, 0.05, 0.90]})
    limits = {"bathroom": 0.2, "floorplan": 0.65}
    # a: floorplan is likelier but below its threshold, so bathroom (above its own) culls it.
    assert cull.culled(predictions, ["bathroom", "floorplan"], limits).tolist() == \
        ["bathroom", "", "floorplan", ""]


def test_the_selection_culls_at_each_classs_threshold_and_the_report_says_what_it_costs(tmp_path):
    import json

    from roomgrid.report.features import plot_culling, threshold_lines
    from roomgrid.selection.select import write_selection

    ids = ["a/1.jpg", "a/2.jpg", "a/3.jpg"]
    write_table(pd.DataFrame({"id": ids, "city": "a", "path": ids}), tmp_path / "photos.tsv")
    write_table(pd.DataFrame({"id": ids, "status": "ok", "mode": "RGB", "width": 600, "height": 450,
                              "bytes": [10, 20, 30], "entropy": 5.0,
                              "dhash": ["0f0f0f0f0f0f0f0f", "f0f0f0f0f0f0f0f0", "00ff00ff00ff00ff"],
                              "sha256": ["x", "y", "z"]}), tmp_path / "scan.tsv")
    predictions = pd.DataFrame({"id": ids, "label": "", "predicted_class": "bedroom",
                                "predicted_probability": [0.7, 0.8, 0.9],
                                "p_bathroom": [0.3, 0.2, 0.1], "p_bedroom": [0.7, 0.8, 0.9]})
    metrics = {"cross_validated": True, "classes": ["bathroom", "bedroom"], "C": 215.4, "folds": 2,
               "accuracy": 1.0, "balanced_accuracy": 1.0, "confusion": [[5, 0], [0, 5]],
               "labelled": {"bathroom": 5, "bedroom": 5},
               "per_class": {c: {"precision": 1.0, "recall": 1.0} for c in ["bathroom", "bedroom"]},
               "recall": 0.95, "thresholds": {"bathroom": {
                   "threshold": 0.15, "examples": 5, "recall": 1.0, "false_drop_rate": 0.2,
                   "precision": 0.8333}}}
    thresholds, how = cull.culling_thresholds(["bathroom"], None, metrics)
    table, duplicates = select_photos([tmp_path / "photos.tsv"], [tmp_path / "scan.tsv"],
                                      keep_bins=["photo", "maybe"], graphic_below=3.9,
                                      photo_from=4.4, max_distance=4, predictions=predictions,
                                      cull_drop=["bathroom"], cull_threshold=thresholds)
    assert table["dropped"].tolist() == ["culled bathroom", "culled bathroom", ""]
    write_selection(table, duplicates, tmp_path / "sel.tsv", tmp_path / "dups.tsv",
                    tmp_path / "summary.json", culling=how)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["culled"] == {"bathroom": 2}
    assert summary["culling"]["bathroom"]["threshold"] == 0.15
    assert threshold_lines(summary) == [
        "bathroom: culled at p \u2265 0.15 (cull.recall 0.95): out of fold 100% of its 5 labelled "
        "culled, 20.0% of the other labelled photos, precision 0.83"]
    plot_culling(metrics, summary, tmp_path / "culling.png")
    assert (tmp_path / "culling.png").stat().st_size > 0
