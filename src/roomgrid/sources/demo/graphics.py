"""The demo's non-photos and problem files: floor plans, adverts, near duplicates, odd formats
and broken files, each a thing the pipeline must catch."""

from __future__ import annotations

import functools
import io as _io
import logging

import imagehash
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .plan import HEIGHT, JPEG_QUALITY, WIDTH
from .rooms import encode_jpeg

logger = logging.getLogger(__name__)

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

def near_duplicate(source: bytes, variant: str) -> bytes:
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


def dhash_of(data: bytes) -> imagehash.ImageHash:
    return imagehash.dhash(Image.open(_io.BytesIO(data)))


def odd_file(detail: str, image: Image.Image, second: Image.Image,
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


ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
               b"<body><h1>Not Found</h1><p>The requested image was not found.</p></body></html>\n")


