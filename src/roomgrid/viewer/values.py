"""Small conversions the viewer's data files share: table columns to JSON-safe values, and source
files to paths under their city's linked folder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd


def column_values(frame: pd.DataFrame, name: str) -> list:
    return frame[name].tolist() if name in frame else [None] * len(frame)


def json_value(value):
    """NaN -> None, whole floats -> int, numpy scalars -> Python, everything else as is."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() else value
    return value


def file_under_root(path, root: Path | None) -> str | None:
    """``path`` relative to ``root`` (POSIX), or None if it is not inside it."""
    if root is None or not isinstance(path, str) or not path:
        return None
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None
