"""A seeded, offline demo data set: synthetic listing photos for a few made-up cities.

The default configuration runs on this data so that a new user sees a real map without any
network. Each city folder looks like a scraped Craigslist city: room photos with remote-style
names, a repeated ``1.jpg``, listing metadata in ``listings.tsv``, plus the things the pipeline
must catch (graphics, exact and near duplicates, unreadable files, odd-but-readable formats).
``demo_truth.tsv`` says what every file really is, so stages can be checked against it.

A city's files are a pure function of ``(city, cities, photos_per_city, seed)``; Snakemake runs
one job per city, so a job never reads another city's folder: the few photos it copies from a
neighbouring city are re-rendered here from that city's plan, byte for byte.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from roomgrid.core.io import atomic_path, write_table
from .graphics import ERROR_PAGE, dhash_of, near_duplicate, odd_file, render_ad, render_floor_plan
from .plan import (LISTING_COLUMNS, NEAR_DETAILS, NEAR_DHASH_LIMIT, ODD_DETAILS, ROOM_TYPES,
                   TRUTH_COLUMNS, UNREADABLE_DETAILS, CityPlan, PhotoSpec, plan_city, rng_for)
from .rooms import encode_jpeg, render_photo

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- the city folder

@dataclass
class _File:
    name: str
    data: bytes
    kind: str
    listing: int
    room_type: str = ""
    duplicate_of: str = ""
    detail: str = ""


def _slug(city: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", city.lower()).strip("-") or "city"


def make_demo_city(city: str, out_dir: str | Path, *, cities: Sequence[str],
                   photos_per_city: int, seed: int) -> pd.DataFrame:
    """Write one demo city folder: photos, problem files, ``listings.tsv``, ``demo_truth.tsv``.

    Parameters
    ----------
    city : str
        Name of the city; must be one of ``cities``.
    out_dir : str or Path
        The city's own folder (created). Nothing outside it is written or read.
    cities : sequence of str
        All demo cities, in order. A city copies exact duplicates from the previous city in
        this list (cyclically) and some near duplicates from the next one; odd formats are
        spread over the list.
    photos_per_city : int
        Number of ordinary room photos (``1.jpg`` included). Graphics, duplicates, unreadable
        and odd files come on top, a few per city, scaled with this number.
    seed : int
        Seed of everything; the same arguments always give byte-identical files.

    Returns
    -------
    pandas.DataFrame
        The truth table (columns ``file, kind, room_type, duplicate_of, detail``), as written
        to ``demo_truth.tsv``.
    """
    cities = list(cities)
    if city not in cities:
        raise ValueError(f"city {city!r} is not in the demo city list {cities}")
    if photos_per_city < 2:
        raise ValueError("photos_per_city must be at least 2")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    position = cities.index(city)
    sources = _Sources(
        seed, plan_city(city, cities, photos_per_city, seed),
        plan_city(cities[position - 1], cities, photos_per_city, seed),
        plan_city(cities[(position + 1) % len(cities)], cities, photos_per_city, seed))
    files = sources.render_own_photos()
    names = iter(zip(sources.plan.extra_names, sources.plan.extra_listings))
    counts = sources.plan.extra_counts
    # One generator, drawn from in this order, makes every planted problem reproducible.
    rng = rng_for(seed, city, "extras")
    files += _graphics(city, counts["graphic"], names, rng)
    duplicates, used = _exact_duplicates(sources, counts["exact_duplicate"], names, rng)
    files += duplicates
    files += _near_duplicates(sources, counts["near_duplicate"], names, rng, used)
    files += _unreadable_files(sources, names, rng)
    files += _odd_files(sources, position * counts["odd"], counts["odd"], names, rng)
    truth = _write_city(out_dir, sources.plan, files)
    logger.info("demo city %s: %d files (%d photos) in %s", city, len(files), photos_per_city,
                out_dir)
    return truth


class _Sources:
    """A city's plan and its neighbours' (the sources of cross-posted copies), and the bytes of
    the city's own photos once rendered."""

    def __init__(self, seed: int, plan: CityPlan, previous: CityPlan, following: CityPlan):
        self.seed = seed
        self.plan, self.previous, self.following = plan, previous, following
        self.plans = {p.city: p for p in (plan, previous, following)}
        self.own_bytes: dict[str, bytes] = {}

    @property
    def photos_per_city(self) -> int:
        return len(self.plan.photos)

    def render_own_photos(self) -> list[_File]:
        files = []
        for spec in tqdm(self.plan.photos, desc=f"demo {self.plan.city}", unit="photo", leave=False):
            self.own_bytes[spec.name] = encode_jpeg(render_photo(spec, self.plan.style, self.seed))
            files.append(_File(spec.name, self.own_bytes[spec.name], "photo", spec.listing,
                               spec.room_type))
        return files

    def photo_bytes(self, spec: PhotoSpec) -> bytes:
        if spec.city == self.plan.city:
            return self.own_bytes[spec.name]
        return encode_jpeg(render_photo(spec, self.plans[spec.city].style, self.seed))


def _graphics(city: str, count: int, names, rng: np.random.Generator) -> list[_File]:
    """Floor plans and adverts, alternating: low-entropy pictures triage must set aside."""
    files = []
    for k in range(count):
        name, listing = next(names)
        if k % 2 == 0:
            image, detail = render_floor_plan(rng), "floor-plan"
        else:
            image, detail = render_ad(rng, city), "ad"
        files.append(_File(name, encode_jpeg(image), "graphic", listing, detail=detail))
    return files


def _exact_duplicates(sources: _Sources, count: int, names, rng: np.random.Generator
                      ) -> tuple[list[_File], set[tuple[str, int]]]:
    """Byte-identical copies of the previous city's photos (cross-posted listings), and the
    (city, photo index) pairs used, which near duplicates must not reuse."""
    # Skip 1.jpg as a source: its name is taken in every city, which would blur the truth.
    chosen = rng.choice(np.arange(1, sources.photos_per_city), size=count, replace=False)
    files = []
    for index in chosen:
        spec = sources.previous.photos[index]
        name, listing = next(names)
        files.append(_File(name, sources.photo_bytes(spec), "exact_duplicate", listing,
                           spec.room_type, f"{spec.city}/{spec.name}", "cross-posted"))
    return files, {(sources.previous.city, int(i)) for i in chosen}


def _near_duplicates(sources: _Sources, count: int, names, rng: np.random.Generator,
                     used: set[tuple[str, int]]) -> list[_File]:
    """Re-saved copies (lower quality, smaller, cropped) of this city's and the next city's
    photos, each within NEAR_DHASH_LIMIT dHash bits of its original."""
    files = []
    for k in range(count):
        variant = NEAR_DETAILS[k % len(NEAR_DETAILS)]
        source_plan = sources.plan if k % 2 == 0 else sources.following
        name, listing = next(names)
        for index in rng.permutation(np.arange(1, sources.photos_per_city)):
            spec = source_plan.photos[index]
            if (spec.city, spec.index) in used:
                continue
            original = sources.photo_bytes(spec)
            copy = near_duplicate(original, variant)
            if dhash_of(original) - dhash_of(copy) <= NEAR_DHASH_LIMIT:
                break
        else:
            raise RuntimeError(f"no photo of {source_plan.city} survives {variant} "
                               f"within {NEAR_DHASH_LIMIT} dhash bits")
        used.add((spec.city, spec.index))
        files.append(_File(name, copy, "near_duplicate", listing, spec.room_type,
                           f"{spec.city}/{spec.name}", variant))
    return files


def _unreadable_files(sources: _Sources, names, rng: np.random.Generator) -> list[_File]:
    """One file per UNREADABLE_DETAILS: empty, a truncated JPEG, an HTML error page."""
    files = []
    for detail in UNREADABLE_DETAILS:
        name, listing = next(names)
        if detail == "zero-byte":
            data = b""
        elif detail == "truncated":
            whole = sources.own_bytes[
                sources.plan.photos[int(rng.integers(1, sources.photos_per_city))].name]
            data = whole[: len(whole) // 2]
        else:
            data = ERROR_PAGE
        files.append(_File(name, data, "unreadable", listing, detail=detail))
    return files


def _odd_files(sources: _Sources, first: int, count: int, names, rng: np.random.Generator
               ) -> list[_File]:
    """Readable photos in formats that need care (CMYK, RGBA PNG, EXIF rotation, 16-bit,
    animated GIF), taking ODD_DETAILS in turn from position ``first`` so cities share them out."""
    plan = sources.plan
    files = []
    for j in range(count):
        detail = ODD_DETAILS[(first + j) % len(ODD_DETAILS)]
        name, listing = next(names)
        specs = [PhotoSpec(city=plan.city, index=sources.photos_per_city + 2 * j + frame, name=name,
                           room_type=str(rng.choice(ROOM_TYPES, p=plan.style.room_weights)),
                           palette=plan.style.palettes[0], listing=listing, look_key=listing)
                 for frame in range(2)]
        frame_one, frame_two = (render_photo(s, plan.style, sources.seed) for s in specs)
        data, suffix = odd_file(detail, frame_one, frame_two, rng)
        name = name.removesuffix("_600x450.jpg") + suffix
        files.append(_File(name, data, "odd", listing, specs[0].room_type, detail=detail))
    return files


def _write_city(out_dir: Path, plan: CityPlan, files: list[_File]) -> pd.DataFrame:
    """Write the files, ``listings.tsv`` and ``demo_truth.tsv``; return the truth table."""
    for item in files:
        with atomic_path(out_dir / item.name) as tmp:
            tmp.write_bytes(item.data)
    slug = _slug(plan.city)
    rows = []
    for item in files:
        listing = plan.listings[item.listing]
        rows.append({"file": item.name,
                     "listing_url": f"https://{slug}.example.invalid/apa/{listing.post_id}.html",
                     "post_id": listing.post_id, "title": listing.title, "price": listing.price,
                     "bedrooms": listing.bedrooms, "sqft": listing.sqft,
                     "neighbourhood": listing.neighbourhood, "posted": listing.posted})
    listings = pd.DataFrame(rows, columns=LISTING_COLUMNS).sort_values(["post_id", "file"])
    write_table(listings, out_dir / "listings.tsv")
    truth = pd.DataFrame([{"file": f.name, "kind": f.kind, "room_type": f.room_type,
                           "duplicate_of": f.duplicate_of, "detail": f.detail} for f in files],
                         columns=TRUTH_COLUMNS)
    write_table(truth, out_dir / "demo_truth.tsv")
    return truth
