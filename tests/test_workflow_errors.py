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


def stops_with_one_sentence(workdir, config_text):
    """Run ``snakemake -n`` on a config file written as a user would type it; return its error
    line after checking it is the only thing said about the problem (no traceback)."""
    (workdir / "config.yaml").write_text(config_text)
    done = subprocess.run(snakemake_command(workdir, "--cores", "1", "-n"), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and 'File "' not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "rror" in line]
    assert len(errors) == 1 and done.stderr.rstrip().endswith(errors[0])
    return errors[0]


@pytest.mark.parametrize("written, read", [("36372", 36372), ("01234", 668)])
def test_a_folder_name_yaml_reads_as_a_number_is_named_in_one_sentence(tmp_path, room, make_jpeg,
                                                                      written, read):
    images = tmp_path / "images"
    photos(images / written, room, make_jpeg, 4)
    said = stops_with_one_sentence(
        tmp_path, f"source:\n  kind: folder\n  folder:\n    images_dir: {images}\n"
                  f"    cities: [{written}]\n")
    assert said.startswith("Error: invalid configuration: config key source.folder.cities.0: "
                           f"YAML read {read} as a number, not text: put it in quotes, as in '02134'")


def test_a_quoted_numeric_folder_name_is_a_city(tmp_path, room, make_jpeg):
    images = tmp_path / "images"
    photos(images / "01234", room, make_jpeg, 4)
    (tmp_path / "config.yaml").write_text(
        f"source:\n  kind: folder\n  folder:\n    images_dir: {images}\n    cities: ['01234']\n")
    code, said = run(tmp_path, "-n", "results/cities/01234/photos.tsv")
    assert code == 0, said
    assert "scan_city" in said


@pytest.mark.parametrize("source", [
    "kind: folder\n  folder:\n    images_dir: {images}\n    cities: [boston, denver, boston]",
    "kind: scrape\n  scrape:\n    areas: [boston, denver, boston]",
    "kind: demo\n  demo:\n    cities: [boston, denver, boston]"])
def test_a_city_listed_twice_is_refused_at_start(tmp_path, room, make_jpeg, source):
    images = tmp_path / "images"
    for city in ("boston", "denver"):
        photos(images / city, room, make_jpeg, 4)
    said = stops_with_one_sentence(tmp_path, "source:\n  " + source.format(images=images) + "\n")
    assert said.startswith("Error: invalid configuration: config key source.")
    assert said.endswith(": 'boston' listed more than once")


def test_a_folder_source_error_has_no_traceback(tmp_path):
    said = stops_with_one_sentence(
        tmp_path, f"source:\n  kind: folder\n  folder:\n    images_dir: {tmp_path / 'none'}\n")
    assert said == f"Error: source.folder.images_dir {tmp_path / 'none'} is not a folder"


def test_cuda_with_the_openvino_runtime_is_refused_at_start(tmp_path):
    said = stops_with_one_sentence(
        tmp_path, "features:\n  cnn:\n    device: cuda\n    runtime: openvino\n")
    assert said == ("Error: features.cnn.device cuda runs on onnxruntime: set "
                    "features.cnn.runtime: onnxruntime")
