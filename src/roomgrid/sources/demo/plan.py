"""The demo's plans: each city's style, its listings and which file shows what, as pure
functions of ``(city, cities, photos_per_city, seed)``."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 600, 450
JPEG_QUALITY = 85
ROOM_TYPES = ("living_room", "kitchen", "bedroom", "bathroom", "empty_room")
KINDS = ("photo", "graphic", "exact_duplicate", "near_duplicate", "unreadable", "odd")
ODD_DETAILS = ("cmyk", "rgba-png", "exif-rotated", "16-bit-gray", "animated-gif")
NEAR_DETAILS = ("jpeg-q35", "resized-90pct", "cropped-3pct")
UNREADABLE_DETAILS = ("zero-byte", "truncated", "text")
TRUTH_COLUMNS = ["file", "kind", "room_type", "duplicate_of", "detail"]
LISTING_COLUMNS = ["file", "listing_url", "post_id", "title", "price", "bedrooms", "sqft",
                   "neighbourhood", "posted"]
# A near duplicate must stay this close (dhash bits) to its source; the generator skips sources
# whose hash would drift further, keeping a margin below the promised 6.
NEAR_DHASH_LIMIT = 4
# Photos are rendered at least this grayscale entropy (nats) before JPEG encoding.
MIN_PHOTO_ENTROPY = 4.6


@dataclass(frozen=True)
class Palette:
    """Colours of one interior style (RGB tuples)."""

    name: str
    wall: tuple[int, int, int]
    ceiling: tuple[int, int, int]
    floor: tuple[int, int, int]
    trim: tuple[int, int, int]
    fabrics: tuple[tuple[int, int, int], ...]
    warmth: float  # > 0 tints the light yellow, < 0 blue


PALETTES = (
    Palette("scandi", (236, 234, 228), (246, 246, 243), (201, 165, 122), (250, 250, 250),
            ((120, 124, 130), (215, 210, 200), (60, 62, 66)), 0.02),
    Palette("beige", (222, 204, 172), (238, 230, 214), (150, 128, 100), (245, 240, 228),
            ((140, 90, 60), (190, 170, 140), (95, 80, 70)), 0.08),
    Palette("sage", (170, 186, 152), (232, 234, 224), (168, 128, 88), (240, 240, 232),
            ((200, 190, 170), (90, 100, 80), (150, 95, 70)), 0.04),
    Palette("loft", (132, 90, 74), (128, 126, 122), (92, 62, 42), (40, 40, 42),
            ((160, 60, 40), (30, 30, 32), (180, 160, 120)), 0.06),
    Palette("coastal", (164, 194, 216), (240, 244, 248), (214, 196, 160), (252, 252, 252),
            ((40, 70, 120), (230, 225, 210), (200, 120, 80)), -0.05),
    Palette("retro", (226, 200, 110), (240, 232, 200), (130, 82, 50), (235, 225, 200),
            ((200, 90, 40), (60, 110, 100), (120, 60, 50)), 0.1),
    Palette("terracotta", (196, 122, 92), (236, 220, 206), (110, 70, 50), (244, 232, 220),
            ((60, 80, 70), (220, 200, 170), (40, 40, 50)), 0.07),
    Palette("concrete", (148, 150, 152), (170, 172, 174), (70, 72, 76), (210, 212, 214),
            ((30, 30, 30), (190, 60, 50), (220, 220, 220)), -0.03),
)


@dataclass(frozen=True)
class CityStyle:
    """What makes one city's photos recognisably its own."""

    palettes: tuple[int, ...]  # indices into PALETTES, most frequent first
    palette_weights: tuple[float, ...]
    room_weights: tuple[float, ...]  # over ROOM_TYPES
    height_ratio: float  # ceiling height / back wall width
    light_cast: float  # the city's usual colour of light, added to each palette's warmth
    window: str  # "tall", "wide" or "pair"
    carpet_share: float
    price_level: int
    neighbourhoods: tuple[str, ...]


@dataclass(frozen=True)
class PhotoSpec:
    """Everything needed to render one room photo again, in any job."""

    city: str
    index: int
    name: str
    room_type: str
    palette: int
    listing: int
    look_key: int  # seeds the listing's shared wall and floor colours


@dataclass(frozen=True)
class Listing:
    post_id: int
    title: str
    price: int
    bedrooms: int
    sqft: int
    neighbourhood: str
    posted: str


@dataclass(frozen=True)
class CityPlan:
    """Cheap, render-free description of a city: names, listings and photo specs."""

    city: str
    seed: int
    style: CityStyle
    photos: tuple[PhotoSpec, ...]
    listings: tuple[Listing, ...]
    extra_names: tuple[str, ...]  # names for the non-photo files, in a fixed order
    extra_listings: tuple[int, ...]
    extra_counts: dict


def rng_for(seed: int, *keys) -> np.random.Generator:
    """A generator seeded by a stable digest of ``keys`` (Python's hash() changes per process)."""
    digest = hashlib.sha256(repr((int(seed),) + keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def extra_counts(photos_per_city: int, n_cities: int) -> dict[str, int]:
    """How many files of each non-photo kind a city gets.

    Odd formats are spread over the cities (each city gets ``ceil(5 / n_cities)`` of them) so
    that every odd format appears somewhere while no city carries more than its share.
    """
    return {
        "graphic": max(2, round(photos_per_city / 20)),
        "exact_duplicate": max(2, photos_per_city // 25),
        "near_duplicate": max(3, round(photos_per_city / 16)),
        "unreadable": len(UNREADABLE_DETAILS),
        "odd": min(len(ODD_DETAILS), math.ceil(len(ODD_DETAILS) / max(1, n_cities))),
    }


# --------------------------------------------------------------------------- plans and names

_ID_ALPHABET = np.array(list("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_ID_PREFIXES = ("00L0L", "00w0w", "00P0P", "00r0r", "01313", "00Y0Y", "00h0h", "00505")
_HOOD_FIRST = ("North", "South", "East", "West", "Old", "Upper", "Lower", "Little", "New")
_HOOD_SECOND = ("Oak", "Mill", "Harbor", "Cedar", "Park", "River", "Maple", "Union", "Lake",
                "Station", "Orchard", "Bridge")
_HOOD_THIRD = ("Hill", "Town", "Square", "Heights", "Village", "Flats", "Point", "Side")
_TITLE_OPENERS = ("Sunny", "Spacious", "Charming", "Renovated", "Bright", "Quiet", "Cozy",
                  "Modern", "Classic", "Top-floor")
_TITLE_FEATURES = ("hardwood floors", "in-unit laundry", "near transit", "pets ok",
                   "updated kitchen", "lots of light", "parking included", "heat included",
                   "new appliances", "walk to park")


def _remote_name(rng: np.random.Generator, suffix: str = "_600x450.jpg") -> str:
    """A Craigslist-style image name such as ``00L0L_20Tz7LpfcXD_0dp0t2_600x450.jpg``."""
    prefix = _ID_PREFIXES[rng.integers(len(_ID_PREFIXES))]
    body = "".join(rng.choice(_ID_ALPHABET, 11))
    tail = "".join(rng.choice(_ID_ALPHABET, 6))
    return f"{prefix}_{body}_{tail}{suffix}"


def city_style(city: str, cities: Sequence[str], seed: int) -> CityStyle:
    """The style of ``city``; neighbouring cities in the list get different main palettes."""
    rng = rng_for(seed, city, "style")
    position = list(cities).index(city)
    main = (position * 3 + seed) % len(PALETTES)
    others = [p for p in rng.permutation(len(PALETTES)) if p != main][:2]
    palette_weights = (0.8, 0.15, 0.05)
    room_weights = rng.dirichlet(np.full(len(ROOM_TYPES), 8.0))
    hoods = {f"{rng.choice(_HOOD_FIRST)} {rng.choice(_HOOD_SECOND)}" if rng.random() < 0.5
             else f"{rng.choice(_HOOD_SECOND)} {rng.choice(_HOOD_THIRD)}" for _ in range(8)}
    return CityStyle(
        palettes=(int(main), *map(int, others)),
        palette_weights=palette_weights,
        room_weights=tuple(float(w) for w in room_weights),
        height_ratio=float(rng.uniform(0.55, 0.78)),
        light_cast=float(rng.uniform(-0.1, 0.1)),
        window=str(rng.choice(["tall", "wide", "pair"])),
        carpet_share=float(rng.uniform(0.0, 0.5)),
        price_level=int(rng.integers(9, 33) * 100),
        neighbourhoods=tuple(sorted(hoods)),
    )


def _listing_sizes(rng: np.random.Generator, n_files: int) -> list[int]:
    """Split ``n_files`` into listings of 3-8 photos (fewer only if there are < 3 files)."""
    sizes: list[int] = []
    left = n_files
    while left > 0:
        size = int(rng.integers(3, 9))
        if left - size < 3:  # never leave a remainder too small to be a listing
            size = left if left <= 8 else left - 3
        sizes.append(size)
        left -= size
    return sizes


def _make_listing(rng: np.random.Generator, city: str, style: CityStyle) -> Listing:
    bedrooms = int(rng.choice(5, p=[0.15, 0.35, 0.3, 0.15, 0.05]))
    sqft = int(round((380 + 330 * bedrooms) * rng.uniform(0.8, 1.25), -1))
    price = int(round(style.price_level * (1 + 0.35 * bedrooms) * rng.lognormal(0, 0.15) / 5) * 5)
    hood = str(rng.choice(style.neighbourhoods))
    rooms = "Studio" if bedrooms == 0 else f"{bedrooms}BR"
    title = (f"{rng.choice(_TITLE_OPENERS)} {rooms} apartment in {hood} - "
             f"{rng.choice(_TITLE_FEATURES)}")
    posted = np.datetime64("2017-01-02") + np.timedelta64(int(rng.integers(0, 180)), "D")
    return Listing(post_id=int(rng.integers(6_000_000_000, 6_200_000_000)), title=title,
                   price=price, bedrooms=bedrooms, sqft=sqft, neighbourhood=hood,
                   posted=str(posted))


def plan_city(city: str, cities: Sequence[str], photos_per_city: int, seed: int) -> CityPlan:
    """Decide names, listings, room types and palettes of ``city`` without rendering anything."""
    style = city_style(city, cities, seed)
    counts = extra_counts(photos_per_city, len(cities))
    n_files = photos_per_city + sum(counts.values())

    rng = rng_for(seed, city, "plan")
    names: list[str] = []
    seen = {"1.jpg"}
    while len(names) < n_files:
        name = _remote_name(rng)
        if name not in seen:
            seen.add(name)
            names.append(name)
    names[0] = "1.jpg"  # real folders repeat this name across cities

    sizes = _listing_sizes(rng, n_files)
    slot_listing = np.repeat(np.arange(len(sizes)), sizes)[rng.permutation(n_files)]
    listings = tuple(_make_listing(rng, city, style) for _ in sizes)
    listing_palette = rng.choice(style.palettes, size=len(sizes), p=style.palette_weights)
    photos = tuple(
        PhotoSpec(city=city, index=i, name=names[i],
                  room_type=str(rng.choice(ROOM_TYPES, p=style.room_weights)),
                  palette=int(listing_palette[slot_listing[i]]),
                  listing=int(slot_listing[i]),
                  look_key=int(slot_listing[i]))
        for i in range(photos_per_city)
    )
    return CityPlan(city=city, seed=seed, style=style, photos=photos, listings=listings,
                    extra_names=tuple(names[photos_per_city:]),
                    extra_listings=tuple(int(x) for x in slot_listing[photos_per_city:]),
                    extra_counts=counts)


