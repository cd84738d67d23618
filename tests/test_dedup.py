import io

import numpy as np
from PIL import Image

from roomgrid.stacks import blur_stack
from roomgrid.dedup import close_pairs, dhash_hex, duplicate_groups, hamming, hashes_to_uint64

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
