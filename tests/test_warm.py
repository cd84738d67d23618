"""The warm process that runs the per-city jobs as forks of itself (roomgrid.core.warm)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from roomgrid.core import warm

PROBES = textwrap.dedent('''
    import os, sys

    def write(job):
        """Write what the job says, tell stderr, and say which process did it."""
        with open(job["out"], "w") as handle:
            handle.write(f"{job['text']} {os.getpid()} {os.getppid()}")
        print(f"wrote {job['out']}", file=sys.stderr, flush=True)

    def fail(job):
        raise ValueError("the input has no rows")

    def die(job):
        os._exit(9)
''')

CLIENT = textwrap.dedent('''
    import pickle, sys
    from roomgrid.core import warm
    try:
        warm.run(pickle.dumps(eval(sys.argv[2])), sys.argv[1])
    except warm.JobFailed as exc:
        print(f"client: {exc}", file=sys.stderr)
        sys.exit(1)
''')


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "probes.py").write_text(PROBES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROOMGRID_WARM", "1")
    yield tmp_path
    for sock in (tmp_path / warm.FOLDER).glob("*.sock"):  # let the server go at once
        pid_file = sock.with_suffix(".pid")
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), 15)


def client(runner: str, job: dict) -> subprocess.CompletedProcess:
    """A job's own process, as Snakemake starts it: a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", CLIENT, runner, repr(job)], capture_output=True,
                          text=True, timeout=120)


def test_jobs_run_in_forks_of_one_server_with_their_own_stderr(workdir):
    first = client("probes:write", {"out": "a.txt", "text": "alpha"})
    second = client("probes:write", {"out": "b.txt", "text": "beta"})
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "wrote a.txt" in first.stderr and "wrote b.txt" in second.stderr
    text_a, child_a, server_a = (workdir / "a.txt").read_text().split()
    text_b, child_b, server_b = (workdir / "b.txt").read_text().split()
    assert (text_a, text_b) == ("alpha", "beta")
    assert server_a == server_b  # one warm server ...
    assert child_a != child_b  # ... forking a child per job
    assert list((workdir / warm.FOLDER).glob("*.sock")) == \
        [workdir / warm.FOLDER / f"{warm.server_key()}.sock"]


def test_a_failing_job_fails_its_own_process_with_the_reason(workdir):
    done = client("probes:fail", {})
    assert done.returncode == 1
    assert "client: ValueError: the input has no rows" in done.stderr
    assert "Traceback" in done.stderr  # the child's traceback on the job's stderr
    died = client("probes:die", {})
    assert died.returncode != 0 and "died without an answer" in died.stderr
    # The server is still there for the next job.
    assert client("probes:write", {"out": "c.txt", "text": "after"}).returncode == 0


def test_a_server_that_cannot_start_is_given_up_at_once(workdir):
    """The job then runs in its own process (roomgrid.stages.run_rule), without a 30 s wait."""
    code = ("import sys, time; from roomgrid.core import warm; sys.executable = '/bin/false'\n"
            "start = time.monotonic()\n"
            "try:\n    warm.run(b'', 'probes:write')\n"
            "except warm.WarmUnavailable as exc:\n    print(f'{time.monotonic() - start:.1f} {exc}')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    seconds, _, why = done.stdout.strip().partition(" ")
    assert "exited at once" in why, done.stdout + done.stderr
    assert float(seconds) < 5


def test_the_server_leaves_when_idle_and_a_new_one_starts(workdir, monkeypatch):
    monkeypatch.setattr(warm, "IDLE_SECONDS", 1.0)
    address = str(workdir / "idle.sock")
    started = time.monotonic()
    warm.serve(address, idle_seconds=1.0)  # no job comes: it returns and removes its socket
    assert time.monotonic() - started < 10 and not os.path.exists(address)


def test_each_cluster_job_on_a_node_gets_its_own_server(monkeypatch):
    before = warm.server_key()
    assert warm.server_key() == before
    monkeypatch.setenv("SLURM_JOB_ID", "4242")  # another cluster job on this node: its own server
    assert warm.server_key() != before


def test_off_switch(monkeypatch):
    monkeypatch.setenv("ROOMGRID_WARM", "0")
    assert not warm.enabled()
    monkeypatch.setenv("ROOMGRID_WARM", "1")
    assert warm.enabled()
