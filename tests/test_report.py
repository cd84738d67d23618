"""Report figures: stage costs from benchmark files, thumbnails looked up by id, and figures that
show the numbers and photos of the data they were given."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from roomgrid.report import common
from roomgrid.report import figures as report


@pytest.fixture
def figures(monkeypatch):
    """The figures the report saves, by file name, to read what was drawn after saving."""
    drawn = {}
    save = common.save_figure

    def keep(figure, path):
        drawn[Path(path).name] = figure
        save(figure, path)

    # The figures save through their own module's name and through the shared thumbnail grid.
    monkeypatch.setattr(report, "save_figure", keep)
    monkeypatch.setattr(common, "save_figure", keep)
    return drawn


def bar_lengths(axis, horizontal: bool = True, labelled_by=None) -> dict[tuple, float]:
    """``{(category, series): length}`` of the bars of a (stacked) bar chart, as drawn; the
    category is read from the tick labels of ``labelled_by`` (default: the axis itself), the
    series from the legend label (``None`` for a single series)."""
    labelled_by = labelled_by or axis
    ticks = labelled_by.get_yticks() if horizontal else labelled_by.get_xticks()
    labels = labelled_by.get_yticklabels() if horizontal else labelled_by.get_xticklabels()
    category = {round(float(t)): label.get_text() for t, label in zip(ticks, labels)}
    lengths = {}
    for container in axis.containers:
        for bar in container:
            if horizontal:
                centre, length = bar.get_y() + bar.get_height() / 2, bar.get_width()
            else:
                centre, length = bar.get_x() + bar.get_width() / 2, bar.get_height()
            series = container.get_label()
            lengths[(category[round(centre)], None if series.startswith("_") else series)] = length
    return lengths


# Thumbnails are flat colours, far from the white, grey and black of the figures around them.
PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (128, 128, 0), (0, 128, 128)]


def colour_of(photo_id: str) -> tuple[int, int, int]:
    city, number = photo_id.removesuffix(".jpg").split("/")
    return PALETTE[5 * ["boston", "denver"].index(city) + int(number)]


def drawn_photos(path) -> dict[str, tuple[float, float]]:
    """Centre (x, y in pixels) of every thumbnail colour found in a PNG, by photo id."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    found = {}
    for photo_id in [f"{city}/{i}.jpg" for city in ("boston", "denver") for i in range(5)]:
        ys, xs = np.nonzero(np.abs(pixels - colour_of(photo_id)).max(axis=2) <= 2)
        if len(xs) >= 4:
            found[photo_id] = (xs.mean(), ys.mean())
    return found


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



def test_the_cost_figure_shows_each_stages_time_and_memory(tmp_path, figures):
    bench = tmp_path / "results" / "benchmarks"
    write_benchmark(bench / "scan_city" / "boston.tsv", [2.5], [100.0])
    write_benchmark(bench / "scan_city" / "denver.tsv", [1.5], [140.0])
    write_benchmark(bench / "embed_tsne.tsv", [7.0], ["-"])
    report.plot_benchmarks([bench / "scan_city" / "boston.tsv", bench / "scan_city" / "denver.tsv",
                            bench / "embed_tsne.tsv"], tmp_path / "costs.png")
    time_axis, memory_axis = figures["costs.png"].axes
    assert bar_lengths(time_axis) == {("scan_city (x2)", None): 4.0, ("embed_tsne", None): 7.0}
    memory = bar_lengths(memory_axis, labelled_by=time_axis)  # the rows of the time panel
    assert memory[("scan_city (x2)", None)] == 140.0 and np.isnan(memory[("embed_tsne", None)])
    assert time_axis.get_title() == "11 s in all"


@pytest.fixture
def thumbs(tmp_path):
    """Two cities' thumbnail files; each thumbnail is one flat colour of its own."""
    paths = {}
    for city in ["boston", "denver"]:
        ids = [f"{city}/{i}.jpg" for i in range(5)]
        pixels = np.stack([np.full((16, 16, 3), colour_of(i), np.uint8) for i in ids])
        paths[city] = tmp_path / f"{city}.h5"
        with h5py.File(paths[city], "w") as handle:
            handle.create_dataset("ids", data=ids, dtype=h5py.string_dtype())
            handle.create_dataset("thumbs", data=pixels)
    return paths


def test_thumbnails_are_found_by_id_in_their_citys_file(thumbs):
    found = report.read_thumbnails(thumbs, ["denver/3.jpg", "boston/0.jpg", "boston/9.jpg"],
                                   ["denver", "boston", "boston"])
    assert set(found) == {"denver/3.jpg", "boston/0.jpg"}  # an id without a thumbnail is skipped
    assert (found["denver/3.jpg"] == colour_of("denver/3.jpg")).all()
    assert (found["boston/0.jpg"] == colour_of("boston/0.jpg")).all()


@pytest.fixture
def photos():
    ids = [f"{city}/{i}.jpg" for city in ("boston", "denver") for i in range(5)]
    return pd.DataFrame({
        "id": ids, "city": [i.split("/")[0] for i in ids],
        "status": ["ok"] * 9 + ["skipped"],
        "entropy": [1.0, 2.0, 4.0, 4.2, 5.0, 5.1, 5.2, 3.0, 4.5, np.nan],
        "bin": ["graphic", "graphic", "maybe", "maybe", "photo", "photo", "photo", "graphic",
                "photo", np.nan],
        "dropped": ["bin graphic", "bin graphic", "", "duplicate", "", "", "excluded",
                    "culled floorplan", "", "unreadable"],
    })


def test_the_counts_figure_shows_each_citys_photos_by_fate_and_each_bins_size(photos, tmp_path,
                                                                               figures):
    report.plot_counts(photos, tmp_path / "counts.png")
    by_city, by_bin = figures["counts.png"].axes[:2]
    drawn = {key: n for key, n in bar_lengths(by_city).items() if n}
    assert drawn == {("boston", "placed"): 2, ("boston", "bin graphic"): 2,
                     ("boston", "duplicate"): 1, ("denver", "placed"): 2,
                     ("denver", "excluded"): 1, ("denver", "culled floorplan"): 1,
                     ("denver", "unreadable"): 1}
    assert by_city.get_title() == "10 photos in 2 cities"
    assert bar_lengths(by_bin, horizontal=False) == {
        ("graphic", None): 3, ("maybe", None): 2, ("photo", None): 4, ("unreadable", None): 1}
    assert [text.get_text() for text in by_bin.texts] == ["3", "2", "4", "1"]
    assert not list(tmp_path.glob(".*"))  # written atomically, no leftovers


def test_the_bin_examples_show_each_bins_photos_in_its_row_lowest_entropy_first(photos, thumbs,
                                                                               tmp_path):
    report.plot_bin_examples(photos, thumbs, tmp_path / "bins.png", per_bin=3)
    drawn = drawn_photos(tmp_path / "bins.png")
    rows = [["boston/0.jpg", "boston/1.jpg", "denver/2.jpg"],  # graphic, by entropy
            ["boston/2.jpg", "boston/3.jpg"],  # maybe
            ["denver/3.jpg", "denver/0.jpg", "denver/1.jpg"]]  # photo: 3 spread over its 4
    assert set(drawn) == {photo for row in rows for photo in row}
    for row in rows:
        assert [drawn[p][0] for p in row] == sorted(drawn[p][0] for p in row)  # left to right
        assert max(drawn[p][1] for p in row) - min(drawn[p][1] for p in row) < 2
    heights = [drawn[row[0]][1] for row in rows]
    assert heights == sorted(heights)  # graphic, maybe, photo from the top


def test_the_duplicate_examples_show_the_kept_copy_before_its_duplicates(thumbs, tmp_path,
                                                                         figures):
    duplicates = pd.DataFrame({"duplicate_group": [0, 0], "id": ["boston/2.jpg", "boston/3.jpg"],
                               "city": "boston", "kept": [True, False], "distance": [0, 1]})
    report.plot_duplicate_examples(duplicates, thumbs, tmp_path / "dups.png")
    drawn = drawn_photos(tmp_path / "dups.png")
    assert set(drawn) == {"boston/2.jpg", "boston/3.jpg"}
    assert drawn["boston/2.jpg"][0] < drawn["boston/3.jpg"][0]
    captions = [axis.get_title() for axis in figures["dups.png"].axes if axis.get_title()]
    assert captions == ["kept boston", "d=1 boston"]

    report.plot_duplicate_examples(duplicates.iloc[:0], thumbs, tmp_path / "no-dups.png")
    assert drawn_photos(tmp_path / "no-dups.png") == {}
    texts = [text.get_text() for axis in figures["no-dups.png"].axes for text in axis.texts]
    assert texts == ["nothing to show"]


def test_the_tsne_figure_draws_each_photo_at_its_point(photos, thumbs, tmp_path):
    placed = photos["id"][:9]
    points = pd.DataFrame({"id": placed, "x": np.arange(9.0), "y": np.arange(9.0) % 3})
    report.plot_tsne_thumbnails(points, dict(zip(photos["id"], photos["city"])), thumbs,
                                tmp_path / "tsne.png")
    drawn = drawn_photos(tmp_path / "tsne.png")
    assert set(drawn) == set(placed)
    assert [drawn[p][0] for p in placed] == sorted(drawn[p][0] for p in placed)  # x grows
    rows = {y: [drawn[p][1] for p in placed[points["y"] == y]] for y in (0, 1, 2)}
    # y grows upwards: every photo at y=2 is drawn above every photo at y=1, and those above y=0
    assert max(rows[2]) < min(rows[1]) and max(rows[1]) < min(rows[0])


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
