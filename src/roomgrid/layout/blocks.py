"""Near-exact grid assignment for any number of points: coarse-to-fine transport, then exact
blocks solved independently (in parallel), then seam repair across block borders."""

from __future__ import annotations

import logging
import math

import numpy as np

from .exact import LAPJV_MAX_SIZE, _as_points, _check_capacity, cell_centres, normalise_points, solve

logger = logging.getLogger(__name__)

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
        sample_cells, duals = solve(norm[sample], centres, dual(centres) if dual else None)
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
    return solve(points, centres, potential)[0]


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
