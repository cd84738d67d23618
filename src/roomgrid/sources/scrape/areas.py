"""The list of Craigslist areas to scrape and optional per-area rent caps."""

from __future__ import annotations

import importlib.resources
import os
from typing import Any, Mapping

import pandas as pd


def load_areas() -> pd.DataFrame:
    """The packaged table of US Craigslist areas: ``hostname``, ``name``, ``state``."""
    resource = importlib.resources.files("roomgrid.sources.scrape") / "data" / "us_areas.tsv"
    with importlib.resources.as_file(resource) as path:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def areas_to_scrape(settings: Mapping[str, Any]) -> list[str]:
    """Area hostnames to scrape, in order, starting at ``start_area`` when given.

    ``settings["areas"]`` lists hostnames; when empty, every area of :func:`load_areas` is used.

    Raises
    ------
    ValueError
        If ``start_area`` is not in the list.
    """
    areas = list(settings.get("areas") or load_areas()["hostname"])
    start = settings.get("start_area")
    if start:
        if start not in areas:
            raise ValueError(f"scrape.start_area {start!r} is not among the areas to scrape")
        areas = areas[areas.index(start):]
    return areas


def load_rent_caps(path: str | os.PathLike) -> dict[str, float]:
    """Read a rent-cap table: columns ``area`` (hostname or 2-letter state) and ``max_price``."""
    table = pd.read_csv(path, sep="\t", dtype={"area": str}, keep_default_na=False)
    missing = {"area", "max_price"} - set(table.columns)
    if missing:
        raise ValueError(f"rent caps file {path} lacks column(s): {', '.join(sorted(missing))}")
    return {str(row.area).strip(): float(row.max_price) for row in table.itertuples()}


def rent_cap(area: str, caps: Mapping[str, float]) -> float | None:
    """The cap of an area: its own entry first, else its state's entry, else ``None``."""
    if area in caps:
        return caps[area]
    states = load_areas().set_index("hostname")["state"]
    state = states.get(area)
    return caps.get(state) if state else None
