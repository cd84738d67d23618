"""Command line: ``python -m roomgrid.scrape <area> <out_dir> [--settings file.yaml]``.

The settings file is the workflow config (its ``source.scrape`` section is used), a file with a
top-level ``scrape:`` section, or a bare mapping of scrape settings. Exit status: 0 complete or incomplete (see the log), 2 blocked,
1 failed.
"""

from __future__ import annotations

import argparse
import logging
import sys

import yaml

from .city import AreaStopped, scrape_city


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("area", help="Craigslist hostname, e.g. boston")
    parser.add_argument("out_dir", help="folder for the photos, listings.tsv and .scrape/ state")
    parser.add_argument("--settings", help="YAML file with scrape settings")


def run(args: argparse.Namespace) -> int:
    """Scrape one area as ``args`` say; the exit status of the module docstring."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = {}
    if args.settings:
        with open(args.settings, encoding="utf-8") as handle:
            settings = yaml.safe_load(handle) or {}
        if "source" in settings:  # the workflow config: source.scrape
            settings = settings["source"].get("scrape") or {}
        elif "scrape" in settings:
            settings = settings["scrape"]
    try:
        manifest = scrape_city(args.area, args.out_dir, settings)
    except AreaStopped as error:
        logging.getLogger(__name__).error("%s", error)
        return 2 if error.status == "blocked" else 1
    print(f"{args.area}: {len(manifest)} photos listed in {args.out_dir}/listings.tsv")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roomgrid.scrape", description=__doc__.split(
        "\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
