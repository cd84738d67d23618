"""Snakemake's own share of the per-city phase: many small cities, their scan jobs only.

Runs ``snakemake --cores 2 scans`` (every city scanned, nothing global) on a generated photo
folder in a fresh work directory (default config: CNN features in the scan's pass) and reports
the wall time, the CPU time of Snakemake's own process (its jobs excluded), the most threads it
held at once, and the summed wall time of the per-city jobs (their ``benchmark:`` files; each
city's one job indexes and scans it, and before 2026-12-02 an index job of its own came first).
With many cities of a few photos each, what is left over is per-job cost: Snakemake's rounds and
each job's start.

    python benchmarks/make_photos.py --n 4000 --cities 400 --out /work/bench/photos-400tiny
    python benchmarks/bench_scheduler.py --images /work/bench/photos-400tiny
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import city_counts, machine_description  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="/work/bench/photos-400tiny", help="generated photo root")
    parser.add_argument("--work", default="/work/bench/scheduler", help="fresh work directory")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("extra", nargs="*", help="more snakemake arguments (after --)")
    args = parser.parse_args()

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    counts = city_counts(args.images)
    config = {"source": {"kind": "folder", "folder": {"images_dir": str(Path(args.images).resolve()),
                                                       "cities": list(counts)}}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(work),
               "--cores", str(args.cores), "scans", *args.extra,
               "--configfile", str(work / "config.yaml")]
    print(f"# machine: {machine_description()}")
    print(f"# {sum(counts.values())} photos in {len(counts)} cities; {' '.join(args.extra) or 'no extra args'}",
          flush=True)

    start = time.perf_counter()
    with open(work / "snakemake.log", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    watched = psutil.Process(process.pid)
    cpu = threads = 0
    while process.poll() is None:
        try:
            times = watched.cpu_times()
            cpu, threads = times.user + times.system, max(threads, watched.num_threads())
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    wall = time.perf_counter() - start
    if process.returncode:
        sys.exit(f"snakemake failed (exit {process.returncode}); see {work / 'snakemake.log'}")

    jobs = {}
    for folder in sorted((work / "results/benchmarks").iterdir()):
        if folder.is_dir():  # a per-city rule's records (a global rule's is one file)
            jobs[folder.name] = pd.concat(pd.read_csv(p, sep="\t") for p in folder.glob("*.tsv"))["s"]
    print(f"wall {wall:.1f} s; Snakemake's own process: {cpu:.1f} s CPU, at most {threads} threads")
    for rule, seconds in jobs.items():
        print(f"{rule}: {len(seconds)} jobs, {seconds.sum():.1f} s summed, {seconds.mean():.2f} s each")


if __name__ == "__main__":
    main()
