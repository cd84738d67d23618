"""Open one photo defensively: every kind of bad input becomes a recorded reason, not a crash.

Readable oddities (CMYK, alpha, 16-bit, EXIF rotation, animation) are normalised to an upright 8-bit
RGB image and noted; unreadable files (empty, truncated, not an image, too large) raise
:class:`BadPhoto` with a short reason that the scan table keeps.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# A 600x450 listing photo is 0.27 MP; anything beyond this is either a mistake or a decompression bomb.
DEFAULT_MAX_PIXELS = 60_000_000


# Raster formats Pillow cannot read that ImageMagick may (HEIC needs its delegate). An allow-list,
# because ImageMagick also "reads" text, PostScript and SVG, which are not photos.
IMAGEMAGICK_FORMATS = frozenset({"HEIC", "HEIF", "AVIF", "JXL", "JP2", "PSD", "MIFF", "XCF", "PCX", "TGA"})


class BadPhoto(Exception):
    """The file cannot be used; ``str(exc)`` is the reason recorded for it."""


@dataclass
class DecodedPhoto:
    """An upright 8-bit RGB image plus what was learnt about the file while decoding it."""

    image: Image.Image
    width: int  # of the original, after EXIF rotation (not of the draft-scaled ``image``)
    height: int
    format: str
    mode: str  # of the original file
    notes: list[str] = field(default_factory=list)


def decode_photo(data: bytes, *, min_side: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedPhoto:
    """Decode image bytes into an upright RGB image.

    Parameters
    ----------
    data : bytes
        The whole file.
    min_side : int
        If > 0 and the file is a JPEG, let the decoder scale by 1/2, 1/4 or 1/8 (draft mode) as long
        as both sides stay >= ``min_side``: ~3x cheaper than a full decode for the small sizes the
        scan needs.
    max_pixels : int
        Larger images are refused before their pixels are decoded.
    """
    if not data:
        raise BadPhoto("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        image = _open_with_imagemagick(data, max_pixels)
        if image is None:
            raise BadPhoto("not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadPhoto("too large to decode safely") from None
    except Exception as exc:  # Pillow raises many types for damaged headers
        raise BadPhoto(f"unreadable header: {exc}") from None

    width, height = image.size
    if width * height > max_pixels:
        raise BadPhoto(f"too large: {width}x{height} pixels exceeds {max_pixels}")
    fmt, mode, notes = image.format or "?", image.mode, []
    if getattr(image, "n_frames", 1) > 1:
        notes.append(f"animated ({image.n_frames} frames): first frame used")
    if min_side > 0 and fmt == "JPEG" and mode in ("RGB", "L"):
        image.draft(mode, (min_side, min_side))
    try:
        image.load()
    except Exception as exc:  # truncated data, broken Huffman tables, ...
        raise BadPhoto(f"truncated or corrupt: {exc}") from None

    orientation = image.getexif().get(0x0112, 1)
    if orientation not in (1, None):
        image = ImageOps.exif_transpose(image)
        notes.append(f"EXIF orientation {orientation} applied")
        if orientation in (5, 6, 7, 8):
            width, height = height, width
    image, note = _to_rgb(image)
    if note:
        notes.append(note)
    return DecodedPhoto(image=image, width=width, height=height, format=fmt, mode=mode, notes=notes)


def _to_rgb(image: Image.Image) -> tuple[Image.Image, str]:
    mode = image.mode
    if mode == "RGB":
        return image, ""
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Wider-than-8-bit samples: scale the used range down to 0..255 rather than clipping.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        gray = np.clip(values * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB"), f"{mode} samples scaled to 8 bits"
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat, "transparency flattened onto white"
    if mode == "CMYK":
        return image.convert("RGB"), "CMYK converted to RGB"
    return image.convert("RGB"), ("" if mode in ("L", "P") else f"{mode} converted to RGB")


def _open_with_imagemagick(data: bytes, max_pixels: int) -> Image.Image | None:
    """Fallback decoder through Wand for the formats in :data:`IMAGEMAGICK_FORMATS`.

    Returns ``None`` when Wand or ImageMagick is missing or the data is not such a format. The first
    frame is handed back to Pillow as PNG so that the rest of the decoding path is shared.
    """
    try:
        from wand.exceptions import WandException
        from wand.image import Image as WandImage
    except ImportError:  # Wand not installed, or libMagickWand not found
        return None
    try:
        with WandImage.ping(blob=data) as pinged:  # header only: no pixels decoded yet
            fmt, width, height = pinged.format, pinged.width, pinged.height
        if fmt not in IMAGEMAGICK_FORMATS:
            return None
        if width * height > max_pixels:
            raise BadPhoto(f"too large: {width}x{height} pixels exceeds {max_pixels}")
        with WandImage(blob=data) as decoded, WandImage(image=decoded.sequence[0]) as first:
            first.depth = 8
            png = first.make_blob("png")
    except WandException:
        return None
    image = Image.open(io.BytesIO(png))
    image.format = f"{fmt} (ImageMagick)"
    return image
