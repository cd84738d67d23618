import csv
import os

import h5py
import numpy as np
import pytest
import pandas as pd
from PIL import Image

from roomgrid.core.io import read_table, write_table
from roomgrid.scan.city import ScanSettings, scan_city
from roomgrid.scan.triage import histogram_entropy
from roomgrid.sources.folder import discover_cities, index_city, list_city_photos, metadata_for_city


def write_city(root, city, room, make_jpeg, n=3):
    folder = root / city
    offset = sum(map(ord, city))
    (folder / "sub").mkdir(parents=True)
    for i in range(n):
        (folder / f"{i}.jpg").write_bytes(make_jpeg(room(offset + i)))
    (folder / "sub" / "1.JPG").write_bytes(make_jpeg(room(999)))
    (folder / ".scrape").mkdir()
    (folder / ".scrape" / "partial.jpg").write_bytes(b"half")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_ids_are_unique_across_cities_with_the_same_file_names(tmp_path, room, make_jpeg):
    for city in ("boston", "denver"):
        write_city(tmp_path, city, room, make_jpeg)
    (tmp_path / "empty").mkdir()
    assert discover_cities(tmp_path) == ["boston", "denver"]
    assert list_city_photos(tmp_path / "boston") == ["0.jpg", "1.jpg", "2.jpg", "sub/1.JPG"]
    tables = [index_city(c, tmp_path / c) for c in ("boston", "denver")]
    ids = pd.concat(tables)["id"]
    assert ids.is_unique and "boston/1.jpg" in set(ids) and "denver/1.jpg" in set(ids)
    assert "boston/sub/1.JPG" in set(ids)


def test_listing_metadata_is_joined_from_the_city_folder_and_a_user_csv(tmp_path, room, make_jpeg):
    folder = write_city(tmp_path, "boston", room, make_jpeg)
    pd.DataFrame({"file": ["0.jpg"], "price": ["1850"], "listing_url": ["https://x/1.html"]}) \
        .to_csv(folder / "listings.tsv", sep="\t", index=False)
    csv = tmp_path / "meta.csv"
    pd.DataFrame({"file": ["boston/1.jpg", "denver/0.jpg"], "price": ["900", "1"]}).to_csv(csv, index=False)
    table = index_city("boston", folder, metadata=metadata_for_city(csv, "boston")).set_index("file")
    assert table.loc["0.jpg", "price"] == "1850"
    assert table.loc["0.jpg", "listing_url"] == "https://x/1.html"
    assert table.loc["1.jpg", "price"] == "900"
    assert pd.isna(table.loc["2.jpg", "price"])


def test_scan_records_every_file_and_stores_rows_for_readable_ones(tmp_path, room, make_jpeg):
    folder = write_city(tmp_path, "boston", room, make_jpeg, n=2)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("hello")
    good = make_jpeg(room(5))
    (folder / "cut.jpg").write_bytes(good[: len(good) // 3])
    write_table(index_city("boston", folder), tmp_path / "photos.tsv")
    settings = ScanSettings(stack_size=16, sigmas=(1.0, 2.0), thumb_px=24, draft=False)
    scan_city(tmp_path / "photos.tsv", tmp_path / "scan.tsv", tmp_path / "stacks.h5",
              tmp_path / "thumbs.h5", settings)
    scan = read_table(tmp_path / "scan.tsv").set_index("id")
    assert len(scan) == 7
    reasons = scan["reason"].to_dict()
    assert reasons["boston/notes.txt"] == "not an image file name"
    assert reasons["boston/empty.jpg"] == "empty file"
    assert reasons["boston/text.jpg"] == "not an image"
    assert reasons["boston/cut.jpg"].startswith("truncated or corrupt")
    ok = scan[scan["status"] == "ok"]
    assert len(ok) == 3 and (ok["width"] == 600).all()
    full = histogram_entropy(Image.open(folder / "0.jpg"))
    assert ok.loc["boston/0.jpg", "entropy"] == pytest.approx(full, abs=1e-5)
    assert ok["dhash"].str.fullmatch("[0-9a-f]{16}").all()
    with h5py.File(tmp_path / "stacks.h5") as stacks, h5py.File(tmp_path / "thumbs.h5") as thumbs:
        assert list(stacks["ids"].asstr()[:]) == list(ok.index)
        assert stacks["stacks"].shape == (3, 48, 16) and stacks["stacks"].dtype == np.uint8
        assert list(thumbs["ids"].asstr()[:]) == list(ok.index)
        assert thumbs["thumbs"].shape == (3, 24, 24, 3)
    assert not list(tmp_path.glob(".*part"))  # no temporary files left behind


def test_blur_stack_layers_are_progressively_smoother():
    from roomgrid.scan.stacks import blur_stack, square_thumbnail

    checker = Image.fromarray(((np.indices((64, 64)) // 8).sum(0) % 2 * 255).astype(np.uint8))
    stack = blur_stack(checker, size=64, sigmas=(3, 8)).astype(float)
    layers = stack.reshape(3, 64, 64)
    spreads = [layer.std() for layer in layers]
    assert spreads[0] > 100 and spreads[0] > spreads[1] > spreads[2]
    assert abs(layers[2].mean() - layers[0].mean()) < 3
    colour = blur_stack(Image.new("RGB", (30, 20), (255, 0, 0)), size=8, sigmas=(1,), colour=True)
    assert colour.shape == (16, 8, 3) and (colour[..., 0] == 255).all()
    wide = Image.new("RGB", (300, 100), (0, 0, 0))
    wide.paste((255, 255, 255), (100, 0, 200, 100))  # white centre square
    assert (square_thumbnail(wide, 32)[1:-1, 1:-1] > 250).all()


def test_folder_fingerprint_changes_with_any_photo_or_listing(tmp_path, room, make_jpeg):
    from roomgrid.sources.folder import folder_fingerprint

    folder = write_city(tmp_path, "boston", room, make_jpeg, n=2)
    first = folder_fingerprint(folder)
    assert folder_fingerprint(folder) == first
    (folder / ".scrape" / "state.json").write_text("{}")  # the scraper's journal is not listed
    assert folder_fingerprint(folder) == first
    (folder / "notes.txt").write_text("not read, so only its name counts")
    (folder / ".DS_Store").write_bytes(b"rewritten by every look at the folder")
    assert folder_fingerprint(folder) != first  # a new name, listed with its reason
    noted = folder_fingerprint(folder)
    (folder / ".DS_Store").write_bytes(b"rewritten again")
    assert folder_fingerprint(folder) == noted
    (folder / "sub" / "new.jpg").write_bytes(make_jpeg(room(50)))  # added one level down
    added = folder_fingerprint(folder)
    assert added != noted
    photo = folder / "0.jpg"
    stat = photo.stat()
    photo.write_bytes(make_jpeg(room(51)))  # edited in place
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert folder_fingerprint(folder) != added
    edited = folder_fingerprint(folder)
    (folder / "listings.tsv").write_text("file\tprice\n0.jpg\t900\n")
    assert folder_fingerprint(folder) != edited


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    from roomgrid.core.io import atomic_path

    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "out.txt") as tmp:
            tmp.write_text("done")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644
    assert not list(tmp_path.glob(".out.txt.*"))


SMALL = ScanSettings(stack_size=16, sigmas=(1.0, 2.0), thumb_px=24, draft=False)


def scan_folder(tmp_path, folder, **index):
    write_table(index_city("boston", folder, **index), tmp_path / "photos.tsv")
    scan_city(tmp_path / "photos.tsv", tmp_path / "scan.tsv", tmp_path / "stacks.h5",
              tmp_path / "thumbs.h5", SMALL)
    return read_table(tmp_path / "scan.tsv").set_index("id")


# File names that tab-separated tables must quote: each breaks a row or a field if written bare.
ODD_NAMES = ("a\rb.jpg", "end\r.jpg", "line\nbreak.jpg", "crlf\r\n.jpg", "tab\there.jpg",
             'say "cheese".jpg', '"quoted".jpg', "plain.jpg")


def as_text(frame):
    """Each cell as the text a csv reader gives back: missing values are empty."""
    return [[str(v) if pd.notna(v) else "" for v in row] for row in frame.itertuples(index=False)]


def assert_plain_readers_agree(path, frame):
    """``path`` reads back as ``frame`` with pandas' and Python's csv defaults, as a user would."""
    plain = pd.read_csv(path, sep="\t")
    assert list(plain.columns) == list(frame.columns) and len(plain) == len(frame)
    assert list(plain["id"]) == list(frame["id"])
    # the same, cell by cell, as text (a plain read turns whole numbers with a gap into floats)
    text = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    assert as_text(text) == as_text(frame.astype(object))
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows == [list(frame.columns)] + as_text(frame.astype(object))


def test_a_table_of_any_file_names_reads_back_with_pandas_and_csv(tmp_path):
    names = list(ODD_NAMES)
    frame = pd.DataFrame({"id": [f"c/{n}" for n in names], "file": names,
                          "bytes": pd.array([1, None] * 4, dtype="Int64"),
                          "entropy": [0.5, None] * 4, "selected": [True, False] * 4,
                          "note": ["", None, "x\ty", "ok", "cr\r", "", "a", "b"]})
    write_table(frame, tmp_path / "t.tsv")
    assert_plain_readers_agree(tmp_path / "t.tsv", frame)
    back = read_table(tmp_path / "t.tsv")
    assert list(back["file"]) == names and list(back["id"]) == list(frame["id"])
    assert list(back["selected"]) == list(frame["selected"])
    # a table without a carriage return keeps minimal quoting: only fields that need it
    write_table(frame.iloc[[2, 7]], tmp_path / "plain.tsv")
    assert (tmp_path / "plain.tsv").read_text().splitlines()[-1] == "c/plain.jpg\tplain.jpg\t\t\tFalse\tb"
    assert_plain_readers_agree(tmp_path / "plain.tsv", frame.iloc[[2, 7]])


def test_a_carriage_return_in_a_file_name_survives_the_photo_table(tmp_path, room, make_jpeg):
    folder = tmp_path / "boston"
    folder.mkdir()
    for name in ODD_NAMES:
        (folder / name).write_bytes(make_jpeg(room(len(name))))
    table = index_city("boston", folder)
    assert sorted(table["file"]) == sorted(ODD_NAMES)
    write_table(table, tmp_path / "photos.tsv")
    assert list(read_table(tmp_path / "photos.tsv")["file"]) == list(table["file"])
    assert_plain_readers_agree(tmp_path / "photos.tsv", table)
    scan = scan_folder(tmp_path, folder)
    assert (scan["status"] == "ok").all() and "boston/a\rb.jpg" in scan.index
    assert_plain_readers_agree(tmp_path / "scan.tsv", scan.reset_index())


def test_odd_entries_are_listed_with_a_reason_and_a_pipe_is_never_opened(tmp_path, room, make_jpeg):
    import signal
    from roomgrid.sources.folder import folder_fingerprint

    folder = tmp_path / "boston"
    (folder / "rooms").mkdir(parents=True)
    (folder / "ok.jpg").write_bytes(make_jpeg(room(1)))
    (folder / "gone.jpg").symlink_to(folder / "deleted.jpg")
    os.mkfifo(folder / "fifo.jpg")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "..hidden-dots.jpg").write_bytes(make_jpeg(room(2)))
    (folder / "rooms" / "1.jpg").write_bytes(make_jpeg(room(3)))
    (folder / "linked-rooms").symlink_to(folder / "rooms")
    signal.alarm(20)  # a read of the pipe would block for ever
    try:
        first = folder_fingerprint(folder)
        assert folder_fingerprint(folder) == first
        scan = scan_folder(tmp_path, folder)
        # a pipe the listing did not flag (e.g. made after it) is still refused by the scan
        (tmp_path / "again").mkdir()
        rescanned = scan_folder(tmp_path / "again", folder, files=["fifo.jpg", "ok.jpg"])
    finally:
        signal.alarm(0)
    assert scan["reason"].fillna("").to_dict() == {
        "boston/..hidden-dots.jpg": "hidden file", "boston/.DS_Store": "hidden file",
        "boston/fifo.jpg": "not a regular file", "boston/gone.jpg": "broken symbolic link",
        "boston/linked-rooms": "symbolic link to a folder (not followed)",
        "boston/ok.jpg": "", "boston/rooms/1.jpg": ""}
    assert rescanned.loc["boston/fifo.jpg", "reason"] == "not a regular file"
    assert rescanned.loc["boston/ok.jpg", "status"] == "ok"


def test_a_folder_that_cannot_be_read_gets_a_row_and_a_warning(tmp_path, room, make_jpeg,
                                                               monkeypatch, caplog):
    folder = write_city(tmp_path, "boston", room, make_jpeg, n=1)
    locked = str(folder / "sub")
    real_scandir = os.scandir

    def scandir(path="."):  # as for a folder without read permission (tests may run as root)
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    table = index_city("boston", folder).set_index("file")
    assert table.loc["sub/", "skip_reason"] == "folder not readable: Permission denied"
    assert "sub/1.JPG" not in table.index and table.loc["0.jpg", "skip_reason"] == ""
    assert "cannot list folder" in caplog.text and locked in caplog.text


def test_a_rerun_removes_what_a_killed_writer_of_the_same_output_left(tmp_path):
    from roomgrid.core.io import atomic_directory, atomic_path

    left = [tmp_path / ".stacks.h5.k1ll3d_x.h5.part", tmp_path / ".tiles.9ab_cdef.part",
            tmp_path / f".tiles.old-{'0f' * 16}"]
    left[0].write_bytes(b"half an HDF5 file")
    for folder in left[1:]:
        (folder / "3" / "1").mkdir(parents=True)
        (folder / "3" / "1" / "2.jpg").write_bytes(b"tile")
    others = [tmp_path / ".thumbs.h5.k1ll3d_x.h5.part",  # another output's
              tmp_path / ".stacks.h5.notmine.h5.part",    # not a name tempfile makes
              tmp_path / "stacks.h5.k1ll3d_x.h5.part"]
    for path in others:
        path.write_bytes(b"keep")
    with atomic_path(tmp_path / "stacks.h5") as tmp:
        tmp.write_bytes(b"new")
    with atomic_directory(tmp_path / "tiles") as work:
        (work / "tiles.json").write_text("{}")
    assert not any(path.exists() for path in left)
    assert all(path.exists() for path in others)
    assert (tmp_path / "stacks.h5").read_bytes() == b"new" and (tmp_path / "tiles/tiles.json").exists()


def test_fingerprint_follows_content_not_times_and_reads_a_file_once(tmp_path, room, make_jpeg,
                                                                     monkeypatch):
    from roomgrid.sources import folder as sources
    from roomgrid.sources.folder import folder_fingerprint

    folder = write_city(tmp_path, "boston", room, make_jpeg, n=2)
    cache = tmp_path / "state" / "boston.json"
    first = folder_fingerprint(folder, cache=cache)
    photo = folder / "0.jpg"
    before = photo.stat()
    os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns + 5_000_000_000))  # touch
    assert folder_fingerprint(folder, cache=cache) == first
    assert folder_fingerprint(folder) == first  # the cache only saves reading
    edited = bytearray(photo.read_bytes())
    edited[len(edited) // 2] ^= 0xFF  # same size, other bytes, and the old time put back
    photo.write_bytes(bytes(edited))
    os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (photo.stat().st_size, photo.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    changed = folder_fingerprint(folder, cache=cache)
    assert changed != first
    read = []
    real = sources._content_digest
    monkeypatch.setattr(sources, "_content_digest", lambda path: read.append(path) or real(path))
    assert folder_fingerprint(folder, cache=cache) == changed and read == []
    (folder / "1.jpg").write_bytes(make_jpeg(room(77)))
    folder_fingerprint(folder, cache=cache)
    assert read == [folder / "1.jpg"]


def test_a_name_that_is_not_utf8_gets_a_row_and_a_reason(tmp_path, room, make_jpeg):
    from roomgrid.sources.folder import folder_fingerprint

    not_utf8 = "file name is not UTF-8 text (rename it)"
    folder = tmp_path / "boston"
    folder.mkdir()
    (folder / "ok.jpg").write_bytes(make_jpeg(room(1)))
    # as an archive made on Windows leaves them: Latin-1 bytes, not UTF-8
    os.makedirs(os.fsencode(folder) + b"/caf\xe9")
    for name in (b"/r\xe9sum\xe9.jpg", b"/caf\xe9/1.jpg"):
        with open(os.fsencode(folder) + name, "wb") as handle:
            handle.write(make_jpeg(room(2)))
    assert folder_fingerprint(folder) == folder_fingerprint(folder)
    table = index_city("boston", folder)
    assert dict(zip(table["file"], table["skip_reason"])) == {
        "caf\\xe9/": not_utf8, "ok.jpg": "", "r\\xe9sum\\xe9.jpg": not_utf8}
    write_table(table, tmp_path / "photos.tsv")
    assert_plain_readers_agree(tmp_path / "photos.tsv", table)
    scan = scan_folder(tmp_path, folder)
    assert scan.loc["boston/r\\xe9sum\\xe9.jpg", "reason"] == not_utf8
    assert scan.loc["boston/ok.jpg", "status"] == "ok"
