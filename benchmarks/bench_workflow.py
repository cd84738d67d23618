"""Benchmark the whole Snakemake workflow on a generated photo folder, and Snakemake itself.

In a fresh work directory (``--work``, deleted first) with ``source.kind: folder``:

1. ``snakemake -n`` before anything ran: DAG building (a scan job per city plus the global ones);
2. ``snakemake --cores 2``: wall clock and the peak summed memory of the whole process tree and
   the warm server of the per-city jobs (psutil, PSS, every 0.5 s), then the rules' ``benchmark:``
   files summarised per rule (jobs, summed and largest seconds, largest max_rss; a per-city job
   run by the warm server shows only its client's memory there);
3. ``snakemake -n`` after the complete run: the no-op check (must find nothing to do).

    python benchmarks/bench_workflow.py --images /work/bench/photos --n 10000
    python benchmarks/bench_workflow.py --n 125000 --set pca.method=incremental
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MIB, TreeSampler, format_table, machine_description, subset_cities  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def _set(config: dict, assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a nested config dict."""
    key, value = assignment.split("=", 1)
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)


def snakemake(work: Path, config_file: Path, *extra: str, log: Path) -> tuple[float, int, int]:
    """Run snakemake; returns (wall seconds, peak tree memory in bytes (PSS, the warm server of the
    per-city jobs included), exit code)."""
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(work),
               "--configfile", str(config_file), *extra]
    start = time.perf_counter()
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        with TreeSampler(process.pid, warm_dir=str(work)) as sampler:
            code = process.wait()
    return time.perf_counter() - start, sampler.peak, code


def rule_benchmarks(work: Path) -> list[dict]:
    """Per rule: jobs, summed and largest seconds, largest max_rss (MiB) from benchmark: files."""
    rows = []
    root = work / "results" / "benchmarks"
    files = sorted(root.glob("*.tsv")) + sorted(p for p in root.glob("*") if p.is_dir())
    for entry in files:
        paths = sorted(entry.glob("*.tsv")) if entry.is_dir() else [entry]
        table = pd.concat([pd.read_csv(p, sep="\t") for p in paths], ignore_index=True)
        rss = pd.to_numeric(table["max_rss"], errors="coerce")
        rows.append({"rule": entry.stem if entry.is_file() else entry.name, "jobs": len(table),
                     "sum_s": table["s"].sum(), "max_s": table["s"].max(), "max_rss": rss.max()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="/work/bench/photos", help="generated photo root")
    parser.add_argument("--n", type=int, default=10_000, help="use the first cities holding >= n photos")
    parser.add_argument("--work", default=None, help="fresh work directory (default /work/bench/workflow-<n>)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra config overrides, e.g. pca.method=randomized")
    args = parser.parse_args()
    work = Path(args.work or f"/work/bench/workflow-{args.n}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cities, n_photos = subset_cities(args.images, args.n)
    config = {"source": {"kind": "folder", "folder": {"images_dir": str(Path(args.images).resolve()),
                                                       "cities": cities}}}
    for assignment in args.set:
        _set(config, assignment)
    config_file = work / "bench_config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    print(f"# machine: {machine_description()}")
    print(f"# photos: {n_photos} in {len(cities)} cities; overrides {args.set or 'none'}; work {work}",
          flush=True)

    runs = []
    for name, extra in (("dry run before (DAG)", ["-n", "--quiet", "rules"]),
                        ("full run --cores %d" % args.cores, ["--cores", str(args.cores)]),
                        ("dry run after (no-op)", ["-n"])):
        log = work / f"{name.split()[0]}_{len(runs)}.log"
        seconds, peak, code = snakemake(work, config_file, *extra, log=log)
        runs.append({"step": name, "seconds": seconds, "rate": n_photos / seconds, "tree": peak / MIB,
                     "code": code, "log": log.name})
        print(f"  {name}: {seconds:.1f} s, peak tree {peak / MIB:.0f} MiB, exit {code}", flush=True)
        if code:
            print(log.read_text()[-3000:])
            break
    if len(runs) == 3:
        tail = (work / runs[2]["log"]).read_text()
        runs[2]["note"] = "nothing to do" if "Nothing to be done" in tail else "WOULD RERUN: see log"
    print()
    print(format_table(runs, [("step", "step", ""), ("seconds", "wall s", ".1f"),
                              ("rate", "photos/s", ".0f"), ("tree", "peak tree MiB", ".0f"),
                              ("code", "exit", "d"), ("note", "note", "")]))
    if (work / "results" / "benchmarks").exists():
        print()
        print(format_table(rule_benchmarks(work), [("rule", "rule (benchmark: files)", ""),
                                                   ("jobs", "jobs", "d"), ("sum_s", "sum s", ".1f"),
                                                   ("max_s", "max s", ".1f"),
                                                   ("max_rss", "max_rss MiB", ".0f")]))


if __name__ == "__main__":
    main()
