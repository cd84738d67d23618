"""Triage by the Shannon entropy of the 8-bit grayscale histogram, in nats (max ln 256 = 5.545).

Floor plans, flat adverts and logos use few grey levels, so their histogram entropy is low; photos of
rooms spread over many levels. The thresholds are in nats; Pillow's ``Image.entropy()`` reports bits,
so its result is scaled by ln 2.

Uniform borders are trimmed first (:func:`trim_uniform_border`): white or black letterbox bars add
one huge spike to the histogram and pull a real photo's entropy down into the graphic bin.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

GRAPHIC, MAYBE, PHOTO = "graphic", "maybe", "photo"
BINS = (GRAPHIC, MAYBE, PHOTO)

# A border line is uniform when this share of its pixels is within BORDER_TOLERANCE grey levels of
# the edge line's mean: JPEG noise and a stray speck along a flat bar do not stop the trimming.
BORDER_TOLERANCE = 12
BORDER_SHARE = 0.99
# Trim only while this much of the picture is left: a small picture on a large flat page (an
# advert, a business card) is a graphic, not a letterboxed photo.
MIN_KEPT_AREA = 1 / 3


def trim_uniform_border(image: Image.Image) -> Image.Image:
    """The image without uniform rows and columns along its edges (each side may have its own
    colour: white bars above, black below), or the image itself when nothing or too much would go.
    """
    gray = np.asarray(image if image.mode == "L" else image.convert("L"))
    top, bottom = _uniform_run(gray), len(gray) - _uniform_run(gray[::-1])
    if top >= bottom:
        return image  # all one grey
    rows = gray[top:bottom]
    left, right = _uniform_run(rows.T), rows.shape[1] - _uniform_run(rows.T[::-1])
    if (bottom - top) * (right - left) < MIN_KEPT_AREA * gray.size or (
            (top, bottom, left, right) == (0, len(gray), 0, gray.shape[1])):
        return image
    return image.crop((left, top, right, bottom))


def _uniform_run(lines: np.ndarray, chunk: int = 16) -> int:
    """How many leading lines (rows of ``lines``) are uniform in the colour of the first one.

    Read a few lines at a time: most photos stop at the first line, and this runs once per photo.
    """
    reference = int(round(lines[0].mean()))  # a median costs more, and a speck moves a mean little
    for start in [0, *range(1, len(lines), chunk)]:  # the first line alone settles most photos
        block = lines[start:start + (1 if start == 0 else chunk)].astype(np.int16)
        close = (np.abs(block - reference) <= BORDER_TOLERANCE).mean(axis=1) >= BORDER_SHARE
        if not close.all():
            return start + int(np.argmin(close))
    return len(lines)


def histogram_entropy(image: Image.Image | np.ndarray) -> float:
    """Entropy in nats of the 256-bin histogram of the image's 8-bit grayscale values."""
    if isinstance(image, Image.Image):
        gray = image if image.mode == "L" else image.convert("L")
        # Pillow computes the same sum in C, in bits; it runs once per photo in the scan.
        return gray.entropy() * math.log(2)
    counts = np.bincount(np.asarray(image, dtype=np.uint8).ravel(), minlength=256).astype(np.float64)
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def entropy_bins(entropy, graphic_below: float = 3.9, photo_from: float = 4.4) -> np.ndarray:
    """Bin entropies: graphic < ``graphic_below`` <= maybe < ``photo_from`` <= photo.

    NaN (unreadable files) bins to an empty string.
    """
    if not graphic_below <= photo_from:
        raise ValueError(f"graphic_below ({graphic_below}) must not exceed photo_from ({photo_from})")
    values = np.asarray(entropy, dtype=np.float64)
    bins = np.where(values < graphic_below, GRAPHIC, np.where(values < photo_from, MAYBE, PHOTO))
    return np.where(np.isnan(values), "", bins).astype(object)


def trimming_moves(untrimmed_entropy, trimmed_bins, graphic_below: float,
                   photo_from: float) -> dict[str, int]:
    """How many photos border trimming moved from one bin to another, as ``{"graphic -> photo": n}``
    (only moves that happened, sorted)."""
    before = entropy_bins(untrimmed_entropy, graphic_below, photo_from)
    after = np.asarray(trimmed_bins, dtype=object)
    moved = (before != after) & (before != "") & (after != "")
    pairs = [f"{b} -> {a}" for b, a in zip(before[moved], after[moved])]
    return {pair: pairs.count(pair) for pair in sorted(set(pairs))}
