"""Rendering the demo's room photos: a shaded shell, windows, furniture per room type."""

from __future__ import annotations

import io as _io
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .plan import HEIGHT, JPEG_QUALITY, MIN_PHOTO_ENTROPY, PALETTES, WIDTH, CityStyle, PhotoSpec, rng_for

logger = logging.getLogger(__name__)

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
    rng = rng_for(seed, spec.city, "look", spec.look_key)
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
    rng = rng_for(seed, spec.city, "photo", spec.index)
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


