"""The ``roomgrid`` command: build the demo map, serve a built map, scrape one area.

    roomgrid demo [--cores N] [--directory DIR] [-- SNAKEMAKE OPTIONS...]
    roomgrid serve [--directory results/viewer] [--port 8000]
    roomgrid scrape AREA OUT_DIR [--settings FILE]   (as python -m roomgrid.scrape)

The workflow itself is the Snakefile of the checkout this package lives in; ``demo`` runs it with
config/config.yaml, whose defaults build the synthetic demo.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .core.config import DEFAULT_CONFIG_PATH

SNAKEFILE = DEFAULT_CONFIG_PATH.parents[1] / "Snakefile"


def demo(args: argparse.Namespace) -> int:
    """Run Snakemake on the checkout's Snakefile; extra options after ``--`` go to Snakemake."""
    if not SNAKEFILE.is_file():
        print(f"roomgrid demo: no Snakefile at {SNAKEFILE}; run it from a checkout of roomgrid",
              file=sys.stderr)
        return 1
    extra = args.snakemake_args[1:] if args.snakemake_args[:1] == ["--"] else args.snakemake_args
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
               "--directory", str(args.directory), "--cores", str(args.cores), *extra]
    return subprocess.call(command)


def serve(args: argparse.Namespace) -> int:
    """Serve a built viewer on this machine only (127.0.0.1) until interrupted."""
    folder = Path(args.directory)
    if not (folder / "index.html").is_file():
        print(f"roomgrid serve: no map in {folder}/ (build it first: roomgrid demo)", file=sys.stderr)
        return 1
    from .viewer.serving import local_server

    with local_server(folder, args.port) as server:
        print(f"Serving {folder}/ at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)",
              flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def scrape(args: argparse.Namespace) -> int:
    from .sources.scrape.__main__ import run

    return run(args)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="roomgrid", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("demo", help="build the demo map with Snakemake")
    build.add_argument("--cores", default="2", help="CPU cores for Snakemake (a number or 'all')")
    build.add_argument("--directory", default=".", help="where results/ and logs/ go (default: .)")
    build.add_argument("snakemake_args", nargs=argparse.REMAINDER,
                       help="after --: more Snakemake options, e.g. -- -n")
    build.set_defaults(run=demo)

    show = commands.add_parser("serve", help="serve a built map on http://127.0.0.1")
    show.add_argument("--directory", default="results/viewer", help="the built viewer folder")
    show.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    show.set_defaults(run=serve)

    from .sources.scrape.__main__ import add_arguments

    fetch = commands.add_parser("scrape", help="download one area's listing photos")
    add_arguments(fetch)
    fetch.set_defaults(run=scrape)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
