"""A private one-node Slurm cluster on 127.0.0.1 for the cluster tests.

`slurm_cluster` starts munged, slurmctld and slurmd from a temporary directory (own MUNGE key and
socket, free ports, state, logs), waits until the node is idle, and afterwards cancels what is
still queued and stops exactly the daemons it started, through their pid files. It needs root and
Debian's `slurm-wlm` and `munge` packages; without them the tests that use it are skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "sinfo", "scancel")
NODE_CPUS = 2
NODE_MAX_MEMORY_MB = 8000
LARGEST_JOB_MEMORY_MB = 4000  # reduce_pca and embed_tsne ask for this much
PARTITION = "roomgrid"  # not the default partition: jobs only land here when asked to
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20


@dataclass(frozen=True)
class SlurmCluster:
    """What a test needs to submit to the private cluster."""

    root: Path
    env: dict[str, str]  # SLURM_CONF, and the srun shim first on PATH
    partition: str
    cpus: int

    def run(self, *command: str, timeout: float = 30) -> str:
        """Run a Slurm client command against this cluster and return its standard output."""
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller remembers (finished ones stay for MinJobAge seconds)."""
        fields = ("id", "state", "partition", "comment")
        out = self.run("squeue", "--states=all", "--noheader", "--format=%i|%T|%P|%k")
        return [dict(zip(fields, line.split("|", 3))) for line in out.splitlines() if line.strip()]


def missing_requirements() -> str | None:
    if os.geteuid() != 0:
        return "the Slurm daemons run as root here: run the cluster tests as root"
    missing = [name for name in DAEMONS + CLIENTS if shutil.which(name) is None]
    if missing:
        return f"{', '.join(missing)} not found: apt-get install slurm-wlm munge"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def machine_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def write_slurm_conf(root: Path, host: str, memory_mb: int) -> Path:
    munge_socket = root / "munge" / "munge.sock"
    lines = [
        "ClusterName=roomgrid-test",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={munge_socket}",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",  # no cgroups in a container
        "TaskPlugin=task/none",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "MinJobAge=600",  # finished jobs stay visible to squeue, which the profile polls
        "ReturnToService=2",
        "SlurmdParameters=config_overrides",  # the node is what this file says, on any machine
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        f"PartitionName={PARTITION} Nodes={host} MaxTime=INFINITE State=UP",
    ]
    conf = root / "slurm.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def write_srun_shim(root: Path, conf: Path) -> Path:
    """A `srun` that knows this cluster's config.

    The slurm-jobstep plugin removes every SLURM_* variable before it calls srun inside a job, so
    SLURM_CONF is lost there; a real cluster's nodes find their config in /etc/slurm instead.
    """
    shim_dir = root / "bin"
    shim_dir.mkdir()
    shim = shim_dir / "srun"
    shim.write_text(f'#!/bin/sh\nSLURM_CONF="{conf}" exec "{shutil.which("srun")}" "$@"\n')
    shim.chmod(0o755)
    return shim_dir


def client_env(conf: Path, shim_dir: Path) -> dict[str, str]:
    # Drop a surrounding allocation's settings and site defaults that would leak into the test.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLURM_", "SBATCH_", "SRUN_", "SQUEUE_", "ROOMGRID_SLURM_"))}
    env["SLURM_CONF"] = str(conf)
    env["PATH"] = os.pathsep.join([str(shim_dir), env.get("PATH", os.defpath)])
    return env


def wait_for(condition, what: str, timeout: float = START_TIMEOUT_S, logs: tuple[Path, ...] = ()):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log}\n{log.read_text()[-2000:]}" for log in logs if log.exists())
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}\n{tails}")
        time.sleep(0.5)


def start_daemon(command: list[str], pid_file: Path, env: dict[str, str], log: Path) -> None:
    """Start a daemon that forks into the background and writes its pid file."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    if done.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{command[0]} did not start: {done.stderr.strip()}\n{tail}")
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), f"{pid_file}", logs=(log,))


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; whoever reaps it is not our concern


def stop_daemon(pid_file: Path, root: Path) -> None:
    """Stop the daemon named by `pid_file`, if that pid is still one of ours (its command line
    mentions our temporary directory), with SIGTERM and, after STOP_TIMEOUT_S, SIGKILL."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return
    if str(root) not in command_line:
        return  # the pid was reused by a process that is not ours
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if is_running(pid):
        os.kill(pid, signal.SIGKILL)


def cancel_jobs(cluster: SlurmCluster) -> None:
    """Cancel what a failed or timed-out run left queued: job steps outlive slurmd."""
    try:
        active = cluster.run("squeue", "--noheader", "--format=%i").split()
        if active:
            cluster.run("scancel", *active)
            wait_for(lambda: not cluster.run("squeue", "--noheader", "--format=%i").split(),
                     "cancelled jobs to end", timeout=STOP_TIMEOUT_S)
    except (RuntimeError, subprocess.TimeoutExpired):
        pass  # the controller is gone or stuck: stopping the daemons is all that is left


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running one-node cluster: node `hostname -s` at 127.0.0.1 with 2 CPUs, partitions `main`
    (default) and `roomgrid`. Skips when root, slurm-wlm or munge is missing."""
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    memory_mb = min(machine_memory_mb() - 512, NODE_MAX_MEMORY_MB)
    if memory_mb < LARGEST_JOB_MEMORY_MB:
        pytest.skip(f"the workflow's largest job asks for {LARGEST_JOB_MEMORY_MB} MB; this machine has less")

    root = tmp_path_factory.mktemp("slurm")
    for sub in ("munge", "state", "spool", "log"):
        (root / sub).mkdir()
    (root / "munge").chmod(0o755)  # munged wants its socket's folder readable by all
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)

    host = subprocess.run(["hostname", "-s"], capture_output=True, text=True, check=True).stdout.strip()
    conf = write_slurm_conf(root, host, memory_mb)
    env = client_env(conf, write_srun_shim(root, conf))
    cluster = SlurmCluster(root=root, env=env, partition=PARTITION, cpus=NODE_CPUS)
    logs = root / "log"
    started: list[Path] = []
    try:
        munge_pid = root / "munge" / "munged.pid"
        started.append(munge_pid)
        # --force: pytest's temporary folders are private to root, which munged only warns about then
        start_daemon(["munged", "--force", f"--socket={root / 'munge' / 'munge.sock'}", f"--key-file={key}",
                      f"--pid-file={munge_pid}", f"--log-file={logs / 'munged.log'}",
                      f"--seed-file={root / 'munge' / 'munged.seed'}"], munge_pid, env, logs / "munged.log")
        for daemon in ("slurmctld", "slurmd"):
            pid_file = root / f"{daemon}.pid"
            started.append(pid_file)
            start_daemon([daemon, "-f", str(conf)], pid_file, env, logs / f"{daemon}.log")
        wait_for(lambda: cluster.run("sinfo", "--noheader", "--nodes", host, "--format=%t").split()[:1] == ["idle"],
                 f"node {host} to be idle", logs=(logs / "slurmctld.log", logs / "slurmd.log"))
        yield cluster
    finally:
        if (root / "slurmctld.pid").exists():
            cancel_jobs(cluster)
        for pid_file in reversed(started):
            stop_daemon(pid_file, root)
