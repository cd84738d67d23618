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
