"""The scrape source inside the workflow: one job per area, metadata carried to the photo table,
adding an area scrapes only that area, and failed or forced jobs lose nothing."""

import json
import re
import subprocess

import pytest
import yaml

from fakesite import fast_settings
from roomgrid.core.io import read_table
from test_city import serve_static_area
from workflow_helpers import snakemake_command

pytestmark = pytest.mark.workflow

def snakemake(workdir, *args):
    command = snakemake_command(workdir, "--cores", "2", *args)
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def configure(workdir, site, areas):
    settings = fast_settings(site, areas=areas)
    (workdir / "config.yaml").write_text(yaml.safe_dump({"source": {"kind": "scrape", "scrape": settings}}))


def test_scraped_areas_flow_into_the_photo_tables(fake_craigslist, tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    site.page("/sfbay/search/apa", "search_gallery.html")
    configure(tmp_path, site, ["boston"])
    snakemake(tmp_path, "results/selection/photos.tsv")

    photos = read_table(tmp_path / "results/selection/photos.tsv")
    assert set(photos["city"]) == {"boston"}
    manifest = read_table(tmp_path / "resources/scraped/boston/listings.tsv")
    assert sorted(photos["file"]) == sorted(manifest["file"]) and len(manifest) >= 3
    joined = photos.set_index("file").loc[manifest["file"]]
    assert list(joined["listing_url"]) == list(manifest["listing_url"])
    assert joined["price"].notna().all()
    assert (photos["status"] == "ok").all()

    configure(tmp_path, site, ["boston", "sfbay"])
    plan = snakemake(tmp_path, "-n", "results/selection/photos.tsv")
    planned = set(re.findall(r"(?:rule|checkpoint) (\w+):\n(?:.*\n)*?\s+wildcards: city=(\w+)", plan))
    assert ("scrape_city", "sfbay") in planned
    assert not any(city == "boston" for _, city in planned), plan

    before = len(site.requests("/boston"))
    snakemake(tmp_path, "results/selection/photos.tsv")
    assert len(site.requests("/boston")) == before  # the finished area is not fetched again
    photos = read_table(tmp_path / "results/selection/photos.tsv")
    assert set(photos["city"]) == {"boston", "sfbay"}
    assert (photos.loc[photos["city"] == "sfbay", "price"].astype(float) > 0).all()


def test_failed_or_forced_scrape_job_keeps_the_areas_manifest_and_photos(fake_craigslist,
                                                                         tmp_path):
    site = fake_craigslist
    serve_static_area(site)
    missing = "/images/00m0m_kitchenXYZ01_0t20CI_600x450.jpg"
    site.fail(missing, "truncate", times=3)  # beyond max_retries: recorded for the next run
    configure(tmp_path, site, ["boston"])
    target = "resources/scraped/boston/listings.tsv"
    area = tmp_path / "resources/scraped/boston"

    # Blocked before it ever finished: no manifest, so the area is never taken for complete.
    site.fail("/boston/search/apa", "block")
    failed = subprocess.run(snakemake_command(tmp_path, "--cores", "1", target),
                            capture_output=True, text=True, timeout=600)
    assert failed.returncode != 0 and not (area / "listings.tsv").exists()
    assert json.loads((area / ".scrape/status.json").read_text())["status"] == "blocked"

    snakemake(tmp_path, target)  # resumes; one photo stays missing (incomplete)
    manifest = (area / "listings.tsv").read_text()
    photos = sorted(path.name for path in area.glob("*.jpg"))
    assert len(photos) == 5 and len(read_table(area / "listings.tsv")) == 5

    # A forced rerun meets a block page where the missing photo should be: the job fails.
    site.fail(missing, "block")
    failed = subprocess.run(snakemake_command(tmp_path, "--cores", "1", target, "--forcerun",
                                              "scrape_city"),
                            capture_output=True, text=True, timeout=600)
    assert failed.returncode != 0
    assert (area / "listings.tsv").read_text() == manifest  # the last good manifest stays
    assert sorted(path.name for path in area.glob("*.jpg")) == photos

    # Once unblocked, a forced run fetches just the missing photo and completes the manifest.
    seen = len(site.requests())
    snakemake(tmp_path, target, "--forcerun", "scrape_city")
    assert site.requests()[seen:] == ["/robots.txt", missing]
    assert len(read_table(area / "listings.tsv")) == 6


def test_old_start_area_stops_the_workflow_in_one_sentence_and_skipping_is_named(
        fake_craigslist, tmp_path):
    configure(tmp_path, fake_craigslist, ["boston", "sfbay"])
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["source"]["scrape"]["start_area"] = "sfbay"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run(snakemake_command(tmp_path, "--cores", "1", "-n"), capture_output=True,
                          text=True, timeout=600)
    said = done.stdout + done.stderr
    assert done.returncode != 0 and "scrape.start_area is no longer read" in said
    assert "Traceback" not in said

    del config["source"]["scrape"]["start_area"]
    config["source"]["scrape"]["skip_areas_before"] = "sfbay"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(tmp_path, "-n", "results/selection/photos.tsv")
    assert "leaves 1 area(s) out of the scrape and the map: boston" in plan
    planned = set(re.findall(r"checkpoint scrape_city:\n(?:.*\n)*?\s+wildcards: city=(\w+)", plan))
    assert planned == {"sfbay"}
