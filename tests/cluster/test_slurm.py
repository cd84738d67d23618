"""`snakemake --profile profiles/slurm` builds the demo map through a private one-node Slurm cluster
(see conftest.py). One run is shared by the tests of this module."""

import re
import subprocess

import pytest
import yaml

from workflow_helpers import REPO, small_demo_config, snakemake_command

pytestmark = pytest.mark.cluster

CITIES = ["alpha", "beta", "gamma"]
CONFIG = small_demo_config(CITIES, 16, n_components=20, perplexity=5, n_iter=250)
# The demo's DAG puts ~25 Slurm jobs one after another (submission and status polls each); the
# run takes about 4 min on a quiet 2-core machine, so 270 s failed under load.
RUN_TIMEOUT_S = 480


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory):
    """(work dir, snakemake's output, the cluster's jobs) after one complete run."""
    workdir = tmp_path_factory.mktemp("slurm_workflow")
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    command = snakemake_command(
        workdir, "--profile", str(REPO / "profiles/slurm"),
        "--cores", str(slurm_cluster.cpus),  # no job or group may ask for more than the node has
        "--slurm-init-seconds-before-status-checks", "2",  # these jobs take seconds, not hours
        "--seconds-between-status-checks", "2",
        "--slurm-keep-successful-logs")
    env = {**slurm_cluster.env, "ROOMGRID_SLURM_PARTITION": slurm_cluster.partition}
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    said = done.stdout + done.stderr
    if done.returncode != 0:
        raise AssertionError(f"snakemake --profile profiles/slurm failed:\n{said[-8000:]}")
    return workdir, said, slurm_cluster.jobs()


def finished_rules(said):
    return re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", said)


def test_the_map_is_built(slurm_run):
    workdir, _, _ = slurm_run
    for city in CITIES:
        assert (workdir / "results/cities" / city / "stacks.h5").stat().st_size > 0
    assert "leaflet" in (workdir / "results/viewer/index.html").read_text().lower()
    assert (workdir / "results/viewer/tiles/tiles.json").stat().st_size > 0
    assert (workdir / "results/viewer/tiles/0/0/0.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG


def test_every_job_ran_through_slurm_in_the_chosen_partition(slurm_run):
    workdir, said, jobs = slurm_run
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", said))
    assert submitted and submitted == {job["id"] for job in jobs}
    assert {job["state"] for job in jobs} == {"COMPLETED"}
    assert {job["partition"] for job in jobs} == {"roomgrid"}  # ROOMGRID_SLURM_PARTITION, not the default
    remote_rules = set(finished_rules(said)) - {"all"}
    assert {"scan_city", "embed_tsne", "render_tiles", "build_viewer"} <= remote_rules
    for rule in remote_rules:
        assert any(rule in job["comment"] for job in jobs), f"{rule} never reached Slurm"
    logs = {path.stem for path in (workdir / ".snakemake/slurm_logs").rglob("*.log")}
    assert submitted <= logs


def test_per_city_jobs_share_one_slurm_job(slurm_run):
    _, said, jobs = slurm_run
    rules = finished_rules(said)
    assert rules.count("scan_city") == len(CITIES) > 1
    city_jobs = [job for job in jobs if "scan_city" in job["comment"]]
    assert len(city_jobs) == 1
    assert len(jobs) < len(rules) - 1  # fewer Slurm jobs than Snakemake jobs (without the local `all`)
