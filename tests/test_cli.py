"""The ``roomgrid`` command that pyproject.toml installs."""

import importlib
import re
import subprocess
import sys
import tomllib
import urllib.request

import pytest
import yaml

from roomgrid import cli
from workflow_helpers import REPO, small_demo_config


def test_the_console_script_entry_point_exists():
    target = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["roomgrid"]
    module, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_demo_runs_snakemake_on_the_workflow(tmp_path):
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(
        small_demo_config(["alpha", "beta"], 12, n_components=5, perplexity=3, n_iter=100)))
    done = subprocess.run(
        [sys.executable, "-m", "roomgrid.cli", "demo", "--directory", str(tmp_path), "--cores", "1",
         "--", "-n", "--configfile", str(tmp_path / "small.yaml")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    plan = done.stdout + done.stderr
    assert "make_demo_city" in plan and "render_tiles" in plan and "build_viewer" in plan


def test_serve_answers_on_localhost_only(tmp_path):
    (tmp_path / "index.html").write_text("<title>map</title>")
    server = subprocess.Popen([sys.executable, "-m", "roomgrid.cli", "serve", "--directory",
                               str(tmp_path), "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url + "index.html", timeout=10) as response:
            assert response.read() == b"<title>map</title>"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_without_a_built_map_says_what_to_do(tmp_path, capsys):
    assert cli.main(["serve", "--directory", str(tmp_path / "missing")]) == 1
    assert "roomgrid demo" in capsys.readouterr().err


def test_scrape_takes_the_scraper_arguments(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["scrape", "--help"])
    assert stopped.value.code == 0
    usage = capsys.readouterr().out
    assert "area" in usage and "out_dir" in usage and "--settings" in usage
