"""Grid assignment: give every 2-D t-SNE point its own cell of a square-ish grid.

Cell ``row * cols + col`` has its centre at ``(col + 0.5, row + 0.5)`` in cell units; a point's
x coordinate runs along columns and its y along rows. The cost of putting a point in a cell is
the squared distance from the point (normalised into cell units) to the cell centre.
"""

from __future__ import annotations

import logging
import math

import lapjv
import numpy as np

logger = logging.getLogger(__name__)

# The lapjv package indexes the dense n x n matrix with 32-bit integers.
LAPJV_MAX_SIZE = 46_340
# A grid may deviate this much from the requested aspect ratio to waste fewer cells.
ASPECT_TOLERANCE = 1.1
# Coarse levels of assign_blocks grow by this factor in cells, from _FIRST_LEVEL_CELLS up to
# 4 * block_size but not beyond max(block_size, _COARSE_CELLS) (a 64 MiB dense matrix).
_LEVEL_FACTOR = 4
_FIRST_LEVEL_CELLS = 256
_COARSE_CELLS = 4096
# Each point's destination is estimated from this many nearest coarse-sample points.
_DESTINATION_NEIGHBOURS = 8
# Seam passes: window offsets as shares of a block's height and width, tried in turn; the
# repair stops early once a pass lowers the total cost by less than _SEAM_MIN_GAIN of it.
_SEAM_OFFSETS = ((0.5, 0.5), (0.25, 0.25), (0.75, 0.75), (0.25, 0.75), (0.75, 0.25))
_SEAM_MIN_GAIN = 1e-3


def grid_shape(n: int, aspect: float = 1.0) -> tuple[int, int]:
    """Choose a grid just big enough for ``n`` items with roughly the requested aspect ratio.

    Parameters
    ----------
    n : int
        Number of items; must be positive.
    aspect : float
        Desired ``cols / rows``.

    Returns
    -------
    rows, cols : tuple of int
        ``rows * cols >= n``. Among shapes whose aspect ratio lies within a factor
        ``ASPECT_TOLERANCE`` of ``aspect`` (plus the closest-to-aspect shape, always allowed),
        the one with the fewest empty cells wins; ties go to the closer aspect ratio.
    """
    if n < 1:
        raise ValueError(f"need at least one item, got n={n}")
    if not aspect > 0:
        raise ValueError(f"aspect must be positive, got {aspect}")
    base_cols = max(1, math.ceil(math.sqrt(n * aspect)))

    def aspect_error(rows: int, cols: int) -> float:
        return abs(math.log(cols / rows / aspect))

    candidates = []
    for cols in range(max(1, int(base_cols / ASPECT_TOLERANCE) - 1), int(base_cols * ASPECT_TOLERANCE) + 2):
        rows = math.ceil(n / cols)
        allowed = cols == base_cols or aspect_error(rows, cols) <= math.log(ASPECT_TOLERANCE)
        if allowed:
            candidates.append((rows * cols - n, aspect_error(rows, cols), rows, cols))
    _, _, rows, cols = min(candidates)
    return rows, cols


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
    return _solve(normalise_points(points, rows, cols), cell_centres(rows, cols))[0]


def _solve(points: np.ndarray, centres: np.ndarray, potential: np.ndarray | None = None
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
    row_to_col, _, (_, _, duals) = lapjv.lapjv(cost)
    return row_to_col[:len(points)].astype(np.int64), duals + potential


def assign_blocks(points: np.ndarray, rows: int, cols: int, *, block_size: int = 1024,
                  n_jobs: int = 1, seed: int = 0) -> np.ndarray:
    """Near-exact assignment in O(n + block_size^2) memory, for any number of points.

    1. Coarse transport: exact lapjv on nested random subsamples matched to coarser copies of
       the grid (256 cells, then 4x more per level up to ``4 * block_size`` cells, at most
       ``max(block_size, 4096)``), each level
       warm-started with the duals of the one before. This captures the global movement a
       clustered t-SNE map needs (dense clusters spreading out) that fixed blocks cannot.
    2. Every point's destination is estimated from the coarse moves of its nearest sampled
       points. Points are split recursively by destination at the quantile matching the split
       of the grid region (alternating axes), giving blocks of at most ``block_size`` cells that
       hold at most as many points as cells.
    3. Each block is solved exactly with lapjv (``n_jobs`` processes), warm-started with the
       coarse duals interpolated to its cells.
    4. Seams are repaired by re-solving block-sized windows that straddle the block borders,
       over the points currently in them: first shifted by half a block, then by a quarter and
       three quarters (see ``_SEAM_OFFSETS``), until a pass lowers the total cost by less than
       ``_SEAM_MIN_GAIN``. Each re-solve is exact over its window, so no pass raises the cost;
       successive offsets let points that the partition put a little too far cross borders that
       one pass leaves in the middle of a window.

    Parameters
    ----------
    points : ndarray of shape (n, 2)
        t-SNE coordinates; normalised with :func:`normalise_points` first.
    rows, cols : int
        Grid shape with ``rows * cols >= n``.
    block_size : int
        Most cells in one exact sub-problem (dense ``block_size^2`` float32 matrix per process).
    n_jobs : int
        Worker processes for the blocks; 1 solves in this process.
    seed : int
        Seed of the coarse subsamples; the result is deterministic for a given seed.

    Returns
    -------
    cells : ndarray of shape (n,), int64
        Distinct cell ids ``row * cols + col``. Grids no larger than the last coarse level
        (see step 1) are solved exactly.
    """
    points = _as_points(points)
    n = len(points)
    _check_capacity(n, rows, cols)
    if not 1 <= block_size <= LAPJV_MAX_SIZE:
        raise ValueError(f"block_size must be in [1, {LAPJV_MAX_SIZE}], got {block_size}")
    norm = normalise_points(points, rows, cols)
    centres = cell_centres(rows, cols)
    sample, sample_cells, sample_centres, dual = _coarse_transport(
        norm, rows, cols, max(block_size, min(_LEVEL_FACTOR * block_size, _COARSE_CELLS)),
        np.random.default_rng(seed))
    if len(sample_centres) == rows * cols:
        # The last coarse level was the whole problem: its answer is exact.
        cells = np.empty(n, dtype=np.int64)
        cells[sample] = sample_cells
        return cells
    destinations = _destinations(norm, sample, sample_centres[sample_cells])
    potential = dual(centres)

    regions = list(_split(np.arange(n), destinations, (0, rows, 0, cols), block_size))
    cells = np.empty(n, dtype=np.int64)
    with _Solver(n_jobs) as solver:
        solver.solve(regions, norm, centres, potential, cols, cells, "grid blocks")
        height = int(np.median([r1 - r0 for _, (r0, r1, _, _) in regions]))
        width = int(np.median([c1 - c0 for _, (_, _, c0, c1) in regions]))
        cost = _total_cost(norm, centres, cells)
        for row_share, col_share in _SEAM_OFFSETS:
            occupant = np.full(rows * cols, -1, dtype=np.int64)
            occupant[cells] = np.arange(n)
            windows = []
            for window in _shifted_windows(rows, cols, height, width,
                                           round(height * row_share), round(width * col_share)):
                held = occupant[_region_cells(window, cols)]
                windows.append((held[held >= 0], window))
            solver.solve(windows, norm, centres, potential, cols, cells, "grid seams")
            before, cost = cost, _total_cost(norm, centres, cells)
            logger.info("seam pass at offsets (%.2f, %.2f): cost %.1f -> %.1f", row_share,
                        col_share, before, cost)
            if before - cost < _SEAM_MIN_GAIN * before:
                break
    return cells


def _total_cost(norm: np.ndarray, centres: np.ndarray, cells: np.ndarray) -> float:
    return float(((norm - centres[cells]) ** 2).sum())


def assign_cells(points: np.ndarray, rows: int, cols: int, *, method: str = "auto",
                 exact_max: int = 3000, block_size: int = 1024, n_jobs: int = 1,
                 seed: int = 0) -> tuple[np.ndarray, str]:
    """Assign every point its own grid cell, exactly when small, blockwise when large.

    Parameters
    ----------
    points : ndarray of shape (n, 2)
        t-SNE coordinates.
    rows, cols : int
        Grid shape with ``rows * cols >= n`` (see :func:`grid_shape`).
    method : {"auto", "exact", "blocks"}
        "auto" uses :func:`assign_exact` when the grid has at most ``exact_max`` cells (and
        lapjv can index it), else :func:`assign_blocks`.
    exact_max, block_size, n_jobs, seed
        See above and :func:`assign_blocks`.

    Returns
    -------
    cells : ndarray of shape (n,), int64
        Distinct cell ids ``row * cols + col``.
    method : str
        The method that ran, "exact" or "blocks" (what "auto" chose), for the run's records.
    """
    if method == "auto":
        method = "exact" if rows * cols <= min(exact_max, LAPJV_MAX_SIZE) else "blocks"
    if method == "exact":
        return assign_exact(points, rows, cols), method
    if method == "blocks":
        return assign_blocks(points, rows, cols, block_size=block_size, n_jobs=n_jobs,
                             seed=seed), method
    raise ValueError(f"unknown method {method!r}; expected 'auto', 'exact' or 'blocks'")


def _coarse_transport(norm: np.ndarray, rows: int, cols: int, max_cells: int,
                      rng: np.random.Generator):
    """Solve ever finer coarse copies of the problem on nested random subsamples.

    Returns the last level's sample (point indices), their coarse cell indices, the coarse
    cell centres (in fine cell units) and a function interpolating its duals to any position.
    """
    n = len(norm)
    order = rng.permutation(n)
    fill = n / (rows * cols)  # spare cells stay in proportion at every level
    dual = None
    target = _FIRST_LEVEL_CELLS
    while True:
        scale = min(1.0, math.sqrt(target / (rows * cols)))
        coarse_rows, coarse_cols = max(1, round(rows * scale)), max(1, round(cols * scale))
        sample = order[:min(n, max(1, round(coarse_rows * coarse_cols * fill)))]
        y = (np.arange(coarse_rows) + 0.5) * (rows / coarse_rows)
        x = (np.arange(coarse_cols) + 0.5) * (cols / coarse_cols)
        grid_y, grid_x = np.meshgrid(y, x, indexing="ij")
        centres = np.column_stack([grid_x.ravel(), grid_y.ravel()])
        sample_cells, duals = _solve(norm[sample], centres, dual(centres) if dual else None)
        logger.info("coarse level %d x %d cells, %d points", coarse_rows, coarse_cols, len(sample))
        dual = _interpolator(y, x, duals.reshape(coarse_rows, coarse_cols))
        if scale >= 1.0 or target * _LEVEL_FACTOR > max_cells:
            return sample, sample_cells, centres, dual
        target *= _LEVEL_FACTOR


def _interpolator(y: np.ndarray, x: np.ndarray, values: np.ndarray):
    """Bilinear interpolation (linear extrapolation at the edges) of values on grid centres."""
    from scipy.interpolate import RegularGridInterpolator

    if len(y) < 2 or len(x) < 2:
        return lambda positions: np.full(len(positions), values.mean())
    interpolate = RegularGridInterpolator((y, x), values, bounds_error=False, fill_value=None)
    return lambda positions: interpolate(positions[:, ::-1])


def _destinations(norm: np.ndarray, sample: np.ndarray, sample_targets: np.ndarray) -> np.ndarray:
    """Estimated final position of every point: it moves like its nearest sampled points."""
    from scipy.spatial import cKDTree

    k = min(_DESTINATION_NEIGHBOURS, len(sample))
    _, nearest = cKDTree(norm[sample]).query(norm, k=k)
    moves = (sample_targets - norm[sample])[nearest.reshape(len(norm), k)]
    return norm + moves.mean(axis=1)


def _split(idx: np.ndarray, positions: np.ndarray, region: tuple[int, int, int, int],
           block_size: int):
    """Yield (point indices, region) blocks of at most ``block_size`` cells, never overfull.

    The region ``(row0, row1, col0, col1)`` is halved across its longer side; the points with
    the smallest positions along that axis go to the first half, as many as its share of cells.
    """
    r0, r1, c0, c1 = region
    height, width = r1 - r0, c1 - c0
    if height * width <= block_size:
        yield idx, region
        return
    if width >= height:
        cut = c0 + width // 2
        first_cells = (cut - c0) * height
        halves = (r0, r1, c0, cut), (r0, r1, cut, c1)
        axis = 0
    else:
        cut = r0 + height // 2
        first_cells = (cut - r0) * width
        halves = (r0, cut, c0, c1), (cut, r1, c0, c1)
        axis = 1
    second_cells = height * width - first_cells
    n_first = round(len(idx) * first_cells / (height * width))
    n_first = min(max(n_first, len(idx) - second_cells), first_cells)
    order = np.argsort(positions[idx, axis], kind="stable")
    yield from _split(idx[order[:n_first]], positions, halves[0], block_size)
    yield from _split(idx[order[n_first:]], positions, halves[1], block_size)


def _shifted_windows(rows: int, cols: int, height: int, width: int, row_offset: int,
                     col_offset: int):
    """Tile the grid with height x width windows whose first cuts lie at the given offsets
    (windows at the edges are smaller)."""
    row_cuts = sorted({0, rows, *range(max(1, row_offset), rows, max(1, height))})
    col_cuts = sorted({0, cols, *range(max(1, col_offset), cols, max(1, width))})
    for r0, r1 in zip(row_cuts[:-1], row_cuts[1:]):
        for c0, c1 in zip(col_cuts[:-1], col_cuts[1:]):
            yield r0, r1, c0, c1


def _region_cells(region: tuple[int, int, int, int], cols: int) -> np.ndarray:
    r0, r1, c0, c1 = region
    return (np.arange(r0, r1)[:, None] * cols + np.arange(c0, c1)[None, :]).ravel()


def _solve_block(task: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    points, centres, potential = task
    if len(points) == 0:
        return np.empty(0, dtype=np.int64)
    return _solve(points, centres, potential)[0]


class _Solver:
    """Solves independent (points, region) blocks in-process or in a pool of processes."""

    def __init__(self, n_jobs: int):
        self.n_jobs = n_jobs
        self.pool = None

    def __enter__(self) -> "_Solver":
        if self.n_jobs > 1:
            from concurrent.futures import ProcessPoolExecutor
            self.pool = ProcessPoolExecutor(self.n_jobs)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def solve(self, blocks, norm, centres, potential, cols, cells, desc) -> None:
        """Assign the points of each block to cells of its region, writing into ``cells``."""
        from tqdm import tqdm

        region_cells = [_region_cells(region, cols) for _, region in blocks]
        tasks = ((norm[idx], centres[ids], potential[ids])
                 for (idx, _), ids in zip(blocks, region_cells))
        results = self.pool.map(_solve_block, tasks, chunksize=4) if self.pool else map(_solve_block, tasks)
        for (idx, _), ids, local in tqdm(zip(blocks, region_cells, results), total=len(blocks),
                                          desc=desc, leave=False):
            cells[idx] = ids[local]


def layout_quality(points: np.ndarray, cells: np.ndarray, rows: int, cols: int, k: int = 8) -> dict:
    """How faithfully a grid layout keeps the t-SNE map.

    Parameters
    ----------
    points : ndarray of shape (n, 2)
        t-SNE coordinates.
    cells : ndarray of shape (n,)
        Cell id of each point.
    rows, cols : int
        Grid shape.
    k : int
        Neighbourhood size for ``knn_kept``.

    Returns
    -------
    dict
        ``mean_sq_displacement`` and ``mean_displacement``: from each normalised point to its
        cell centre, in cell units. ``knn_kept``: the mean share of each point's k nearest t-SNE
        neighbours that are among the points in its k nearest occupied cells.
    """
    from scipy.spatial import cKDTree

    points = _as_points(points)
    cells = np.asarray(cells, dtype=np.int64)
    centres = cell_centres(rows, cols)[cells]
    sq = ((normalise_points(points, rows, cols) - centres) ** 2).sum(axis=1)
    n = len(points)
    kk = min(k, n - 1)
    if kk < 1:
        knn_kept = 1.0
    else:
        # Query k + 1 and drop the first hit; with duplicate points the first hit need not be
        # the point itself, so drop "self" explicitly instead.
        near_tsne = _neighbours_without_self(cKDTree(points), points, kk)
        near_grid = _neighbours_without_self(cKDTree(centres), centres, kk)
        kept = [np.intersect1d(a, b, assume_unique=True).size for a, b in zip(near_tsne, near_grid)]
        knn_kept = float(np.mean(kept)) / kk
    return {
        "mean_sq_displacement": float(sq.mean()),
        "mean_displacement": float(np.sqrt(sq).mean()),
        "knn_kept": knn_kept,
    }


def _neighbours_without_self(tree, queries: np.ndarray, k: int) -> np.ndarray:
    """The k nearest indexed items of each query item, never counting the item itself."""
    _, idx = tree.query(queries, k=k + 1)
    own = np.arange(len(queries))[:, None]
    is_self = idx == own
    # Drop self where it appears, else the farthest hit; each row keeps exactly k entries.
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(len(idx)), drop] = False
    return idx[keep].reshape(len(idx), k)


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


