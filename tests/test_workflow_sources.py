"""What makes a city's photo table stale, run by snakemake in a temporary directory: the content
of its photos, not the time stamps of the folder that holds them."""

import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

from roomgrid.core.io import read_table
from workflow_helpers import small_demo_config, snakemake_command

pytestmark = pytest.mark.workflow

CITIES = ("boston", "denver")
TABLES = [f"results/cities/{city}/photos.tsv" for city in CITIES]


def snakemake(workdir, *args):
    done = subprocess.run(snakemake_command(workdir, "--cores", "1", *args), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def planned_index_jobs(workdir):
    """The cities whose job indexing them (scan_city) a dry run for the photo tables would run."""
    said = snakemake(workdir, "-n", *TABLES)
    return set(re.findall(r"rule scan_city:.*?wildcards: city=(\w+)", said, re.S))


@pytest.fixture
def indexed(tmp_path, room, make_jpeg):
    """A folder source of two cities, both indexed."""
    images = tmp_path / "images"
    for c, city in enumerate(CITIES):
        (images / city).mkdir(parents=True)
        for i in range(3):
            (images / city / f"{i}.jpg").write_bytes(make_jpeg(room(10 * c + i)))
    config = {"source": {"kind": "folder", "folder": {"images_dir": str(images), "cities": [],
                                                      "metadata_csv": None}},
              "features": {"kind": "stacks"}}  # the tables are the point here, not the network
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, *TABLES)
    assert planned_index_jobs(tmp_path) == set()
    return images


def test_a_city_folder_replaced_by_a_copy_of_itself_reruns_nothing(indexed):
    # as a "sync to a new folder, then swap" leaves it: the same bytes in new files (new times,
    # new inodes) in a new folder, whose modification time is later than every output's
    copy = indexed / ".boston.new"
    shutil.copytree(indexed / "boston", copy, copy_function=shutil.copyfile)
    later = time.time() + 60
    os.utime(copy, (later, later))
    os.rename(indexed / "boston", indexed / ".boston.old")
    os.rename(copy, indexed / "boston")
    shutil.rmtree(indexed / ".boston.old")
    assert planned_index_jobs(indexed.parent) == set()


def test_a_file_coming_and_going_reruns_nothing_but_a_new_photo_reruns_its_city(indexed, room,
                                                                                make_jpeg):
    (indexed / "denver" / "partial.tmp").write_bytes(b"x")  # e.g. a copy tool's temporary file
    (indexed / "denver" / "partial.tmp").unlink()
    later = time.time() + 60
    os.utime(indexed / "denver", (later, later))
    assert planned_index_jobs(indexed.parent) == set()
    (indexed / "denver" / "3.jpg").write_bytes(make_jpeg(room(99)))
    assert planned_index_jobs(indexed.parent) == {"denver"}


def test_snakemakes_timestamp_file_is_not_a_row_of_the_demo_index(tmp_path):
    config = small_demo_config(["alpha", "beta"], 8, n_components=4, perplexity=2, n_iter=250)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "results/cities/alpha/photos.tsv")
    assert (tmp_path / "resources/demo/alpha/.snakemake_timestamp").exists()
    files = set(read_table(tmp_path / "results/cities/alpha/photos.tsv")["file"])
    assert files and ".snakemake_timestamp" not in files


def test_names_that_are_not_utf8_neither_stop_the_run_nor_break_its_tables(tmp_path, room,
                                                                          make_jpeg):
    images = tmp_path / "images"
    for c, city in enumerate(CITIES):
        (images / city).mkdir(parents=True)
        for i in range(3):
            (images / city / f"{i}.jpg").write_bytes(make_jpeg(room(10 * c + i)))
    with open(os.fsencode(images / "boston") + b"/r\xe9sum\xe9.jpg", "wb") as handle:
        handle.write(make_jpeg(room(99)))
    config = {"source": {"kind": "folder", "folder": {"images_dir": str(images), "cities": [],
                                                      "metadata_csv": None}},
              "features": {"kind": "stacks"}}  # the tables are the point here, not the network
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, *TABLES)
    boston = read_table(tmp_path / TABLES[0]).set_index("file")
    assert boston.loc["r\\xe9sum\\xe9.jpg", "skip_reason"] == "file name is not UTF-8 text (rename it)"
    # a city folder so named cannot name its results: one sentence, before any job
    os.rename(images / "denver", os.fsencode(images) + b"/d\xe9nver")
    done = subprocess.run(snakemake_command(tmp_path, "--cores", "1", "-n"), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode != 0 and "Traceback" not in done.stderr and 'File "' not in done.stderr
    assert done.stderr.rstrip().endswith(
        f"Error: rename the city folder(s) d\\xe9nver in {images}: not UTF-8 text")


def test_a_metadata_csv_counts_by_its_content_too(indexed):
    workdir = indexed.parent
    table = workdir / "listings.csv"
    # Snakemake itself compares the checksums of inputs up to 1 MB; a real collection's is larger
    others = "".join(f"elsewhere/{i}.jpg,{1000 + i % 3000}\n" for i in range(60_000))

    def write(price):
        table.write_text(f"file,price\nboston/0.jpg,{price}\n{others}")

    write(1850)
    assert table.stat().st_size > 1_000_000
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["source"]["folder"]["metadata_csv"] = str(table)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, *TABLES)
    assert read_table(workdir / TABLES[0]).set_index("file").loc["0.jpg", "price"] == 1850
    # written again with the same content (an export run again, a copy): nothing to do
    write(1850)
    later = time.time() + 60
    os.utime(table, (later, later))
    assert planned_index_jobs(workdir) == set()
    write(1900)
    assert planned_index_jobs(workdir) == set(CITIES)
