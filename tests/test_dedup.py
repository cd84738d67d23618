import io

import numpy as np
import pytest
from PIL import Image

from roomgrid.scan.stacks import blur_stack
from roomgrid.scan.dedup import close_pairs, dhash_hex, duplicate_groups, hamming, hashes_to_uint64

MAX_DISTANCE = 4  # the default of config.yaml


def reencode(image, quality):
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def scan_hash(image):
    """The hash as the scan takes it: of the 64-px base layer of the feature stack."""
    return dhash_hex(Image.fromarray(blur_stack(image.convert("L"), 64, (3, 8))[:64]))


def test_reencoded_resized_and_cropped_copies_stay_within_threshold(demo_photos):
    original = Image.open(demo_photos[0]).convert("RGB")
    base = scan_hash(original)
    w, h = original.size
    copies = [reencode(original, 40), original.resize((w * 9 // 10, h * 9 // 10)),
              original.crop((9, 7, w - 9, h - 7))]
    for copy in copies:
        assert hamming(base, scan_hash(copy)) <= MAX_DISTANCE
    others = [scan_hash(Image.open(path)) for path in demo_photos[1:]]
    assert all(hamming(base, other) > MAX_DISTANCE for other in others)


def test_close_pairs_matches_brute_force():
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, 300, dtype=np.uint64)
    hashes[10] = hashes[3] ^ np.uint64(0b101)  # 2 bits apart
    hashes[200] = hashes[3]
    found = {tuple(p) for p in close_pairs(hashes, 3, block=64)}
    expected = {(i, j) for i in range(300) for j in range(i + 1, 300)
                if bin(int(hashes[i]) ^ int(hashes[j])).count("1") <= 3}
    assert found == expected and {(3, 10), (3, 200), (10, 200)} <= found


@pytest.mark.parametrize("max_distance", [0, 1, 4, 9])
def test_close_pairs_finds_every_pair_when_many_hashes_are_alike(max_distance):
    # Families of near copies (a few bits flipped) and many hashes sharing long runs of bits,
    # as real dHashes do: the pieces' buckets are large and uneven, and must miss no pair.
    rng = np.random.default_rng(max_distance)
    roots = rng.integers(0, 2**63, 40, dtype=np.uint64)
    family = roots[rng.integers(0, 40, 400)]
    flips = rng.integers(0, 64, size=(400, 3))
    for k in range(3):
        family ^= np.where(rng.random(400) < 0.6, np.uint64(1) << flips[:, k].astype(np.uint64),
                           np.uint64(0))
    shared = rng.integers(0, 2**16, 200, dtype=np.uint64) | np.uint64(0xABCD_EF01_2345_0000)
    hashes = np.concatenate([family, shared])
    found = close_pairs(hashes, max_distance, block=64)
    counts = np.array([[bin(int(a) ^ int(b)).count("1") for b in hashes] for a in hashes])
    i, j = np.nonzero(np.triu(counts <= max_distance, k=1))
    np.testing.assert_array_equal(found, np.stack([i, j], axis=1))


def test_groups_link_identical_bytes_and_close_hashes_but_not_flat_hashes():
    hashes = ["f0f0f0f0f0f0f0f0", "f0f0f0f0f0f0f0f1", "0123456789abcdef",
              "0000000000000000", "0000000000000001", "0f0f0f0f0f0f0f0f"]
    sha = ["a", "b", "c", "d", "e", "c"]
    groups, leaders = duplicate_groups(hashes, sha, max_distance=2)
    assert groups[0] == groups[1] >= 0          # 1 bit apart
    assert groups[2] == groups[5] >= 0 and groups[2] != groups[0]  # same bytes, far hashes
    assert groups[3] == -1 and groups[4] == -1  # flat hashes never match by hash
    assert sorted(set(groups[groups >= 0])) == [0, 1]
    assert list(np.nonzero(leaders)[0]) == [0, 2]  # without a priority, the first copy leads


def test_groups_do_not_chain_through_intermediate_photos():
    a = 0x0F0F0F0F0F0F0F0F
    hashes = [f"{a:016x}", f"{a ^ 0b11:016x}", f"{a ^ 0b1111:016x}"]  # a~b (2), b~c (2), a-c 4 bits
    groups, leaders = duplicate_groups(hashes, ["x", "y", "z"], max_distance=2, priority=[1, 0, 2])
    assert groups[0] == groups[1] == groups[2] and leaders[1]  # b leads and takes both
    groups, leaders = duplicate_groups(hashes, ["x", "y", "z"], max_distance=2, priority=[0, 1, 2])
    assert groups[0] == groups[1] and groups[2] == -1 and leaders[0]  # c is not a's duplicate


def test_negative_distance_matches_bytes_only():
    groups, _ = duplicate_groups(["f0f0f0f0f0f0f0f0", "f0f0f0f0f0f0f0f0", "0123456789abcdef"],
                                 ["a", "b", "a"], max_distance=-1)
    assert list(groups) == [0, -1, 0]


def test_hash_parsing_round_trips():
    assert hashes_to_uint64(["ffffffffffffffff"])[0] == np.uint64(2**64 - 1)


def striped(level_scale, ramp_to, seed):
    """A 600x450 picture whose columns repeat one step pattern in every row (a dHash of the same
    8 bits per row), scaled by ``level_scale`` and brightened from top to bottom up to
    ``ramp_to``: the left-to-right steps, all dHash sees, keep their signs whatever the two are."""
    levels = np.array([40, 200, 60, 180, 80, 160, 100, 140, 120], dtype=float)
    columns = np.repeat(levels, -(-600 // len(levels)))[:600]
    ramp = np.linspace(0, ramp_to, 450)[:, None]
    noise = np.random.default_rng(seed).normal(0, 12, (450, 600))
    grey = np.clip(columns[None, :] * level_scale + ramp + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def select_from_folder(tmp_path, folder, **confirm):
    from roomgrid.core.io import write_table
    from roomgrid.scan.city import scan_city
    from roomgrid.selection.select import select_photos
    from roomgrid.sources.folder import index_city

    write_table(index_city("boston", folder), tmp_path / "photos.tsv")
    scan_city(tmp_path / "photos.tsv", tmp_path / "scan.tsv", tmp_path / "stacks.h5",
              tmp_path / "thumbs.h5")
    return select_photos([tmp_path / "photos.tsv"], [tmp_path / "scan.tsv"],
                         keep_bins=["photo", "maybe", "graphic"], graphic_below=3.9, photo_from=4.4,
                         max_distance=MAX_DISTANCE, **confirm)


def test_look_alike_hashes_of_different_pictures_are_told_apart_on_pixels(tmp_path):
    folder = tmp_path / "boston"
    folder.mkdir()
    first, second = striped(1.0, 0, seed=1), striped(0.5, 120, seed=2)
    first.save(folder / "a.jpg", quality=92)
    first.save(folder / "a_reposted.jpg", quality=40)
    first.convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "a.gif")
    first.convert("CMYK").save(folder / "a_cmyk.jpg", quality=92)
    second.save(folder / "b.jpg", quality=92)
    table, duplicates = select_from_folder(tmp_path, folder, stacks={"boston": tmp_path / "stacks.h5"},
                                           max_pixel_difference=12)
    table = table.set_index("file")
    assert hamming(table.loc["a.jpg", "dhash"], table.loc["b.jpg", "dhash"]) == 0  # the trap is set
    assert table.loc["b.jpg", "selected"] and table.loc["b.jpg", "duplicate_group"] == -1
    copies = ["a.jpg", "a_reposted.jpg", "a.gif", "a_cmyk.jpg"]
    assert table.loc[copies, "duplicate_group"].nunique() == 1 and table.loc["a.jpg", "duplicate_group"] >= 0
    # the plain JPEG is kept, though the GIF and the CMYK file are larger
    assert list(table.loc[copies, "selected"]) == [True, False, False, False]
    assert table.loc["a.gif", "bytes"] > table.loc["a.jpg", "bytes"] < table.loc["a_cmyk.jpg", "bytes"]
    assert set(duplicates.loc[~duplicates["kept"], "kept_id"]) == {"boston/a.jpg"}
    # without the pixel check the hash alone merges the two pictures
    (tmp_path / "hash-only").mkdir()
    by_hash, _ = select_from_folder(tmp_path / "hash-only", folder)
    assert not by_hash.set_index("file")["selected"][["a.jpg", "b.jpg"]].all()
