"""Config and data errors stop the workflow with one sentence, not a traceback."""

import subprocess

import pytest
import yaml

from workflow_helpers import snakemake_command

pytestmark = pytest.mark.workflow


def run(workdir, *args):
    done = subprocess.run(snakemake_command(workdir, "--cores", "1", *args), capture_output=True,
                          text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def folder_config(workdir, images, **folder):
    config = {"source": {"kind": "folder", "folder": {"images_dir": str(images), "cities": [],
                                                      "metadata_csv": None, **folder}}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def photos(folder, room, make_jpeg, n, start=0):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (folder / f"{i}.jpg").write_bytes(make_jpeg(room(i)))


def test_an_images_folder_without_city_folders_says_so(tmp_path, room, make_jpeg):
    images = tmp_path / "images"
    photos(images, room, make_jpeg, 2)  # photos, but not in a city folder
    folder_config(tmp_path, images)
    code, said = run(tmp_path, "-n")
    assert code != 0
    assert f"no city found in {images}" in said and "the 2 images lying directly in it" in said
    assert "Traceback" not in said


def test_a_listed_city_without_a_folder_is_named(tmp_path, room, make_jpeg):
    images = tmp_path / "images"
    photos(images / "boston", room, make_jpeg, 4)
    folder_config(tmp_path, images, cities=["boston", "atlantis"])
    code, said = run(tmp_path, "-n")
    assert code != 0 and "source.folder.cities lists 'atlantis'" in said
    assert "MissingInputException" not in said


@pytest.mark.parametrize("n", [1, 3])
def test_too_few_photos_stop_before_any_job(tmp_path, room, make_jpeg, n):
    images = tmp_path / "images"
    photos(images / "boston", room, make_jpeg, n)
    folder_config(tmp_path, images)
    code, said = run(tmp_path, "-n")
    assert code != 0 and f"only {n} image file(s) in boston" in said
    assert "the map needs at least 4 photos" in said


def test_when_exclusions_leave_too_few_photos_the_run_says_why_and_keeps_the_table(tmp_path, room,
                                                                                   make_jpeg):
    images = tmp_path / "images"
    photos(images / "boston", room, make_jpeg, 5)
    (tmp_path / "exclude.txt").write_text("boston/[1-4].jpg\n")
    folder_config(tmp_path, images)
    with open(tmp_path / "config.yaml", "a") as handle:
        handle.write(yaml.safe_dump({"exclude": {"list_file": str(tmp_path / "exclude.txt")}}))
    code, said = run(tmp_path, "results/embedding/pca.h5")
    assert code != 0
    assert ("Error: only 1 of 5 files can be placed, and the map needs at least 4 photos "
            "(not placed: 4 excluded)") in said  # in Snakemake's own output, not only in the log
    assert (tmp_path / "results/selection/photos.tsv").exists()
