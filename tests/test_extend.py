"""Growing a built map: free cells near the new photos, no placed photo moves, drift measured."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from roomgrid.layout.extend import changed_cells, drift, extend_grid, grown_shape
from roomgrid.layout.frame import grid_frame, to_cell_units
from roomgrid.layout.grid import cell_centres, normalise_points


def base_table(rows, cols, empty):
    """Every cell of a rows x cols grid occupied except those in ``empty``."""
    cells = [(r, c) for r in range(rows) for c in range(cols) if (r, c) not in empty]
    return pd.DataFrame({"id": [f"p{i}" for i in range(len(cells))],
                         "row": [r for r, _ in cells], "col": [c for _, c in cells]})


def test_the_base_frame_maps_base_points_like_the_grid_did():
    points = np.random.default_rng(0).normal(size=(50, 2)) * [3, 1]
    frame = grid_frame(points, 6, 9)
    np.testing.assert_allclose(to_cell_units(points, frame), normalise_points(points, 6, 9))


def test_new_photos_fill_the_free_cells_nearest_them():
    empty = {(1, 1), (1, 2), (4, 6), (5, 0)}
    base = base_table(6, 8, empty)
    # Two photos near the hole at (1, 1)-(1, 2), one near (4, 6).
    positions = np.array([[1.4, 1.6], [2.6, 1.4], [6.5, 4.5]])
    rows, cols, shape = extend_grid(base, positions, (6, 8), aspect=1.0)
    assert shape == (6, 8)
    assert set(zip(rows, cols)) == {(1, 1), (1, 2), (4, 6)}
    # The assignment among the chosen cells is optimal: (1, 1) to the first, (1, 2) to the second.
    assert (rows[0], cols[0]) == (1, 1) and (rows[1], cols[1]) == (1, 2)


def test_the_choice_is_optimal_over_the_candidate_cells():
    rng = np.random.default_rng(3)
    empty = {(r, c) for r in range(10) for c in range(10) if rng.random() < 0.3}
    base = base_table(10, 10, empty)
    positions = rng.uniform(0, 10, size=(12, 2))
    rows, cols, shape = extend_grid(base, positions, (10, 10), aspect=1.0)
    free = np.array(sorted(r * 10 + c for r, c in empty))
    centres = cell_centres(10, 10)[free]
    cost = ((positions[:, None, :] - centres[None]) ** 2).sum(axis=2)
    best = cost[linear_sum_assignment(cost)].sum()
    chosen = cell_centres(10, 10)[rows * 10 + cols]
    assert ((positions - chosen) ** 2).sum() == pytest.approx(best, rel=1e-6)


def test_the_sparse_path_finds_the_same_optimum_as_the_dense_one(monkeypatch):
    from roomgrid.layout import extend

    rng = np.random.default_rng(3)
    empty = {(r, c) for r in range(10) for c in range(10) if rng.random() < 0.3}
    base = base_table(10, 10, empty)
    positions = rng.uniform(0, 10, size=(12, 2))
    dense = extend_grid(base, positions, (10, 10), aspect=1.0)
    monkeypatch.setattr(extend, "DENSE_CANDIDATES", 0)
    sparse = extend_grid(base, positions, (10, 10), aspect=1.0)
    centres = cell_centres(10, 10)
    cost = [((positions - centres[r * 10 + c]) ** 2).sum() for r, c, _ in (dense, sparse)]
    assert cost[1] == pytest.approx(cost[0], rel=1e-9)


def test_twenty_thousand_new_photos_fit_in_bounded_memory():
    """The distance-only choice once built a dense candidates x candidates matrix: 1.6 GB here."""
    import tracemalloc

    rng = np.random.default_rng(5)
    # 25,600 cells: 4,000 placed photos, 21,600 free cells spread among them. (With exactly as
    # many free cells as photos the sparse matching still takes minutes: the slack the grid grows
    # for lies at its edge, far from most photos.)
    side = 160
    cells = rng.permutation(side * side)
    placed = cells[:4_000]
    base = pd.DataFrame({"id": [f"p{i}" for i in range(len(placed))],
                         "row": placed // side, "col": placed % side})
    positions = rng.uniform(0, side, size=(20_000, 2))
    tracemalloc.start()
    rows, cols, shape = extend_grid(base, positions, (side, side), aspect=1.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # 21,600 free cells hold the photos and the 5% spare the sparse matching keeps: no growth.
    assert shape == (side, side)
    chosen = rows * shape[1] + cols
    placed_now = base["row"].to_numpy() * shape[1] + base["col"].to_numpy()
    assert len(np.unique(chosen)) == 20_000 and not np.isin(chosen, placed_now).any()
    assert peak < 300 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    # Each photo sits near its position.
    distance = np.sqrt(((positions - np.column_stack([cols + 0.5, rows + 0.5])) ** 2).sum(axis=1))
    assert np.median(distance) < 2


def test_a_full_grid_grows_at_its_edge_and_keeps_every_cell():
    base = base_table(4, 4, set())
    positions = np.array([[0.5, 0.5], [3.5, 3.5], [2.0, 2.0], [4.5, 1.0], [1.0, 4.5]])
    rows, cols, shape = extend_grid(base, positions, (4, 4), aspect=1.0)
    assert shape in {(4, 6), (5, 5), (6, 4), (5, 4), (4, 5)} and shape[0] * shape[1] - 16 >= 5
    assert shape == grown_shape(4, 4, 16, 5, 1.0)
    new = set(zip(rows, cols))
    assert len(new) == 5
    assert not new & set(zip(base["row"], base["col"]))
    assert all(r >= 4 or c >= 4 for r, c in new)  # only the grown lines were free


@pytest.mark.parametrize("rows, cols, occupied, needed, aspect, expected", [
    (4, 4, 16, 0, 1.0, (4, 4)), (4, 4, 10, 6, 1.0, (4, 4)), (4, 4, 16, 1, 1.0, (4, 5)),
    (4, 4, 16, 5, 1.0, (5, 5)), (4, 8, 32, 1, 2.0, (4, 9)), (4, 8, 32, 9, 2.0, (5, 9)),
])
def test_grown_shape_known_answers(rows, cols, occupied, needed, aspect, expected):
    assert grown_shape(rows, cols, occupied, needed, aspect) == expected


def test_changed_cells_are_the_cells_whose_photo_differs():
    base = pd.DataFrame({"id": ["a", "b", "c"], "row": [0, 0, 1], "col": [0, 1, 0]})
    extended = pd.DataFrame({"id": ["a", "c", "d", "e"], "row": [0, 1, 1, 2], "col": [0, 0, 1, 0]})
    changed = changed_cells(base, extended)
    assert set(zip(changed["row"], changed["col"])) == {(0, 1), (1, 1), (2, 0)}


def test_drift_sees_new_photos_placed_away_from_their_look_alikes():
    # Features are the photos' true places on a 10 x 10 grid (slightly jittered), so a photo's
    # look-alikes are the photos in the cells around its true cell.
    rng = np.random.default_rng(1)
    cells = rng.permutation(100)
    features = cell_centres(10, 10)[cells] + rng.normal(scale=0.05, size=(100, 2))
    is_new = np.zeros(100, bool)
    is_new[:6] = True
    good = drift(features, cells, is_new, np.zeros(6), rows=10, cols=10)
    assert good["knn_ratio"] == pytest.approx(1.0, abs=0.2)
    assert good["new_photos"] == 6 and good["new_share"] == pytest.approx(0.06)
    # Each new photo swaps cells with the photo farthest from it: now among strangers.
    scrambled = cells.copy()
    for new in range(6):
        far = int(np.argmax(((features - features[new]) ** 2).sum(axis=1)))
        scrambled[[new, far]] = scrambled[[far, new]]
    bad = drift(features, scrambled, is_new, np.zeros(6), rows=10, cols=10)
    assert bad["knn_kept_new"] < 0.2 < 0.6 < good["knn_kept_new"]
    assert bad["knn_ratio"] < 0.3


def fitted_groups(seed: int, per_group: int, every: int):
    """A t-SNE map of 5 well-separated groups in 20-d, with every ``every``-th point held out.

    Returns the embedding, the points, their group labels and the held-out and kept indices."""
    from roomgrid.layout.tsne import fit

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, 20)) * 8
    labels = np.repeat(np.arange(5), per_group)
    data = centres[labels] + rng.normal(size=(len(labels), 20))
    held_out = np.arange(0, len(labels), every)
    kept = np.setdiff1d(np.arange(len(labels)), held_out)
    embedding, _ = fit(data[kept], perplexity=15, n_iter=250, early_exaggeration_iter=100, seed=1)
    return embedding, data, labels, held_out, kept


def test_placed_photos_join_their_look_alikes_in_a_fitted_map():
    from roomgrid.layout.tsne import place

    embedding, data, labels, held_out, kept = fitted_groups(2, 60, 15)
    before = np.asarray(embedding).copy()
    xy = place(embedding, data[held_out])
    np.testing.assert_array_equal(np.asarray(embedding), before)  # the base map does not move
    base_xy = np.asarray(embedding)
    nearest = ((xy[:, None, :] - base_xy[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (labels[kept][nearest] == labels[held_out]).mean() >= 0.95


@pytest.mark.parametrize("ratio, advice", [(0.5, "rebuild recommended"), (0.95, "no rebuild needed")])
def test_the_layout_figure_states_the_drift_and_the_advice(tmp_path, monkeypatch, ratio, advice):
    from roomgrid.report import figures as report

    titles = []
    monkeypatch.setattr(report, "save_figure", lambda figure, path: titles.append(figure._suptitle.get_text()))
    points = pd.DataFrame({"id": ["a", "b", "c"], "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 0.0]})
    cells = pd.DataFrame({"id": ["a", "b", "c"], "city": ["x", "x", "y"], "row": [0, 0, 1], "col": [0, 1, 0]})
    facts = {"rows": 2, "cols": 2, "method": "extend", "base": {"rows": 1, "cols": 2},
             "quality": {"mean_sq_displacement": 0.1, "knn_kept": 1.0}, "rebuild_below": 0.9,
             "rebuild_recommended": ratio < 0.9,
             "drift": {"new_photos": 1, "new_share": 1 / 3, "knn_kept_new": 0.4 * ratio,
                       "knn_kept_base": 0.4, "knn_ratio": ratio}}
    report.plot_layout(points, cells, facts, {"perplexity": 5, "learning_rate": "auto"}, tmp_path / "l.png")
    assert advice in titles[0] and "1 new photos (33.3%)" in titles[0] and f"ratio {ratio:.2f}" in titles[0]


def test_a_new_photo_moves_as_its_placed_neighbours_moved():
    from roomgrid.layout.extend import grid_targets

    rng = np.random.default_rng(4)
    base_points = rng.uniform(0, 10, size=(200, 2))
    frame = grid_frame(base_points, 12, 12)
    at = to_cell_units(base_points, frame)
    # Every placed photo sits 3 columns right and 1 row up of where the t-SNE map has it.
    base_cells = np.column_stack([at[:, 1] - 0.5 - 1, at[:, 0] - 0.5 + 3])
    new_points = np.array([[5.0, 5.0], [2.0, 8.0]])
    targets = grid_targets(new_points, base_points, base_cells, frame)
    np.testing.assert_allclose(targets, to_cell_units(new_points, frame) + [3, -1], atol=1e-9)


def test_spare_placeholders_follow_the_photos_density():
    from roomgrid.layout.frame import spare_points

    rng = np.random.default_rng(5)
    dense = rng.normal(size=(800, 2))
    sparse = rng.normal(size=(200, 2)) + [50, 0]
    placeholders = spare_points(np.vstack([dense, sparse]), 0.1, seed=1)
    assert len(placeholders) == 100
    near_dense = (np.linalg.norm(placeholders, axis=1) < 10).mean()
    assert 0.7 <= near_dense <= 0.9
    assert len(spare_points(dense, 0.0)) == 0


def test_a_rebuild_with_spare_cells_leaves_them_empty_among_the_photos(tmp_path):
    from roomgrid.core.io import read_json, write_table
    from roomgrid.layout.grid import run_grid

    rng = np.random.default_rng(6)
    xy = np.vstack([rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + [8, 0]])
    ids = [f"c/{i:03d}" for i in range(len(xy))]
    write_table(pd.DataFrame({"id": ids, "x": xy[:, 0], "y": xy[:, 1]}), tmp_path / "tsne.tsv")
    write_table(pd.DataFrame({"id": ids, "city": "c", "selected": True}), tmp_path / "photos.tsv")
    for spare in (0.0, 0.1):
        run_grid(tmp_path / "tsne.tsv", tmp_path / "photos.tsv", tmp_path / "grid.tsv",
                 tmp_path / "grid.json", method="exact", exact_max=3000, block_size=1024,
                 aspect=1.0, spare=spare)
        facts = read_json(tmp_path / "grid.json")
        grid_table = pd.read_csv(tmp_path / "grid.tsv", sep="\t")
        empty = facts["rows"] * facts["cols"] - len(grid_table)
        assert facts["spare_cells"] == round(spare * len(xy)) and empty >= facts["spare_cells"]
        taken = np.zeros((facts["rows"], facts["cols"]), bool)
        taken[grid_table["row"], grid_table["col"]] = True
        # Empty cells with photos on both sides in their row: holes inside the map, not a margin.
        inner = sum(1 for r in range(facts["rows"]) for c in range(1, facts["cols"] - 1)
                    if not taken[r, c] and taken[r, :c].any() and taken[r, c + 1:].any())
        if spare:
            assert inner >= 0.5 * facts["spare_cells"]


def write_city(path, ids, stacks):
    import h5py

    with h5py.File(path, "w") as handle:
        handle["stacks"] = stacks
        handle.create_dataset("ids", data=np.array(ids, dtype=object), dtype=h5py.string_dtype())


def test_projection_keeps_base_coordinates_and_projects_new_photos(tmp_path):
    from roomgrid.core.io import write_table
    from roomgrid.layout.pca import Basis, read_embedding, write_embedding
    from roomgrid.layout.pca import run_project_pca

    rng = np.random.default_rng(7)
    stacks = rng.integers(0, 255, size=(30, 4, 4), dtype=np.uint8)
    ids = [f"a/{i:02d}" for i in range(20)] + [f"b/{i:02d}" for i in range(10)]
    write_city(tmp_path / "a.h5", ids[:20], stacks[:20])
    write_city(tmp_path / "b.h5", ids[20:], stacks[20:])
    components = np.linalg.qr(rng.normal(size=(16, 3)))[0].T.astype(np.float32)
    basis = Basis(components, rng.uniform(0.3, 0.7, size=16))
    (tmp_path / "base").mkdir()
    base_coords = rng.normal(size=(20, 3)).astype(np.float32)  # what the base's fit gave them
    write_embedding(tmp_path / "base/pca.h5", ids[:20], base_coords, {"method": "randomized"}, basis)
    # a/00 has left the selection; b/* are new.
    write_table(pd.DataFrame({"id": ids, "city": [i[0] for i in ids], "selected": [i != "a/00" for i in ids],
                              "dropped": ["excluded" if i == "a/00" else "" for i in ids]}),
                tmp_path / "photos.tsv")
    run_project_pca(tmp_path / "photos.tsv", {"a": tmp_path / "a.h5", "b": tmp_path / "b.h5"},
                    tmp_path / "base", tmp_path / "pca.h5", batch_size=4, dataset="stacks")
    out_ids, coords, facts = read_embedding(tmp_path / "pca.h5")
    assert list(out_ids) == ids[1:]
    np.testing.assert_array_equal(coords[:19], base_coords[1:])
    # The reader scales uint8 stacks to [0, 1], as for the fit.
    expected = (stacks[20:].reshape(10, 16) / 255.0 - basis.mean) @ components.T
    np.testing.assert_allclose(coords[19:], expected, rtol=1e-4, atol=1e-3)
    assert facts["projected"] == 10 and facts["removed"] == 1

    write_city(tmp_path / "b.h5", ids[20:], rng.integers(0, 255, size=(10, 5, 5), dtype=np.uint8))
    with pytest.raises(ValueError, match="features changed since the base"):
        run_project_pca(tmp_path / "photos.tsv", {"a": tmp_path / "a.h5", "b": tmp_path / "b.h5"},
                        tmp_path / "base", tmp_path / "pca2.h5", batch_size=4, dataset="stacks")

    # Too few photos left: the sentence a rebuild gives, naming why the others were dropped.
    dropped = ["excluded"] * 27 + [""] * 3
    write_table(pd.DataFrame({"id": ids, "city": [i[0] for i in ids],
                              "selected": [d == "" for d in dropped], "dropped": dropped}),
                tmp_path / "few.tsv")
    with pytest.raises(ValueError, match=r"only 3 of 30 files can be placed, and the map needs at "
                                         r"least 4 photos \(not placed: 27 excluded\)"):
        run_project_pca(tmp_path / "few.tsv", {"a": tmp_path / "a.h5", "b": tmp_path / "b.h5"},
                        tmp_path / "base", tmp_path / "pca3.h5", batch_size=4, dataset="stacks")


def test_a_new_photo_takes_the_free_cell_among_its_look_alikes_not_the_one_nearest_its_position():
    from roomgrid.layout.look_alikes import look_alike_scores

    # Two holes: (2, 2), right at the new photo's position, and (7, 7), among its look-alikes.
    base = base_table(10, 10, {(2, 2), (7, 7)})
    cell_of = {(r, c): i for i, (r, c) in enumerate(zip(base["row"], base["col"]))}
    around = [cell_of[(r, c)] for r in (6, 7, 8) for c in (6, 7, 8) if (r, c) != (7, 7)]
    look_alikes = np.array([around + [-1] * 8])
    position = np.array([[2.5, 2.5]])
    rows, cols, _ = extend_grid(base, position, (10, 10), aspect=1.0)
    assert (rows[0], cols[0]) == (2, 2)  # by position alone
    rows, cols, shape = extend_grid(base, position, (10, 10), aspect=1.0, look_alikes=look_alikes)
    assert (rows[0], cols[0]) == (7, 7) and shape == (10, 10)
    # The score counts the 8 look-alikes round (7, 7) fully, none round (2, 2).
    free = np.zeros(100, bool)
    free[[22, 77]] = True
    anchors = (base["row"].to_numpy() * 10 + base["col"].to_numpy())[look_alikes.clip(0)]
    anchors[look_alikes < 0] = -1
    photo, cell, score = look_alike_scores(anchors, np.ones(16), free, 10, 10)
    assert list(cell) == [77] and score[0] == pytest.approx(8.0)


def test_new_photos_that_look_alike_end_up_side_by_side():
    # An empty 3 x 3 block in a full 9 x 9 grid; two new photos each other's only look-alike,
    # with positions at opposite corners of the block. The second round brings them together.
    empty = {(r, c) for r in (3, 4, 5) for c in (3, 4, 5)}
    base = base_table(9, 9, empty)
    n = len(base)
    look_alikes = np.array([[n + 1] + [-1] * 7, [n] + [-1] * 7])
    positions = np.array([[3.5, 3.5], [5.5, 5.5]])
    rows, cols, _ = extend_grid(base, positions, (9, 9), aspect=1.0, look_alikes=look_alikes)
    assert max(abs(rows[0] - rows[1]), abs(cols[0] - cols[1])) == 1
    assert {(r, c) for r, c in zip(rows, cols)} <= empty


def test_look_alikes_index_base_rows_then_new_photos_and_never_the_photo_itself():
    from roomgrid.layout.look_alikes import look_alikes

    # On a line: base photos at 0, 1, 2, 10, 11; new photos at 1.4 and 10.6.
    features = np.array([[0.0], [1.0], [1.4], [2.0], [10.0], [10.6], [11.0]], dtype=np.float32)
    is_new = np.array([False, False, True, False, False, True, False])
    # The base table lists the kept base photos in another order than the features.
    base_row = np.array([4, 3, -1, 2, 1, -1, 0])
    found = look_alikes(features, is_new, base_row, k=3)
    # New photo 0 (1.4): base at 1.0 (row 3), 2.0 (row 2), 0.0 (row 4).
    assert found[0].tolist() == [3, 2, 4]
    # New photo 1 (10.6): base at 11.0 (row 0), 10.0 (row 1), then new photo 0 is farther than
    # base 2.0: base row 2.
    assert found[1].tolist() == [0, 1, 2]
    assert look_alikes(features[:2], np.array([False, True]), np.array([0, -1]), k=3)[0].tolist() == [0, -1, -1]


def test_placing_against_the_interpolation_grid_agrees_with_barnes_hut(monkeypatch):
    from roomgrid.layout import tsne

    embedding, data, labels, held_out, kept = fitted_groups(6, 80, 20)
    before = np.asarray(embedding).copy()
    method = embedding.gradient_descent_params.get("negative_gradient_method")
    monkeypatch.setattr(tsne, "PLACE_FFT_FROM", 10**9)
    tree_xy = tsne.place(embedding, data[held_out])
    monkeypatch.setattr(tsne, "PLACE_FFT_FROM", 0)
    grid_xy = tsne.place(embedding, data[held_out])
    assert embedding.gradient_descent_params.get("negative_gradient_method") == method
    np.testing.assert_array_equal(np.asarray(embedding), before)
    # Each way a held-out photo lands next to its own group, at nearly the same place, yet by
    # another method: Barnes-Hut and the grid never agree to the last digit.
    assert not np.allclose(tree_xy, grid_xy, rtol=0, atol=1e-9)
    spread = before.std(axis=0).mean()
    assert np.median(np.linalg.norm(tree_xy - grid_xy, axis=1)) < 0.05 * spread
    for xy in (tree_xy, grid_xy):
        nearest = ((xy[:, None, :] - before[None]) ** 2).sum(axis=2).argmin(axis=1)
        assert (labels[kept][nearest] == labels[held_out]).mean() >= 0.95
    # Placing a second time (the grid is made afresh for the restored embedding) gives the same.
    np.testing.assert_allclose(tsne.place(embedding, data[held_out]), grid_xy, atol=1e-9)


@pytest.mark.parametrize("new", [5, 40])
def test_look_alike_placement_gives_distinct_free_cells_and_grows_when_it_must(new):
    rng = np.random.default_rng(new)
    empty = {(r, c) for r in range(12) for c in range(12) if rng.random() < 0.1}
    base = base_table(12, 12, empty)
    positions = rng.uniform(0, 12, size=(new, 2))
    look_alikes = rng.integers(-1, len(base) + new, size=(new, 16))
    rows, cols, shape = extend_grid(base, positions, (12, 12), aspect=1.0, look_alikes=look_alikes)
    cells = set(zip(rows, cols))
    assert len(cells) == new and not cells & set(zip(base["row"], base["col"]))
    assert all(0 <= r < shape[0] and 0 <= c < shape[1] for r, c in cells)
    assert shape == grown_shape(12, 12, len(base), new, 1.0)
    if new > len(empty):
        assert shape != (12, 12)
