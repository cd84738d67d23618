"""Scrape one Craigslist area into ``<out_dir>/``: photos, a manifest and resumable state."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

import pandas as pd
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from ...core.io import atomic_path, write_table
from .areas import load_rent_caps, rent_cap
from .http import Blocked, FetchError, PoliteClient
from .pages import (CRAIGSLIST_IMAGES_HOST, Gone, Listing, NotAListing, PageFormatError,
                    block_reason, parse_listing_page, parse_search_page)
from .settings import resolve_settings
from .state import FINAL_LISTING_STATUSES, FINAL_PHOTO_STATUSES, ScrapeState

logger = logging.getLogger(__name__)

MANIFEST = "listings.tsv"
PACING_DIR = ".pacing"  # per-host lock files shared by the areas scraped into one folder
MANIFEST_COLUMNS = ["file", "city", "listing_url", "post_id", "title", "price", "bedrooms",
                    "sqft", "neighbourhood", "posted", "image_url", "sha256"]
_SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.(?:jpe?g|png|gif|webp)$", re.IGNORECASE)
_GONE_STATUSES = ("http_404", "http_410")


class AreaStopped(RuntimeError):
    """An area's scrape stopped early; what was fetched is kept and a rerun resumes it.

    ``status`` is ``blocked`` (the site refused us) or ``failed`` (a search page could not be
    fetched or understood, or no listing page the area ever opened was understood). The original
    exception is chained as ``__cause__``.
    """

    def __init__(self, area: str, status: str, reason: str):
        self.area = area
        self.status = status
        self.reason = reason
        super().__init__(f"{area}: scrape {status}: {reason} "
                         f"(photos and state kept; run again to resume)")


def site_pattern(template: str) -> re.Pattern:
    """A regex matching URLs of any area of a site template, capturing the area.

    The scheme is matched loosely because old pages link with ``http://``.
    """
    prefix, _, suffix = template.partition("{area}")
    prefix = re.sub(r"^https?://", "", prefix)
    return re.compile(r"https?://" + re.escape(prefix) + r"(?P<area>[A-Za-z0-9-]+)"
                      + re.escape(suffix.rstrip("/")) + r"(?:/|$)", re.IGNORECASE)


def photo_url(ref: str, images_site: str, image_size: str) -> str:
    """The URL of a photo reference from :mod:`.pages` (an image id or a 2009 image URL)."""
    if "://" not in ref:
        return f"{images_site}/{ref}_{image_size}.jpg"
    parts = urlsplit(ref)
    if parts.hostname == CRAIGSLIST_IMAGES_HOST:
        return images_site + parts.path  # the configured images site may be a mirror
    return ref


def image_problem(body: bytes) -> str | None:
    """``None`` if ``body`` decodes completely as an image, else ``not_an_image``/``undecodable``."""
    try:
        with Image.open(io.BytesIO(body)) as image:
            image.load()
    except UnidentifiedImageError:
        return "not_an_image"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return "undecodable"
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _AreaScrape:
    """The work of one run over one area; outcomes go to the state journals as they happen."""

    def __init__(self, area: str, out_dir: Path, settings: Mapping[str, Any],
                 client: PoliteClient, state: ScrapeState):
        self.area = area
        self.out_dir = out_dir
        self.settings = settings
        self.client = client
        self.state = state
        self.site = settings["site"].format(area=area).rstrip("/")
        self.images_site = settings["images_site"].format(area=area).rstrip("/")
        self.site_pattern = site_pattern(settings["site"])
        self.counts: Counter = Counter()
        self.failures: Counter = Counter()

    # -- search ------------------------------------------------------------------------------

    def search_url(self, offset: int) -> str:
        query = {key: value for key, value in self.settings["query"].items()
                 if value not in (None, "")}
        if self.settings["rent_caps_file"]:
            cap = rent_cap(self.area, load_rent_caps(self.settings["rent_caps_file"]))
            if cap is not None:
                given = query.get("max_price")
                query["max_price"] = int(cap if given is None else min(float(given), cap))
        if offset:
            query["s"] = offset
        url = f"{self.site}/search/{self.settings['category']}"
        return f"{url}?{urlencode(query)}" if query else url

    def search(self) -> list[Listing]:
        """Listings of the first ``pages_per_area`` result pages, each page fetched only once."""
        listings: dict[str, Listing] = {}
        offset = 0
        for _ in range(int(self.settings["pages_per_area"])):
            url = self.search_url(offset)
            record = self.state.search_pages.get(url)
            if record is None:
                response = self.html(url)
                found = parse_search_page(response.content, response.url)
                self.counts["search_pages_fetched"] += 1
                self.state.search_pages.add({"url": url, "fetched": _now(),
                                             "listings": [item.to_dict() for item in found]})
            else:
                found = [Listing.from_dict(item) for item in record["listings"]]
            for listing in found:
                listings.setdefault(listing.url, listing)
            if not found:
                break
            offset += len(found)
        return list(listings.values())

    def html(self, url: str):
        response = self.client.get(url)
        reason = block_reason(response.content)
        if reason:
            raise Blocked(url, reason)
        return response

    # -- listings ----------------------------------------------------------------------------

    def owner(self, url: str) -> str | None:
        match = self.site_pattern.match(url)
        return match.group("area") if match else None

    def record_listing(self, listing: Listing, status: str, opened: bool = False,
                       **extra) -> None:
        self.state.listings.add({**listing.to_dict(), "status": status, "opened": opened,
                                 "when": _now(), **extra})
        self.counts[f"listings_{status}"] += 1
        if status in ("error", "not_a_listing"):
            self.failures[f"listing:{extra['reason']}"] += 1

    def listing(self, stub: Listing) -> Listing | None:
        """The listing with its photo references, or ``None`` if it has no photos to fetch."""
        record = self.state.listings.get(stub.url)
        if record and record["status"] in FINAL_LISTING_STATUSES:
            self.counts[f"listings_{record['status']}"] += 1
            return Listing.from_dict(record) if record["status"] == "ok" else None
        owner = self.owner(stub.url)
        if owner != self.area:
            # A "nearby area" result: it belongs to that area's job, never to this folder.
            logger.info("%s: skipping %s (area %s)", self.area, stub.url, owner or "off site")
            self.record_listing(stub, "foreign", owner=owner)
            return None
        if stub.images is not None:
            self.record_listing(stub, "ok")
            return stub
        try:
            response = self.html(stub.url)
        except FetchError as error:
            if error.reason == "disallowed":
                self.record_listing(stub, "disallowed")
            elif error.reason in _GONE_STATUSES:
                self.record_listing(stub, "gone", reason=error.reason)
            else:
                self.record_listing(stub, "error", reason=error.reason)
            return None
        if self.owner(response.url) not in (self.area, None):
            self.record_listing(stub, "foreign", owner=self.owner(response.url))
            return None
        # "opened" marks outcomes read from the listing page itself: whether any such page of
        # the area was understood decides whether its layout is known (see layout_failure).
        try:
            page = parse_listing_page(response.content, response.url, [self.images_site])
        except NotAListing as error:
            logger.warning("%s: skipping %s", self.area, error)
            self.record_listing(stub, "not_a_listing", opened=True, reason="not_a_listing",
                                detail=error.missing)
            return None
        except PageFormatError as error:
            logger.error("%s", error)
            self.record_listing(stub, "error", opened=True, reason="unrecognised_page",
                                detail=error.missing)
            return None
        if isinstance(page, Gone):
            self.record_listing(stub, "gone", opened=True, reason=page.notice)
            return None
        listing = dataclasses.replace(stub.updated_with(page), url=stub.url)
        self.record_listing(listing, "ok", opened=True)
        return listing

    # -- photos ------------------------------------------------------------------------------

    def record_photo(self, name: str, url: str, listing: Listing, status: str,
                     reason: str | None = None, sha256: str | None = None) -> None:
        self.state.photos.add({"file": name, "image_url": url, "listing_url": listing.url,
                               "status": status, "reason": reason, "sha256": sha256,
                               "when": _now()})
        if status != "ok":
            self.failures[f"photo:{reason or status}"] += 1

    def photos(self, listing: Listing) -> None:
        for ref in listing.images or []:
            url = photo_url(ref, self.images_site, self.settings["image_size"])
            name = PurePosixPath(urlsplit(url).path).name
            if not _SAFE_FILE_NAME.match(name):
                self.failures["photo:bad_file_name"] += 1
                logger.warning("%s: unusable photo file name in %s", self.area, url)
                continue
            record = self.state.photos.get(name)
            if record and record["status"] in FINAL_PHOTO_STATUSES:
                same_listing = record["listing_url"] == listing.url
                self.counts["photos_already_done" if same_listing else "photos_duplicate"] += 1
                continue
            self.download(url, name, listing)

    def download(self, url: str, name: str, listing: Listing) -> None:
        target = self.out_dir / name
        if target.exists():
            # Renamed into place by a run killed before it could record it: verify, don't refetch.
            body = target.read_bytes()
            problem = image_problem(body)
            if problem:
                self.record_photo(name, url, listing, "error", reason=f"existing_file_{problem}")
            else:
                self.counts["photos_verified_on_disk"] += 1
                self.record_photo(name, url, listing, "ok",
                                  sha256=hashlib.sha256(body).hexdigest())
            return
        try:
            response = self.client.get(url)
        except FetchError as error:
            if error.reason == "disallowed":
                self.record_photo(name, url, listing, "disallowed", reason="disallowed")
            elif error.reason in _GONE_STATUSES:
                self.record_photo(name, url, listing, "not_found", reason=error.reason)
            else:
                self.record_photo(name, url, listing, "error", reason=error.reason)
            return
        body = response.content
        if "html" in response.headers.get("Content-Type", "") and block_reason(body):
            raise Blocked(url, block_reason(body))
        problem = image_problem(body)
        if problem == "not_an_image":
            self.record_photo(name, url, listing, "not_an_image", reason="not_an_image")
            return
        if problem:
            self.record_photo(name, url, listing, "error", reason=problem)
            return
        with atomic_path(target) as temporary:
            temporary.write_bytes(body)
        self.counts["photos_fetched"] += 1
        self.record_photo(name, url, listing, "ok", sha256=hashlib.sha256(body).hexdigest())

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> None:
        listings = self.search()
        self.counts["listings_seen"] = len(listings)
        for stub in tqdm(listings, desc=f"scrape {self.area}", unit="listing", disable=None):
            listing = self.listing(stub)
            if listing is not None:
                self.photos(listing)
        failure = layout_failure(self.state)
        if failure:
            raise failure


def layout_failure(state: ScrapeState) -> PageFormatError | None:
    """The error to stop with when the area's journal holds unrecognised Craigslist listing pages
    and not one understood listing page (from this run or any before): the layout changed, which
    must not pass quietly. One odd page among understood ones only leaves the area incomplete."""
    unrecognised = understood = 0
    first = None
    for record in state.listings.records.values():
        if record["status"] == "error" and record.get("reason") == "unrecognised_page":
            unrecognised += 1
            first = first or record
        elif record["status"] in ("ok", "gone") and record.get("opened", True):
            understood += 1  # journals older than the "opened" mark: assume the page was read
    if not unrecognised or understood:
        return None
    return PageFormatError(first["url"], f"{first.get('detail')} (none of the {unrecognised} "
                                         f"listing pages opened in this area was understood)")


def journal_verdict(state: ScrapeState) -> str:
    """``incomplete`` while any listing or photo in the journal awaits a retry, else ``complete``."""
    journals = (state.listings.records, state.photos.records)
    waiting = any(record["status"] == "error" for records in journals for record in records.values())
    return "incomplete" if waiting else "complete"


def journal_counts(state: ScrapeState) -> dict:
    """Outcomes of every listing and photo recorded so far, by status."""
    return {name: dict(Counter(record["status"] for record in journal.records.values()))
            for name, journal in (("listings", state.listings), ("photos", state.photos))}


def build_manifest(state: ScrapeState, out_dir: Path, area: str) -> pd.DataFrame:
    """One row per photo on disk, with its listing's metadata, in the order they were fetched."""
    listings = state.listings.records
    rows = []
    for name, photo in state.photos.records.items():
        if photo["status"] != "ok" or not (out_dir / name).is_file():
            continue
        listing = listings.get(photo["listing_url"], {})
        rows.append({
            "file": name, "city": area, "listing_url": photo["listing_url"],
            "post_id": listing.get("post_id"), "title": listing.get("title"),
            "price": listing.get("price"), "bedrooms": listing.get("bedrooms"),
            "sqft": listing.get("sqft"), "neighbourhood": listing.get("neighbourhood"),
            "posted": listing.get("posted"), "image_url": photo["image_url"],
            "sha256": photo["sha256"],
        })
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    for column in ("price", "bedrooms", "sqft"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _remove_partial_files(out_dir: Path) -> None:
    """Delete temporary files a killed run left behind (never a finished photo)."""
    for directory in (out_dir, out_dir / ".scrape"):
        for partial in directory.glob(".*.part"):
            logger.info("removing partial file %s", partial)
            partial.unlink()


def scrape_city(area: str, out_dir: str | Path, settings: Mapping[str, Any] | None = None, *,
                client: PoliteClient | None = None) -> pd.DataFrame:
    """Scrape one Craigslist area: photos into ``out_dir``, manifest ``out_dir/listings.tsv``.

    Polite across processes: requests to one host are paced through lock files in
    ``out_dir/../.pacing/``, so areas scraped at once into one folder share the delay.

    Resumable: outcomes are journaled in ``out_dir/.scrape/`` as they happen; a rerun skips
    search pages already read, listings already settled and photos already on disk, and retries
    what failed transiently. Photos are never deleted. The manifest is rebuilt from the journals
    on every run, including runs that stop early.

    Parameters
    ----------
    area : str
        Craigslist hostname, e.g. ``"boston"``.
    out_dir : str or Path
        The area's folder, e.g. ``resources/scraped/boston``.
    settings : mapping, optional
        The ``scrape`` configuration section; see :func:`.settings.default_settings`.
    client : PoliteClient, optional
        Replaces the client built from ``settings`` (tests use it to observe waits).

    Returns
    -------
    pandas.DataFrame
        The manifest: one row per photo (columns :data:`MANIFEST_COLUMNS`).

    Raises
    ------
    AreaStopped
        After writing the manifest, if the site blocked us (``status="blocked"``), or a search
        page could not be fetched or understood, or the journal holds unrecognised listing pages
        and no understood one (``status="failed"``; the message names a URL). One odd listing
        page among understood ones is not fatal: the area is ``incomplete`` and the page is
        retried by the next run.
        Under Snakemake a failing job leaves the area's last good ``listings.tsv`` (the
        workflow flags it ``update``) or none if the area never finished, so a stopped area
        never looks complete; the next run resumes it.
    """
    settings = resolve_settings(settings)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_partial_files(out_dir)
    state = ScrapeState(out_dir)
    client = client or PoliteClient(
        user_agent=settings["user_agent"], delay_seconds=float(settings["delay_seconds"]),
        timeout_seconds=float(settings["timeout_seconds"]),
        max_retries=int(settings["max_retries"]),
        backoff_seconds=float(settings["backoff_seconds"]),
        max_wait_seconds=float(settings["max_wait_seconds"]),
        # beside the area folders: every area's job paces through it, as all share a host
        pacing_dir=out_dir.parent / PACING_DIR)
    scrape = _AreaScrape(area, out_dir, settings, client, state)
    stopped: tuple[str, Exception] | None = None
    try:
        scrape.run()
    except Blocked as error:
        stopped = ("blocked", error)
    except (FetchError, PageFormatError) as error:
        stopped = ("failed", error)

    manifest = build_manifest(state, out_dir, area)
    write_table(manifest, out_dir / MANIFEST)
    # The verdict covers the whole journal, not just this run: a rerun that only retried the one
    # page still missing must say incomplete again, not failed.
    status = stopped[0] if stopped else journal_verdict(state)
    state.write_status({
        "area": area, "status": status, "reason": str(stopped[1]) if stopped else None,
        "photos_in_manifest": len(manifest), "journal": journal_counts(state),
        "counts": dict(scrape.counts),
        "failures": dict(scrape.failures), "requests": client.requests_made, "finished": _now(),
    })
    _log_summary(area, status, scrape, len(manifest), client.requests_made)
    if stopped:
        raise AreaStopped(area, status, str(stopped[1])) from stopped[1]
    return manifest


def _log_summary(area: str, status: str, scrape: _AreaScrape, photos: int, requests: int) -> None:
    counts = scrape.counts
    failures = ", ".join(f"{key}={value}" for key, value in sorted(scrape.failures.items()))
    level = logging.INFO if status == "complete" else logging.WARNING
    logger.log(
        level,
        "%s: %s; listings seen %d (ok %d, gone %d, other area %d, disallowed %d, "
        "not a listing %d, failed %d); "
        "photos fetched %d, already done %d, verified on disk %d, duplicates %d; "
        "manifest %d photos; %d requests; failures: %s",
        area, status, counts["listings_seen"], counts["listings_ok"], counts["listings_gone"],
        counts["listings_foreign"], counts["listings_disallowed"],
        counts["listings_not_a_listing"], counts["listings_error"],
        counts["photos_fetched"], counts["photos_already_done"],
        counts["photos_verified_on_disk"], counts["photos_duplicate"], photos, requests,
        failures or "none")
