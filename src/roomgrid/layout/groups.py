"""Grouping photos for an arrangement: one group per value of a category, or bands of about equal
size of a number or a date, low to high, with the photos that lack the value in a last group."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

# Columns whose values are amounts of money, labelled "$1,200–1,450".
MONEY_COLUMNS = ("price",)


class ArrangementError(ValueError):
    """An arrangement the configuration or the data cannot make; the message is one sentence."""


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
