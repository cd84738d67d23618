"""The exact grid solver: cells in cell units, and lapjv's optimal assignment of points to them.

Cell ``row * cols + col`` has its centre at ``(col + 0.5, row + 0.5)`` in cell units; a point's
x coordinate runs along columns and its y along rows. The cost of putting a point in a cell is
the squared distance from the point (normalised into cell units) to the cell centre.
"""

from __future__ import annotations

import numpy as np

# The lapjv package indexes the dense n x n matrix with 32-bit integers.
LAPJV_MAX_SIZE = 46_340


def normalise_points(points: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Map t-SNE coordinates into cell units, ``[0, cols) x [0, rows)``.

    Each axis is stretched on its own so that the extreme points land on the outermost cell
    centres. Stretching (rather than keeping the t-SNE aspect ratio) is the better layout: every
    cell must be filled, so a margin left empty by an aspect-preserving map would only force
    points to move further; and because the grid shape is chosen from the t-SNE aspect ratio
    (within ``ASPECT_TOLERANCE``), the stretch distorts by at most a few percent. Mapping the
    extremes to cell centres (not cell edges) makes points already on a grid land exactly on it.

    Parameters
    ----------
    points : ndarray of shape (n, 2)
        x, y coordinates.
    rows, cols : int
        Grid shape.

    Returns
    -------
    ndarray of shape (n, 2), float64
        Normalised x (columns) and y (rows). An axis without spread is centred.
    """
    points = _as_points(points)
    out = np.empty_like(points)
    for axis, size in ((0, cols), (1, rows)):
        low, high = points[:, axis].min(), points[:, axis].max()
        if high > low:
            out[:, axis] = 0.5 + (points[:, axis] - low) * ((size - 1) / (high - low))
        else:
            out[:, axis] = size / 2
    return out


def cell_centres(rows: int, cols: int) -> np.ndarray:
    """Centres of all cells in cell units, shape (rows * cols, 2), ordered by cell id."""
    row, col = np.divmod(np.arange(rows * cols), cols)
    return np.column_stack([col + 0.5, row + 0.5])


def assign_exact(points: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Optimal assignment of points to cells with lapjv (dense, O(cells^2) memory).

    Parameters
    ----------
    points : ndarray of shape (n, 2)
        t-SNE coordinates; normalised with :func:`normalise_points` first.
    rows, cols : int
        Grid shape with ``rows * cols >= n``; at most ``LAPJV_MAX_SIZE`` cells.

    Returns
    -------
    cells : ndarray of shape (n,), int64
        Distinct cell ids ``row * cols + col`` minimising the total squared distance.
    """
    points = _as_points(points)
    _check_capacity(len(points), rows, cols)
    if rows * cols > LAPJV_MAX_SIZE:
        raise ValueError(
            f"exact assignment of {rows * cols} cells exceeds lapjv's limit of {LAPJV_MAX_SIZE}; "
            "use assign_blocks"
        )
    return solve(normalise_points(points, rows, cols), cell_centres(rows, cols))[0]


def solve(points: np.ndarray, centres: np.ndarray, potential: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Exact assignment of points (cell units) to at least as many cell centres.

    Spare centres are matched to dummy points whose cost is 0 everywhere, so they end up
    wherever leaving a cell empty is cheapest. ``potential`` (one value per centre, e.g. the
    interpolated dual of a coarser solution) is subtracted from every cost: a per-column
    constant never changes the optimum, but a good one makes lapjv's start nearly optimal,
    which made blocks 7x faster in the benchmark.

    Returns
    -------
    index : ndarray of shape (n,), int64
        For each point, the index of its centre.
    potential : ndarray of shape (len(centres),)
        The solution's column duals plus the input potential, for warm-starting a finer level.
    """
    size = len(centres)
    if potential is None:
        potential = np.zeros(size)
    # float32: lapjv converts float64 input to float32 anyway, and its float64 mode
    # (force_doubles) was 100x slower here. Rounding error is far below a cell.
    cost = np.zeros((size, size), dtype=np.float32)
    cost[len(points):] = -potential
    # Row chunks keep temporaries small next to the size x size matrix itself.
    chunk = max(1, 2**20 // size)
    for start in range(0, len(points), chunk):
        block = points[start:start + chunk]
        dx = block[:, 0:1] - centres[None, :, 0]
        dy = block[:, 1:2] - centres[None, :, 1]
        cost[start:start + len(block)] = dx * dx + dy * dy - potential
    # Row constants do not change the optimum either; with each row's minimum at 0, lapjv's
    # initial reductions start close to the optimum (4x faster in the benchmark).
    cost -= cost.min(axis=1, keepdims=True)
    import lapjv  # here, not above: cell geometry is used where lapjv is not installed (viewer env)

    row_to_col, _, (_, _, duals) = lapjv.lapjv(cost)
    return row_to_col[:len(points)].astype(np.int64), duals + potential


def _as_points(points) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"points must have shape (n, 2) with n >= 1, got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("points contain NaN or infinite coordinates")
    return points


def _check_capacity(n: int, rows: int, cols: int) -> None:
    if rows * cols < n:
        raise ValueError(f"a {rows} x {cols} grid has fewer cells than the {n} points")
