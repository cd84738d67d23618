"""A local run's scheduling rounds follow its jobs: Snakemake's process books no timed re-rounds.

Snakemake's job pacing (``--max-jobs-per-timespan``) starts a one-second timer thread after every
round that leaves jobs waiting, and each job that ends starts another chain of them; with many
cities queued the threads pile up and the rounds take a share of the cores from the jobs.
``common.smk`` drops the pacing of a local run (``drop_local_pacing``). If a Snakemake release
moves what it sets, the threads pile up again and this test fails.
"""

import subprocess
import time

import psutil
import pytest
import yaml

from workflow_helpers import small_demo_config, snakemake_command

pytestmark = pytest.mark.workflow

CITIES = [f"town{i:02d}" for i in range(12)]


def run_sampling_threads(command) -> tuple[int, str]:
    """Run ``command``; return the most threads its process held at once, and its output."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched = psutil.Process(process.pid)
    most = 0
    while process.poll() is None:
        try:
            most = max(most, watched.num_threads())
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    output = process.stdout.read()
    assert process.wait() == 0, output[-4000:]
    return most, output


def test_a_local_run_keeps_no_timer_threads_while_jobs_queue(tmp_path):
    config = small_demo_config(CITIES, 8, n_components=4, perplexity=5, n_iter=250)
    config["features"] = {"kind": "stacks"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    # One core for 24 per-city jobs (a demo city's photos, then its scan): the queue is never
    # empty until the last scans.
    # The named target `scans`: every city made and scanned, nothing global.
    most, output = run_sampling_threads(snakemake_command(tmp_path, "--cores", "1", "scans"))
    assert output.count("Finished jobid") >= 2 * len(CITIES)
    for city in CITIES:
        for name in ("photos.tsv", "scan.tsv", "stacks.h5", "thumbs.h5"):
            assert (tmp_path / "results" / "cities" / city / name).is_file(), (city, name)
    assert not (tmp_path / "results" / "selection").exists(), "a global stage ran"
    # Main thread, the job's worker thread, its benchmark timer and a few of Snakemake's own;
    # with the pacing on, one more timer thread per job that ended while others waited (~30).
    assert most <= 10, f"Snakemake's process held {most} threads at once"
    assert "scheduling rounds follow the jobs" in output
