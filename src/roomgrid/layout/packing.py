"""Packing an arrangement's blocks: rectangles of whole cells in rows, each row under a header row
for the blocks' labels, on a map of about the configured aspect ratio."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# A header row above every row of blocks holds the blocks' labels; a column between neighbouring
# blocks keeps them apart. Neither ever holds a photo.
HEADER_ROWS = 1
GAP_COLS = 1

def pack_blocks(sizes: Sequence[int], aspect: float = 1.0) -> tuple[list[tuple[int, int, int, int]],
                                                                     int, int]:
    """Rectangles of whole cells for groups of ``sizes`` photos, in order, on a near-``aspect`` map.

    Blocks are laid in rows ("strips", Bederson's ordered strip treemap), left to right, top to
    bottom, so a reader meets them in group order. Each strip has a header row above it (the
    labels) and a gap column between blocks. A block is ``ceil(n / h)`` cells wide for the
    strip's height ``h`` and only as tall as it needs. A block joins the current strip while that
    does not raise the map cells the strip takes per photo (:func:`_strip_cost`; Bederson's
    criterion, the strip's mean block aspect ratio, left 300 blocks of heavy-tailed sizes filling
    half the map, this 0.8). Several map widths are tried; among
    those within 25% of ``aspect`` the one with the fewest cells wins, each cell counted
    ``1 + (r - 1) / 2`` times for the blocks' mean elongation ``r = max(w/h, h/w)``, since a
    block's look-alikes keep their neighbours best on a square (an elongated block kept 0.89x
    of an exact square grid's kNN-8 on the demo, a near-square one 1.0x).

    Returns
    -------
    rects : list of (row, col, rows, cols)
        One per size, disjoint, ``rows * cols >= size``.
    rows, cols : int
        The map's shape.
    """
    sizes = [int(s) for s in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"every block needs at least one photo, got sizes {sizes}")
    if not aspect > 0:
        raise ValueError(f"aspect must be positive, got {aspect}")
    base = math.sqrt(sum(sizes) * aspect)
    widths = sorted({max(1, round(base * f)) for f in np.linspace(0.6, 2.0, 29)})
    best = None
    for width in widths:
        rects, rows, cols = _pack_strips(sizes, width)
        error = abs(math.log(cols / rows / aspect))
        elongation = float(np.mean([max(w / h, h / w) for _, _, h, w in rects]))
        cost = rows * cols * (1 + (elongation - 1) / 2)
        key = (error > math.log(1.25), cost if error <= math.log(1.25) else error)
        if best is None or key < best[0]:
            best = (key, rects, rows, cols)
    return best[1], best[2], best[3]


def _pack_strips(sizes: list[int], width: int) -> tuple[list[tuple[int, int, int, int]], int, int]:
    strips: list[list[int]] = []
    current: list[int] = []
    for size in sizes:
        if current:
            trial = current + [size]
            if _strip_cost(trial, width) <= _strip_cost(current, width):
                current = trial
                continue
            strips.append(current)
        current = [size]
    strips.append(current)
    rects, top, cols = [], 0, 0
    for strip in strips:
        height = _strip_height(strip, width)
        left = 0
        for size in strip:
            w = math.ceil(size / height)
            rects.append((top + HEADER_ROWS, left, math.ceil(size / w), w))
            left += w + GAP_COLS
        cols = max(cols, left - GAP_COLS)
        top += HEADER_ROWS + height
    return rects, top, cols


def _strip_height(strip: list[int], width: int) -> int:
    """The lowest height at which the strip's blocks, with gaps, fit ``width`` columns."""
    height = max(1, math.ceil(sum(strip) / width))
    while sum(math.ceil(s / height) for s in strip) + GAP_COLS * (len(strip) - 1) > width \
            and height < max(strip):
        height += 1
    return height


def _strip_cost(strip: list[int], width: int) -> float:
    """Map cells a strip takes per photo (its full width times its height and header), each
    counted ``1 + (r - 1) / 2`` times for its blocks' mean elongation ``r``; infinite when the
    blocks cannot fit the width."""
    elongation = _badness(strip, width)
    if math.isinf(elongation):
        return math.inf
    return width * (_strip_height(strip, width) + HEADER_ROWS) * (1 + (elongation - 1) / 2) \
        / sum(strip)


def _badness(strip: list[int], width: int) -> float:
    """Mean of max(w/h, h/w) over the strip's blocks; infinite when they cannot fit the width."""
    height = _strip_height(strip, width)
    if sum(math.ceil(s / height) for s in strip) + GAP_COLS * (len(strip) - 1) > width:
        return math.inf
    ratios = []
    for size in strip:
        w = math.ceil(size / height)
        h = math.ceil(size / w)
        ratios.append(max(w / h, h / w))
    return float(np.mean(ratios))
