"""Report figures: stage costs from benchmark files, thumbnails looked up by id, figures written."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from roomgrid.report import figures as report


def write_benchmark(path, seconds, rss):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{s}\t0:00:0{int(s)}\t{r}\t1\t1\t1\t0\t0\t50\t{s}\n" for s, r in zip(seconds, rss))
    path.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\t"
                    "cpu_time\n" + rows)


def test_benchmarks_sum_time_per_stage_and_keep_the_peak_memory(tmp_path):
    bench = tmp_path / "results" / "benchmarks"
    write_benchmark(bench / "scan_city" / "boston.tsv", [2.5], [100.0])
    write_benchmark(bench / "scan_city" / "denver.tsv", [1.5], [140.0])
    write_benchmark(bench / "embed_tsne.tsv", [7.0], ["-"])  # max_rss unknown on some systems
    (bench / "empty.tsv").write_text("")
    costs = report.read_benchmarks([bench / "scan_city" / "boston.tsv",
                                    bench / "scan_city" / "denver.tsv", bench / "embed_tsne.tsv",
                                    bench / "empty.tsv", bench / "missing.tsv"])
    by_stage = costs.set_index("stage")
    assert list(costs["stage"]) == ["scan_city", "embed_tsne"]
    assert by_stage.loc["scan_city", "s"] == pytest.approx(4.0)
    assert by_stage.loc["scan_city", "max_rss"] == 140.0 and by_stage.loc["scan_city", "jobs"] == 2
    assert np.isnan(by_stage.loc["embed_tsne", "max_rss"])
    report.plot_benchmarks([bench / "scan_city" / "boston.tsv", bench / "embed_tsne.tsv"],
                           tmp_path / "costs.png")
    assert Image.open(tmp_path / "costs.png").size[0] > 300


@pytest.fixture
def thumbs(tmp_path):
    """Two cities' thumbnail files; each thumbnail is one flat colour coding its row."""
    paths = {}
    for code, city in enumerate(["boston", "denver"]):
        ids = [f"{city}/{i}.jpg" for i in range(5)]
        pixels = np.stack([np.full((16, 16, 3), 10 * code + i, np.uint8) for i in range(5)])
        paths[city] = tmp_path / f"{city}.h5"
        with h5py.File(paths[city], "w") as handle:
            handle.create_dataset("ids", data=ids, dtype=h5py.string_dtype())
            handle.create_dataset("thumbs", data=pixels)
    return paths


def test_thumbnails_are_found_by_id_in_their_citys_file(thumbs):
    found = report.read_thumbnails(thumbs, ["denver/3.jpg", "boston/0.jpg", "boston/9.jpg"],
                                   ["denver", "boston", "boston"])
    assert set(found) == {"denver/3.jpg", "boston/0.jpg"}  # an id without a thumbnail is skipped
    assert found["denver/3.jpg"][0, 0, 0] == 13 and found["boston/0.jpg"][0, 0, 0] == 0


def test_every_figure_is_written_from_small_tables(thumbs, tmp_path):
    ids = [f"{city}/{i}.jpg" for city in ("boston", "denver") for i in range(5)]
    photos = pd.DataFrame({
        "id": ids, "city": [i.split("/")[0] for i in ids],
        "status": ["ok"] * 9 + ["skipped"],
        "entropy": [1.0, 2.0, 4.0, 4.2, 5.0, 5.1, 5.2, 3.0, 4.5, np.nan],
        "bin": ["graphic", "graphic", "maybe", "maybe", "photo", "photo", "photo", "graphic",
                "photo", np.nan],
        "dropped": ["bin graphic", "bin graphic", "", "duplicate", "", "", "excluded",
                    "culled floorplan", "", "unreadable"],
    })
    duplicates = pd.DataFrame({"duplicate_group": [0, 0], "id": ["boston/2.jpg", "boston/3.jpg"],
                               "city": "boston", "kept": [True, False], "distance": [0, 1]})
    points = pd.DataFrame({"id": ids[:9], "x": np.arange(9.0), "y": np.arange(9.0) % 3})
    report.plot_counts(photos, tmp_path / "counts.png")
    report.plot_bin_examples(photos, thumbs, tmp_path / "bins.png", per_bin=3)
    report.plot_duplicate_examples(duplicates, thumbs, tmp_path / "dups.png")
    report.plot_duplicate_examples(duplicates.iloc[:0], thumbs, tmp_path / "no-dups.png")
    report.plot_tsne_thumbnails(points, dict(zip(photos["id"], photos["city"])), thumbs,
                                tmp_path / "tsne.png")
    for name in ("counts", "bins", "dups", "no-dups", "tsne"):
        with Image.open(tmp_path / f"{name}.png") as image:
            assert image.size[0] > 200, name
    assert not list(tmp_path.glob(".*"))  # written atomically, no leftovers


def test_bin_examples_spread_over_each_bins_entropy_range(thumbs, tmp_path, monkeypatch):
    shown = {}

    def capture(rows, title, path, columns):
        shown.update({heading.split("\n")[0]: [caption for caption, _ in items]
                      for heading, items in rows})

    monkeypatch.setattr(report, "thumbnail_grid", capture)
    ids = [f"boston/{i}.jpg" for i in range(5)]
    photos = pd.DataFrame({"id": ids, "city": "boston", "status": "ok",
                           "entropy": [5.0, 4.5, 4.8, 4.6, 4.7], "bin": "photo"})
    report.plot_bin_examples(photos, thumbs, tmp_path / "bins.png", per_bin=3)
    assert shown == {"photo": ["4.50 nats", "4.70 nats", "5.00 nats"]}
