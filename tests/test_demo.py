import io

import pandas as pd
import pytest
from PIL import Image

from roomgrid.demo import make_demo_city
from roomgrid.triage import histogram_entropy

CITIES = ["alpha", "beta", "gamma"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    truth = {c: make_demo_city(c, root / c, cities=CITIES, photos_per_city=12, seed=4) for c in CITIES}
    return root, truth


def test_same_arguments_give_identical_files_whatever_else_exists(demo, tmp_path):
    root, _ = demo
    alone = tmp_path / "beta"
    make_demo_city("beta", alone, cities=CITIES, photos_per_city=12, seed=4)  # no other city on disk
    names = sorted(p.name for p in (root / "beta").iterdir())
    assert names == sorted(p.name for p in alone.iterdir())
    assert all((root / "beta" / n).read_bytes() == (alone / n).read_bytes() for n in names)
    other = tmp_path / "other"
    make_demo_city("beta", other, cities=CITIES, photos_per_city=12, seed=5)
    assert sorted(p.name for p in other.iterdir()) != names


def test_exact_duplicates_copy_another_city_byte_for_byte(demo):
    root, truth = demo
    copies = pd.concat(t.assign(city=c) for c, t in truth.items())
    copies = copies[copies["kind"] == "exact_duplicate"]
    assert len(copies) and (copies["duplicate_of"].str.split("/").str[0] != copies["city"]).all()
    for row in copies.itertuples():
        assert (root / row.city / row.file).read_bytes() == (root / row.duplicate_of).read_bytes()


def test_every_city_has_graphics_photos_and_broken_files(demo):
    root, truth = demo
    for city, table in truth.items():
        kinds = table.set_index("file")["kind"]
        assert {"photo", "graphic", "unreadable"} <= set(kinds)
        assert "1.jpg" in kinds.index  # a name every city repeats
        for name, kind in kinds.items():
            data = (root / city / name).read_bytes()
            if kind == "unreadable":
                with pytest.raises(Exception):
                    Image.open(io.BytesIO(data)).load()
            elif kind == "graphic":
                assert histogram_entropy(Image.open(io.BytesIO(data))) < 3.9, name
        listed = pd.read_csv(root / city / "listings.tsv", sep="\t", dtype=str)
        assert set(listed["file"]) == set(kinds.index)
        assert listed["listing_url"].str.startswith(f"https://{city}.example.invalid/").all()


def test_odd_files_really_are_odd(demo):
    root, truth = demo
    odd = pd.concat(t.assign(city=c) for c, t in truth.items())
    odd = odd[odd["kind"] == "odd"]
    seen = set()
    for row in odd.itertuples():
        image = Image.open(root / row.city / row.file)
        seen.add(row.detail)
        if row.detail == "cmyk":
            assert image.mode == "CMYK"
        elif row.detail == "animated-gif":
            assert image.n_frames > 1
        elif row.detail == "exif-rotated":
            assert image.getexif().get(0x0112) == 6
        elif row.detail == "rgba-png":
            assert image.mode == "RGBA" and image.getchannel("A").getextrema()[0] < 255
        elif row.detail == "16-bit-gray":
            assert image.mode.startswith("I") and image.getextrema()[1] > 255
    assert seen == {"cmyk", "animated-gif", "exif-rotated", "rgba-png", "16-bit-gray"}
