import math

import numpy as np
import pytest
from PIL import Image

from roomgrid.triage import entropy_bins, histogram_entropy


def test_constant_image_has_zero_entropy():
    assert histogram_entropy(Image.new("L", (50, 40), 128)) == 0.0


def test_uniform_256_levels_reach_ln_256():
    levels = np.repeat(np.arange(256, dtype=np.uint8), 10).reshape(40, 64)
    assert histogram_entropy(levels) == pytest.approx(math.log(256), abs=1e-12)
    assert histogram_entropy(Image.fromarray(levels)) == pytest.approx(5.545177, abs=1e-6)


def test_two_equal_levels_is_ln_2_in_nats_not_bits():
    half = np.zeros((10, 10), dtype=np.uint8)
    half[:5] = 255
    assert histogram_entropy(half) == pytest.approx(math.log(2))


def test_colour_image_is_measured_on_its_grayscale():
    rgb = Image.new("RGB", (8, 8), (10, 200, 30))
    assert histogram_entropy(rgb) == 0.0


def test_bins_follow_half_open_thresholds():
    bins = entropy_bins([3.0, 3.9, 4.39, 4.4, 5.5, float("nan")], 3.9, 4.4)
    assert list(bins) == ["graphic", "maybe", "maybe", "photo", "photo", ""]


def test_bins_reject_crossed_thresholds():
    with pytest.raises(ValueError):
        entropy_bins([4.0], graphic_below=4.5, photo_from=4.0)


def test_image_and_array_routes_agree_on_a_skewed_histogram():
    rng = np.random.default_rng(3)
    gray = rng.geometric(0.05, size=(90, 120)).clip(0, 255).astype(np.uint8)
    from_array = histogram_entropy(gray)
    assert 2.0 < from_array < math.log(256)
    assert histogram_entropy(Image.fromarray(gray)) == pytest.approx(from_array, abs=1e-12)
