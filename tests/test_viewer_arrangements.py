"""The viewer's arrangement data: fetched after the first paint, 4 bytes a photo, by the page's
own photo order."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from roomgrid.viewer.page import build_viewer
from test_viewer import GEOMETRY, build, inputs, photo_ids, read_data  # noqa: F401


def arrangement(grid, rows, cols, order):
    """The grid's photos laid row by row on a rows x cols grid in ``order``."""
    cells = np.empty(len(grid), int)
    cells[order] = np.arange(len(grid))
    return (pd.DataFrame({"id": grid["id"], "city": grid["city"], "row": cells // cols,
                          "col": cells % cols}),
            {"rows": rows, "cols": cols, "kind": "bands", "by": "price",
             "blocks": [{"label": "$900–1,850", "row": 0, "col": 0, "rows": rows, "cols": cols,
                         "count": len(grid), "knn_kept": 1.0}]})


def test_arrangements_add_nothing_to_the_first_paint_and_map_each_photo_to_its_cell(inputs,
                                                                                  tmp_path):
    grid, photos, neighbours, roots, leaflet = inputs
    build(inputs, tmp_path / "plain")
    order = [4, 0, 3, 1, 2]
    extra = {"rent": arrangement(grid, 2, 3, order), "wide": arrangement(grid, 1, 5, order[::-1])}
    build_viewer(grid, photos, neighbours, tmp_path / "arranged", geometry=GEOMETRY,
                 leaflet_dir=leaflet, client_zip_dir=leaflet.parents[1] / "client-zip",
                 photo_roots=roots, arrangements=extra)
    for name in ("index.json", "grid.bin"):
        assert (tmp_path / "plain/data" / name).read_bytes() == \
            (tmp_path / "arranged/data" / name).read_bytes()
    folder = tmp_path / "arranged/data/arrangements"
    index = json.loads((folder / "index.json").read_text())
    assert [a["name"] for a in index["arrangements"]] == ["similarity", "rent", "wide"]
    assert index["arrangements"][1]["tile_url"] == "arrangements/rent/tiles/{z}/{x}/{y}.jpg"
    assert (index["arrangements"][1]["rows"], index["arrangements"][1]["cols"]) == (2, 3)
    _, _, chunks = read_data(tmp_path / "arranged")
    ids = photo_ids(chunks)
    for name, (table, _) in extra.items():
        cells = np.fromfile(folder / f"{name}.bin", "<i4")
        assert cells.size == len(ids)  # 4 bytes a photo
        cols = table.set_index("id")
        expected = [cols.loc[i, "row"] * (3 if name == "rent" else 5) + cols.loc[i, "col"]
                    for i in ids]
        assert cells.tolist() == expected
    labels = json.loads((folder / "rent.json").read_text())
    assert labels["blocks"] == [{"label": "$900–1,850", "row": 0, "col": 0, "rows": 2, "cols": 3,
                                 "count": 5}]


def test_an_arrangement_that_was_not_built_is_listed_with_its_reason_and_no_files(inputs, tmp_path):
    grid, photos, neighbours, roots, leaflet = inputs
    reason = "no photo has a value in column 'price'"
    extra = {"wide": arrangement(grid, 1, 5, [0, 1, 2, 3, 4]),
             "rent": (pd.DataFrame({"id": [], "city": [], "row": [], "col": []}),
                      {"rows": 0, "cols": 0, "kind": "bands", "by": "price", "blocks": [],
                       "unavailable": reason})}
    build_viewer(grid, photos, neighbours, tmp_path / "v", geometry=GEOMETRY,
                 leaflet_dir=leaflet, client_zip_dir=leaflet.parents[1] / "client-zip",
                 photo_roots=roots, arrangements=extra)
    folder = tmp_path / "v/data/arrangements"
    index = json.loads((folder / "index.json").read_text())
    assert [a["name"] for a in index["arrangements"]] == ["similarity", "wide", "rent"]
    assert index["arrangements"][2] == {"name": "rent", "kind": "bands", "by": "price",
                                        "unavailable": reason}
    assert "unavailable" not in index["arrangements"][1]
    assert sorted(f.name for f in folder.iterdir()) == ["index.json", "wide.bin", "wide.json"]


def test_an_arrangement_named_like_the_look_alike_map_is_refused(inputs, tmp_path):
    grid, photos, neighbours, roots, leaflet = inputs
    with pytest.raises(ValueError, match="cannot be a file name"):
        build_viewer(grid, photos, neighbours, tmp_path / "v", geometry=GEOMETRY,
                     leaflet_dir=leaflet, client_zip_dir=leaflet.parents[1] / "client-zip",
                     photo_roots=roots, arrangements={"similarity": arrangement(grid, 2, 3, [0, 1, 2, 3, 4])})
