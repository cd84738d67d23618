import logging

import numpy as np
import pandas as pd
import pytest

from roomgrid.core.io import read_json, read_table, write_table
from roomgrid.layout.arrange import (Arrangement, arrange, arrange_random, parse_arrangements,
                                     run_arrangement)
from roomgrid.layout.groups import ArrangementError, group_bands, group_categories
from roomgrid.layout.packing import pack_blocks
from roomgrid.selection.tables import SELECTION_COLUMNS


def photos(n, seed=0):
    rng = np.random.default_rng(seed)
    prices = rng.integers(800, 4000, n).astype(float)
    prices[rng.random(n) < 0.1] = np.nan
    table = pd.DataFrame({
        "id": [f"c{i % 3}/{i:05d}.jpg" for i in range(n)],
        "city": [f"c{i % 3}" for i in range(n)],
        "price": prices,
        "bedrooms": rng.integers(0, 4, n),
        "posted": pd.to_datetime("2017-01-01") + pd.to_timedelta(rng.integers(0, 180, n), "D"),
        "neighbourhood": rng.choice(["North", "South", "East", ""], n),
    })
    table["posted"] = table["posted"].dt.strftime("%Y-%m-%d")
    points = rng.normal(size=(n, 2))
    return table, points


SPECS = [Arrangement("similarity"), Arrangement("city", "city"),
         Arrangement("rent", "price", bands=12), Arrangement("posted", "posted", bands=5),
         Arrangement("hood", "neighbourhood", order="size"),
         Arrangement("beds", "bedrooms", order="median_price"), Arrangement("shuffle", "random")]


def assert_blocks_hold_their_groups(result, table, spec):
    """Blocks are disjoint rectangles inside the map, each holding exactly its group's photos."""
    rows, cols = np.divmod(result.cells, result.cols)
    if spec.kind in ("similarity", "random"):
        assert result.blocks == []  # one map, no groups
        return None
    owner = np.full((result.rows, result.cols), -1)
    for number, block in enumerate(result.blocks):
        r, c, h, w = block["row"], block["col"], block["rows"], block["cols"]
        assert r >= 0 and c >= 0 and r + h <= result.rows and c + w <= result.cols
        assert (owner[r:r + h, c:c + w] == -1).all(), "blocks overlap"
        owner[r:r + h, c:c + w] = number
    block_of = owner[rows, cols]
    assert (block_of >= 0).all(), "a photo lies outside every block"
    assert np.bincount(block_of, minlength=len(result.blocks)).tolist() == \
        [b["count"] for b in result.blocks]
    if spec.kind == "categories":
        values = table[spec.by].where(table[spec.by].astype(str).ne(""))
        for number in range(len(result.blocks)):
            assert values[block_of == number].astype(str).nunique(dropna=False) == 1
    return block_of


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_arrangement_places_every_photo_once_in_its_groups_block(spec):
    table, points = photos(300)
    result = arrange(spec, points, table, aspect=1.0)
    assert len(result.cells) == len(table)
    assert len(np.unique(result.cells)) == len(table)
    assert result.cells.min() >= 0 and result.cells.max() < result.rows * result.cols
    assert_blocks_hold_their_groups(result, table, spec)
    assert 0.5 < result.cols / result.rows < 2


def test_bands_are_monotone_and_missing_values_come_last():
    table, points = photos(500)
    result = arrange(Arrangement("rent", "price", bands=12), points, table)
    block_of = assert_blocks_hold_their_groups(result, table, Arrangement("rent", "price", 12))
    prices = table["price"].to_numpy()
    last = len(result.blocks) - 1
    assert result.blocks[last]["label"] == "no price"
    assert np.isnan(prices[block_of == last]).all() and not np.isnan(prices[block_of < last]).any()
    for band in range(last - 1):
        assert prices[block_of == band].max() < prices[block_of == band + 1].min()
    counts = [b["count"] for b in result.blocks[:last]]
    assert max(counts) <= 2 * min(counts)


def test_heavy_ties_never_straddle_two_bands():
    values = pd.Series([1000] * 50 + [1200] * 3 + [1500] * 40 + [2000] * 7)
    codes, groups = group_bands(values, 4, column="price")
    for value in values.unique():
        assert len(set(codes[values == value])) == 1
    lows = [g["low"] for g in groups]
    assert lows == sorted(lows) and sum(g["count"] for g in groups) == 100
    assert groups[0]["label"] == "$1,000"


def test_dates_band_by_time_and_are_labelled_as_dates():
    values = pd.Series(["2017-03-01", "2017-01-05", "2017-02-10", "", "2017-01-20"])
    codes, groups = group_bands(values, 2, column="posted")
    assert [g["label"] for g in groups] == ["2017-01-05 – 2017-01-20", "2017-02-10 – 2017-03-01",
                                            "no posted"]
    assert codes.tolist() == [1, 0, 1, 2, 0]


def test_text_cannot_be_banded():
    with pytest.raises(ArrangementError, match="neither a number nor a date"):
        group_bands(pd.Series(["North", "South"]), 3, column="neighbourhood")


def test_category_orders():
    values = pd.Series(["b", "a", "b", "c", "c", "c"])
    prices = pd.Series([500, 900, 700, 100, 200, 300])
    _, by_name = group_categories(values, column="x")
    _, by_size = group_categories(values, column="x", order="size")
    _, by_price = group_categories(values, column="x", order="median_price", order_values=prices)
    assert [g["label"] for g in by_name] == ["a", "b", "c"]
    assert [g["label"] for g in by_size] == ["c", "b", "a"]
    assert [g["label"] for g in by_price] == ["c", "b", "a"]
    _, numbers = group_categories(pd.Series([10, 2, 2]), column="bedrooms")
    assert [g["label"] for g in numbers] == ["bedrooms 2", "bedrooms 10"]


def test_random_is_reproducible_for_a_seed_and_differs_for_another():
    first, again = arrange_random(200, seed=3), arrange_random(200, seed=3)
    other = arrange_random(200, seed=4)
    assert np.array_equal(first.cells, again.cells)
    assert not np.array_equal(first.cells, other.cells)
    assert sorted(first.cells) == list(range(200))


def test_a_block_of_one_photo_beside_a_block_of_thousands():
    n = 3001
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"id": [f"a/{i}" for i in range(n)],
                          "city": ["big"] * (n - 1) + ["tiny"]})
    spec = Arrangement("city", "city")
    result = arrange(spec, rng.normal(size=(n, 2)), table, method="auto", exact_max=500,
                     block_size=256)
    assert [b["count"] for b in result.blocks] == [n - 1, 1]
    assert_blocks_hold_their_groups(result, table, spec)
    assert result.blocks[0]["knn_kept"] > 0.3


def arranged_on_files(tmp_path, table, points, **spec):
    """run_arrangement on a selection table (every photo selected) and a t-SNE table written from
    ``table`` and ``points``; returns the grid table and its facts as written."""
    write_table(table.assign(selected=True), tmp_path / "photos.tsv")
    write_table(pd.DataFrame({"id": table["id"], "x": points[:, 0], "y": points[:, 1]}),
                tmp_path / "tsne.tsv")
    run_arrangement(tmp_path / "tsne.tsv", tmp_path / "photos.tsv", tmp_path / "grid.tsv",
                    tmp_path / "grid.json", **spec)
    return read_table(tmp_path / "grid.tsv"), read_json(tmp_path / "grid.json")


@pytest.mark.parametrize("spec", [Arrangement("size", "sqft", bands=4),
                                  Arrangement("area", "sqft")], ids=["bands", "categories"])
def test_a_column_without_values_is_not_built_and_says_why(spec, caplog):
    table, points = photos(40)
    table["sqft"] = pd.Series([np.nan] * 20 + [""] * 20, dtype=object)  # NaN and empty text
    with caplog.at_level(logging.WARNING):
        result = arrange(spec, points, table)
    assert not result.available and result.unavailable == "no photo has a value in column 'sqft'"
    assert (result.rows, result.cols, result.blocks) == (0, 0, [])
    assert (result.cells == -1).all() and len(result.cells) == 40
    assert "not built" in caplog.text
    # one photo with a value is enough to build it: its band, and the rest in "no sqft"
    table.loc[7, "sqft"] = 650
    result = arrange(spec, points, table)
    assert result.available and [b["count"] for b in result.blocks] == [1, 39]
    assert result.blocks[-1]["label"] == "no sqft"


def test_run_arrangement_of_a_column_without_values_writes_an_empty_grid_and_the_reason(tmp_path):
    from roomgrid.viewer.tiles.pyramid import run_tiles

    table, points = photos(50)
    table["price"] = np.nan
    cells, facts = arranged_on_files(tmp_path, table, points, name="rent", by="price", bands=12)
    assert list(cells.columns) == ["id", "city", "row", "col"] and cells.empty
    assert facts["unavailable"] == "no photo has a value in column 'price'"
    assert (facts["rows"], facts["cols"], facts["n"], facts["blocks"]) == (0, 0, 0, [])
    summary = run_tiles(tmp_path / "grid.tsv", tmp_path / "grid.json", {}, tmp_path / "tiles",
                        cell_px=32, tile_px=256, quality=80, background=(24, 24, 24))
    assert summary["total_tiles"] == 0
    assert [f.name for f in (tmp_path / "tiles").iterdir()] == ["tiles.json"]
    assert read_json(tmp_path / "tiles" / "tiles.json")["unavailable"] == facts["unavailable"]


def test_packed_blocks_are_disjoint_whole_cell_rectangles_near_the_aspect():
    sizes = [1, 500, 37, 2, 90, 1200, 5]
    for aspect in (1.0, 1.6):
        rects, rows, cols = pack_blocks(sizes, aspect)
        taken = np.zeros((rows, cols), bool)
        for size, (r, c, h, w) in zip(sizes, rects):
            assert h * w >= size and not taken[r:r + h, c:c + w].any()
            taken[r:r + h, c:c + w] = True
        assert abs(np.log(cols / rows / aspect)) <= np.log(1.25)
        assert sum(sizes) / (rows * cols) > 0.6


def test_parse_adds_similarity_first_and_checks_entries():
    parsed = parse_arrangements([{"name": "rent", "by": "price", "bands": 12},
                                 {"name": "similarity"}])
    assert [a.name for a in parsed] == ["similarity", "rent"]
    assert parse_arrangements(None) == [Arrangement("similarity")]


@pytest.mark.parametrize("entries, message", [
    ([{"name": "a", "by": "rent"}], ("names no column of the selection table; the columns are "
                                     "city, bytes")),
    ([{"name": "a", "by": "city"}, {"name": "a", "by": "price"}], "two arrangements are named 'a'"),
    ([{"name": "a", "by": "price", "bands": 0}], "bands must be a whole number of at least 1"),
    ([{"name": "a", "by": "random", "bands": 3}], "need 'by' to name a column"),
    ([{"name": "a"}], "needs 'by'"),
    ([{"name": "similarity", "by": "city"}], "takes no 'by'"),
    ([{"name": "a", "by": "city", "order": "height!"}], "order must be one of"),
    ([{"name": "a", "by": "city", "colour": 1}], "unknown key"),
    ([{"by": "city"}], "needs a name"),
    ([{"name": "a", "by": "path"}], "identifies single photos"),
])
def test_parse_rejects_bad_entries_with_one_sentence(entries, message):
    with pytest.raises(ArrangementError, match=message) as error:
        parse_arrangements(entries)
    assert "\n" not in str(error.value)


def test_known_columns_are_those_of_the_selection_table():
    from roomgrid.selection.select import select_photos
    from test_select import tables

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        photo_tables, scan_tables = tables(Path(folder))
        table, _ = select_photos(photo_tables, scan_tables, keep_bins=["photo"], graphic_below=3.9,
                                 photo_from=4.4, max_distance=2)
    assert set(table.columns) <= set(SELECTION_COLUMNS)


def test_run_arrangement_writes_cells_and_block_facts(tmp_path):
    table, points = photos(120)
    cells, facts = arranged_on_files(tmp_path, table, points, name="rent", by="price", bands=4)
    assert list(cells.columns) == ["id", "city", "row", "col"] and len(cells) == 120
    assert len(cells[["row", "col"]].drop_duplicates()) == 120
    assert facts["kind"] == "bands" and [b["label"][:1] for b in facts["blocks"]] == ["$"] * 4 + ["n"]
    assert {"row", "col", "rows", "cols", "count", "knn_kept"} <= set(facts["blocks"][0])
    assert 0 <= facts["quality"]["knn_kept"] <= 1


def test_the_report_draws_every_arrangement_and_tables_its_quality(tmp_path):
    import h5py

    from roomgrid.layout.arrange import arrange_similarity
    from roomgrid.report.arrangements import run_plot_arrangements
    from roomgrid.viewer.tiles import render_tiles
    from roomgrid.viewer.tiles.pyramid import run_tiles

    table, points = photos(60)
    features = np.column_stack([points, np.random.default_rng(3).normal(size=(60, 3))])
    with h5py.File(tmp_path / "pca.h5", "w") as handle:
        handle.create_dataset("ids", data=list(table["id"]), dtype=h5py.string_dtype())
        handle.create_dataset("coords", data=features)
    write_table(pd.DataFrame({"id": table["id"], "x": points[:, 0], "y": points[:, 1]}),
                tmp_path / "tsne.tsv")
    thumbs = {}
    for city in table["city"].unique():
        mine = table["id"][table["city"] == city].tolist()
        thumbs[city] = tmp_path / f"{city}.h5"
        with h5py.File(thumbs[city], "w") as handle:
            handle.create_dataset("ids", data=mine, dtype=h5py.string_dtype())
            handle.create_dataset("thumbs", data=np.full((len(mine), 32, 32, 3), 200, np.uint8))
            handle.attrs["size"] = 32
    grids = {}
    for spec in (Arrangement("similarity"), Arrangement("rent", "price", bands=3)):
        result = (arrange_similarity(points) if spec.kind == "similarity"
                  else arrange(spec, points, table))
        rows, cols = np.divmod(result.cells, result.cols)
        cells = pd.DataFrame({"id": table["id"], "city": table["city"], "row": rows, "col": cols})
        write_table(cells, tmp_path / f"{spec.name}.tsv")
        (tmp_path / f"{spec.name}.json").write_text(__import__("json").dumps(
            {"rows": result.rows, "cols": result.cols, "blocks": result.blocks}))
        render_tiles(cells, thumbs, tmp_path / f"{spec.name}_tiles", cell_px=32,
                     shape=(result.rows, result.cols))
        grids[spec.name] = (tmp_path / f"{spec.name}.tsv", tmp_path / f"{spec.name}.json",
                            tmp_path / f"{spec.name}_tiles")
    # an arrangement by a column no photo has a value in: listed with its reason, not measured
    table["selected"], table["label"] = True, ""
    write_table(table, tmp_path / "photos.tsv")
    run_arrangement(tmp_path / "tsne.tsv", tmp_path / "photos.tsv", tmp_path / "labelled.tsv",
                    tmp_path / "labelled.json", name="labelled", by="label")
    run_tiles(tmp_path / "labelled.tsv", tmp_path / "labelled.json", thumbs,
              tmp_path / "labelled_tiles", cell_px=32, tile_px=256, quality=80,
              background=(24, 24, 24))
    grids["labelled"] = (tmp_path / "labelled.tsv", tmp_path / "labelled.json",
                         tmp_path / "labelled_tiles")
    run_plot_arrangements(grids, tmp_path / "tsne.tsv", tmp_path / "pca.h5",
                          tmp_path / "a.png", tmp_path / "a.tsv", cell_px=32, tile_px=256)
    quality = read_table(tmp_path / "a.tsv")
    assert quality["arrangement"].tolist() == ["similarity", "rent", "labelled"]
    assert quality["blocks"].tolist() == [0, 4, 0]
    assert (quality["dpq16"][:2].between(0, 1.01)).all() and quality["dpq16"][2:].isna().all()
    assert quality["unavailable"].fillna("").tolist() == [
        "", "", "no photo has a value in column 'label'"]
    assert quality.loc[2, "photos"] == 0 and np.isnan(quality.loc[2, "knn8_kept"])
    assert quality.loc[0, "knn8_kept"] > quality.loc[1, "knn8_kept"]
    assert (tmp_path / "a.png").stat().st_size > 10_000
    # measured two at a time: the same table
    run_plot_arrangements(grids, tmp_path / "tsne.tsv", tmp_path / "pca.h5",
                          tmp_path / "b.png", tmp_path / "b.tsv", cell_px=32, tile_px=256,
                          n_jobs=2)
    assert (tmp_path / "b.tsv").read_bytes() == (tmp_path / "a.tsv").read_bytes()


def test_many_blocks_of_very_different_sizes_still_fill_most_of_the_map():
    sizes = np.maximum(1, (np.random.default_rng(0).pareto(1.2, 300) * 20).astype(int))
    _, rows, cols = pack_blocks(list(sizes), 1.0)
    assert sizes.sum() / (rows * cols) > 0.7
    assert abs(np.log(cols / rows)) <= np.log(1.25)


def test_blocks_solved_in_several_processes_get_the_cells_one_process_gives(monkeypatch):
    """A city arrangement's hundreds of small exact blocks are spread over n_jobs processes; a
    large block beside them still uses the block solver. Neither may change a cell."""
    rng = np.random.default_rng(4)
    sizes = [1200] + list(rng.integers(1, 60, 40))
    table = pd.DataFrame({"id": [f"a/{i}" for i in range(sum(sizes))],
                          "city": np.repeat([f"c{k:02d}" for k in range(len(sizes))], sizes)})
    points = rng.normal(size=(len(table), 2))
    spec = Arrangement("city", "city")
    settings = dict(method="auto", exact_max=600, block_size=256)
    alone = arrange(spec, points, table, n_jobs=1, **settings)
    import concurrent.futures

    from roomgrid.layout.grid import assign_cells

    submitted = []

    class Recording(concurrent.futures.ProcessPoolExecutor):
        def submit(self, *args, **kwargs):
            if args[0] is assign_cells:  # the big block's own solver has a pool too
                submitted.append(args[2:4])
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Recording)
    spread = arrange(spec, points, table, n_jobs=2, **settings)
    # every small block went to the processes, the big one stayed with its block solver
    assert len(submitted) == len(sizes) - 1
    assert alone.method == spread.method == "blocks+exact"
    np.testing.assert_array_equal(spread.cells, alone.cells)
    assert spread.blocks == alone.blocks
    assert_blocks_hold_their_groups(spread, table, spec)


def test_the_report_refuses_a_map_that_leaves_a_photo_out():
    from roomgrid.layout.quality import DistancePreservation
    from roomgrid.report.arrangements import arrangement_quality

    table, points = photos(30)
    xy = pd.DataFrame({"id": table["id"], "x": points[:, 0], "y": points[:, 1]})
    dpq = DistancePreservation(sample=None).fit(points)
    cells = pd.DataFrame({"id": table["id"], "row": np.arange(30) // 6, "col": np.arange(30) % 6})
    facts = {"rows": 5, "cols": 6}
    assert 0 < arrangement_quality(cells, facts, xy, dpq)["dpq16"] <= 1.01
    with pytest.raises(ValueError, match="must place every photo once"):
        arrangement_quality(cells.iloc[1:], facts, xy, dpq)
