"""Resumable scrape state: append-only JSON-lines journals under ``<out_dir>/.scrape/``.

``search.jsonl``
    One record per search page fetched: its URL and the listings it showed.
``listings.jsonl``
    One record per listing outcome: ``status`` is ``ok`` (with metadata and photo references),
    ``gone``, ``foreign`` (belongs to another area), ``disallowed`` (robots.txt),
    ``not_a_listing`` (the URL served no Craigslist page at all) or ``error``. ``opened`` marks
    outcomes read from the listing page itself.
``photos.jsonl``
    One record per photo outcome, keyed by file name: ``ok`` (with ``sha256``) or a failure.
``status.json``
    How the last run ended (``complete``, ``incomplete``, ``blocked`` or ``failed``), judged on
    the whole journal, with the journal's outcome counts and the run's own.

The last record of a key wins. Final outcomes are never redone; ``error`` records (and anything
never recorded) are retried by the next run. A record is appended only after its work is done
(a photo only after its file was renamed into place), so a killed run loses at most the record
of the item it was working on, and that item is redone or re-verified from disk.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ...core.io import write_json

logger = logging.getLogger(__name__)

FINAL_LISTING_STATUSES = frozenset({"ok", "gone", "foreign", "disallowed", "not_a_listing"})
# Photo failures worth retrying later are recorded as "error"; these are final.
FINAL_PHOTO_STATUSES = frozenset({"ok", "not_an_image", "not_found", "disallowed"})


class Journal:
    """An append-only JSON-lines file read back as ``{key: last record}``."""

    def __init__(self, path: Path, key: str):
        self.path = path
        self.key = key
        self.records: dict[str, dict] = {}
        if path.exists():
            self._load()

    def _load(self) -> None:
        self._drop_cut_off_line()
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    # Only a write cut short by a crash leaves a broken line; its item is redone.
                    logger.warning("%s:%d: ignoring an incomplete record", self.path, number)
                    continue
                self.records[record[self.key]] = record

    def _drop_cut_off_line(self) -> None:
        """Truncate a last line without its newline: a write cut short by a kill. Appending after
        it would glue the next record onto it, and both would be unreadable on every later load."""
        with open(self.path, "rb+") as handle:
            content = handle.read()
            if not content or content.endswith(b"\n"):
                return
            keep = content.rfind(b"\n") + 1
            logger.warning("%s: dropping an incomplete last record (%d bytes) left by an "
                           "interrupted run; its item is redone", self.path, len(content) - keep)
            handle.truncate(keep)

    def add(self, record: dict) -> None:
        """Append ``record`` and make it the current record of its key."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        self.records[record[self.key]] = record

    def get(self, key: str) -> dict | None:
        return self.records.get(key)


class ScrapeState:
    """The journals of one area's output folder."""

    def __init__(self, out_dir: str | Path):
        self.directory = Path(out_dir) / ".scrape"
        self.search_pages = Journal(self.directory / "search.jsonl", key="url")
        self.listings = Journal(self.directory / "listings.jsonl", key="url")
        self.photos = Journal(self.directory / "photos.jsonl", key="file")

    def write_status(self, status: dict) -> None:
        write_json(status, self.directory / "status.json")
