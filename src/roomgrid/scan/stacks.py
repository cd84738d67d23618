"""Feature stacks: each photo at a small fixed size, stacked with blurred copies of itself.

The blurred copies weight the layout towards overall composition and colour masses (where the window
is, how bright the floor is) rather than fine texture, which is what makes rooms look alike.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageFilter


def blur_stack(image: Image.Image, size: int = 64, sigmas: Sequence[float] = (3.0, 8.0),
               colour: bool = False) -> np.ndarray:
    """Return the photo resized to ``size`` x ``size`` (aspect ignored, as the stack only compares
    layouts), stacked vertically with a Gaussian blur of it for each sigma (in pixels at that size).

    The result is uint8 of shape ``((1 + len(sigmas)) * size, size)``, or with a trailing axis of 3
    when ``colour`` is true: 8 bits are plenty for features that PCA will compress anyway.
    """
    mode = "RGB" if colour else "L"
    # convert() copies even when the mode already matches: skip it then (it is per photo).
    small = image if image.mode == mode else image.convert(mode)
    if small.size != (size, size):
        # Box filter when shrinking: a true area average, and the cheapest resampling Pillow has.
        shrinking = small.width >= size and small.height >= size
        small = small.resize((size, size), Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR)
    # Pillow's Gaussian blur (a C extended-box approximation, within ~0.5 grey levels of an exact
    # kernel) is several times faster than a float convolution and already yields uint8.
    layers = [small] + [small.filter(ImageFilter.GaussianBlur(sigma)) for sigma in sigmas]
    return np.concatenate([np.asarray(layer, dtype=np.uint8) for layer in layers], axis=0)


def stack_shape(size: int, n_sigmas: int, colour: bool) -> tuple[int, ...]:
    """Shape of one stack as produced by :func:`blur_stack`."""
    shape = ((1 + n_sigmas) * size, size)
    return shape + (3,) if colour else shape


def square_thumbnail(image: Image.Image, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to ``size`` px: the picture that fills one grid cell.

    A box filter: it averages every source pixel once, which is what a downscale needs and about
    twice as fast as Lanczos; upscaling (small sources) uses bilinear instead.
    """
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    method = Image.Resampling.BOX if side >= size else Image.Resampling.BILINEAR
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # convert() would copy an RGB image
    square = rgb.resize((size, size), method, box=(left, top, left + side, top + side))
    return np.asarray(square, dtype=np.uint8)
