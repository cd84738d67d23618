"""scrape_city end to end against the fake site: outputs, outcomes, faults, blocks, resumption."""

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fakesite import PAGES, fast_settings, photo_bytes
from roomgrid.core.io import read_table
from roomgrid.cli import main as roomgrid_command
from roomgrid.sources.scrape.__main__ import main
from roomgrid.sources.scrape import (MANIFEST_COLUMNS, AreaStopped, areas_to_scrape, load_areas,
                             resolve_settings, scrape_city)

A = "00A0A_aaaaaaaaaaa_0aa0aa_600x450.jpg"
B = "00A0A_bbbbbbbbbbb_0bb0bb_600x450.jpg"
C = "00B0B_ccccccccccc_0cc0cc_600x450.jpg"
D = "00C0C_ddddddddddd_0dd0dd_600x450.jpg"
F = "00E0E_fffffffffff_0ff0ff_600x450.jpg"
NH = "00D0D_eeeeeeeeeee_0ee0ee_600x450.jpg"
IMGLIST = ["00L0L_20Tz7LpfcXD_0dp0t2_600x450.jpg", "00m0m_kitchenXYZ01_0t20CI_600x450.jpg",
           "00n0n_bathroomQRS9_07K0ak_600x450.jpg"]
THUMBS = ["00p0p_livingRoom01_0CI0t2_600x450.jpg", "00q0q_bedroomView2_0CI0t2_600x450.jpg"]
LDJSON = ["00r0r_studioOnly77_0lM0t2_600x450.jpg"]
STATIC_LISTINGS = {
    "/boston/gbs/apa/d/bright-flat/7100000001.html": "listing_imglist.html",
    "/boston/gbs/apa/d/quiet-one-bedroom/7100000002.html": "listing_thumbs.html",
    "/boston/gbs/apa/d/single-photo-studio/7100000003.html": "listing_ldjson.html",
    "/boston/gbs/apa/d/expired-ad/7100000004.html": "listing_expired.html",
    "/boston/gbs/apa/d/deleted-ad/7100000005.html": "listing_deleted.html",
    "/boston/gbs/apa/d/private/7100000006.html": "listing_imglist.html",
}


def photos_on_disk(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.jpg"))


def partial_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.endswith(".part")]


def journal(folder: Path, name: str) -> dict:
    records = {}
    for line in (folder / ".scrape" / name).read_text().splitlines():
        record = json.loads(line)
        records[record.get("url") or record.get("file")] = record
    return records


def status(folder: Path) -> dict:
    return json.loads((folder / ".scrape" / "status.json").read_text())


def serve_static_area(site) -> None:
    site.robots = "User-agent: *\nDisallow: /boston/gbs/apa/d/private/\n"
    site.page("/boston/search/apa", "search_static.html")
    for path, source in STATIC_LISTINGS.items():
        site.page(path, source)


def test_result_rows_area_end_to_end_and_second_run_fetches_nothing(fake_craigslist, tmp_path):
    site = fake_craigslist
    site.page("/boston/search/apa", "search_result_rows.html")
    site.page("/boston/search/apa?hasPic=1&s=4", "search_result_rows_page2.html")
    out = tmp_path / "boston"
    manifest = scrape_city("boston", out, fast_settings(site, pages_per_area=2))

    assert photos_on_disk(out) == sorted([A, B, C, D, F])
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert list(manifest["file"]) == [A, B, C, D, F]
    # The nearby-area listing belongs to nh: not fetched, no folder for it.
    assert not any(NH in path for path in site.requests())
    assert sorted(path.name for path in tmp_path.iterdir()) == [".pacing", "boston"]
    # The photo cross-posted by listings 1 and 3 is fetched once and listed under listing 1.
    assert site.image_requests().count("/images/" + A) == 1
    rows = manifest.set_index("file")
    first = rows.loc[A]
    assert first["listing_url"] == site.url + "/boston/gbs/apa/d/sunny-two-bedroom/7000000001.html"
    assert (first["city"], first["post_id"], first["title"], first["price"], first["bedrooms"],
            first["sqft"], first["neighbourhood"], first["posted"]) == (
        "boston", "7000000001", "Sunny two bedroom near the park", 1850, 2, 900, "Back Bay",
        "2019-03-05 14:22")
    assert first["image_url"] == site.url + "/images/" + A
    assert rows.loc[D, "post_id"] == "7000000003"
    assert (rows.loc[F, "sqft"], rows.loc[F, "neighbourhood"]) == (1050, "South End")
    for name in [A, B, C, D, F]:
        expected = hashlib.sha256(photo_bytes(name)).hexdigest()
        assert rows.loc[name, "sha256"] == expected
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == expected
    on_disk = read_table(out / "listings.tsv")
    assert list(on_disk["file"]) == [A, B, C, D, F]
    assert list(on_disk["price"]) == [1850, 1850, 2400, 1200, 3100]
    assert partial_files(out) == []
    assert status(out)["status"] == "complete"

    requests_before = len(site.requests())
    again = scrape_city("boston", out, fast_settings(site, pages_per_area=2))
    assert len(site.requests()) == requests_before  # not even robots.txt
    assert again.equals(manifest)
    assert photos_on_disk(out) == sorted([A, B, C, D, F])


def test_static_area_opens_listings_and_records_every_outcome(fake_craigslist, tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    # The first listing moved: its old URL redirects.
    old = "/boston/gbs/apa/d/bright-flat/7100000001.html"
    moved = "/boston/gbs/apa/d/bright-flat-with-bay-window/7100000001.html"
    site.page(moved, STATIC_LISTINGS[old])
    site.redirects[old] = moved
    out = tmp_path / "boston"
    manifest = scrape_city("boston", out, fast_settings(site))

    assert list(manifest["file"]) == IMGLIST + THUMBS + LDJSON
    assert photos_on_disk(out) == sorted(IMGLIST + THUMBS + LDJSON)
    rows = manifest.set_index("file")
    bright = rows.loc[IMGLIST[0]]
    assert bright["listing_url"] == site.url + old
    assert (bright["title"], bright["price"], bright["bedrooms"], bright["sqft"],
            bright["neighbourhood"], bright["posted"], bright["post_id"]) == (
        "Bright flat with bay window", 2150, 2, 850, "Jamaica Plain",
        "2023-06-12T10:11:12-0400", "7100000001")
    assert (rows.loc[LDJSON[0], "bedrooms"], rows.loc[LDJSON[0], "sqft"]) == (0, 400)

    outcomes = {url.removeprefix(site.url): record["status"]
                for url, record in journal(out, "listings.jsonl").items()}
    assert outcomes == {
        old: "ok",
        "/boston/gbs/apa/d/quiet-one-bedroom/7100000002.html": "ok",
        "/boston/gbs/apa/d/single-photo-studio/7100000003.html": "ok",
        "/boston/gbs/apa/d/expired-ad/7100000004.html": "gone",
        "/boston/gbs/apa/d/deleted-ad/7100000005.html": "gone",
        "/boston/gbs/apa/d/private/7100000006.html": "disallowed",
        "/worcester/apa/d/triple-decker/7100000007.html": "foreign",
    }
    assert not any("/private/" in path or "/worcester/" in path for path in site.requests())
    assert status(out)["status"] == "complete"


def test_faults_are_retried_recorded_and_resumed(fake_craigslist, tmp_path):
    site = fake_craigslist
    site.slow_seconds = 0.6
    serve_static_area(site)
    site.fail("/boston/gbs/apa/d/quiet-one-bedroom/7100000002.html", "slow")
    site.fail("/images/" + IMGLIST[0], "status:503")
    site.fail("/images/" + THUMBS[0], "reset")
    site.fail("/images/" + IMGLIST[1], "truncate", times=3)  # beyond max_retries=2
    site.fail("/images/" + IMGLIST[2], "html", times=3)
    out = tmp_path / "boston"
    manifest = scrape_city("boston", out, fast_settings(site, timeout_seconds=0.3))

    assert list(manifest["file"]) == [IMGLIST[0]] + THUMBS + LDJSON
    assert photos_on_disk(out) == sorted([IMGLIST[0]] + THUMBS + LDJSON)
    assert partial_files(out) == []
    photos = journal(out, "photos.jsonl")
    assert (photos[IMGLIST[1]]["status"], photos[IMGLIST[1]]["reason"]) == ("error", "truncated")
    assert photos[IMGLIST[2]]["status"] == "not_an_image"
    assert site.image_requests().count("/images/" + IMGLIST[0]) == 2
    state = status(out)
    assert state["status"] == "incomplete"
    assert state["failures"] == {"photo:truncated": 1, "photo:not_an_image": 1}

    # A rerun retries only the transient failure; the non-image stays rejected.
    site.faults.clear()
    seen = len(site.requests())
    manifest = scrape_city("boston", out, fast_settings(site))
    assert site.requests()[seen:] == ["/robots.txt", "/images/" + IMGLIST[1]]
    assert sorted(manifest["file"]) == sorted(IMGLIST[:2] + THUMBS + LDJSON)
    assert status(out)["status"] == "complete"


def test_gallery_area_takes_photos_from_the_search_page(fake_craigslist, tmp_path):
    site = fake_craigslist
    site.page("/sfbay/search/apa", "search_gallery.html")
    out = tmp_path / "sfbay"
    manifest = scrape_city("sfbay", out, fast_settings(site))
    assert list(manifest["file"]) == ["00s0s_missionLoft1_0t20CI_600x450.jpg",
                                      "00s0s_missionLoft2_0t20CI_600x450.jpg",
                                      "00t0t_oaklandBung1_0t20CI_600x450.jpg"]
    assert list(manifest["price"]) == [3200, 3200, 2800]
    assert list(manifest["post_id"]) == ["7300000001", "7300000001", "7300000002"]
    assert not any(path.endswith(".html") for path in site.requests())


def test_2009_area(fake_craigslist, tmp_path):
    site = fake_craigslist
    site.page("/miami/search/apa", "search_2009.html")
    site.page("/miami/brw/apa/1129196334.html", "listing_2009.html")
    out = tmp_path / "miami"
    manifest = scrape_city("miami", out, fast_settings(site))
    assert list(manifest["file"]) == ["3n83o93mdZ5Y5V25X2a4a5b3b9d6a1e9a1e93.jpg",
                                      "3k23m13o9Z5V5U25Y3a4ab4bd8a3b1b1c12ab.jpg"]
    assert set(manifest["image_url"]) == {site.url + "/images/" + name for name in manifest["file"]}
    assert set(manifest["posted"]) == {"2009-03-02T23:19"}
    assert set(manifest["neighbourhood"]) == {"Dania Beach"}
    assert "/miami/brw/apa/1129196335.html" not in site.requests()  # no " pic": not opened


def test_blocked_area_stops_keeps_its_photos_and_resumes(fake_craigslist, tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    site.fail("/boston/gbs/apa/d/quiet-one-bedroom/7100000002.html", "block")
    out = tmp_path / "boston"
    with pytest.raises(AreaStopped, match="automatically blocked") as stopped:
        scrape_city("boston", out, fast_settings(site))
    assert stopped.value.status == "blocked"
    assert list(read_table(out / "listings.tsv")["file"]) == IMGLIST
    assert status(out)["status"] == "blocked"
    assert not any("single-photo-studio" in path for path in site.requests())

    manifest = scrape_city("boston", out, fast_settings(site))
    assert list(manifest["file"]) == IMGLIST + THUMBS + LDJSON
    assert all(site.image_requests().count("/images/" + name) == 1 for name in IMGLIST)
    assert site.requests().count("/boston/gbs/apa/d/bright-flat/7100000001.html") == 1
    assert status(out)["status"] == "complete"


def test_persistent_429_blocks_the_area(fake_craigslist, tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    site.fail("/images/" + THUMBS[0], "status:429,0", times=5)
    out = tmp_path / "boston"
    with pytest.raises(AreaStopped) as stopped:
        scrape_city("boston", out, fast_settings(site))
    assert stopped.value.status == "blocked" and "http_429" in str(stopped.value)
    assert list(read_table(out / "listings.tsv")["file"]) == IMGLIST


def test_block_page_instead_of_a_photo_blocks_the_area(fake_craigslist, tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    site.fail("/images/" + IMGLIST[1], "block")
    out = tmp_path / "boston"
    with pytest.raises(AreaStopped, match="automatically blocked"):
        scrape_city("boston", out, fast_settings(site))
    assert list(read_table(out / "listings.tsv")["file"]) == IMGLIST[:1]
    assert IMGLIST[1] not in journal(out, "photos.jsonl")  # not recorded: retried next run


def test_unknown_search_page_fails_naming_the_url(fake_craigslist, tmp_path):
    site = fake_craigslist
    site.page("/boston/search/apa", "search_unknown.html")
    out = tmp_path / "boston"
    with pytest.raises(AreaStopped, match=r"/boston/search/apa\?hasPic=1") as stopped:
        scrape_city("boston", out, fast_settings(site))
    assert stopped.value.status == "failed"
    assert "li.result-row" in str(stopped.value)
    assert len(read_table(out / "listings.tsv")) == 0
    assert status(out)["status"] == "failed"


def test_unrecognised_listing_pages_fail_loudly(fake_craigslist, tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    for path in STATIC_LISTINGS:
        site.page(path, "listing_unknown.html")
    with pytest.raises(AreaStopped, match="bright-flat/7100000001.html"):
        scrape_city("boston", tmp_path / "boston", fast_settings(site))


def test_one_odd_listing_page_is_recorded_not_fatal(fake_craigslist, tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    site.page("/boston/gbs/apa/d/quiet-one-bedroom/7100000002.html", "listing_unknown.html")
    out = tmp_path / "boston"
    manifest = scrape_city("boston", out, fast_settings(site))
    assert list(manifest["file"]) == IMGLIST + LDJSON
    record = journal(out, "listings.jsonl")[
        site.url + "/boston/gbs/apa/d/quiet-one-bedroom/7100000002.html"]
    assert (record["status"], record["reason"]) == ("error", "unrecognised_page")
    assert status(out)["status"] == "incomplete"


def test_empty_result_page_is_a_complete_area(fake_craigslist, tmp_path):
    site = fake_craigslist
    site.page("/boston/search/apa", "search_empty.html")
    out = tmp_path / "boston"
    manifest = scrape_city("boston", out, fast_settings(site))
    assert len(manifest) == 0 and list(manifest.columns) == MANIFEST_COLUMNS
    assert status(out)["status"] == "complete"


def test_areas_scraped_into_one_folder_share_the_pacing_of_a_host(fake_craigslist, tmp_path):
    # On the fake site every area is one host, as Craigslist's photos are for every area.
    site = fake_craigslist
    for area in ("boston", "sfbay"):
        site.page(f"/{area}/search/apa", "search_empty.html")
    settings = fast_settings(site, delay_seconds=0.4)
    scrape_city("boston", tmp_path / "boston", settings)
    scrape_city("sfbay", tmp_path / "sfbay", settings)  # another job: a client of its own
    assert site.requests() == ["/robots.txt", "/boston/search/apa?hasPic=1",
                               "/robots.txt", "/sfbay/search/apa?hasPic=1"]
    gaps = [later - earlier for earlier, later in zip(site.arrivals, site.arrivals[1:])]
    assert min(gaps) >= 0.4 - 0.005, gaps  # sfbay's first request waited for boston's last
    assert [path.name for path in (tmp_path / ".pacing").iterdir()] == [
        site.url.replace("://", "_").replace(":", "_")]


@pytest.mark.parametrize("query_max, expected", [(None, "2000"), (1500, "1500")])
def test_rent_caps_become_max_price(fake_craigslist, tmp_path, query_max, expected):
    site = fake_craigslist
    site.page("/boston/search/apa", "search_empty.html")
    caps = tmp_path / "caps.tsv"
    caps.write_text("area\tmax_price\nMA\t2000\nsfbay\t4000\n")
    settings = fast_settings(site, rent_caps_file=str(caps),
                             query={"max_price": query_max})
    scrape_city("boston", tmp_path / "boston", settings)
    assert site.requests("/boston/search") == [
        f"/boston/search/apa?hasPic=1&max_price={expected}"]


def test_area_list():
    areas = load_areas()
    assert list(areas.columns) == ["hostname", "name", "state"]
    assert len(areas) >= 400 and areas["hostname"].is_unique
    assert {"boston", "sfbay", "newyork", "chicago", "losangeles", "seattle"} <= set(
        areas["hostname"])
    assert areas_to_scrape({"areas": []})[0] == areas["hostname"][0]
    assert areas_to_scrape({"areas": ["boston", "sfbay"], "skip_areas_before": None}) == [
        "boston", "sfbay"]


def test_old_start_area_is_refused_in_one_sentence_not_obeyed():
    # It used to drop the areas before it, scraped or not, from the map without a word.
    for settings in ({"areas": ["boston", "sfbay", "miami"], "start_area": "sfbay"},
                     {"start_area": "sfbay"}):
        with pytest.raises(ValueError) as error:
            areas_to_scrape(settings)
        message = str(error.value)
        assert message.startswith("scrape.start_area is no longer read")
        assert "skip_areas_before" in message
        assert message.count(". ") == 0 and "\n" not in message  # one sentence
        with pytest.raises(ValueError, match="start_area is no longer read"):
            resolve_settings(settings)
    # An old config that copied the old default (null) keeps working.
    assert areas_to_scrape({"areas": ["boston", "sfbay"], "start_area": None}) == ["boston", "sfbay"]
    assert resolve_settings({"start_area": None})["site"] == resolve_settings({})["site"]


def test_skip_areas_before_says_which_areas_it_leaves_out(caplog):
    with caplog.at_level(logging.WARNING, logger="roomgrid.scrape.areas"):
        assert areas_to_scrape({"areas": ["boston", "denver", "sfbay", "miami"],
                                "skip_areas_before": "sfbay"}) == ["sfbay", "miami"]
    assert [record.getMessage() for record in caplog.records] == [
        "scrape.skip_areas_before=sfbay leaves 2 area(s) out of the scrape and the map: "
        "boston, denver"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="roomgrid.scrape.areas"):
        assert areas_to_scrape({"areas": ["boston", "sfbay"], "skip_areas_before": "boston"}) == [
            "boston", "sfbay"]
    assert not caplog.records  # nothing left out, nothing to say
    with pytest.raises(ValueError, match="skip_areas_before 'atlantis' is not among"):
        areas_to_scrape({"areas": ["boston"], "skip_areas_before": "atlantis"})


def test_settings_reject_unknown_keys():
    with pytest.raises(ValueError, match="delay_secnds"):
        resolve_settings({"delay_secnds": 1})
    assert resolve_settings({"query": {"query": "loft"}})["query"] == {
        "hasPic": 1, "query": "loft", "min_price": None, "max_price": None}


def test_killed_scrape_resumes_without_duplicates_or_losses(fake_craigslist, tmp_path):
    """SIGKILL a command-line scrape after some photos are on disk, then resume it."""
    site = fake_craigslist
    rows, names = [], []
    for number in range(8):
        ids = [f"00K0K_killTest{number}x{k}_0aa0aa" for k in range(3)]
        names += [f"{image}_600x450.jpg" for image in ids]
        rows.append(
            f'<li class="result-row" data-pid="71{number:08d}">'
            f'<a class="result-image gallery" data-ids="{",".join("3:" + i for i in ids)}"></a>'
            f'<a class="result-title hdrlnk" href="https://boston.craigslist.org/apa/d/flat-'
            f'{number}/71{number:08d}.html">Flat {number}</a></li>')
    site.page("/boston/search/apa", f'<ul class="rows">{"".join(rows)}</ul>'.encode())
    site.image_latency = 0.05
    settings_file = tmp_path / "config.yaml"
    settings_file.write_text(yaml.safe_dump({"source": {"kind": "scrape",
                                                         "scrape": fast_settings(site)}}))
    out = tmp_path / "boston"

    process = subprocess.Popen(
        [sys.executable, "-m", "roomgrid.scrape", "boston", str(out), "--settings",
         str(settings_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while len(photos_on_disk(out)) < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done_before_kill = photos_on_disk(out)
    assert 5 <= len(done_before_kill) < len(names)
    assert not (out / "listings.tsv").exists()

    site.image_latency = 0.0
    manifest = scrape_city("boston", out, fast_settings(site))
    assert sorted(manifest["file"]) == sorted(names) == photos_on_disk(out)
    assert manifest["file"].is_unique
    assert partial_files(out) == []
    for name in done_before_kill:  # finished before the kill: never fetched again
        assert site.image_requests().count("/images/" + name) == 1
    for name in names:
        assert (out / name).read_bytes() == photo_bytes(name)


def test_leftovers_of_a_killed_run_are_cleaned_or_adopted(fake_craigslist, tmp_path):
    """A temp file is removed; a finished but unrecorded photo is verified, not refetched."""
    site = fake_craigslist
    site.page("/boston/search/apa", "search_result_rows.html")
    out = tmp_path / "boston"
    out.mkdir()
    stale = out / f".{B}.k1lled.jpg.part"
    stale.write_bytes(photo_bytes(B)[:100])
    (out / A).write_bytes(photo_bytes(A))  # renamed into place, then killed before recording
    (out / C).write_bytes(b"\xff\xd8 garbage that is no JPEG")  # kept: never delete a photo
    manifest = scrape_city("boston", out, fast_settings(site))
    assert not stale.exists()
    assert "/images/" + A not in site.image_requests()
    assert "/images/" + C not in site.image_requests()
    assert list(manifest["file"]) == [A, B, D]
    assert manifest.set_index("file").loc[A, "sha256"] == hashlib.sha256(photo_bytes(A)).hexdigest()
    assert (out / C).read_bytes() == b"\xff\xd8 garbage that is no JPEG"
    assert journal(out, "photos.jsonl")[C]["reason"] == "existing_file_not_an_image"
    assert status(out)["status"] == "incomplete"


def test_command_line_exit_status(fake_craigslist, tmp_path, capsys):
    site = fake_craigslist
    site.page("/boston/search/apa", "search_result_rows.html")
    site.page("/sfbay/search/apa", "blocked.html")
    settings_file = tmp_path / "scrape.yaml"
    settings_file.write_text(yaml.safe_dump(fast_settings(site)))  # a bare scrape section
    assert main(["boston", str(tmp_path / "boston"), "--settings", str(settings_file)]) == 0
    assert "boston: 4 photos" in capsys.readouterr().out
    assert main(["sfbay", str(tmp_path / "sfbay"), "--settings", str(settings_file)]) == 2
    # the installed command does the same
    assert roomgrid_command(["scrape", "boston", str(tmp_path / "again"), "--settings",
                             str(settings_file)]) == 0
    assert "boston: 4 photos" in capsys.readouterr().out
    assert roomgrid_command(["scrape", "sfbay", str(tmp_path / "sfbay2"), "--settings",
                             str(settings_file)]) == 2


def test_rerun_of_an_incomplete_area_exits_0_and_fetches_only_what_is_missing(
        fake_craigslist, tmp_path):
    """One odd Craigslist listing page: incomplete, and still incomplete (not failed) when a rerun
    retries just that page, because the verdict covers the whole journal."""
    site = fake_craigslist
    serve_static_area(site)
    odd = "/boston/gbs/apa/d/quiet-one-bedroom/7100000002.html"
    site.page(odd, "listing_unknown.html")
    settings_file = tmp_path / "scrape.yaml"
    settings_file.write_text(yaml.safe_dump(fast_settings(site)))
    out = tmp_path / "boston"
    command = ["boston", str(out), "--settings", str(settings_file)]
    assert main(command) == 0
    assert status(out)["status"] == "incomplete"
    manifest = read_table(out / "listings.tsv")
    assert list(manifest["file"]) == IMGLIST + LDJSON

    for _ in range(2):
        seen = len(site.requests())
        assert main(command) == 0
        assert site.requests()[seen:] == ["/robots.txt", odd]
        assert status(out)["status"] == "incomplete"
        assert status(out)["journal"]["listings"] == {"ok": 2, "gone": 2, "disallowed": 1,
                                                      "foreign": 1, "error": 1}
        assert read_table(out / "listings.tsv").equals(manifest)

    # Once the page reads as a listing, the area completes, fetching only that listing's photos.
    site.page(odd, STATIC_LISTINGS[odd])
    seen = len(site.requests())
    assert main(command) == 0
    assert site.requests()[seen:] == ["/robots.txt", odd] + ["/images/" + name for name in THUMBS]
    assert status(out)["status"] == "complete"


def test_another_sites_page_at_a_listing_url_is_recorded_and_skipped(fake_craigslist, tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    other = "/boston/gbs/apa/d/quiet-one-bedroom/7100000002.html"
    site.page(other, "listing_other_site.html")
    out = tmp_path / "boston"
    manifest = scrape_city("boston", out, fast_settings(site))
    assert list(manifest["file"]) == IMGLIST + LDJSON
    record = journal(out, "listings.jsonl")[site.url + other]
    assert (record["status"], record["opened"]) == ("not_a_listing", True)
    assert "no mention of craigslist" in record["detail"]
    assert status(out)["status"] == "complete"
    assert status(out)["failures"] == {"listing:not_a_listing": 1}

    seen = len(site.requests())
    assert scrape_city("boston", out, fast_settings(site)).equals(manifest)
    assert site.requests()[seen:] == []  # settled: not retried, not even robots.txt


def test_area_whose_listing_pages_were_never_understood_stays_failed(fake_craigslist, tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    for path in STATIC_LISTINGS:
        site.page(path, "listing_unknown.html")
    out = tmp_path / "boston"
    for _ in range(2):
        with pytest.raises(AreaStopped, match="none of the 5 listing pages") as stopped:
            scrape_city("boston", out, fast_settings(site))
        assert stopped.value.status == "failed"
        assert status(out)["status"] == "failed"


def test_listings_settled_from_the_search_page_do_not_vouch_for_listing_pages(
        fake_craigslist, tmp_path):
    site = fake_craigslist
    site.page("/miami/search/apa", "search_2009.html")  # one row with " pic", one without
    site.page("/miami/brw/apa/1129196334.html", "listing_unknown.html")
    out = tmp_path / "miami"
    with pytest.raises(AreaStopped, match="1129196334.html") as stopped:
        scrape_city("miami", out, fast_settings(site))
    assert stopped.value.status == "failed"
    records = journal(out, "listings.jsonl")
    assert [(record["status"], record["opened"]) for record in records.values()] == [
        ("error", True), ("ok", False)]


def test_2009_recording_flagged_posting_map_heading_and_mirrored_photos(fake_craigslist,
                                                                         tmp_path):
    """A recorded 2009 area: its photos point at the recording, not images.craigslist.org."""
    site = fake_craigslist
    site.page("/miami/search/apa", "search_2009_separators.html")
    site.page("/miami/brw/apa/1129196400.html", "listing_2009_flagged.html")
    recorded = (PAGES / "listing_2009_map.html").read_bytes().replace(
        b"http://images.craigslist.org", (site.url + "/images").encode())
    site.page("/miami/brw/apa/1129196401.html", recorded)
    out = tmp_path / "miami"
    manifest = scrape_city("miami", out, fast_settings(site))

    name = "3m53k63p9Z5V5W25Y2a4cbd12f7a3a2e01a9b.jpg"
    assert list(manifest["file"]) == [name]
    row = manifest.iloc[0]
    assert (row["title"], row["price"], row["bedrooms"], row["neighbourhood"], row["image_url"]) \
        == ("Nice apartment in Sunrise", 1100, 2, "Sunrise", site.url + "/images/" + name)
    outcomes = {url.removeprefix(site.url): (record["status"], record.get("reason"))
                for url, record in journal(out, "listings.jsonl").items()}
    assert outcomes["/miami/brw/apa/1129196400.html"] == (
        "gone", "this posting has been flagged for removal")
    assert outcomes["/miami/brw/apa/1129196403.html"] == ("ok", None)  # no " pic": not opened
    assert status(out)["status"] == "complete"


def test_2023_gallery_area_keeps_the_neighbourhood(fake_craigslist, tmp_path):
    site = fake_craigslist
    site.page("/boston/search/apa", "search_gallery_2023.html")
    manifest = scrape_city("boston", tmp_path / "boston", fast_settings(site))
    assert list(zip(manifest["file"], manifest["neighbourhood"].fillna(""))) == [
        ("00u0u_peabodySquare1_0t20CI_600x450.jpg", "Peabody"),
        ("00v0v_studioPond01_0t20CI_600x450.jpg", "")]

