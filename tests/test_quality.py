import numpy as np
import pytest

from roomgrid.layout.grid import assign_exact
from roomgrid.layout.quality import distance_preservation_quality as dpq


def colours(n=400, seed=0):
    return np.random.default_rng(seed).random((n, 3))


def test_a_line_of_sorted_numbers_preserves_every_distance():
    values = np.arange(50, dtype=float)[:, None]
    assert dpq(values, np.arange(50), cols=50, sample=None) == pytest.approx(1.0)
    # reversed is as good; one swap of the ends is worse
    assert dpq(values, np.arange(50)[::-1].copy(), cols=50, sample=None) == pytest.approx(1.0)
    swapped = np.arange(50)
    swapped[[0, 49]] = swapped[[49, 0]]
    assert dpq(values, swapped, cols=50, sample=None) < 0.99


def test_a_sorted_grid_beats_a_random_one_by_the_papers_margin():
    x = colours()
    shuffled = dpq(x, np.random.default_rng(1).permutation(400), cols=20, sample=None)
    from sklearn.decomposition import PCA

    sorted_ = dpq(x, assign_exact(PCA(2).fit_transform(x), 20, 20), cols=20, sample=None)
    assert 0.25 < shuffled < 0.45 and sorted_ > 0.7


def test_a_sample_estimates_the_whole():
    x = colours(900)
    from sklearn.decomposition import PCA

    cells = assign_exact(PCA(2).fit_transform(x), 30, 30)
    assert dpq(x, cells, cols=30, sample=300, seed=2) == pytest.approx(
        dpq(x, cells, cols=30, sample=None), abs=0.03)


def test_cells_must_be_one_per_photo():
    with pytest.raises(ValueError, match="its own cell"):
        dpq(colours(10), np.zeros(10, int), cols=5)


def by_definition(features, cells, cols, p=16):
    """DPQ_p straight from the paper, one photo and one neighbourhood size at a time."""
    n = len(features)
    distance = np.linalg.norm(features[:, None] - features[None], axis=2)
    rows, columns = np.divmod(cells, cols)
    mean = np.mean([distance[i, np.arange(n) != i].mean() for i in range(n)])
    grid_means, feature_means = np.zeros(n - 1), np.zeros(n - 1)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        nearest = sorted(distance[i, j] for j in others)
        # by grid distance; cells at one distance hold their photos nearest first
        along_grid = [distance[i, j] for j in sorted(others, key=lambda j: (
            (rows[i] - rows[j]) ** 2 + (columns[i] - columns[j]) ** 2, distance[i, j]))]
        feature_means += np.cumsum(nearest) / np.arange(1, n) / n
        grid_means += np.cumsum(along_grid) / np.arange(1, n) / n
    gain = np.clip((mean - grid_means) / mean, 0, None)
    best = np.clip((mean - feature_means) / mean, 0, None)
    return np.linalg.norm(gain, ord=p) / np.linalg.norm(best, ord=p)


@pytest.mark.parametrize("cols", [7, 40])
def test_the_value_is_the_papers_definition_with_ties_and_identical_photos(cols):
    rng = np.random.default_rng(4)
    # integer features: many equal distances; two identical photos
    features = rng.integers(0, 3, size=(40, 2)).astype(float)
    features[5] = features[6]
    cells = rng.permutation(cols * (-(-40 // cols)))[:40]
    assert dpq(features, cells, cols=cols, sample=None, chunk=7) == pytest.approx(
        by_definition(features, cells, cols), rel=1e-12)


def test_one_fit_scores_every_arrangement_as_separate_measurements_do():
    from roomgrid.layout.quality import DistancePreservation

    x = colours(300)
    arrangements = [np.random.default_rng(seed).permutation(300) for seed in range(3)]
    fitted = DistancePreservation(sample=100, seed=1).fit(x)
    assert [fitted.score(cells, 20) for cells in arrangements] == [
        dpq(x, cells, cols=20, sample=100, seed=1) for cells in arrangements]
    assert len(fitted.measured_) == 100 and 0 < fitted.best_
