"""Defaults and validation of the ``scrape`` configuration section."""

from __future__ import annotations

import copy
from typing import Any, Mapping

DEFAULT_SETTINGS: dict[str, Any] = {
    "areas": [],
    "start_area": None,
    "site": "https://{area}.craigslist.org",
    "images_site": "https://images.craigslist.org",
    "category": "apa",
    "query": {"hasPic": 1, "query": "", "min_price": None, "max_price": None},
    "pages_per_area": 1,
    "image_size": "600x450",
    "user_agent": "roomgrid/0.1 (listing-photo research; contact: set scrape.user_agent)",
    "delay_seconds": 2.0,
    "timeout_seconds": 30,
    "max_retries": 4,
    "backoff_seconds": 2.0,
    "max_wait_seconds": 600,
    "rent_caps_file": None,
}


def resolve_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge user settings over :data:`DEFAULT_SETTINGS` (``query`` merged key by key).

    Raises
    ------
    ValueError
        On an unknown key (most likely a typo that would otherwise be silently ignored) or a
        site template without ``{area}``.
    """
    merged = copy.deepcopy(DEFAULT_SETTINGS)
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(merged))
    if unknown:
        raise ValueError(f"unknown scrape settings: {', '.join(unknown)}")
    query = settings.pop("query", None) or {}
    merged.update(settings)
    merged["query"].update(query)
    if "{area}" not in merged["site"]:
        raise ValueError(f"scrape.site must contain '{{area}}': {merged['site']!r}")
    if int(merged["pages_per_area"]) < 1:
        raise ValueError("scrape.pages_per_area must be at least 1")
    return merged
