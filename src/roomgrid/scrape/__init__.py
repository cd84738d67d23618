"""Polite, resumable Craigslist scraping: one area per job, photos plus a metadata manifest.

Entry point :func:`scrape_city`; :func:`select_areas` lists the areas a workflow should scrape.
"""

from .areas import load_areas, load_rent_caps, select_areas
from .city import MANIFEST_COLUMNS, AreaStopped, scrape_city
from .http import Blocked, FetchError, PoliteClient
from .pages import PageFormatError
from .settings import DEFAULT_SETTINGS, resolve_settings

__all__ = [
    "DEFAULT_SETTINGS", "MANIFEST_COLUMNS", "AreaStopped", "Blocked", "FetchError",
    "PageFormatError", "PoliteClient", "load_areas", "load_rent_caps", "resolve_settings",
    "scrape_city", "select_areas",
]
