"""Arrangements: the same photos laid out by look-alike, by a category, by bands of a number or a
date, or at random.

An arrangement other than ``similarity`` groups the photos (:mod:`roomgrid.layout.groups`: one
group per value of a category column, or ``bands`` groups of about equal size of a number or a
date, low to high), gives each group a rectangle of whole cells (:mod:`roomgrid.layout.packing`:
rows of blocks, each row under a header row where the block's label is drawn), and fills each
rectangle by similarity: the group's t-SNE positions assigned to the rectangle's cells by
:func:`roomgrid.layout.grid.assign_cells`.

Every kind is one function (:func:`arrange_random`, :func:`arrange_similarity`,
:func:`arrange_blocks`); :func:`parse_arrangements` checks the configuration in one place and
:func:`arrange` runs one parsed arrangement.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..selection.tables import SELECTION_COLUMNS
from .grid import assign_cells, chosen_method, grid_shape, layout_quality
from .groups import ArrangementError, _present, group_bands, group_categories
from .packing import pack_blocks

logger = logging.getLogger(__name__)

SIMILARITY = "similarity"
RANDOM = "random"
ORDERS = ("name", "size", "median_price")
KEYS = ("name", "by", "bands", "order", "seed")
# Columns that identify a photo rather than describe it: one block per photo is no arrangement.
NOT_GROUPABLE = ("id", "file", "path", "sha256", "image_url", "listing_url", "selected")
# Warn past this many blocks: a column with a value per photo makes a map of single photos.
MANY_BLOCKS = 500


@dataclass(frozen=True)
class Arrangement:
    """One entry of ``layout.arrangements``, checked by :func:`parse_arrangements`."""

    name: str
    by: str | None = None
    bands: int | None = None
    order: str = "name"
    seed: int = 0

    @property
    def kind(self) -> str:
        if self.by is None:
            return SIMILARITY
        if self.by == RANDOM:
            return RANDOM
        return "bands" if self.bands is not None else "categories"

    def params(self) -> dict:
        return {"by": self.by, "bands": self.bands, "order": self.order, "seed": self.seed}


@dataclass
class Arranged:
    """Where one arrangement puts every photo: ``cells[i]`` is photo i's cell
    ``row * cols + col``; ``blocks`` are the groups' rectangles in block order. An arrangement by
    a column no photo has a value in is not built: ``unavailable`` says why, ``cells`` are -1 and
    the grid is 0 x 0."""

    rows: int
    cols: int
    cells: np.ndarray
    blocks: list[dict] = field(default_factory=list)
    method: str = ""
    unavailable: str = ""

    @property
    def available(self) -> bool:
        return not self.unavailable


def not_built(n: int, reason: str) -> Arranged:
    """An arrangement the data cannot make: no grid, no photo placed, and the reason."""
    return Arranged(0, 0, np.full(n, -1, dtype=np.int64), [], "none", reason)


# --- the configuration -------------------------------------------------------------------------

def parse_arrangements(entries: Iterable[Mapping] | None,
                       columns: Sequence[str] = SELECTION_COLUMNS) -> list[Arrangement]:
    """Check ``layout.arrangements`` and return it with ``similarity`` first (added if absent).

    Raises :class:`ArrangementError` with one sentence for the first problem: an entry without a
    name, an unknown key, two arrangements with one name, ``by`` naming no column of the selection
    table (the message lists those that exist), ``bands`` below 1 or without a column, an unknown
    ``order``.
    """
    parsed: list[Arrangement] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries or [], start=1):
        where = f"layout.arrangements entry {number}"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) \
                or not entry.get("name"):
            raise ArrangementError(f"{where} needs a name, e.g. {{name: rent, by: price, bands: 12}}")
        name = entry["name"]
        where = f"layout.arrangements entry {name!r}"
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise ArrangementError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: "
                                   f"{', '.join(KEYS)}")
        if name in seen:
            raise ArrangementError(f"two arrangements are named {name!r}: each name must be unique")
        seen.add(name)
        by, bands = entry.get("by"), entry.get("bands")
        order, seed = entry.get("order", "name"), entry.get("seed", 0)
        if name == SIMILARITY and by is not None:
            raise ArrangementError(f"{where}: the name {SIMILARITY!r} is the look-alike map and "
                                   "takes no 'by'; give the other arrangement another name")
        if name != SIMILARITY and by is None:
            raise ArrangementError(f"{where} needs 'by': a column of the selection table or "
                                   f"{RANDOM!r}")
        if by is not None and by != RANDOM and by not in columns:
            raise ArrangementError(f"{where}: 'by: {by}' names no column of the selection table; "
                                   f"the columns are {', '.join(_groupable(columns))} (or "
                                   f"{RANDOM!r})")
        if by in NOT_GROUPABLE:
            raise ArrangementError(f"{where}: column {by!r} identifies single photos and makes no "
                                   f"groups; choose one of {', '.join(_groupable(columns))}")
        if bands is not None:
            if isinstance(bands, bool) or not isinstance(bands, int) or bands < 1:
                raise ArrangementError(f"{where}: bands must be a whole number of at least 1, "
                                       f"got {bands!r}")
            if by in (None, RANDOM):
                raise ArrangementError(f"{where}: bands cut a column's numbers or dates, so they "
                                       "need 'by' to name a column")
        if order not in ORDERS and order not in columns:
            raise ArrangementError(f"{where}: order must be one of {', '.join(ORDERS)} or a "
                                   f"column of the selection table, got {order!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ArrangementError(f"{where}: seed must be a whole number, got {seed!r}")
        parsed.append(Arrangement(name, by, bands, order, seed))
    if SIMILARITY not in seen:
        parsed.insert(0, Arrangement(SIMILARITY))
    else:  # the default view comes first
        parsed.sort(key=lambda a: a.name != SIMILARITY)
    return parsed


def _groupable(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in NOT_GROUPABLE]


# --- the kinds ---------------------------------------------------------------------------------

def arrange_similarity(points: np.ndarray, *, aspect: float = 1.0, **solver) -> Arranged:
    """Today's look-alike map: every photo's t-SNE position assigned to one near-``aspect`` grid."""
    points = np.asarray(points, dtype=np.float64)
    rows, cols = grid_shape(len(points), aspect)
    cells, method = assign_cells(points, rows, cols, **solver)
    return Arranged(rows, cols, cells, [], method)


def arrange_random(n: int, *, aspect: float = 1.0, seed: int = 0) -> Arranged:
    """The photos in a seeded random order, row by row on a near-``aspect`` grid."""
    if n < 1:
        raise ValueError(f"need at least one photo, got {n}")
    rows, cols = grid_shape(n, aspect)
    cells = np.random.default_rng(seed).permutation(n).astype(np.int64)
    return Arranged(rows, cols, cells, [], "random")


def arrange_blocks(points: np.ndarray, codes: np.ndarray, groups: Sequence[dict], *,
                   aspect: float = 1.0, **solver) -> Arranged:
    """One rectangle per group (:func:`pack_blocks`), filled by similarity.

    ``codes[i]`` is photo i's group (an index into ``groups``, whose ``count`` must match).
    Inside its block, each group's t-SNE positions are assigned to the block's cells by
    :func:`roomgrid.layout.grid.assign_cells`, so look-alikes stay side by side within a block.
    Each returned block is its group's dict plus ``row``, ``col``, ``rows``, ``cols`` and the
    block's own ``knn_kept`` (kNN-8 of the group's t-SNE map kept in the block).
    """
    points = np.asarray(points, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64)
    counts = np.bincount(codes, minlength=len(groups))
    if len(counts) != len(groups) or any(int(c) != g["count"] for c, g in zip(counts, groups)):
        raise ValueError("group codes and group counts disagree")
    kept = [i for i, c in enumerate(counts) if c > 0]
    rects, rows, cols = pack_blocks([int(counts[i]) for i in kept], aspect)
    cells = np.full(len(points), -1, dtype=np.int64)
    blocks, methods = [], set()
    members_of = [np.nonzero(codes == group)[0] for group in kept]
    solved = _solve_blocks([(points[members], height, width)
                            for members, (_, _, height, width) in zip(members_of, rects)], solver)
    for group, members, (top, left, height, width), (local, method) in zip(kept, members_of, rects,
                                                                           solved):
        methods.add(method)
        cells[members] = (top + local // width) * cols + left + local % width
        quality = layout_quality(points[members], local, height, width)
        blocks.append(dict(groups[group], row=int(top), col=int(left), rows=int(height),
                           cols=int(width), knn_kept=round(quality["knn_kept"], 4)))
    return Arranged(rows, cols, cells, blocks, "+".join(sorted(methods)))


def _solve_blocks(problems: Sequence[tuple[np.ndarray, int, int]], solver: Mapping
                  ) -> list[tuple[np.ndarray, str]]:
    """:func:`assign_cells` of every (points, rows, cols) with ``solver``'s settings, in order.
    Blocks solved exactly are spread over ``solver["n_jobs"]`` processes, one block at a time
    each (one lapjv call is one core: 400 city blocks took 44 s in one process at 125k);
    larger blocks follow, each using the processes itself. The cells are the same either way."""
    n_jobs = int(solver.get("n_jobs", 1))
    choice = {key: solver[key] for key in ("method", "exact_max") if key in solver}
    exact = [i for i, (_, rows, cols) in enumerate(problems)
             if chosen_method(rows, cols, **choice) == "exact"]
    solved: list = [None] * len(problems)
    if n_jobs > 1 and len(exact) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(n_jobs, len(exact))) as pool:
            futures = {i: pool.submit(assign_cells, *problems[i], **solver) for i in exact}
            for i, future in futures.items():
                solved[i] = future.result()
    for i, problem in enumerate(problems):
        if solved[i] is None:
            solved[i] = assign_cells(*problem, **solver)
    return solved


def arrange(arrangement: Arrangement, points: np.ndarray, table: pd.DataFrame, *,
            aspect: float = 1.0, **solver) -> Arranged:
    """Run one parsed arrangement on the photos of ``table`` (row i has t-SNE ``points[i]``)."""
    kind = arrangement.kind
    if kind == SIMILARITY:
        return arrange_similarity(points, aspect=aspect, **solver)
    if kind == RANDOM:
        return arrange_random(len(points), aspect=aspect, seed=arrangement.seed)
    column = arrangement.by
    if column not in table:
        raise ArrangementError(f"arrangement {arrangement.name!r}: the selection table has no "
                               f"column {column!r}; its columns are "
                               f"{', '.join(_groupable(list(table.columns)))}")
    values = table[column]
    if not _present(values).any():
        # One "no price" block would be the look-alike map again under another name: the viewer
        # lists the arrangement with this reason instead of showing it.
        reason = f"no photo has a value in column {column!r}"
        logger.warning("arrangement %s is not built: %s", arrangement.name, reason)
        return not_built(len(points), reason)
    if kind == "bands":
        codes, groups = group_bands(values, arrangement.bands, column=column)
    else:
        order = arrangement.order
        order_values = None
        if order not in ("name", "size"):
            source = "price" if order == "median_price" else order
            if source not in table:
                raise ArrangementError(f"arrangement {arrangement.name!r}: order {order!r} "
                                       f"needs column {source!r}, which the table lacks")
            order_values = table[source]
        codes, groups = group_categories(values, column=column, order=order,
                                         order_values=order_values)
        if len(groups) > MANY_BLOCKS:
            logger.warning("arrangement %s: %d blocks, one per value of %s: a column with fewer "
                           "values, or bands, makes a more readable map", arrangement.name,
                           len(groups), column)
    return arrange_blocks(points, codes, groups, aspect=aspect, **solver)


# --- the stage on files ------------------------------------------------------------------------

def run_arrangement(tsne_tsv, photos_tsv, out_tsv, out_json, *, name: str, by: str | None,
                    bands: int | None = None, order: str = "name", seed: int = 0,
                    aspect: float = 1.0, method: str = "auto", exact_max: int = 3000,
                    block_size: int = 1024, n_jobs: int = 1) -> Arranged:
    """Write one arrangement's ``grid.tsv`` (``id``, ``city``, ``row``, ``col``) and ``grid.json``
    (shape, blocks with their rectangles and labels, quality), read back by the tiles and viewer.
    An arrangement the data cannot make writes a grid table without rows and its reason as
    ``grid.json``'s ``unavailable``."""
    from ..core.io import read_table, write_json, write_table
    from ..selection.tables import selected_photos

    spec = Arrangement(name, by, bands, order, seed)
    points = read_table(tsne_tsv)
    table = selected_photos(photos_tsv)
    table = table.set_index("id").reindex(points["id"]).reset_index()
    xy = points[["x", "y"]].to_numpy(dtype=np.float64)
    result = arrange(spec, xy, table, aspect=aspect, method=method, exact_max=exact_max,
                     block_size=block_size, n_jobs=n_jobs, seed=seed)
    facts = {"name": name, "kind": spec.kind, **spec.params(), "rows": int(result.rows),
             "cols": int(result.cols), "method": result.method, "mode": "arrangement",
             "blocks": result.blocks}
    if not result.available:
        # Nothing to place: an empty grid table, and facts the tiles, viewer and report read the
        # reason from.
        write_table(pd.DataFrame({"id": [], "city": [], "row": [], "col": []}), out_tsv)
        write_json(facts | {"n": 0, "unavailable": result.unavailable}, out_json)
        return result
    rows_of, cols_of = np.divmod(result.cells, result.cols)
    write_table(pd.DataFrame({"id": points["id"], "city": table["city"], "row": rows_of,
                              "col": cols_of}), out_tsv)
    quality = layout_quality(xy, result.cells, result.rows, result.cols)
    filled = len(xy) / (result.rows * result.cols)
    write_json(facts | {"n": len(xy), "fill": round(filled, 4),
                        "quality": {k: float(v) for k, v in quality.items()}}, out_json)
    logger.info("arrangement %s: %d photos in %d blocks on a %dx%d grid (%.0f%% filled): %s",
                name, len(xy), len(result.blocks), result.rows, result.cols, 100 * filled, quality)
    return result
