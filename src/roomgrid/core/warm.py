"""A warm process for the many small per-city jobs: imports paid once, each job a fork of it.

A per-city job (index, scan with the network's features, ...) of a city of ~300 photos spends
about as long starting as working: Python's imports (numpy, pandas, Pillow, h5py, onnxruntime)
and the network's session cost ~1-2 s a job, 400 times at 400 cities. So the job's own process
(Snakemake's ``script:``) hands the job to a server that already imported everything
(:func:`serve`), which forks a child per job: the child runs the job with the client's stdout and
stderr and reports back. Jobs stay Snakemake's jobs (one per city, with their own files, logs
and benchmarks), so adding a city still runs only its jobs, and on a cluster each node (each
Slurm job) starts its own server.

The server is started by the first job that needs it, one per work directory, host, cluster job
and version of this package's code, and leaves after :data:`IDLE_SECONDS` without work. If
anything about it fails, the job runs in its own process as before. ``ROOMGRID_WARM=0`` turns it
off. What Snakemake's ``benchmark:`` measures of such a job is its wall time; its memory and CPU
time are the child's, which the benchmark does not see.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

logger = logging.getLogger(__name__)

IDLE_SECONDS = 20.0
START_SECONDS = 30.0
FOLDER = Path(".snakemake/roomgrid/warm")
# Modules the server imports before forking, so that no job pays for them.
PRELOAD = ("numpy", "pandas", "h5py", "PIL.Image", "tqdm", "snakemake.script", "roomgrid.stages",
           "roomgrid.sources.folder", "roomgrid.scan.city", "roomgrid.sources.demo.city",
           "onnxruntime", "openvino", "roomgrid.features.scan_pass")


def enabled() -> bool:
    return os.environ.get("ROOMGRID_WARM", "1") != "0" and hasattr(socket, "send_fds")


def server_key() -> str:
    """Which server a job may use: same interpreter, host, cluster job and code."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for part in (sys.executable, socket.gethostname(), os.environ.get("SLURM_JOB_ID", "")):
        digest.update(part.encode() + b"\0")
    for source in sorted(package.rglob("*.py")):
        stat = source.stat()
        digest.update(f"{source}:{stat.st_mtime_ns}:{stat.st_size}\0".encode())
    return digest.hexdigest()[:16]


def run(job_bytes: bytes, runner: str) -> None:
    """Run a pickled job through the warm server (started if need be); raise
    :class:`WarmUnavailable` if there is none to be had, so the caller runs the job itself.
    ``runner`` names the function (``module:function``) the server calls with the job."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    address = str(FOLDER / f"{server_key()}.sock")
    connection = _connect(address)
    if connection is None:
        with open(FOLDER / "start.lock", "w") as lock:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)  # one starter at a time
            connection = _connect(address) or _start(address)
    with connection:
        request = pickle.dumps((runner, job_bytes, os.getcwd()))
        socket.send_fds(connection, [struct.pack("!Q", len(request))], [1, 2])
        connection.sendall(request)
        reply = _receive(connection)
    if reply is None:
        raise RuntimeError("the warm process's job died without an answer (see the log above)")
    status, message = pickle.loads(reply)
    if status != "ok":
        raise JobFailed(message)


class WarmUnavailable(RuntimeError):
    pass


class JobFailed(RuntimeError):
    """The job failed in the warm process; the message is its one-sentence error."""


def _connect(address: str) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(address)
        return connection
    except OSError:
        connection.close()
        return None


def _start(address: str) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address)
    log = open(FOLDER / f"{Path(address).stem}.log", "ab")
    # The package as this process found it (a conda env of a rule may only have it on sys.path).
    source = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
    server = subprocess.Popen([sys.executable, "-m", "roomgrid.core.warm", address],
                              stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                              start_new_session=True, close_fds=True,
                              env={**os.environ, "PYTHONPATH": path})
    log.close()
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        connection = _connect(address)
        if connection is not None:
            return connection
        if server.poll() is not None:
            raise WarmUnavailable(f"the warm process exited at once (code {server.returncode}; "
                                  f"see {log.name})")
        time.sleep(0.05)
    raise WarmUnavailable(f"no warm process answered at {address} within {START_SECONDS:.0f} s")


def _receive(connection: socket.socket) -> bytes | None:
    head = _exactly(connection, 8)
    if head is None:
        return None
    return _exactly(connection, struct.unpack("!Q", head)[0])


def _exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# --- the server ------------------------------------------------------------------------------

def serve(address: str, idle_seconds: float = IDLE_SECONDS) -> None:
    """Accept jobs at ``address`` until idle; each job runs in a forked child."""
    import importlib

    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    os.chmod(address, 0o600)
    listener.listen(64)
    listener.settimeout(1.0)
    pid_file = Path(address).with_suffix(".pid")
    pid_file.write_text(str(os.getpid()))
    children: set[int] = set()
    last_work = time.monotonic()
    try:
        while True:
            _reap(children)
            if children:
                last_work = time.monotonic()
            elif time.monotonic() - last_work > idle_seconds:
                return
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                _child(connection)  # never returns
            connection.close()
            children.add(pid)
            last_work = time.monotonic()
    finally:
        listener.close()
        for path in (address, pid_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _reap(children: set[int]) -> None:
    for pid in list(children):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)


def _child(connection: socket.socket) -> None:
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        connection.settimeout(None)
        head, fds, _, _ = socket.recv_fds(connection, 8, 2)
        for target, fd in zip((1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        request = _exactly(connection, struct.unpack("!Q", head)[0])
        runner, job_bytes, cwd = pickle.loads(request)
        os.chdir(cwd)
        # The client waits on this socket until we answer: if it is gone (Snakemake killed the
        # job), so is the point of this child.
        threading.Thread(target=_exit_when_closed, args=(connection,), daemon=True).start()
        try:
            _resolve(runner)(pickle.loads(job_bytes))
            reply = ("ok", "")
            status = 0
        except BaseException as exc:  # the job's error goes back to its own process
            reply = ("failed", f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        answer = pickle.dumps(reply)
        connection.sendall(struct.pack("!Q", len(answer)) + answer)
    finally:
        os._exit(status)


def _exit_when_closed(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        if connection.recv(1, socket.MSG_PEEK) == b"":
            os._exit(3)


def _resolve(runner: str) -> Callable:
    import importlib

    module, _, name = runner.partition(":")
    return getattr(importlib.import_module(module), name)


if __name__ == "__main__":
    serve(sys.argv[1])
