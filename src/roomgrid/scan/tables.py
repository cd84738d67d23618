"""Reading the per-city scan tables."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from ..core.io import read_table


def readable_photos(scans: Mapping[str, str]):
    """``id``, ``city``, ``sha256`` of every photo the scan could read (all have features), by id."""
    tables = [read_table(path, ["id", "status", "sha256"]).assign(city=city)
              for city, path in scans.items()]
    table = pd.concat(tables, ignore_index=True)
    table = table[table["status"].eq("ok")].drop(columns="status")
    return table.sort_values("id").reset_index(drop=True)
