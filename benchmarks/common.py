"""Measuring helpers shared by the benchmark scripts: timing in a child process, peak memory of a
process tree, choosing a subset of the generated photo set, plain tables and the machine's facts."""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Sequence

import psutil

MIB = 2**20


class TreeSampler:
    """Peak of the summed memory of a process and all its descendants, polled every ``interval`` s.

    ``ru_maxrss`` only knows single processes; a pool of workers or a Snakemake run needs the sum.
    ``warm_dir``: also count the warm server of the per-city jobs started in that work directory
    (roomgrid.core.warm) and its children, which leave the tree. Forked children share most of
    their pages with their parent, so each process counts its proportional share (PSS) rather
    than its RSS, which would count the shared pages once per child.
    """

    def __init__(self, pid: int, interval: float = 0.5, warm_dir: str | None = None):
        self.pid = pid
        self.interval = interval
        self.warm_dir = os.path.realpath(warm_dir) if warm_dir else None
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _processes(self) -> list:
        root = psutil.Process(self.pid)
        found = [root, *root.children(recursive=True)]
        if self.warm_dir:
            for process in psutil.process_iter(["cmdline"]):
                try:
                    if "roomgrid.core.warm" in " ".join(process.info["cmdline"] or []) and \
                            os.path.realpath(process.cwd()) == self.warm_dir:
                        found += [process, *process.children(recursive=True)]
                except psutil.Error:
                    pass
        return found

    @staticmethod
    def _memory(process) -> int:
        try:
            return process.memory_full_info().pss
        except (psutil.AccessDenied, AttributeError):
            return process.memory_info().rss

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                total = 0
                for process in {p.pid: p for p in self._processes()}.values():
                    try:
                        total += self._memory(process)
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _child(fn: Callable, args: tuple, kwargs: dict, queue) -> None:
    start = time.perf_counter()
    try:
        result, error = fn(*args, **kwargs), None
    except BaseException as exc:  # reported to the parent, which re-raises
        result, error = None, repr(exc)
    seconds = time.perf_counter() - start
    # ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN holds the largest reaped worker process.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    queue.put((result, error, seconds, own, workers))


def measure(fn: Callable, *args, **kwargs) -> dict:
    """Run ``fn(*args, **kwargs)`` in a fresh spawned process.

    Returns ``result`` (must be picklable; keep it small), ``seconds`` (inside the child, without
    interpreter start-up), ``rss`` (peak of the child itself), ``worker_rss`` (peak of its largest
    worker process) and ``tree_rss`` (peak of the sum over the child and its workers), in bytes.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(fn, args, kwargs, queue))
    child.start()
    with TreeSampler(child.pid) as sampler:
        result, error, seconds, own, workers = queue.get()
        child.join()
    if error:
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed in the child: {error}")
    return {"result": result, "seconds": seconds, "rss": own, "worker_rss": workers,
            "tree_rss": max(sampler.peak, own)}


def city_counts(images_dir: str | os.PathLike) -> dict[str, int]:
    """JPEG count of every city folder under ``images_dir``, sorted by city."""
    counts = {}
    for entry in sorted(os.scandir(images_dir), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith("."):
            counts[entry.name] = sum(1 for f in os.scandir(entry.path) if f.name.endswith(".jpg"))
    return counts


def subset_cities(images_dir: str | os.PathLike, n: int) -> tuple[list[str], int]:
    """The first cities (by name) that together hold at least ``n`` photos, and their photo count.

    City sizes are log-normal and unrelated to names, so a prefix is a fair sample of the mix.
    """
    chosen, total = [], 0
    for city, count in city_counts(images_dir).items():
        if total >= n:
            break
        chosen.append(city)
        total += count
    return chosen, total


def format_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """Plain right-aligned table; ``columns`` are (key, header, format spec); missing keys print -."""
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        cells.append([format(row[key], spec) if row.get(key) is not None else "-"
                      for key, _, spec in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(value.rjust(width) if i else value.ljust(width)
                       for i, (value, width) in enumerate(zip(line, widths))) for line in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def machine_description() -> str:
    """Cores, RAM, CPU model, load, Python and the versions of the libraries being measured."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = []
    for package in ("numpy", "scipy", "scikit-learn", "h5py", "pillow", "openTSNE", "lapjv",
                    "snakemake", "pyvips"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({model}), {psutil.virtual_memory().total / 2**30:.1f} GiB RAM, "
            f"load {load}; Python {platform.python_version()}; " + ", ".join(versions))
