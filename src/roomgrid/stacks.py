"""Feature stacks: each photo at a small fixed size, stacked with blurred copies of itself.

The blurred copies weight the layout towards overall composition and colour masses (where the window
is, how bright the floor is) rather than fine texture, which is what makes rooms look alike.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageOps
from scipy.ndimage import gaussian_filter


def blur_stack(image: Image.Image, size: int = 64, sigmas: Sequence[float] = (3.0, 8.0),
               colour: bool = False) -> np.ndarray:
    """Return the photo resized to ``size`` x ``size`` (aspect ignored, as the stack only compares
    layouts), stacked vertically with a Gaussian blur of it for each sigma (in pixels at that size).

    The result is uint8 of shape ``((1 + len(sigmas)) * size, size)``, or with a trailing axis of 3
    when ``colour`` is true: 8 bits are plenty for features that PCA will compress anyway.
    """
    small = image.convert("RGB" if colour else "L").resize((size, size), Image.Resampling.BILINEAR,
                                                             reducing_gap=2.0)
    base = np.asarray(small, dtype=np.float32)
    layers = [base]
    for sigma in sigmas:
        sig = (sigma, sigma) if not colour else (sigma, sigma, 0)
        layers.append(gaussian_filter(base, sigma=sig, mode="reflect"))
    return np.clip(np.rint(np.concatenate(layers, axis=0)), 0, 255).astype(np.uint8)


def stack_shape(size: int, n_sigmas: int, colour: bool) -> tuple[int, ...]:
    """Shape of one stack as produced by :func:`blur_stack`."""
    shape = ((1 + n_sigmas) * size, size)
    return shape + (3,) if colour else shape


def square_thumbnail(image: Image.Image, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to ``size`` px: the picture that fills one grid cell."""
    return np.asarray(ImageOps.fit(image.convert("RGB"), (size, size), Image.Resampling.LANCZOS),
                      dtype=np.uint8)
