"""CI's checks of the workflow source (``make lint``): snakefmt formatting and Snakemake's linter
on the tiny .test/ config, whose dry run must plan every stage."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_helpers import REPO, SNAKEMAKE

pytestmark = pytest.mark.workflow
TEST_CONFIG = REPO / ".test/config/config.yaml"


def tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    assert path, f"{name} not found: install the test extra (pip install -e '.[test]')"
    return path


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_rule_files_are_formatted():
    done = run(tool("snakefmt"), "--check", "Snakefile", "workflow/rules")
    assert done.returncode == 0, done.stdout + done.stderr


def test_snakemake_lint_passes(tmp_path):
    done = run(SNAKEMAKE, "--lint", "--directory", str(tmp_path), "--configfile", str(TEST_CONFIG))
    assert done.returncode == 0 and "good condition" in done.stdout + done.stderr, done.stdout + done.stderr


def test_the_test_config_plans_every_stage(tmp_path):
    done = run(SNAKEMAKE, "-n", "--directory", str(tmp_path), "--configfile", str(TEST_CONFIG))
    assert done.returncode == 0, done.stderr[-3000:]
    plan = done.stdout + done.stderr
    for rule in ("make_demo_city", "reduce_pca", "embed_tsne", "assign_grid", "render_tiles",
                 "build_viewer", "plot_layout"):
        assert f"rule {rule}:" in plan or f"checkpoint {rule}:" in plan, rule
