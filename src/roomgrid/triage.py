"""Triage by the Shannon entropy of the 8-bit grayscale histogram, in nats (max ln 256 = 5.545).

Floor plans, flat adverts and logos use few grey levels, so their histogram entropy is low; photos of
rooms spread over many levels. The thresholds are in nats; Pillow's ``Image.entropy()`` reports bits,
so its result is scaled by ln 2.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

GRAPHIC, MAYBE, PHOTO = "graphic", "maybe", "photo"
BINS = (GRAPHIC, MAYBE, PHOTO)


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
