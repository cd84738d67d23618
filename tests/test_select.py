import pandas as pd

from roomgrid.core.io import as_whole_numbers, write_table
from roomgrid.selection.select import is_excluded, read_exclusions, select_photos, summarise, write_selection


def tables(tmp_path):
    photos = pd.DataFrame({
        "id": ["a/1.jpg", "a/2.jpg", "a/3.jpg", "a/4.jpg", "b/1.jpg", "b/2.jpg", "b/3.jpg", "b/4.jpg"],
        "city": ["a"] * 4 + ["b"] * 4,
        "bytes": [100, 100, 100, 100, 100, 90, 100, 100],
    })
    scan = pd.DataFrame({
        "id": photos["id"],
        "status": ["ok", "ok", "ok", "skipped", "ok", "ok", "ok", "ok"],
        "reason": ["", "", "", "empty file", "", "", "", ""],
        "width": [600, 600, 600, None, 600, 1200, 600, 600],
        "height": [450, 450, 450, None, 450, 900, 450, 450],
        "mode": ["RGB", "RGB", "RGB", None, "RGB", "RGB", "RGB", "RGB"],
        "entropy": [5.0, 3.0, 4.2, None, 5.0, 5.0, 5.1, 5.2],
        # a/1 ~ b/2 (near, 1 bit); b/3 and b/4 identical bytes with unrelated hashes
        "dhash": ["0f0f0f0f0f0f0f0f", "aaaaaaaaaaaaaaaa", "123456789abcdef0", "",
                  "fedcba9876543210", "0f0f0f0f0f0f0f0e", "1111222233334444", "9999888877776666"],
        "sha256": ["s1", "s2", "s3", "", "s5", "s6", "same", "same"],
    })
    paths = []
    for city in ("a", "b"):
        p, s = tmp_path / f"{city}_photos.tsv", tmp_path / f"{city}_scan.tsv"
        write_table(photos[photos.city == city], p)
        write_table(scan[photos.city == city], s)
        paths.append((p, s))
    return [p for p, _ in paths], [s for _, s in paths]


def test_selection_bins_excludes_and_collapses_duplicates(tmp_path):
    photo_tables, scan_tables = tables(tmp_path)
    table, duplicates = select_photos(photo_tables, scan_tables, keep_bins=["photo"],
                                      graphic_below=3.9, photo_from=4.4, max_distance=2,
                                      exclusions=["b/1.*"])
    why = table.set_index("id")["dropped"].to_dict()
    assert why == {"a/1.jpg": "duplicate", "a/2.jpg": "bin graphic", "a/3.jpg": "bin maybe",
                   "a/4.jpg": "unreadable", "b/1.jpg": "excluded", "b/2.jpg": "",
                   "b/3.jpg": "", "b/4.jpg": "duplicate"}
    assert list(table.loc[table.selected, "id"]) == ["b/2.jpg", "b/3.jpg"]
    # the larger copy survives; identical files keep the first id
    assert len(duplicates) == 4
    kept = duplicates.set_index("id")
    assert kept.loc["a/1.jpg", "kept_id"] == "b/2.jpg" and kept.loc["a/1.jpg", "distance"] == 1
    assert kept.loc["b/4.jpg", "kept_id"] == "b/3.jpg" and kept.loc["b/4.jpg", "identical_bytes"]
    summary = summarise(table, duplicates)
    assert summary["selected"] == 2 and summary["duplicates_removed"] == 2
    assert summary["bins"] == {"photo": 5, "graphic": 1, "maybe": 1}


def test_a_photo_already_on_the_map_stays_the_kept_copy(tmp_path):
    photo_tables, scan_tables = tables(tmp_path)
    settings = dict(keep_bins=["photo"], graphic_below=3.9, photo_from=4.4, max_distance=2)
    # b/2 is the larger copy of a/1 and b/4 the same bytes as b/3; with a/1 and b/4 on the map
    # (an extension's base), they stay and the other copies leave.
    table, duplicates = select_photos(photo_tables, scan_tables, placed=["a/1.jpg", "b/4.jpg", "x/9.jpg"],
                                      **settings)
    assert list(table.loc[table.selected, "id"]) == ["a/1.jpg", "b/1.jpg", "b/4.jpg"]
    kept = duplicates.set_index("id")["kept_id"]
    assert kept["b/2.jpg"] == "a/1.jpg" and kept["b/3.jpg"] == "b/4.jpg"
    # Nothing placed: the usual best copy.
    table, _ = select_photos(photo_tables, scan_tables, placed=[], **settings)
    assert list(table.loc[table.selected, "id"]) == ["b/1.jpg", "b/2.jpg", "b/3.jpg"]


def test_keeping_maybe_and_no_hash_matching(tmp_path):
    photo_tables, scan_tables = tables(tmp_path)
    table, _ = select_photos(photo_tables, scan_tables, keep_bins=["photo", "maybe"],
                             graphic_below=3.9, photo_from=4.4, max_distance=-1)
    assert set(table.loc[table.selected, "id"]) == {"a/1.jpg", "a/3.jpg", "b/1.jpg", "b/2.jpg", "b/3.jpg"}


def test_exclusion_file_patterns(tmp_path):
    listing = tmp_path / "exclude.txt"
    listing.write_text("# floorplans\nboston/fp_*.jpg\n\ndenver/1.jpg  # ad\n")
    patterns = read_exclusions(listing)
    assert patterns == ["boston/fp_*.jpg", "denver/1.jpg"]
    assert list(is_excluded(["boston/fp_2.jpg", "denver/1.jpg", "denver/10.jpg"], patterns)) == \
        [True, True, False]


def test_listing_counts_stay_whole_numbers_in_the_selection_table(tmp_path):
    photo_tables, scan_tables = tables(tmp_path)
    # City a has every listing field; city b misses a price and all square feet.
    listings = {"a": {"price": [1350, 1350, 2400, 900], "bedrooms": [3, 3, 0, 1],
                      "sqft": [1200, 1200, 450, 600], "title": ["Flat"] * 4},
                "b": {"price": [1700, None, 800, 800], "bedrooms": [2, 1, None, 1],
                      "sqft": [None] * 4, "title": ["Loft", "Room", "$1,350 or best", "Loft"]}}
    for path, city in zip(photo_tables, "ab"):
        table = pd.read_csv(path, sep="\t")
        write_table(table.assign(**listings[city]), path)
    table, duplicates = select_photos(photo_tables, scan_tables, keep_bins=["photo"],
                                      graphic_below=3.9, photo_from=4.4, max_distance=2)
    out = tmp_path / "photos.tsv"
    write_selection(table, duplicates, out, tmp_path / "dups.tsv", tmp_path / "summary.json")
    written = pd.read_csv(out, sep="\t", dtype=str, keep_default_na=False).set_index("id")
    assert list(written["price"]) == ["1350", "1350", "2400", "900", "1700", "", "800", "800"]
    assert list(written["bedrooms"]) == ["3", "3", "0", "1", "2", "1", "", "1"]
    assert list(written["sqft"]) == ["1200", "1200", "450", "600", "", "", "", ""]


def test_whole_number_columns_leave_text_and_fractions_alone():
    frame = pd.DataFrame({"price": ["$1,350", None], "sqft": [450.5, None],
                          "bedrooms": [2.0, None]})
    converted = as_whole_numbers(frame, ["price", "sqft", "bedrooms", "absent"])
    assert converted["price"].equals(frame["price"]) and converted["sqft"].equals(frame["sqft"])
    assert str(converted["bedrooms"].dtype) == "Int64"
    assert converted["bedrooms"].tolist()[0] == 2
