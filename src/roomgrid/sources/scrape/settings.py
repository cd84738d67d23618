"""Defaults and validation of the ``scrape`` configuration section."""

from __future__ import annotations

from typing import Any, Mapping

from ...core.config import default_config
from .areas import check_retired_keys


def default_settings() -> dict[str, Any]:
    """The ``source.scrape`` section of config/config.yaml, where the defaults live."""
    return default_config()["source"]["scrape"]


def resolve_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge user settings over :func:`default_settings` (``query`` merged key by key).

    Raises
    ------
    ValueError
        On an unknown key (most likely a typo that would otherwise be silently ignored), the
        retired ``start_area`` set, or a site template without ``{area}``.
    """
    merged = default_settings()
    settings = dict(settings or {})
    check_retired_keys(settings)
    settings.pop("start_area", None)  # an old config's "start_area: null" is harmless
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
