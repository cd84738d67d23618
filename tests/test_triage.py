import math

import numpy as np
import pytest
from PIL import Image

from roomgrid.scan.triage import entropy_bins, histogram_entropy


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


def calm_photo(seed=1, size=(600, 340)):
    """A real-photo-like picture of modest entropy (~4.5 nats), as many listing photos are."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    field = 110 + 0.08 * x + 0.1 * y + rng.normal(0, 5, (h, w))
    field[h // 3:2 * h // 3, w // 4:w // 2] += 50  # a window
    return Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).convert("RGB")


def letterboxed(photo, bar=70, colour=(255, 255, 255)):
    canvas = Image.new("RGB", (photo.width, photo.height + 2 * bar), colour)
    canvas.paste(photo, (0, bar))
    return canvas.resize((600, 450))


def floor_plan():
    from PIL import ImageDraw

    plan = Image.new("RGB", (600, 450), (255, 255, 255))
    draw = ImageDraw.Draw(plan)
    for box in [(60, 50, 300, 250), (300, 50, 540, 250), (60, 250, 420, 400), (420, 250, 540, 400)]:
        draw.rectangle(box, outline=(0, 0, 0), width=4)
    draw.text((100, 100), "BEDROOM 12x14", fill=(0, 0, 0))
    draw.text((350, 300), "BATH", fill=(0, 0, 0))
    return plan


def test_white_bars_no_longer_make_a_photo_a_graphic_but_a_floor_plan_stays_one():
    from roomgrid.scan.triage import trim_uniform_border

    photo = calm_photo()
    boxed = letterboxed(photo)
    plan = floor_plan()
    bins = lambda *images: list(entropy_bins([histogram_entropy(i) for i in images]))
    assert bins(photo, boxed, plan) == ["photo", "graphic", "graphic"]  # untrimmed
    trimmed = [trim_uniform_border(i) for i in (photo, boxed, plan)]
    assert bins(*trimmed) == ["photo", "photo", "graphic"]
    assert trimmed[0].size == photo.size  # nothing uniform to trim
    assert trimmed[1].height == pytest.approx(450 * 340 / 480, abs=3)
    # black bars below and white above, pillarbox bars left and right: each side has its own colour
    mixed = letterboxed(photo, 40, (255, 255, 255))
    mixed.paste((0, 0, 0), (0, 420, 600, 450))
    assert trim_uniform_border(mixed).height == pytest.approx(450 - 43 - 30, abs=2)  # 43: 40 px scaled
    pillar = Image.new("RGB", (600, 450), (20, 20, 20))
    pillar.paste(calm_photo(2, (400, 450)), (100, 0))
    assert trim_uniform_border(pillar).size == (400, 450)


def test_a_small_picture_on_a_flat_page_is_not_trimmed_to_the_picture():
    from roomgrid.scan.triage import trim_uniform_border

    page = Image.new("RGB", (600, 450), (255, 255, 255))
    page.paste(calm_photo(3, (200, 150)), (200, 150))  # an advert with a thumbnail
    assert trim_uniform_border(page).size == (600, 450)
    assert entropy_bins([histogram_entropy(trim_uniform_border(page))])[0] == "graphic"


def test_scan_measures_entropy_after_trimming_and_the_report_counts_the_moves(tmp_path):
    from roomgrid.core.io import read_table, write_table
    from roomgrid.report.figures import plot_triage
    from roomgrid.scan.city import scan_city
    from roomgrid.selection.select import select_photos
    from roomgrid.sources.folder import index_city

    folder = tmp_path / "boston"
    folder.mkdir()
    letterboxed(calm_photo()).save(folder / "barred.jpg", quality=92)
    calm_photo(4).save(folder / "plain.jpg", quality=92)
    floor_plan().save(folder / "plan.png")
    write_table(index_city("boston", folder), tmp_path / "photos.tsv")
    scan_city(tmp_path / "photos.tsv", tmp_path / "scan.tsv", tmp_path / "stacks.h5",
              tmp_path / "thumbs.h5")
    table, duplicates = select_photos([tmp_path / "photos.tsv"], [tmp_path / "scan.tsv"],
                                      keep_bins=["photo", "maybe"], graphic_below=3.9,
                                      photo_from=4.4, max_distance=4)
    bins = table.set_index("file")["bin"].to_dict()
    assert bins == {"barred.jpg": "photo", "plain.jpg": "photo", "plan.png": "graphic"}
    scan = read_table(tmp_path / "scan.tsv").set_index("id")
    assert scan.loc["boston/barred.jpg", "entropy_untrimmed"] < 3.9
    from roomgrid.selection.select import summarise

    moves = plot_triage(table, summarise(table, duplicates), tmp_path / "triage.png",
                        graphic_below=3.9, photo_from=4.4)
    assert moves == {"graphic -> photo": 1}
    assert (tmp_path / "triage.png").stat().st_size > 0
