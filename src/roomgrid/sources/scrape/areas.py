"""The list of Craigslist areas to scrape and optional per-area rent caps."""

from __future__ import annotations

import importlib.resources
import logging
import os
from typing import Any, Mapping

import pandas as pd

logger = logging.getLogger(__name__)


def load_areas() -> pd.DataFrame:
    """The packaged table of US Craigslist areas: ``hostname``, ``name``, ``state``."""
    resource = importlib.resources.files("roomgrid.sources.scrape") / "data" / "us_areas.tsv"
    with importlib.resources.as_file(resource) as path:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


RETIRED_START_AREA = (
    "scrape.start_area is no longer read, because it left the areas before it out of the map: "
    "remove it (a rerun resumes every area where it stopped and keeps what was scraped), or set "
    "scrape.skip_areas_before to leave those areas out on purpose")


def check_retired_keys(settings: Mapping[str, Any]) -> None:
    """Stop with one sentence when an old config still sets ``start_area``.

    It used to mean "resume here" but dropped the areas before it from the map; silently
    ignoring it would scrape areas the user meant to skip, so it is refused instead.
    """
    if settings.get("start_area"):
        raise ValueError(RETIRED_START_AREA)


def areas_to_scrape(settings: Mapping[str, Any]) -> list[str]:
    """Area hostnames to scrape (and to map), in order.

    ``settings["areas"]`` lists hostnames; when empty, every area of :func:`load_areas` is used.
    Resuming needs no setting: each area resumes from its own journal, and areas already scraped
    stay on the map. ``skip_areas_before`` leaves the areas before it out of the scrape and of
    the map on purpose; a warning names them.

    Raises
    ------
    ValueError
        If ``skip_areas_before`` is not in the list, or the retired ``start_area`` is set.
    """
    check_retired_keys(settings)
    areas = list(settings.get("areas") or load_areas()["hostname"])
    first = settings.get("skip_areas_before")
    if first:
        if first not in areas:
            raise ValueError(f"scrape.skip_areas_before {first!r} is not among the areas to scrape")
        skipped, areas = areas[:areas.index(first)], areas[areas.index(first):]
        if skipped:
            logger.warning("scrape.skip_areas_before=%s leaves %d area(s) out of the scrape and "
                           "the map: %s", first, len(skipped), ", ".join(skipped))
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
