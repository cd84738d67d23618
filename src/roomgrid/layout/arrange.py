"""Arrangements: the same photos laid out by look-alike, by a category, by bands of a number or a
date, or at random.

An arrangement other than ``similarity`` groups the photos (one group per value of a category
column, or ``bands`` groups of about equal size of a number or a date, low to high), gives each
group a rectangle of whole cells (:func:`pack_blocks`: rows of blocks, each row under a header row
where the block's label is drawn), and fills each rectangle by similarity: the group's t-SNE
positions assigned to the rectangle's cells by :func:`roomgrid.layout.grid.assign_cells`.

Every kind is one function on arrays (:func:`group_categories`, :func:`group_bands`,
:func:`arrange_random`, :func:`arrange_similarity`, :func:`arrange_blocks`); :func:`parse_arrangements`
checks the configuration in one place and :func:`arrange` runs one parsed arrangement.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..selection.tables import SELECTION_COLUMNS
from .grid import assign_cells, grid_shape, layout_quality

logger = logging.getLogger(__name__)

SIMILARITY = "similarity"
RANDOM = "random"
ORDERS = ("name", "size", "median_price")
KEYS = ("name", "by", "bands", "order", "seed")
# Columns whose values are amounts of money, labelled "$1,200–1,450".
MONEY_COLUMNS = ("price",)
# Columns that identify a photo rather than describe it: one block per photo is no arrangement.
NOT_GROUPABLE = ("id", "file", "path", "sha256", "image_url", "listing_url", "selected")
# A header row above every row of blocks holds the blocks' labels; a column between neighbouring
# blocks keeps them apart. Neither ever holds a photo.
HEADER_ROWS = 1
GAP_COLS = 1
# Warn past this many blocks: a column with a value per photo makes a map of single photos.
MANY_BLOCKS = 500


class ArrangementError(ValueError):
    """An arrangement the configuration or the data cannot make; the message is one sentence."""


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
    ``row * cols + col``; ``blocks`` are the groups' rectangles in block order."""

    rows: int
    cols: int
    cells: np.ndarray
    blocks: list[dict] = field(default_factory=list)
    method: str = ""


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


# --- groups ------------------------------------------------------------------------------------

def group_categories(values: pd.Series, *, column: str, order: str = "name",
                     order_values: pd.Series | None = None) -> tuple[np.ndarray, list[dict]]:
    """One group per distinct value, in ``order``; photos without a value form a last group.

    Parameters
    ----------
    values : Series
        The column, one entry per photo.
    column : str
        Its name, for labels ("no neighbourhood").
    order : {"name", "size", "median_price"} or a column name
        "name": by value (numerically when every value is a number); "size": largest first;
        otherwise by the median of ``order_values`` in each group, low to high, groups without
        any such number last.
    order_values : Series, optional
        The numbers ``order`` other than "name" and "size" sorts by, one per photo.

    Returns
    -------
    codes : ndarray of int64
        Each photo's group, numbered in block order.
    groups : list of dict
        ``label``, ``value`` (JSON-ready) and ``count`` of each group.
    """
    present = _present(values)
    keys = values.where(present).astype(object)
    numbers = pd.to_numeric(keys[present], errors="coerce")
    numeric = bool(present.any()) and bool(numbers.notna().all())
    distinct = pd.unique(keys[present])
    counts = keys[present].value_counts()
    if order == "name":
        if numeric:
            distinct = sorted(distinct, key=lambda v: float(v))
        else:
            distinct = sorted(distinct, key=lambda v: str(v))
    elif order == "size":
        distinct = sorted(distinct, key=lambda v: (-int(counts[v]), str(v)))
    else:
        if order_values is None:
            raise ValueError(f"order {order!r} needs the values to order by")
        by_number = pd.to_numeric(order_values, errors="coerce")
        medians = by_number[present].groupby(keys[present]).median()
        distinct = sorted(distinct, key=lambda v: (math.isnan(medians.get(v, np.nan)),
                                                   medians.get(v, 0.0), str(v)))
    code_of = {value: code for code, value in enumerate(distinct)}
    codes = np.array([code_of[v] if ok else len(distinct) for v, ok in zip(keys, present)],
                     dtype=np.int64)
    groups = [{"label": _category_label(v, column, numeric), "value": _json_scalar(v),
               "count": int(counts[v])} for v in distinct]
    if not present.all():
        groups.append({"label": f"no {column}", "value": None, "count": int((~present).sum())})
    return codes, groups


def group_bands(values: pd.Series, bands: int, *, column: str) -> tuple[np.ndarray, list[dict]]:
    """At most ``bands`` groups of about equal counts of a number or a date, low to high.

    Every photo of band i has a value at most every value of band i + 1: a value shared by many
    photos is never split, so heavy ties make fewer, unequal bands. Photos without a value form a
    last group of their own ("no price").

    Returns ``codes`` (each photo's band) and ``groups`` (``label``, ``low``, ``high``,
    ``count``), as :func:`group_categories`.
    """
    if bands < 1:
        raise ValueError(f"bands must be at least 1, got {bands}")
    numbers, is_date = _as_numbers(values, column)
    present = ~np.isnan(numbers)
    codes = np.full(len(numbers), -1, dtype=np.int64)
    groups: list[dict] = []
    if present.any():
        unique, counts = np.unique(numbers[present], return_counts=True)
        total = np.cumsum(counts)
        # Cut after the distinct value whose running count is nearest each equal-count target.
        targets = np.arange(1, bands) * (total[-1] / bands)
        cuts = np.abs(total[None, :] - targets[:, None]).argmin(axis=1)
        last = len(unique) - 1
        cuts = np.unique(np.append(cuts[cuts < last], last))
        highs = unique[cuts]
        codes[present] = np.searchsorted(highs, numbers[present], side="left")
        lows = np.concatenate([[unique[0]], unique[cuts[:-1] + 1]])
        for band, (low, high) in enumerate(zip(lows, highs)):
            groups.append({"label": _range_label(low, high, column, is_date),
                           "low": _number_value(low, is_date), "high": _number_value(high, is_date),
                           "count": int((codes == band).sum())})
    if not present.all():
        codes[~present] = len(groups)
        groups.append({"label": f"no {column}", "low": None, "high": None,
                       "count": int((~present).sum())})
    return codes, groups


def _present(values: pd.Series) -> pd.Series:
    return values.notna() & values.astype(str).str.strip().ne("")


def _as_numbers(values: pd.Series, column: str) -> tuple[np.ndarray, bool]:
    """The column as float64 (dates as days since 1970) with NaN where missing, and whether it
    held dates. Text that is neither stops with one sentence."""
    present = _present(values)
    numbers = pd.to_numeric(values.where(present), errors="coerce")
    if numbers[present].notna().all():
        return numbers.to_numpy(dtype=np.float64), False
    dates = pd.to_datetime(values.where(present), errors="coerce", format="ISO8601", utc=True)
    if dates[present].notna().all():
        days = (dates - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(days=1)
        return days.to_numpy(dtype=np.float64, na_value=np.nan), True
    bad = values[present & numbers.isna() & dates.isna()].iloc[0]
    raise ArrangementError(f"column {column!r} holds text such as {str(bad)!r}, which is neither "
                           "a number nor a date, so it cannot be cut into bands: leave out "
                           "'bands' for one block per value")


def _category_label(value, column: str, numeric: bool) -> str:
    if numeric:
        number = float(value)
        shown = f"{number:,.0f}" if number.is_integer() else f"{number:,g}"
        return f"${shown}" if column in MONEY_COLUMNS else f"{column} {shown}"
    return str(value)


def _range_label(low: float, high: float, column: str, is_date: bool) -> str:
    if is_date:
        first, last = (str(pd.Timestamp(v, unit="D").date()) for v in (low, high))
        return first if first == last else f"{first} – {last}"
    first, last = (f"{v:,.0f}" if float(v).is_integer() else f"{v:,.4g}" for v in (low, high))
    text = first if first == last else f"{first}–{last}"
    return f"${text}" if column in MONEY_COLUMNS else f"{column} {text}"


def _number_value(value: float, is_date: bool):
    if is_date:
        return str(pd.Timestamp(value, unit="D").date())
    return int(value) if float(value).is_integer() else float(value)


def _json_scalar(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# --- blocks on the map -------------------------------------------------------------------------

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
    for group, (top, left, height, width) in zip(kept, rects):
        members = np.nonzero(codes == group)[0]
        local, method = assign_cells(points[members], height, width, **solver)
        methods.add(method)
        cells[members] = (top + local // width) * cols + left + local % width
        quality = layout_quality(points[members], local, height, width)
        blocks.append(dict(groups[group], row=int(top), col=int(left), rows=int(height),
                           cols=int(width), knn_kept=round(quality["knn_kept"], 4)))
    return Arranged(rows, cols, cells, blocks, "+".join(sorted(methods)))


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
        logger.warning("arrangement %s: column %s has no value for any photo; one 'no %s' block",
                       arrangement.name, column, column)
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
    (shape, blocks with their rectangles and labels, quality), read back by the tiles and viewer."""
    from ..core.io import read_table, write_json, write_table
    from ..selection.tables import selected_photos

    spec = Arrangement(name, by, bands, order, seed)
    points = read_table(tsne_tsv)
    table = selected_photos(photos_tsv)
    table = table.set_index("id").reindex(points["id"]).reset_index()
    xy = points[["x", "y"]].to_numpy(dtype=np.float64)
    result = arrange(spec, xy, table, aspect=aspect, method=method, exact_max=exact_max,
                     block_size=block_size, n_jobs=n_jobs, seed=seed)
    rows_of, cols_of = np.divmod(result.cells, result.cols)
    write_table(pd.DataFrame({"id": points["id"], "city": table["city"], "row": rows_of,
                              "col": cols_of}), out_tsv)
    quality = layout_quality(xy, result.cells, result.rows, result.cols)
    filled = len(xy) / (result.rows * result.cols)
    write_json({"name": name, "kind": spec.kind, **spec.params(), "rows": int(result.rows),
                "cols": int(result.cols), "n": len(xy), "method": result.method,
                "mode": "arrangement", "fill": round(filled, 4), "blocks": result.blocks,
                "quality": {k: float(v) for k, v in quality.items()}}, out_json)
    logger.info("arrangement %s: %d photos in %d blocks on a %dx%d grid (%.0f%% filled): %s",
                name, len(xy), len(result.blocks), result.rows, result.cols, 100 * filled, quality)
    return result
