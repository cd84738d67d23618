"""The synthetic demo data set: determinism, per-city independence and its planted problems."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps

from roomgrid.sources.demo import make_demo_city
from roomgrid.core.io import read_table

CITIES = ["riverton", "lakeside", "hillcrest"]
PHOTOS = 20
TABLES = {"listings.tsv", "demo_truth.tsv"}
REMOTE_NAME = re.compile(r"^[0-9A-Za-z]{5}_[0-9A-Za-z]{11}_[0-9A-Za-z]{6}_600x450\.(jpg|png|gif)$")


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    for city in CITIES:
        make_demo_city(city, root / city, cities=CITIES, photos_per_city=PHOTOS, seed=7)
    return root


@pytest.fixture(scope="module")
def truth(demo_root) -> pd.DataFrame:
    frames = []
    for city in CITIES:
        frame = read_table(demo_root / city / "demo_truth.tsv").fillna("")
        frames.append(frame.assign(city=city, path=[demo_root / city / f for f in frame.file]))
    return pd.concat(frames, ignore_index=True)


def entropy_nats(path: Path) -> float:
    counts = np.bincount(np.asarray(Image.open(path).convert("L")).ravel(), minlength=256)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def dhash(path: Path) -> imagehash.ImageHash:
    return imagehash.dhash(Image.open(path))


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_city_generated_alone_is_byte_identical(demo_root, tmp_path):
    # Neither the other cities' folders nor an earlier run may influence a city's files.
    alone = tmp_path / "lakeside"
    make_demo_city("lakeside", alone, cities=CITIES, photos_per_city=PHOTOS, seed=7)
    assert files_in(alone) == files_in(demo_root / "lakeside")


def test_another_seed_gives_other_files(demo_root, tmp_path):
    other = tmp_path / "riverton"
    make_demo_city("riverton", other, cities=CITIES, photos_per_city=PHOTOS, seed=8)
    assert (other / "1.jpg").read_bytes() != (demo_root / "riverton" / "1.jpg").read_bytes()
    assert not (set(files_in(other)) & set(files_in(demo_root / "riverton"))) - TABLES - {"1.jpg"}


def test_city_must_be_in_the_list(tmp_path):
    with pytest.raises(ValueError, match="not in the demo city list"):
        make_demo_city("atlantis", tmp_path, cities=CITIES, photos_per_city=PHOTOS, seed=7)


def test_kind_counts_and_names(truth, demo_root):
    for city in CITIES:
        rows = truth[truth.city == city]
        counts = rows.kind.value_counts()
        assert counts["photo"] == PHOTOS
        assert counts["graphic"] >= 2 and counts["exact_duplicate"] >= 2
        assert counts["near_duplicate"] >= 3 and counts["unreadable"] == 3
        assert "1.jpg" in set(rows.file)
        assert all(REMOTE_NAME.match(f) for f in rows.file if f != "1.jpg")
        assert set(files_in(demo_root / city)) == set(rows.file) | TABLES
    # Every city has its own 1.jpg.
    assert len({(demo_root / c / "1.jpg").read_bytes() for c in CITIES}) == len(CITIES)


def test_photos_are_600x450_rgb_jpegs_with_photo_entropy(truth):
    photos = truth[truth.kind == "photo"]
    assert set(photos.room_type) == {"living_room", "kitchen", "bedroom", "bathroom", "empty_room"}
    for path in photos.path:
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (600, 450))
        assert entropy_nats(path) > 4.4


def test_graphics_have_low_entropy(truth):
    graphics = truth[truth.kind == "graphic"]
    assert set(graphics.detail) == {"floor-plan", "ad"}
    for path in graphics.path:
        assert entropy_nats(path) < 3.9


def test_exact_duplicates_copy_the_previous_city_byte_for_byte(truth, demo_root):
    duplicates = truth[truth.kind == "exact_duplicate"]
    assert len(duplicates) >= 2 * len(CITIES)
    for row in duplicates.itertuples():
        source_city, source_file = row.duplicate_of.split("/")
        assert source_city == CITIES[CITIES.index(row.city) - 1]
        assert source_file != row.file
        assert row.path.read_bytes() == (demo_root / source_city / source_file).read_bytes()
        source = truth[(truth.city == source_city) & (truth.file == source_file)]
        assert source.kind.tolist() == ["photo"]


def test_near_duplicates_are_close_in_dhash_and_unrelated_photos_are_not(truth, demo_root):
    near = truth[truth.kind == "near_duplicate"]
    assert set(near.detail) == {"jpeg-q35", "resized-90pct", "cropped-3pct"}
    for row in near.itertuples():
        source = demo_root / row.duplicate_of
        assert source.read_bytes() != row.path.read_bytes()
        assert dhash(row.path) - dhash(source) <= 6
        size = Image.open(row.path).size
        if row.detail == "resized-90pct":
            assert size == (540, 405)
        elif row.detail == "cropped-3pct":
            assert 0.95 * 600 < size[0] < 600 and 0.95 * 450 < size[1] < 450
    hashes = [dhash(p) for p in truth[truth.kind == "photo"].path]
    distances = [a - b for a, b in itertools.combinations(hashes, 2)]
    assert min(distances) > 10


def test_unreadable_files_fail_to_decode(truth):
    unreadable = truth[truth.kind == "unreadable"]
    assert sorted(unreadable.detail.unique()) == ["text", "truncated", "zero-byte"]
    for row in unreadable.itertuples():
        data = row.path.read_bytes()
        if row.detail == "zero-byte":
            assert data == b""
        if row.detail == "truncated":
            assert data.startswith(b"\xff\xd8") and len(data) > 1000
        with pytest.raises(OSError), Image.open(row.path) as image:
            image.load()


def test_odd_files_have_the_claimed_property(truth):
    odd = truth[truth.kind == "odd"]
    # Spread over the cities: all five formats appear, none twice within a city.
    assert set(odd.detail) == {"cmyk", "rgba-png", "exif-rotated", "16-bit-gray", "animated-gif"}
    assert not odd.duplicated(["city", "detail"]).any()
    for row in odd.itertuples():
        image = Image.open(row.path)
        image.load()
        if row.detail == "cmyk":
            assert (image.format, image.mode) == ("JPEG", "CMYK")
        elif row.detail == "rgba-png":
            assert (image.format, image.mode) == ("PNG", "RGBA")
            alpha = np.asarray(image.getchannel("A"))
            assert alpha.min() == 0 and alpha.max() == 255
        elif row.detail == "exif-rotated":
            assert image.getexif()[0x0112] == 6
            assert image.size == (450, 600)
            assert ImageOps.exif_transpose(image).size == (600, 450)
        elif row.detail == "16-bit-gray":
            assert image.format == "PNG" and image.mode.startswith("I")
            assert row.path.read_bytes()[24] == 16  # IHDR bit depth
            assert np.asarray(image).max() > 255
        elif row.detail == "animated-gif":
            assert image.format == "GIF" and image.n_frames >= 2


def test_listings_cover_exactly_the_files_written(truth, demo_root):
    for city in CITIES:
        listings = read_table(demo_root / city / "listings.tsv")
        written = set(files_in(demo_root / city)) - TABLES
        assert sorted(listings.file) == sorted(written)
        per_listing = listings.groupby("post_id").file.count()
        assert per_listing.between(3, 8).all()
        assert listings.listing_url.str.fullmatch(
            rf"https://{city}\.example\.invalid/apa/\d+\.html").all()
        assert (listings.listing_url == [f"https://{city}.example.invalid/apa/{p}.html"
                                         for p in listings.post_id]).all()
        assert (listings.price > 0).all() and (listings.sqft > 0).all()
        assert listings.bedrooms.between(0, 4).all()
        pd.to_datetime(listings.posted, format="%Y-%m-%d")
        # One listing, one title and price.
        assert (listings.groupby("post_id")[["title", "price"]].nunique() == 1).all().all()


def test_cities_differ_in_colour(truth):
    # Most of a city's photos are closer to their own city's mean colour than to any other's
    # (chance would be one in three).
    photos = truth[truth.kind == "photo"]
    colours = np.array([np.asarray(Image.open(p).reduce(8), float).mean(axis=(0, 1))
                        for p in photos.path])
    labels = photos.city.to_numpy()
    centroids = np.array([colours[labels == c].mean(axis=0) for c in CITIES])
    nearest = np.array(CITIES)[np.linalg.norm(colours[:, None] - centroids, axis=2).argmin(1)]
    assert (nearest == labels).mean() > 0.5
