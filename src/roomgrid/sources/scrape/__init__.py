"""Polite, resumable Craigslist scraping: one area per job, photos plus a metadata manifest.

Entry point :func:`scrape_city`; :func:`areas_to_scrape` lists the areas a workflow should scrape.
"""

from .areas import areas_to_scrape, load_areas, load_rent_caps
from .city import MANIFEST_COLUMNS, AreaStopped, scrape_city
from .http import Blocked, FetchError, PoliteClient
from .pages import PageFormatError
from .settings import default_settings, resolve_settings

__all__ = [
    "default_settings", "MANIFEST_COLUMNS", "AreaStopped", "Blocked", "FetchError",
    "PageFormatError", "PoliteClient", "areas_to_scrape", "load_areas", "load_rent_caps",
    "resolve_settings", "scrape_city",
]
