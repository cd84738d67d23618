"""The scrape source inside the workflow: one job per area, metadata carried to the photo table,
and adding an area scrapes only that area."""

import re
import subprocess

import pytest
import yaml

from fakesite import fast_settings
from roomgrid.io import read_table
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
