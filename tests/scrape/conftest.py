"""Fixtures of the scraper tests (the fake site itself lives in fakesite.py)."""

from fakesite import fake_craigslist  # noqa: F401  (a pytest fixture)
