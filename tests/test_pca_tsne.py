import h5py
import numpy as np
import pytest

from roomgrid.layout.pca import read_embedding, reduce, write_embedding
from roomgrid.core.stackreader import StackReader, batch_bounds
from roomgrid.layout.tsne import fit, nearest_neighbours


def write_stacks(path, ids, stacks):
    with h5py.File(path, "w") as handle:
        handle["stacks"] = stacks
        handle.create_dataset("ids", data=np.array(ids, dtype=object), dtype=h5py.string_dtype())


@pytest.mark.parametrize("n, batch, min_rows", [(1001, 100, 10), (2500, 1000, 150), (7, 1000, 3), (150, 40, 150)])
def test_batches_cover_every_row_once(n, batch, min_rows):
    bounds = batch_bounds(n, batch, min_rows)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(stop - start >= min(min_rows, n) for start, stop in bounds)


def test_reader_batches_hold_the_stored_rows_in_any_selection_order(tmp_path):
    rng = np.random.default_rng(4)
    stacks = {city: rng.integers(0, 256, (40, 3, 4), dtype=np.uint8) for city in "ab"}
    for city, values in stacks.items():
        write_stacks(tmp_path / f"{city}.h5", [f"{city}/{i}" for i in range(40)], values)
    # Runs of consecutive rows (the fast path), rows out of order and rows with gaps (the general
    # path), switching between the two cities within a batch.
    order = ([("a", i) for i in range(10)] + [("b", i) for i in (5, 3, 4, 30)]
             + [("a", i) for i in range(38, 20, -3)] + [("b", i) for i in range(10, 25)])
    ids = [f"{city}/{i}" for city, i in order]
    expected = np.stack([stacks[city][i].ravel() / 255 for city, i in order])
    with StackReader({c: tmp_path / f"{c}.h5" for c in "ab"}, ids, [c for c, _ in order]) as reader:
        bounds = batch_bounds(len(ids), 7)
        drawn = [(start, stop, batch.copy()) for (start, stop), batch in zip(bounds, reader.batches(bounds))]
    assert [(start, stop) for start, stop, _ in drawn] == bounds
    for start, stop, batch in drawn:
        np.testing.assert_allclose(batch, expected[start:stop], atol=1e-6)


def test_pca_transforms_every_row_when_n_is_not_a_batch_multiple(tmp_path):
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(1037, 3))
    mixing = rng.normal(size=(3, 8 * 8))
    data = np.clip(128 + 30 * latent @ mixing + rng.normal(0, 1, (1037, 64)), 0, 255)
    stacks = data.reshape(-1, 8, 8).astype(np.uint8)
    ids_a = [f"a/{i:04d}" for i in range(600)]
    ids_b = [f"b/{i:04d}" for i in range(437)]
    write_stacks(tmp_path / "a.h5", ids_a, stacks[:600])
    write_stacks(tmp_path / "b.h5", ids_b, stacks[600:])
    keep = np.r_[0:600:2, 600:1037]  # a selection that skips rows
    ids = np.array(ids_a + ids_b)[keep]
    cities = [i.split("/")[0] for i in ids]
    with StackReader({"a": tmp_path / "a.h5", "b": tmp_path / "b.h5"}, ids, cities) as reader:
        assert reader.read(0, 3).shape == (3, 64)
        np.testing.assert_allclose(reader.read(300, 301)[0], stacks[600].ravel() / 255, atol=1e-6)
        coords, info, _ = reduce(reader, n_components=5, batch_size=100)
    assert coords.shape == (len(ids), 5)
    assert info["rows_fitted"] == len(ids)
    assert sum(info["explained_variance_ratio"][:3]) > 0.95  # three latent factors
    write_embedding(tmp_path / "pca.h5", ids, coords, info)
    stored_ids, stored, facts = read_embedding(tmp_path / "pca.h5")
    assert list(stored_ids) == list(ids) and np.array_equal(stored, coords)
    assert facts["n_components"] == 5


def test_pca_caps_components_at_the_number_of_photos(tmp_path):
    write_stacks(tmp_path / "a.h5", [f"a/{i}" for i in range(20)],
                 np.random.default_rng(1).integers(0, 255, (20, 4, 4), dtype=np.uint8))
    with StackReader({"a": tmp_path / "a.h5"}, [f"a/{i}" for i in range(20)], ["a"] * 20) as reader:
        coords, info, _ = reduce(reader, n_components=150, batch_size=1000)
    assert coords.shape == (20, 16) and info["n_components"] == 16


def clusters(n_per=60, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (3, 10))
    return np.concatenate([c + rng.normal(0, 1, (n_per, 10)) for c in centres]), np.repeat([0, 1, 2], n_per)


def positions(data, **settings):
    """What the t-SNE stage writes: the positions of :func:`fit`'s embedding."""
    embedding, info = fit(data, **settings)
    return np.asarray(embedding, dtype=np.float64), info


def test_tsne_keeps_clusters_apart_and_honours_its_settings():
    data, labels = clusters()
    embedding, info = fit(data, perplexity=15, learning_rate=50, n_iter=250, seed=3)
    xy = np.asarray(embedding, dtype=np.float64)
    assert xy.shape == (180, 2)
    assert info["learning_rate"] == 50 and info["perplexity"] == 15
    assert info["kl_divergence"] == round(float(embedding.kl_divergence), 6) > 0
    centroids = np.array([xy[labels == k].mean(0) for k in range(3)])
    spread = max(np.linalg.norm(xy[labels == k] - centroids[k], axis=1).mean() for k in range(3))
    gaps = [np.linalg.norm(centroids[i] - centroids[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 2 * spread
    again, _ = positions(data, perplexity=15, learning_rate=50, n_iter=250, seed=3)
    np.testing.assert_allclose(xy, again)
    other_rate, _ = positions(data, perplexity=15, learning_rate=400, n_iter=250, seed=3)
    assert not np.allclose(xy, other_rate)  # the learning rate is not silently ignored
    # The embedding keeps what placing later photos needs (the stage pickles it for that):
    # a copy of a photo of cluster 1 lands among cluster 1.
    placed = embedding.transform(data[labels == 1][:1], n_iter=100)
    nearest = np.argmin(np.linalg.norm(centroids - np.asarray(placed)[0], axis=1))
    assert nearest == 1


def test_tsne_stage_writes_the_same_bytes_on_every_run_with_threads(tmp_path):
    from roomgrid.layout.tsne import run_tsne

    data = np.random.default_rng(0).normal(size=(600, 20))
    write_embedding(tmp_path / "pca.h5", [f"c/{i}.jpg" for i in range(600)], data, {})
    outputs = []
    for run in range(4):
        points, facts = tmp_path / f"tsne{run}.tsv", tmp_path / f"tsne{run}.json"
        run_tsne(tmp_path / "pca.h5", points, facts, n_jobs=2, perplexity=30, n_iter=200, seed=1)
        outputs.append((points.read_bytes(), facts.read_bytes()))
    assert all(output == outputs[0] for output in outputs), [o[1] for o in outputs]


def test_tsne_caps_perplexity_for_small_sets():
    data, _ = clusters(n_per=10)
    _, info = fit(data, perplexity=30, n_iter=100)
    assert info["perplexity"] == pytest.approx(29 / 3) and info["perplexity_requested"] == 30


def test_nearest_neighbours_exclude_self_and_stay_in_cluster():
    data, labels = clusters(n_per=20)
    data[1] = data[0]  # identical photos must still not list themselves
    found = nearest_neighbours(data, k=5)
    assert found.shape == (60, 5)
    assert all(i not in row for i, row in enumerate(found))
    assert (labels[found] == labels[:, None]).all()
    assert found[0, 0] == 1 and found[1, 0] == 0


def test_approximate_neighbours_never_list_a_photo_as_its_own_look_alike():
    """The Annoy path (forced by a low exact_max) with many identical rows."""
    data, labels = clusters(n_per=100)
    data[1::2] = data[::2]  # every photo has an identical twin
    found = nearest_neighbours(data, k=5, exact_max=50)
    assert found.shape == (300, 5)
    assert all(i not in row for i, row in enumerate(found))
    assert all(len(set(row)) == 5 for row in found)
    assert (labels[found] == labels[:, None]).all()



def low_rank_stacks(path, n: int, *, rank: int, spread: float, scale: float, noise: float,
                    seed: int) -> list[str]:
    """16x16 stacks of ``n`` photos varying along ``rank`` directions (plus noise); their ids."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, rank)) * np.linspace(spread, 1, rank)
    data = np.clip(128 + scale * latent @ rng.normal(size=(rank, 256)) + rng.normal(0, noise, (n, 256)),
                   0, 255)
    ids = [f"a/{i:04d}" for i in range(n)]
    write_stacks(path, ids, data.reshape(n, 16, 16).astype(np.uint8))
    return ids

def test_randomized_pca_captures_the_same_variance_as_incremental(tmp_path):
    n = 700
    ids = low_rank_stacks(tmp_path / "a.h5", n, rank=12, spread=6, scale=4, noise=6, seed=5)
    results = {}
    for method in ("incremental", "randomized"):
        with StackReader({"a": tmp_path / "a.h5"}, ids, ["a"] * n) as reader:
            results[method] = reduce(reader, n_components=12, batch_size=128, method=method)[:2]
    (inc, inc_info), (rnd, rnd_info) = results["incremental"], results["randomized"]
    assert rnd.shape == inc.shape == (n, 12) and rnd_info["rows_fitted"] == n
    assert sum(rnd_info["explained_variance_ratio"]) == pytest.approx(
        sum(inc_info["explained_variance_ratio"]), rel=0.005)
    # Same subspace: distances between photos agree (components may differ in sign).
    pairs = np.random.default_rng(6).integers(0, n, (200, 2))
    d_inc = np.linalg.norm(inc[pairs[:, 0]] - inc[pairs[:, 1]], axis=1)
    d_rnd = np.linalg.norm(rnd[pairs[:, 0]] - rnd[pairs[:, 1]], axis=1)
    np.testing.assert_allclose(d_rnd, d_inc, rtol=0.02, atol=1e-3)


def test_unknown_pca_method_is_refused(tmp_path):
    write_stacks(tmp_path / "a.h5", ["a/1", "a/2"], np.zeros((2, 2, 2), dtype=np.uint8))
    with StackReader({"a": tmp_path / "a.h5"}, ["a/1", "a/2"], ["a", "a"]) as reader:
        with pytest.raises(ValueError, match="unknown PCA method"):
            reduce(reader, 2, 10, method="magic")


def _low_rank_stacks(tmp_path, n, rank, seed=9):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, rank)) * np.linspace(8, 1, rank)
    data = np.clip(128 + 5 * latent @ rng.normal(size=(rank, 144)) + rng.normal(0, 3, (n, 144)), 0, 255)
    ids = [f"a/{i:04d}" for i in range(n)]
    write_stacks(tmp_path / "a.h5", ids, data.reshape(n, 12, 12).astype(np.uint8))
    return ids, data.astype(np.uint8).astype(np.float64) / 255.0


@pytest.mark.parametrize("power_iterations", [0, 1, 3])
def test_randomized_pca_matches_an_exact_svd_and_reads_once_per_iteration(tmp_path, power_iterations):
    from roomgrid.layout.pca import fit_transform_randomized

    n = 500
    ids, exact_data = _low_rank_stacks(tmp_path, n, rank=6)
    centred = exact_data - exact_data.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    exact = centred @ vt[:6].T
    with StackReader({"a": tmp_path / "a.h5"}, ids, ["a"] * n) as reader:
        calls = []
        original = reader.batches
        reader.batches = lambda bounds: calls.append(len(bounds)) or original(bounds)
        coords, info, _ = fit_transform_randomized(reader, 6, 64, power_iterations=power_iterations)
    assert len(calls) == power_iterations + 1 == info["passes"]
    total = (singular ** 2).sum()
    if power_iterations == 0:
        # A bare sketch mixes the weaker components; the variance it captures is still close.
        assert sum(info["explained_variance_ratio"]) == pytest.approx((singular[:6] ** 2).sum() / total,
                                                                     rel=0.01)
        return
    # Same coordinates as the exact PCA, up to each component's sign.
    signs = np.sign((coords * exact).sum(axis=0))
    np.testing.assert_allclose(coords * signs, exact, atol=2e-3 * np.abs(exact).max())
    np.testing.assert_allclose(info["explained_variance_ratio"], singular[:6] ** 2 / total, rtol=1e-3)


def test_randomized_pca_on_fewer_photos_than_components_pads_with_zeros(tmp_path):
    from roomgrid.layout.pca import fit_transform_randomized

    ids, exact_data = _low_rank_stacks(tmp_path, 5, rank=3)
    with StackReader({"a": tmp_path / "a.h5"}, ids, ["a"] * 5) as reader:
        coords, info, _ = fit_transform_randomized(reader, 150, 64)
    assert coords.shape == (5, 5)
    assert np.isfinite(coords).all()
    # Five centred rows span at most four dimensions: the fifth component is empty.
    assert np.abs(coords[:, 4]).max() < 1e-4 and np.abs(coords[:, 0]).max() > 0.01
    assert sum(info["explained_variance_ratio"]) == pytest.approx(1.0, abs=1e-4)
    centred = exact_data - exact_data.mean(axis=0)
    np.testing.assert_allclose(np.linalg.norm(coords[0] - coords[1]),
                               np.linalg.norm(centred[0] - centred[1]), rtol=1e-3)


def test_randomized_pca_of_identical_photos_is_all_zeros_not_nan(tmp_path):
    from roomgrid.layout.pca import fit_transform_randomized

    ids = [f"a/{i}" for i in range(6)]
    write_stacks(tmp_path / "a.h5", ids, np.full((6, 8, 8), 100, np.uint8))
    with StackReader({"a": tmp_path / "a.h5"}, ids, ["a"] * 6) as reader:
        coords, info, _ = fit_transform_randomized(reader, 3, 10)
    assert coords.shape == (6, 3) and not coords.any()
    assert info["explained_variance_ratio"] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("method", ["incremental", "randomized"])
def test_the_stored_basis_projects_photos_where_the_fit_put_them(tmp_path, method):
    from roomgrid.layout.pca import project_rows, read_basis, write_embedding

    n = 400
    ids = low_rank_stacks(tmp_path / "a.h5", n, rank=6, spread=5, scale=5, noise=2, seed=8)
    with StackReader({"a": tmp_path / "a.h5"}, ids, ["a"] * n) as reader:
        coords, info, basis = reduce(reader, n_components=6, batch_size=64, method=method)
    write_embedding(tmp_path / "pca.h5", ids, coords, info, basis)
    stored = read_basis(tmp_path / "pca.h5")
    # A later photo (here: the last 50, read again) lands on the coordinates the fit gave it.
    later = ids[-50:]
    with StackReader({"a": tmp_path / "a.h5"}, later, ["a"] * 50) as reader:
        projected = project_rows(reader, stored, batch_size=16)
    spread = np.abs(coords).max()
    assert np.abs(projected - coords[-50:]).max() < 0.01 * spread
    assert np.allclose(stored.components @ stored.components.T, np.eye(6), atol=1e-4)
