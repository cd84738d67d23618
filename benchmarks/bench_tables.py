"""Benchmark write_table against a bare ``DataFrame.to_csv`` on a selection-sized photo table.

write_table checks the written bytes for a carriage return and, only when it finds one, writes the
table again with every field quoted; this measures what the check costs on an ordinary table and
what the second write costs when one file name holds a ``\\r``. Best of ``--repeat`` runs each.

    python benchmarks/bench_tables.py --rows 125000 --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from roomgrid.core.io import write_table


def photo_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """Columns shaped like results/selection/photos.tsv: ids and paths, listing text, numbers."""
    rng = np.random.default_rng(seed)
    city = np.array([f"city{i:03d}" for i in range(400)])[rng.integers(0, 400, rows)]
    file = [f"{rng.integers(10**9):x}_{i}_600x450.jpg" for i in range(rows)]
    return pd.DataFrame({
        "id": [f"{c}/{f}" for c, f in zip(city, file)], "city": city, "file": file,
        "path": [f"/data/listings/{c}/{f}" for c, f in zip(city, file)],
        "bytes": pd.array(rng.integers(20_000, 200_000, rows), dtype="Int64"),
        "skip_reason": "", "title": [f"Sunny {b} bed near the park, #{i}"
                                     for i, b in enumerate(rng.integers(1, 5, rows))],
        "price": pd.array(rng.integers(800, 4000, rows), dtype="Int64"),
        "entropy": rng.uniform(3, 5.5, rows).round(6), "dhash": [f"{h:016x}" for h in
                                                                rng.integers(0, 2**63, rows)],
        "selected": rng.random(rows) < 0.9})


def best_of(repeat: int, write) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        write()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=125_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    table = photo_table(args.rows)
    with_cr = table.copy()
    with_cr.loc[args.rows // 2, "file"] = "cr\rname.jpg"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "photos.tsv"
        bare = best_of(args.repeat, lambda: table.to_csv(out, sep="\t", index=False))
        plain = best_of(args.repeat, lambda: write_table(table, out))
        size = out.stat().st_size
        quoted = best_of(args.repeat, lambda: write_table(with_cr, out))
    print(f"{args.rows:,} rows, {size / 2**20:.1f} MiB written, best of {args.repeat}")
    print("| write | s | / bare to_csv |\n| --- | --- | --- |")
    for name, seconds in (("bare DataFrame.to_csv", bare), ("write_table", plain),
                          ("write_table, one file name with \\r", quoted)):
        print(f"| {name} | {seconds:.2f} | {seconds / bare:.2f}x |")


if __name__ == "__main__":
    main()
