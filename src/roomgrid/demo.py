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

import functools
import hashlib
import io as _io
import itertools
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont
from tqdm import tqdm

from roomgrid.io import atomic_path, write_table

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


def _rng(seed: int, *keys) -> np.random.Generator:
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
    rng = _rng(seed, city, "style")
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

    rng = _rng(seed, city, "plan")
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


# --------------------------------------------------------------------------- room rendering

Color = tuple[int, int, int]


def _scale(color: Sequence[float], factor: float) -> Color:
    return tuple(int(min(255, max(0, round(c * factor)))) for c in color)  # type: ignore


def _jitter(color: Sequence[float], rng: np.random.Generator, amount: float) -> Color:
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in color)  # type: ignore


class _Scene:
    """One-point perspective of a box-shaped room seen from inside.

    A point is given by ``u`` (0 = left wall, 1 = right wall, in back-wall widths), ``d`` (depth
    from the back wall towards the camera, same unit) and ``h`` (0 = floor, 1 = ceiling). Points
    scale about the vanishing point by ``zc / (zc - d)``, so every receding edge meets there.
    """

    def __init__(self, rng: np.random.Generator, style: CityStyle):
        self.width = WIDTH * rng.uniform(0.28, 0.66)
        self.height = self.width * style.height_ratio * rng.uniform(0.9, 1.1)
        self.eye = rng.uniform(0.42, 0.58)  # camera height as a share of the ceiling height
        self.vx = WIDTH * rng.uniform(0.18, 0.82)
        self.vy = HEIGHT * rng.uniform(0.38, 0.56)
        self.vp_u = rng.uniform(0.2, 0.8)
        self.x0 = self.vx - self.vp_u * self.width
        self.y_floor = self.vy + self.eye * self.height
        self.zc = rng.uniform(0.9, 1.5)
        self.d_near = self.zc * 0.93  # far enough forward to leave the frame

    def point(self, u: float, d: float, h: float) -> tuple[float, float]:
        s = self.zc / (self.zc - d)
        x = self.x0 + u * self.width
        y = self.y_floor - h * self.height
        return (self.vx + s * (x - self.vx), self.vy + s * (y - self.vy))

    def quad_floor(self, u0, u1, d0, d1, h=0.0):
        return [self.point(u0, d0, h), self.point(u1, d0, h), self.point(u1, d1, h),
                self.point(u0, d1, h)]

    def quad_back(self, u0, u1, h0, h1, d=0.0):
        return [self.point(u0, d, h0), self.point(u1, d, h0), self.point(u1, d, h1),
                self.point(u0, d, h1)]

    def quad_side(self, u, d0, d1, h0, h1):
        return [self.point(u, d0, h0), self.point(u, d1, h0), self.point(u, d1, h1),
                self.point(u, d0, h1)]

    def wall_quad(self, wall: str, a0, a1, h0, h1):
        """A rectangle on a wall: ``a`` runs along the wall (``u`` on the back, ``d`` on a side)."""
        if wall == "back":
            return self.quad_back(a0, a1, h0, h1)
        return self.quad_side(0 if wall == "left" else 1, a0, a1, h0, h1)

    def box(self, draw: ImageDraw.ImageDraw, u0, u1, d0, d1, h0, h1, color: Color) -> None:
        """Draw the faces of a box the camera can see, far faces first."""
        if u1 < self.vp_u:
            draw.polygon(self.quad_side(u1, d0, d1, h0, h1), fill=_scale(color, 0.78))
        elif u0 > self.vp_u:
            draw.polygon(self.quad_side(u0, d0, d1, h0, h1), fill=_scale(color, 0.78))
        if h1 < self.eye:
            draw.polygon(self.quad_floor(u0, u1, d0, d1, h1), fill=_scale(color, 1.12))
        elif h0 > self.eye:
            draw.polygon(self.quad_floor(u0, u1, d0, d1, h0), fill=_scale(color, 0.7))
        draw.polygon(self.quad_back(u0, u1, h0, h1, d1), fill=color)


@dataclass
class _Look:
    """Colours shared by all photos of one listing (same apartment, same paint)."""

    wall: Color
    ceiling: Color
    floor: Color
    trim: Color
    fabrics: tuple[Color, ...]
    floor_kind: str
    warmth: float


def _listing_look(spec: PhotoSpec, style: CityStyle, seed: int) -> _Look:
    rng = _rng(seed, spec.city, "look", spec.look_key)
    pal = PALETTES[spec.palette]
    return _Look(
        wall=_jitter(pal.wall, rng, 8), ceiling=_jitter(pal.ceiling, rng, 4),
        floor=_jitter(pal.floor, rng, 10), trim=pal.trim,
        fabrics=tuple(_jitter(c, rng, 12) for c in pal.fabrics),
        floor_kind="carpet" if rng.random() < style.carpet_share else "wood",
        warmth=pal.warmth + style.light_cast,
    )


def _draw_shell(scene: _Scene, draw: ImageDraw.ImageDraw, look: _Look, room_type: str,
                rng: np.random.Generator) -> None:
    """Ceiling, walls, floor (planks, carpet or tiles) and baseboards."""
    near = scene.d_near
    light_left = rng.random() < 0.5
    walls = {"left": _scale(look.wall, 1.04 if light_left else 0.86),
             "right": _scale(look.wall, 0.86 if light_left else 1.04),
             "back": _scale(look.wall, 0.96)}
    accent = rng.choice(["none", "back", "left", "right"], p=[0.55, 0.15, 0.15, 0.15])
    if accent != "none":  # one wall painted in another style's wall colour
        walls[accent] = _jitter(PALETTES[rng.integers(len(PALETTES))].wall, rng, 10)
    draw.polygon(scene.quad_floor(0, 1, 0, near, 1), fill=_scale(look.ceiling, 0.93))
    draw.polygon(scene.quad_back(0, 1, 0, 1), fill=walls["back"])
    # Side walls darken or brighten towards the camera; drawn as narrow strips. Both ways are
    # equally likely so that photos do not share one left-right brightness profile.
    depths = np.linspace(0, near, 25)
    for wall in ("left", "right"):
        factors = np.linspace(1.0, rng.uniform(0.7, 1.3), len(depths) - 1)
        for d0, d1, factor in zip(depths[:-1], depths[1:], factors):
            draw.polygon(scene.wall_quad(wall, d0, d1 + 0.01, 0, 1),
                         fill=_scale(walls[wall], factor))

    tiled = room_type in ("bathroom", "kitchen")
    if tiled:
        tile = _jitter((205, 205, 200) if room_type == "bathroom" else look.floor, rng, 10)
        draw.polygon(scene.quad_floor(0, 1, 0, near), fill=tile)
        grout = _scale(tile, 0.7)
        step = rng.uniform(0.08, 0.14)
        for u in np.arange(step, 1, step):
            draw.line([scene.point(u, 0, 0), scene.point(u, near, 0)], fill=grout, width=2)
        for d in np.arange(step, near, step):
            draw.line([scene.point(0, d, 0), scene.point(1, d, 0)], fill=grout, width=2)
    elif look.floor_kind == "carpet":
        draw.polygon(scene.quad_floor(0, 1, 0, near), fill=_scale(look.floor, 1.15))
    else:
        n_planks = int(rng.integers(9, 16))
        edges = np.linspace(0, 1, n_planks + 1)
        for u0, u1 in itertools.pairwise(edges):
            plank = _scale(look.floor, rng.uniform(0.85, 1.12))
            draw.polygon(scene.quad_floor(u0, u1, 0, near), fill=_jitter(plank, rng, 3),
                         outline=_scale(look.floor, 0.75))

    if room_type == "bathroom":
        top = rng.uniform(0.45, 0.7)
        tile = _jitter((228, 232, 232), rng, 12)
        grout = _scale(tile, 0.78)
        draw.polygon(scene.quad_back(0, 1, 0, top), fill=tile)
        draw.polygon(scene.quad_side(0, 0, near, 0, top), fill=_scale(tile, 0.9))
        draw.polygon(scene.quad_side(1, 0, near, 0, top), fill=_scale(tile, 0.9))
        step = rng.uniform(0.06, 0.1)
        for h in np.arange(step, top, step):
            draw.line([scene.point(0, near, h), scene.point(0, 0, h), scene.point(1, 0, h),
                       scene.point(1, near, h)], fill=grout, width=1)
        for u in np.arange(step, 1, step):
            draw.line([scene.point(u, 0, 0), scene.point(u, 0, top)], fill=grout, width=1)
        for d in np.arange(step, near, step):
            for u in (0, 1):
                draw.line([scene.point(u, d, 0), scene.point(u, d, top)], fill=grout, width=1)
    else:
        board = look.trim
        draw.polygon(scene.quad_back(0, 1, 0, 0.035), fill=board)
        draw.polygon(scene.quad_side(0, 0, near, 0, 0.035), fill=_scale(board, 0.9))
        draw.polygon(scene.quad_side(1, 0, near, 0, 0.035), fill=_scale(board, 0.9))


@dataclass(frozen=True)
class _Opening:
    """A window on ``wall`` spanning ``a0..a1`` along it and ``h0..h1`` in height."""

    wall: str
    a0: float
    a1: float
    h0: float
    h1: float

    def quad(self, scene: _Scene):
        return scene.wall_quad(self.wall, self.a0, self.a1, self.h0, self.h1)

    def sun_patch(self, scene: _Scene, shift: float):
        """The floor patch lit through this window by a low sun."""
        reach = (self.h1 - self.h0) * 0.7
        if self.wall == "back":
            return scene.quad_floor(self.a0 + shift, self.a1 + shift, 0.02, 0.02 + reach)
        u0, u1 = (0.02, 0.02 + reach) if self.wall == "left" else (0.98 - reach, 0.98)
        return scene.quad_floor(u0, u1, self.a0 + shift, self.a1 + shift)


def _windows(scene: _Scene, style: CityStyle, room_type: str,
             rng: np.random.Generator) -> list[_Opening]:
    """One or two windows (or pairs of them, by city style) on the back and side walls."""
    openings = []
    walls = rng.choice(["back", "left", "right"], size=int(rng.integers(1, 3)), replace=False)
    for wall in walls:
        if style.window == "tall":
            width, h0, h1 = rng.uniform(0.14, 0.24), rng.uniform(0.2, 0.3), rng.uniform(0.78, 0.9)
        elif style.window == "wide":
            width, h0, h1 = rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.4), rng.uniform(0.72, 0.85)
        else:
            width, h0, h1 = rng.uniform(0.11, 0.16), rng.uniform(0.28, 0.36), rng.uniform(0.8, 0.88)
        if room_type == "bathroom":  # small and high
            width, h0 = width * 0.6, max(h0, 0.55)
        copies = 2 if style.window == "pair" else 1
        if wall == "back":
            start = rng.uniform(0.06, 0.94 - copies * width * 1.2)
        else:
            start = rng.uniform(0.05, 0.3) * scene.zc
        for k in range(copies):
            a0 = start + k * width * 1.2
            openings.append(_Opening(str(wall), a0, a0 + width, h0, h1))
    return openings


def _sky(rng: np.random.Generator, horizon: float) -> Image.Image:
    """Full-frame view through the windows: sky gradient, far buildings and trees."""
    overcast = rng.random() < 0.3
    top = np.array((178, 184, 192) if overcast else (62 + rng.integers(0, 40), 126, 205), float)
    low = np.array((222, 226, 230) if overcast else (200, 222, 240), float)
    t = np.clip(np.linspace(0, 1, HEIGHT) / max(horizon / HEIGHT, 0.2), 0, 1)[:, None]
    column = (top * (1 - t) + low * t).astype(np.uint8)
    sky = Image.fromarray(np.broadcast_to(column[:, None, :], (HEIGHT, WIDTH, 3)).copy())
    draw = ImageDraw.Draw(sky)
    x = -20.0
    while x < WIDTH:
        w = rng.uniform(30, 110)
        top_y = horizon + rng.uniform(-90, 30)
        draw.rectangle([x, top_y, x + w, HEIGHT], fill=_jitter((150, 140, 135), rng, 30))
        for wy in np.arange(top_y + 8, HEIGHT, 18):  # rows of small windows
            draw.line([(x + 5, wy), (x + w - 5, wy)], fill=(90, 95, 110), width=4)
        x += w + rng.uniform(-10, 40)
    for _ in range(int(rng.integers(0, 5))):
        cx, cy, r = rng.uniform(0, WIDTH), horizon + rng.uniform(-20, 60), rng.uniform(25, 60)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r * 1.4], fill=_jitter((70, 110, 60), rng, 15))
    return sky


def _draw_door(scene: _Scene, draw: ImageDraw.ImageDraw, look: _Look, rng: np.random.Generator):
    wood = rng.random() < 0.4
    color = _jitter((150, 104, 70) if wood else look.trim, rng, 8)
    if rng.random() < 0.35:  # an open doorway into a dim hall
        color = _scale(look.wall, rng.uniform(0.3, 0.5))
    if rng.random() < 0.5:
        u0 = rng.choice([rng.uniform(0.04, 0.2), rng.uniform(0.65, 0.8)])
        draw.polygon(scene.quad_back(u0 - 0.02, u0 + 0.2, 0, 0.82), fill=look.trim)
        draw.polygon(scene.quad_back(u0, u0 + 0.18, 0, 0.8), fill=color)
        for h0, h1 in ((0.08, 0.36), (0.44, 0.74)):
            draw.polygon(scene.quad_back(u0 + 0.03, u0 + 0.15, h0, h1),
                         outline=_scale(color, 0.8), width=2)
        knob = scene.point(u0 + 0.155, 0, 0.38)
        draw.ellipse([knob[0] - 3, knob[1] - 3, knob[0] + 3, knob[1] + 3], fill=(180, 160, 90))
    else:
        u = int(rng.integers(0, 2))
        d0 = rng.uniform(0.3, 0.6) * scene.zc
        draw.polygon(scene.quad_side(u, d0, d0 + 0.18, 0, 0.8), fill=_scale(color, 0.9))


def _draw_wall_art(scene, draw, look, rng, u_range=(0.15, 0.85), h_range=(0.5, 0.8)):
    u0 = rng.uniform(*u_range)
    w = rng.uniform(0.08, 0.2)
    h0, h1 = rng.uniform(h_range[0], h_range[0] + 0.1), rng.uniform(h_range[1] - 0.1, h_range[1])
    draw.polygon(scene.quad_back(u0, u0 + w, h0, h1), fill=(30, 30, 30))
    draw.polygon(scene.quad_back(u0 + 0.008, u0 + w - 0.008, h0 + 0.015, h1 - 0.015),
                 fill=_jitter(rng.choice(look.fabrics), rng, 40))


def _furnish_living(scene, draw, look, rng):
    if rng.random() < 0.7:
        rug = _jitter(look.fabrics[1], rng, 15)
        draw.polygon(scene.quad_floor(0.2, 0.8, 0.2, 0.7), fill=rug)
    _draw_wall_art(scene, draw, look, rng)
    sofa = look.fabrics[0]
    u0 = rng.uniform(0.1, 0.35)
    u1 = u0 + rng.uniform(0.35, 0.55)
    scene.box(draw, u0, u1, 0.0, 0.06, 0.0, 0.34, _scale(sofa, 0.9))
    scene.box(draw, u0, u1, 0.0, 0.22, 0.0, 0.18, sofa)
    scene.box(draw, u0, u0 + 0.05, 0.0, 0.22, 0.0, 0.25, _scale(sofa, 0.95))
    scene.box(draw, u1 - 0.05, u1, 0.0, 0.22, 0.0, 0.25, _scale(sofa, 0.95))
    table = _jitter((120, 84, 55), rng, 20)
    scene.box(draw, 0.35, 0.65, 0.38, 0.52, 0.1, 0.14, table)
    if rng.random() < 0.6:  # floor lamp
        u = rng.choice([0.06, 0.9])
        scene.box(draw, u, u + 0.015, 0.05, 0.07, 0.0, 0.55, (40, 40, 40))
        scene.box(draw, u - 0.04, u + 0.055, 0.03, 0.09, 0.55, 0.68, (245, 235, 210))
    if rng.random() < 0.5:  # plant
        u = rng.choice([0.04, 0.88])
        scene.box(draw, u, u + 0.07, 0.25, 0.32, 0.0, 0.1, (170, 90, 60))
        a, b = scene.point(u - 0.05, 0.28, 0.32), scene.point(u + 0.12, 0.28, 0.1)
        draw.ellipse([a[0], a[1], b[0], b[1]], fill=_jitter((60, 110, 55), rng, 15))


def _furnish_bedroom(scene, draw, look, rng):
    _draw_wall_art(scene, draw, look, rng, h_range=(0.6, 0.85))
    u0 = rng.uniform(0.2, 0.4)
    u1 = u0 + rng.uniform(0.3, 0.42)
    scene.box(draw, u0 - 0.02, u1 + 0.02, 0.0, 0.03, 0.0, 0.45, _jitter((110, 80, 60), rng, 25))
    scene.box(draw, u0, u1, 0.03, 0.62, 0.0, 0.12, (90, 80, 70))
    duvet = _jitter(rng.choice([(235, 235, 232), look.fabrics[1], look.fabrics[2]]), rng, 10)
    scene.box(draw, u0, u1, 0.03, 0.62, 0.12, 0.22, duvet)
    mid = (u0 + u1) / 2
    for a, b in ((u0 + 0.02, mid - 0.01), (mid + 0.01, u1 - 0.02)):
        scene.box(draw, a, b, 0.04, 0.12, 0.22, 0.28, (245, 245, 240))
    stand = _jitter((140, 100, 70), rng, 20)
    for a in (u0 - 0.12, u1 + 0.04):
        scene.box(draw, a, a + 0.08, 0.0, 0.08, 0.0, 0.2, stand)
    if rng.random() < 0.5:  # wardrobe against a side wall
        u = 0.0 if rng.random() < 0.5 else 0.85
        scene.box(draw, u, u + 0.15, 0.2, 0.5, 0.0, 0.85, _jitter(look.trim, rng, 20))


def _furnish_kitchen(scene, draw, look, rng):
    cabinet = _jitter(rng.choice([look.trim, (60, 70, 90), (150, 110, 75), (90, 110, 95)]), rng, 10)
    counter = _jitter(rng.choice([(40, 40, 42), (200, 195, 185), (120, 110, 100)]), rng, 8)
    backsplash = _jitter((220, 222, 225), rng, 15)
    draw.polygon(scene.quad_back(0, 1, 0.36, 0.55), fill=backsplash)
    for h in np.arange(0.4, 0.55, 0.04):
        draw.line([scene.point(0, 0, h), scene.point(1, 0, h)], fill=_scale(backsplash, 0.8))
    fridge_left = rng.random() < 0.5
    run = (0.2, 1.0) if fridge_left else (0.0, 0.8)
    scene.box(draw, run[0], run[1], 0.0, 0.2, 0.0, 0.34, cabinet)
    scene.box(draw, run[0], run[1], 0.0, 0.21, 0.34, 0.37, counter)
    for u in np.arange(run[0] + 0.1, run[1], 0.1):  # cabinet door seams
        draw.line([scene.point(u, 0.2, 0.02), scene.point(u, 0.2, 0.32)], fill=_scale(cabinet, 0.7))
    scene.box(draw, run[0], run[1], 0.0, 0.12, 0.6, 0.88, _scale(cabinet, 1.05))
    stove = run[0] + rng.uniform(0.2, 0.5)
    draw.polygon(scene.quad_floor(stove, stove + 0.14, 0.03, 0.18, 0.371), fill=(25, 25, 25))
    fridge = (0.0, 0.18) if fridge_left else (0.82, 1.0)
    scene.box(draw, fridge[0], fridge[1], 0.0, 0.22, 0.0, 0.8,
              _jitter(rng.choice([(210, 212, 215), (235, 235, 232), (60, 60, 62)]), rng, 6))


def _furnish_bathroom(scene, draw, look, rng):
    white = (242, 242, 240)
    tub_left = rng.random() < 0.5
    tub = (0.0, 0.45) if tub_left else (0.55, 1.0)
    scene.box(draw, tub[0], tub[1], 0.0, 0.24, 0.0, 0.2, white)
    draw.polygon(scene.quad_floor(tub[0] + 0.03, tub[1] - 0.03, 0.03, 0.21, 0.2),
                 fill=(210, 215, 218))
    sink = (0.62, 0.82) if tub_left else (0.12, 0.32)
    draw.polygon(scene.quad_back(sink[0], sink[1], 0.5, 0.8), fill=(180, 196, 204))  # mirror
    scene.box(draw, sink[0], sink[1], 0.0, 0.16, 0.0, 0.3, _jitter(look.fabrics[2], rng, 15))
    scene.box(draw, sink[0], sink[1], 0.0, 0.17, 0.3, 0.33, white)
    toilet = (sink[1] + 0.02, sink[1] + 0.13) if tub_left else (sink[0] - 0.13, sink[0] - 0.02)
    scene.box(draw, toilet[0], toilet[1], 0.0, 0.05, 0.2, 0.36, white)
    scene.box(draw, toilet[0] + 0.01, toilet[1] - 0.01, 0.05, 0.2, 0.0, 0.2, white)


def _furnish_empty(scene, draw, look, rng):
    if rng.random() < 0.6:  # radiator under the back wall
        u0 = rng.uniform(0.2, 0.6)
        scene.box(draw, u0, u0 + 0.22, 0.0, 0.04, 0.04, 0.22, _scale(look.trim, 0.95))
        for u in np.arange(u0 + 0.02, u0 + 0.22, 0.02):
            draw.line([scene.point(u, 0.04, 0.05), scene.point(u, 0.04, 0.21)],
                      fill=_scale(look.trim, 0.75))
    for _ in range(int(rng.integers(1, 3))):  # outlets
        p = scene.point(rng.uniform(0.1, 0.9), 0, 0.1)
        draw.rectangle([p[0] - 3, p[1] - 5, p[0] + 3, p[1] + 5], fill=look.trim,
                       outline=_scale(look.wall, 0.7))


_FURNISH = {"living_room": _furnish_living, "bedroom": _furnish_bedroom,
            "kitchen": _furnish_kitchen, "bathroom": _furnish_bathroom,
            "empty_room": _furnish_empty}


_SMOOTH = ImageFilter.Kernel((3, 3), [1, 2, 1, 2, 4, 2, 1, 2, 1])  # softens aliased edges


def _shade(pixels: np.ndarray, light: tuple[float, float], look: _Look, sky: np.ndarray,
           sun: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light falloff, vignetting, tint, blotchy texture and sensor noise.

    The light varies mostly from top to bottom (a pool around ``light`` that is much wider
    than tall, and a vertical gradient). Strong left-right trends would be shared by many
    photos and make unrelated photos' dhash (which compares horizontal neighbours) alike.
    Pixels where ``sky`` is true are daylight seen through a window and stay bright; ``sun``
    (0-255) marks patches of direct sunlight. Fields are outer products of row and column
    profiles, which keeps this cheap.
    """
    xs = np.arange(WIDTH, dtype=np.float32)
    ys = np.arange(HEIGHT, dtype=np.float32)[:, None]
    ambient = rng.uniform(0.3, 0.55)
    glow = (np.exp(-(((xs - light[0]) / (1.5 * WIDTH)) ** 2))
            * np.exp(-(((ys - light[1]) / (HEIGHT * rng.uniform(0.3, 0.6))) ** 2)))
    vignette = 1 - 0.12 * (((xs - WIDTH / 2) / WIDTH) ** 2 + ((ys - HEIGHT / 2) / HEIGHT) ** 2)
    vertical = 1 + np.float32(rng.uniform(-0.35, 0.2)) * (ys / HEIGHT - 0.5)
    shading = (ambient + (1 - ambient) * glow) * vignette * vertical
    shading *= 1 + sun * np.float32(rng.uniform(0.25, 0.5) / 255)
    # Auto-exposure: bring the bright end of the room near white, as a camera would; it also
    # spreads the histogram of dark rooms.
    sample = (pixels[::8, ::8].mean(axis=2) * shading[::8, ::8])
    gain = np.clip(rng.uniform(215, 240) / max(np.percentile(sample, 97), 1.0), 0.8, 1.5)
    shading *= np.float32(gain)
    shading[sky] = 1.0
    blotches = rng.normal(0, 4, (HEIGHT // 45 + 2, WIDTH // 45 + 2)).astype(np.float32)
    blotches = np.asarray(Image.fromarray(blotches, mode="F").resize((WIDTH, HEIGHT),
                                                                      Image.Resampling.BICUBIC))
    grain = blotches + rng.standard_normal((HEIGHT, WIDTH), dtype=np.float32) * 4.5
    tint = np.array([1 + look.warmth, 1.0, 1 - look.warmth], np.float32)
    np.multiply(pixels, shading[..., None], out=pixels)
    np.multiply(pixels, tint, out=pixels)
    np.add(pixels, grain[..., None], out=pixels)
    return np.clip(pixels, 0, 255, out=pixels).astype(np.uint8)


def render_photo(spec: PhotoSpec, style: CityStyle, seed: int) -> Image.Image:
    """Render the room photo described by ``spec`` (600x450 RGB), the same every time."""
    rng = _rng(seed, spec.city, "photo", spec.index)
    look = _listing_look(spec, style, seed)
    scene = _Scene(rng, style)
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    _draw_shell(scene, draw, look, spec.room_type, rng)

    windows = _windows(scene, style, spec.room_type, rng)
    window_mask = Image.new("L", (WIDTH, HEIGHT))
    sun_mask = Image.new("L", (WIDTH, HEIGHT))
    sunny = rng.random() < 0.5
    shift = rng.uniform(-0.15, 0.25)
    for window in windows:
        ImageDraw.Draw(window_mask).polygon(window.quad(scene), fill=255)
        if sunny:
            ImageDraw.Draw(sun_mask).polygon(window.sun_patch(scene, shift), fill=255)
    sky = _sky(rng, scene.vy)
    image.paste(sky, (0, 0), window_mask)
    curtains = _jitter(rng.choice(look.fabrics), rng, 15) if rng.random() < 0.5 else None
    for window in windows:
        quad = window.quad(scene)
        draw.polygon(quad, outline=look.trim, width=5)
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = quad
        draw.line([((ax + bx) / 2, (ay + by) / 2), ((cx + dx) / 2, (cy + dy) / 2)],
                  fill=look.trim, width=3)
        draw.line([((ax + dx) / 2, (ay + dy) / 2), ((bx + cx) / 2, (by + cy) / 2)],
                  fill=look.trim, width=3)
        if curtains is not None and spec.room_type != "bathroom":
            panel = 0.35 * (window.a1 - window.a0) + 0.03
            top = min(0.97, window.h1 + 0.06)
            for a0, a1 in ((window.a0 - panel * 0.8, window.a0 + panel * 0.2),
                           (window.a1 - panel * 0.2, window.a1 + panel * 0.8)):
                draw.polygon(scene.wall_quad(window.wall, a0, a1, 0.05, top), fill=curtains)

    if spec.room_type != "bathroom" and rng.random() < 0.6:
        _draw_door(scene, draw, look, rng)
    lamp = scene.point(scene.vp_u, scene.zc * 0.4, 1)
    draw.ellipse([lamp[0] - 22, lamp[1] - 6, lamp[0] + 22, lamp[1] + 6], fill=(250, 248, 235))
    _FURNISH[spec.room_type](scene, draw, look, rng)

    # Sky pixels that furniture did not paint over keep their exact sky value.
    difference = ImageChops.difference(image, sky).split()
    changed = ImageChops.lighter(ImageChops.lighter(difference[0], difference[1]), difference[2])
    sky_visible = (np.asarray(window_mask) > 0) & (np.asarray(changed) == 0)
    light = (WIDTH * rng.uniform(0, 1), HEIGHT * rng.uniform(0.0, 0.8))
    pixels = np.array(image.filter(_SMOOTH), np.float32)
    photo = Image.fromarray(_shade(pixels, light, look, sky_visible, np.asarray(sun_mask), rng))
    # A rare render dominated by one flat wall gets an auto-levels contrast stretch, so that
    # every demo photo clears the pipeline's photo threshold (4.4 nats) with a margin.
    while gray_entropy(photo) < MIN_PHOTO_ENTROPY:
        mean = np.asarray(photo.convert("L")).mean()
        stretched = (np.asarray(photo, np.float32) - mean) * 1.25 + mean
        photo = Image.fromarray(np.clip(stretched, 0, 255).astype(np.uint8))
    return photo


def gray_entropy(image: Image.Image) -> float:
    """Shannon entropy (nats) of the 8-bit grayscale histogram."""
    counts = np.asarray(image.convert("L").histogram(), float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def encode_jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes; one encoder setting everywhere so re-rendered copies match byte for byte."""
    buffer = _io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


# --------------------------------------------------------------------------- graphics

@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _centered_text(draw: ImageDraw.ImageDraw, y: float, text: str, size: int, fill) -> None:
    left, _, right, _ = draw.textbbox((0, 0), text, font=_font(size))
    draw.text(((WIDTH - (right - left)) / 2 - left, y), text, font=_font(size), fill=fill)


_PLAN_ROOMS = ("LIVING", "KITCHEN", "BEDROOM", "BATH", "BEDROOM 2", "DINING", "CLOSET", "DEN")


def render_floor_plan(rng: np.random.Generator) -> Image.Image:
    """A line-drawn floor plan: white paper, black walls, door gaps, room labels."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    outer = (int(rng.integers(40, 80)), int(rng.integers(60, 90)),
             int(rng.integers(520, 560)), int(rng.integers(400, 425)))
    rooms = [outer]
    for _ in range(int(rng.integers(3, 6))):  # split the largest room across its long side
        rooms.sort(key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))
        x0, y0, x1, y1 = rooms.pop()
        cut = rng.uniform(0.35, 0.65)
        if x1 - x0 >= y1 - y0:
            xm = int(x0 + cut * (x1 - x0))
            rooms += [(x0, y0, xm, y1), (xm, y0, x1, y1)]
        else:
            ym = int(y0 + cut * (y1 - y0))
            rooms += [(x0, y0, x1, ym), (x0, ym, x1, y1)]
    for room in rooms:
        draw.rectangle(room, outline="black", width=3)
    for x0, y0, x1, y1 in rooms:  # a door gap with its swing arc on each room's top wall
        if x1 - x0 > 80 and y0 > outer[1] + 5:
            dx = int(x0 + rng.uniform(0.2, 0.6) * (x1 - x0))
            draw.rectangle([dx, y0 - 2, dx + 30, y0 + 2], fill="white")
            draw.arc([dx - 30, y0 - 30, dx + 30, y0 + 30], 0, 90, fill="black", width=1)
    draw.rectangle(outer, outline="black", width=7)
    names = rng.permutation(_PLAN_ROOMS)
    for (x0, y0, x1, y1), name in zip(rooms, names):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.text((cx, cy - 8), str(name), font=_font(15), fill="black", anchor="mm")
        feet = f"{(x1 - x0) // 22}' x {(y1 - y0) // 22}'"
        draw.text((cx, cy + 10), feet, font=_font(12), fill="black", anchor="mm")
    unit = f"UNIT {rng.integers(1, 9)}{'ABCD'[rng.integers(4)]}  -  FLOOR PLAN"
    _centered_text(draw, 18, unit, 22, "black")
    return image


_AD_COLORS = ((200, 30, 40), (20, 90, 170), (20, 130, 80), (240, 180, 20), (90, 40, 130),
              (20, 20, 25), (230, 100, 20))


def render_ad(rng: np.random.Generator, city: str) -> Image.Image:
    """A flat advertisement: one solid colour, a stripe and large text."""
    background = _AD_COLORS[rng.integers(len(_AD_COLORS))]
    ink = "black" if sum(background) > 450 else "white"
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    headline = str(rng.choice(["NOW LEASING", "MOVE IN SPECIAL", "1 MONTH FREE", "OPEN HOUSE"]))
    _centered_text(draw, 70, headline, 58, ink)
    draw.rectangle([0, 170, WIDTH, 250], fill=ink)
    price = f"from ${int(rng.integers(9, 30)) * 100:,}/mo"
    _centered_text(draw, 182, price, 46, background)
    _centered_text(draw, 290, f"{city.title()} Residences", 34, ink)
    # 555-0100 to 555-0199 are the numbers reserved for fiction.
    _centered_text(draw, 350, f"CALL (617) 555-01{rng.integers(0, 100):02d}", 30, ink)
    return image


# --------------------------------------------------------------------------- odd and broken files

def _near_duplicate(source: bytes, variant: str) -> bytes:
    """Re-save a photo the way re-posters do: lower quality, smaller, or slightly cropped."""
    image = Image.open(_io.BytesIO(source)).convert("RGB")
    if variant == "jpeg-q35":
        return encode_jpeg(image, quality=35)
    if variant == "resized-90pct":
        return encode_jpeg(image.resize((WIDTH * 9 // 10, HEIGHT * 9 // 10),
                                        Image.Resampling.LANCZOS))
    if variant == "cropped-3pct":
        dx, dy = round(WIDTH * 0.015), round(HEIGHT * 0.015)
        return encode_jpeg(image.crop((dx, dy, WIDTH - dx, HEIGHT - dy)))
    raise ValueError(f"unknown near-duplicate variant {variant!r}")


def _dhash(data: bytes) -> imagehash.ImageHash:
    return imagehash.dhash(Image.open(_io.BytesIO(data)))


def _odd_file(detail: str, image: Image.Image, second: Image.Image,
              rng: np.random.Generator) -> tuple[bytes, str]:
    """Encode a room photo in an unusual but readable way; returns (bytes, file suffix)."""
    buffer = _io.BytesIO()
    if detail == "cmyk":
        image.convert("CMYK").save(buffer, format="JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue(), "_600x450.jpg"
    if detail == "rgba-png":
        alpha = Image.new("L", image.size, 0)
        ImageDraw.Draw(alpha).rounded_rectangle([14, 14, WIDTH - 15, HEIGHT - 15], 40, fill=255)
        rgba = image.convert("RGBA")
        rgba.putalpha(alpha)
        rgba.save(buffer, format="PNG")
        return buffer.getvalue(), "_600x450.png"
    if detail == "exif-rotated":
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: viewers rotate the stored pixels 90 degrees clockwise
        image.transpose(Image.Transpose.ROTATE_90).save(
            buffer, format="JPEG", quality=JPEG_QUALITY, exif=exif.tobytes())
        return buffer.getvalue(), "_600x450.jpg"
    if detail == "16-bit-gray":
        gray = np.asarray(image.convert("L"), np.uint16) * 256
        gray = gray + rng.integers(0, 256, gray.shape, dtype=np.uint16)
        Image.fromarray(gray).save(buffer, format="PNG")
        return buffer.getvalue(), "_600x450.png"
    if detail == "animated-gif":
        frames = [im.quantize(256, method=Image.Quantize.MEDIANCUT) for im in (image, second)]
        frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                       duration=800, loop=0)
        return buffer.getvalue(), "_600x450.gif"
    raise ValueError(f"unknown odd format {detail!r}")


_ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
               b"<body><h1>Not Found</h1><p>The requested image was not found.</p></body></html>\n")


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
    rng = _rng(seed, city, "extras")
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
            copy = _near_duplicate(original, variant)
            if _dhash(original) - _dhash(copy) <= NEAR_DHASH_LIMIT:
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
            data = _ERROR_PAGE
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
        data, suffix = _odd_file(detail, frame_one, frame_two, rng)
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
