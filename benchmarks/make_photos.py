"""Generate N synthetic listing-like photos over C cities, fast and deterministically.

Layout: ``<out>/<city>/<remote-style-name>.jpg`` (600x450 RGB JPEG), plus ``<out>/truth.tsv`` saying
what every file is. Photos are variants of a few thousand base rooms (room type, palette, wall and
window layout, furniture): each variant moves the camera a little (shift, zoom, mirror), shifts the
colours, relights the room and adds sensor noise, so look-alikes exist across cities while no two
photos are equal. About 2% are graphics (floor plans, ads: low entropy) and about 3% duplicates
(2/3 byte-identical copies, 1/3 re-encoded at lower quality), often cross-posted to another city.

Photo ``i`` is a pure function of ``(i, seed, n, cities)``, so any subset can be regenerated and an
interrupted run resumes (existing files are kept).

    python benchmarks/make_photos.py --n 125000 --cities 400 --out /work/bench/photos
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw

WIDTH, HEIGHT = 600, 450
AREAS_TSV = Path(__file__).resolve().parents[1] / "src/roomgrid/sources/scrape/data/us_areas.tsv"
GRAPHIC_SHARE = 0.02
DUPLICATE_SHARE = 0.03
NEAR_DUPLICATE_SHARE = 1 / 3  # of the duplicates
SAME_CITY_DUPLICATE_SHARE = 0.5  # the rest are cross-posted to any city
PHOTOS_PER_BASE = 10
ROOM_TYPES = ("living", "bedroom", "kitchen", "bathroom", "empty")
# wall, floor, ceiling, trim, accent (RGB)
PALETTES = (
    ((236, 234, 228), (201, 165, 122), (246, 246, 243), (250, 250, 250), (90, 95, 105)),
    ((222, 204, 172), (150, 128, 100), (238, 230, 214), (245, 240, 228), (140, 90, 60)),
    ((170, 186, 152), (168, 128, 88), (232, 234, 224), (240, 240, 232), (150, 95, 70)),
    ((104, 92, 84), (92, 62, 42), (70, 68, 66), (40, 40, 42), (160, 60, 40)),
    ((164, 194, 216), (214, 196, 160), (240, 244, 248), (252, 252, 252), (40, 70, 120)),
    ((226, 200, 110), (130, 82, 50), (240, 232, 200), (235, 225, 200), (60, 110, 100)),
    ((196, 122, 92), (110, 70, 50), (236, 220, 206), (244, 232, 220), (60, 80, 70)),
    ((148, 150, 152), (70, 72, 76), (170, 172, 174), (210, 212, 214), (190, 60, 50)),
    ((250, 250, 250), (180, 180, 176), (255, 255, 255), (255, 255, 255), (30, 30, 30)),
    ((120, 130, 150), (60, 50, 45), (220, 222, 226), (235, 235, 235), (210, 170, 60)),
)
_ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))


# --------------------------------------------------------------------------- the plan

def city_names(n_cities: int) -> list[str]:
    """Craigslist area hostnames from the project's area list, numbered beyond its end."""
    names = [line.split("\t")[0] for line in AREAS_TSV.read_text().splitlines()[1:] if line.strip()]
    names += [f"area{i:04d}" for i in range(max(0, n_cities - len(names)))]
    return sorted(names[:n_cities])


def city_sizes(n: int, n_cities: int, seed: int) -> np.ndarray:
    """Photos per city: log-normal weights like real areas (a few big metros, many small towns)."""
    rng = np.random.default_rng([seed, 1])
    weights = rng.lognormal(0.0, 0.8, n_cities)
    floor = min(20, n // n_cities)
    sizes = floor + np.floor(weights / weights.sum() * (n - floor * n_cities)).astype(int)
    sizes[np.argsort(-weights)[: n - sizes.sum()]] += 1
    return sizes


def photo_kind(i: int, seed: int) -> str:
    u = np.random.default_rng([seed, 2, i]).random()
    if u < GRAPHIC_SHARE:
        return "graphic"
    if u < GRAPHIC_SHARE + DUPLICATE_SHARE and i > 0:
        return "near_duplicate" if u < GRAPHIC_SHARE + DUPLICATE_SHARE * NEAR_DUPLICATE_SHARE else "duplicate"
    return "photo"


def remote_name(i: int, seed: int) -> str:
    rng = np.random.default_rng([seed, 3, i])
    head = "".join(_ALPHABET[rng.integers(0, 62, 3)])
    tail = "".join(_ALPHABET[rng.integers(0, 62, 17)])
    return f"00{head}_{tail}_600x450.jpg"


def duplicate_source(i: int, seed: int, starts: np.ndarray) -> int:
    """An earlier original (photo or graphic) to copy: same city or any city before."""
    rng = np.random.default_rng([seed, 4, i])
    city = np.searchsorted(starts, i, side="right") - 1
    while True:
        low = starts[city] if rng.random() < SAME_CITY_DUPLICATE_SHARE and starts[city] < i else 0
        j = int(rng.integers(low, i))
        if photo_kind(j, seed) in ("photo", "graphic"):
            return j


# --------------------------------------------------------------------------- drawing

@lru_cache(maxsize=None)
def _light_maps() -> list[Image.Image]:
    """Soft light fall-off from a few window positions, as RGB multipliers (same in every worker)."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    maps = []
    for cx in np.linspace(-100, WIDTH + 100, 10):
        for cy in (HEIGHT * 0.3, HEIGHT * 0.6):
            dist = np.hypot(xs - cx, ys - cy) / WIDTH
            level = 255 * (1.0 - 0.55 * np.clip(dist, 0, 1.2) / 1.2)
            maps.append(Image.fromarray(level.astype(np.uint8)).convert("RGB"))
    return maps


@lru_cache(maxsize=None)
def _noise_images(amplitude: int = 9) -> list[Image.Image]:
    rng = np.random.default_rng(12345)
    return [Image.fromarray(rng.integers(0, 2 * amplitude + 1, (HEIGHT, WIDTH, 3), dtype=np.uint8))
            for _ in range(6)]


def _jitter(colour, rng, amount=18):
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in colour)


def _base_scene(base: int, seed: int) -> dict:
    """The fixed description of one base room."""
    rng = np.random.default_rng([seed, 5, base])
    room = ROOM_TYPES[int(rng.choice(5, p=[0.3, 0.25, 0.2, 0.1, 0.15]))]
    palette = [_jitter(c, rng, 14) for c in PALETTES[int(rng.integers(len(PALETTES)))]]
    back = (rng.uniform(0.18, 0.42) * WIDTH, rng.uniform(0.15, 0.35) * HEIGHT,
            rng.uniform(0.58, 0.85) * WIDTH, rng.uniform(0.55, 0.75) * HEIGHT)
    window = (rng.uniform(0.1, 0.5), rng.uniform(0.15, 0.35), rng.uniform(0.25, 0.45), rng.uniform(0.3, 0.6))
    furniture = [(rng.uniform(0.0, 0.75), rng.uniform(0.1, 0.4), rng.uniform(0.55, 0.95),
                  _jitter(palette[4], rng, 40)) for _ in range(int(rng.integers(1, 5)))]
    return {"room": room, "palette": palette, "back": back, "window": window,
            "window_wall": int(rng.integers(3)), "furniture": furniture,
            "rug": rng.random() < 0.4, "light": int(rng.integers(len(_light_maps())))}


def _room_photo(scene: dict, rng: np.random.Generator) -> Image.Image:
    """One camera shot of a base room: moved, mirrored, recoloured, relit and noisy."""
    zoom = rng.uniform(1.0, 1.3)
    dx, dy = rng.normal(0, 30, 2)
    mirror = rng.random() < 0.5
    cx, cy = WIDTH / 2, HEIGHT / 2

    def at(x, y):
        x = WIDTH - x if mirror else x
        return (cx + (x - cx) * zoom + dx, cy + (y - cy) * zoom + dy)

    wall, floor, ceiling, trim, accent = (_jitter(c, rng, 8) for c in scene["palette"])
    # The camera stands elsewhere in the room: the back wall and what stands in it move too.
    x0, y0, x1, y1 = np.asarray(scene["back"]) + rng.normal(0, 0.035, 4) * (WIDTH, HEIGHT, WIDTH, HEIGHT)
    x0, x1 = np.clip((x0, x1), (0.1 * WIDTH, 0.52 * WIDTH), (0.48 * WIDTH, 0.9 * WIDTH))
    y0, y1 = np.clip((y0, y1), (0.08 * HEIGHT, 0.5 * HEIGHT), (0.4 * HEIGHT, 0.85 * HEIGHT))
    image = Image.new("RGB", (WIDTH, HEIGHT), wall)
    draw = ImageDraw.Draw(image)
    far = 2000  # corners beyond the frame so side walls, floor and ceiling fill it
    corners = {"tl": (x0, y0), "tr": (x1, y0), "bl": (x0, y1), "br": (x1, y1)}
    out = {"tl": (x0 - far, y0 - far * y0 / x0), "tr": (x1 + far, y0 - far * y0 / (WIDTH - x1)),
           "bl": (x0 - far, y1 + far * (HEIGHT - y1) / x0),
           "br": (x1 + far, y1 + far * (HEIGHT - y1) / (WIDTH - x1))}
    shade = lambda c, f: tuple(int(v * f) for v in c)

    def box(a, b):
        (ax, ay), (bx, by) = at(*a), at(*b)
        return [min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)]
    draw.polygon([at(*corners["bl"]), at(*corners["br"]), at(*out["br"]), at(*out["bl"])], fill=floor)
    draw.polygon([at(*corners["tl"]), at(*corners["tr"]), at(*out["tr"]), at(*out["tl"])], fill=ceiling)
    draw.polygon([at(*corners["tl"]), at(*corners["bl"]), at(*out["bl"]), at(*out["tl"])],
                 fill=shade(wall, 0.82))
    draw.polygon([at(*corners["tr"]), at(*corners["br"]), at(*out["br"]), at(*out["tr"])],
                 fill=shade(wall, 0.9))
    for a, b in (("tl", "bl"), ("tr", "br"), ("bl", "br")):
        draw.line([at(*corners[a]), at(*corners[b])], fill=trim, width=4)
    # Window on the back wall (or a side wall, drawn as a slanted quad).
    u, v, w, h = np.asarray(scene["window"]) + rng.normal(0, 0.04, 4)
    bw, bh = x1 - x0, y1 - y0
    if scene["window_wall"] == 0:
        quad = [(x0 + u * bw, y0 + v * bh), (x0 + (u + w) * bw, y0 + v * bh),
                (x0 + (u + w) * bw, y0 + (v + h) * bh), (x0 + u * bw, y0 + (v + h) * bh)]
    else:
        side = x0 * 0.25 if scene["window_wall"] == 1 else WIDTH - (WIDTH - x1) * 0.75
        wide = 0.6 * (x0 if scene["window_wall"] == 1 else WIDTH - x1)
        quad = [(side, y0 - 30 + v * 60), (side + wide * 0.5, y0 + v * 50),
                (side + wide * 0.5, y1 - 60), (side, y1 - 20)]
    sky = _jitter((205, 225, 245), rng, 15)
    draw.polygon([at(*p) for p in quad], fill=sky, outline=trim, width=6)
    if scene["rug"]:
        draw.ellipse(box((x0 + 0.1 * bw, y1 + 25), (x1 - 0.1 * bw, y1 + 95)), fill=shade(accent, 0.7))
    for fx, fw, fh, colour in scene["furniture"]:
        if rng.random() < 0.2:  # out of this shot
            continue
        colour = _jitter(colour, rng, 10)
        fx, fw, fh = fx + rng.normal(0, 0.08), fw * rng.uniform(0.8, 1.2), fh * rng.uniform(0.85, 1.15)
        left, right = x0 + fx * bw, x0 + min(1.0, fx + fw) * bw
        top = y1 - fh * bh * (0.5 if scene["room"] in ("bedroom", "living") else 0.8)
        if scene["room"] == "empty":
            continue
        if scene["room"] in ("kitchen", "bathroom"):
            top = y0 + 0.45 * bh
            draw.rectangle(box((left, top), (right, y1 + 10)), fill=colour, outline=shade(colour, 0.6), width=2)
            draw.rectangle(box((left, top - 8), (right, top)), fill=trim)
        else:
            draw.rounded_rectangle(box((left - 20, top), (right + 20, y1 + 40)), radius=12, fill=colour)
            draw.rectangle(box((left - 20, y1 + 10), (right + 20, y1 + 40)), fill=shade(colour, 0.7))
    # Clutter that differs from shot to shot (frames, plants, boxes): what tells real photos of one
    # room apart, and what keeps dHash from calling them duplicates.
    for _ in range(int(rng.integers(3, 9))):
        a, b = rng.uniform(0, WIDTH), rng.uniform(0.1 * HEIGHT, HEIGHT)
        w, h = rng.uniform(15, 90), rng.uniform(15, 110)
        colour = tuple(int(c) for c in rng.integers(20, 236, 3))
        shape = draw.ellipse if rng.random() < 0.4 else draw.rectangle
        shape([a, b, a + w, b + h], fill=colour, outline=shade(colour, 0.5), width=2)
    lights = _light_maps()
    light = lights[int(rng.integers(len(lights)))]
    image = ImageChops.multiply(image, light)
    gain = rng.uniform(0.9, 1.12, 3)
    lift = rng.normal(0, 6, 3)
    table = [int(np.clip(x * gain[c] + lift[c], 0, 255)) for c in range(3) for x in range(256)]
    image = image.point(table)
    noise = _noise_images()[int(rng.integers(6))]
    return ImageChops.add(image, noise, 1.0, -9)


def _graphic(rng: np.random.Generator) -> Image.Image:
    """A floor plan (lines on white) or an ad (flat colour and blocks): low-entropy images."""
    if rng.random() < 0.6:
        image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(5, 12))):
            a, b = rng.uniform(40, 560), rng.uniform(30, 420)
            draw.rectangle([a, b, a + rng.uniform(40, 220), b + rng.uniform(40, 180)], outline=(0, 0, 0), width=4)
        return image
    image = Image.new("RGB", (WIDTH, HEIGHT), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for k in range(int(rng.integers(2, 5))):
        draw.rectangle([60, 60 + 80 * k, 540, 110 + 80 * k], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return image


def _encode(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def photo_bytes(i: int, seed: int, n_bases: int, starts: np.ndarray) -> bytes:
    """The JPEG bytes of photo ``i``."""
    kind = photo_kind(i, seed)
    if kind in ("duplicate", "near_duplicate"):
        source = photo_bytes(duplicate_source(i, seed, starts), seed, n_bases, starts)
        if kind == "duplicate":
            return source
        return _encode(Image.open(io.BytesIO(source)), quality=60)
    rng = np.random.default_rng([seed, 6, i])
    quality = int(rng.integers(80, 91))
    if kind == "graphic":
        return _encode(_graphic(rng), quality)
    base = int(rng.integers(n_bases))
    return _encode(_room_photo(_base_scene(base, seed), rng), quality)


# --------------------------------------------------------------------------- the run

_STATE: dict = {}


def _init(out: str, seed: int, n_bases: int, starts: np.ndarray, cities: list[str]) -> None:
    _STATE.update(out=Path(out), seed=seed, n_bases=n_bases, starts=starts, cities=cities)


def _write_chunk(bounds: tuple[int, int]) -> int:
    s = _STATE
    written = 0
    for i in range(*bounds):
        city = s["cities"][np.searchsorted(s["starts"], i, side="right") - 1]
        path = s["out"] / city / remote_name(i, s["seed"])
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(photo_bytes(i, s["seed"], s["n_bases"], s["starts"]))
        os.replace(tmp, path)
        written += 1
    return written


def generate(n: int, n_cities: int, out: str | os.PathLike, *, seed: int = 0, jobs: int = 2,
             chunk: int = 500) -> dict:
    """Write the photo set; returns counts and seconds."""
    cities = city_names(n_cities)
    sizes = city_sizes(n, n_cities, seed)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    n_bases = max(50, n // PHOTOS_PER_BASE)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    bounds = [(a, min(n, a + chunk)) for a in range(0, n, chunk)]
    done = written = 0
    with mp.get_context("fork").Pool(jobs, _init, (str(out), seed, n_bases, starts, cities)) as pool:
        for count in pool.imap_unordered(_write_chunk, bounds):
            written += count
            done += 1
            if done % 20 == 0 or done == len(bounds):
                print(f"  {done}/{len(bounds)} chunks, {time.perf_counter() - started:.0f} s",
                      file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    kinds = [photo_kind(i, seed) for i in range(n)]
    with open(out / "truth.tsv", "w") as handle:
        handle.write("id\tkind\n")
        for i, kind in enumerate(kinds):
            city = cities[np.searchsorted(starts, i, side="right") - 1]
            handle.write(f"{city}/{remote_name(i, seed)}\t{kind}\n")
    return {"n": n, "cities": n_cities, "written": written, "seconds": seconds,
            "graphics": kinds.count("graphic"),
            "duplicates": kinds.count("duplicate") + kinds.count("near_duplicate"),
            "bases": n_bases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="number of photos")
    parser.add_argument("--cities", type=int, default=40, help="number of city folders")
    parser.add_argument("--out", default="/work/bench/photos", help="root folder to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    stats = generate(args.n, args.cities, args.out, seed=args.seed, jobs=args.jobs)
    print(f"{'photos':>8}{'cities':>8}{'written':>9}{'bases':>7}{'graphics':>10}{'dups':>7}"
          f"{'seconds':>9}{'photos/s':>10}")
    print(f"{stats['n']:>8}{stats['cities']:>8}{stats['written']:>9}{stats['bases']:>7}"
          f"{stats['graphics']:>10}{stats['duplicates']:>7}{stats['seconds']:>9.1f}"
          f"{stats['written'] / max(stats['seconds'], 1e-9):>10.0f}")


if __name__ == "__main__":
    main()
