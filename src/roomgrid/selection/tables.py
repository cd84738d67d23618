"""Reading the selection table: which photos are placed, and whether they are enough for a map."""

from __future__ import annotations

import os

import pandas as pd

from ..core.constants import MIN_PHOTOS
from ..core.io import read_table
from ..scan.city import SCAN_COLUMNS
from ..sources.folder import METADATA_COLUMNS

# Every column of results/selection/photos.tsv, in order: the index's (with the listing metadata),
# the scan's, then the selection's own. Fixed by the code, so a config can be checked against it
# before anything runs (layout.arrangements' "by").
SELECTION_COLUMNS = ("id", "city", "file", "path", "bytes", "skip_reason", *METADATA_COLUMNS,
                     *SCAN_COLUMNS[1:], "bin", "excluded", "cluster", "label", "predicted_class",
                     "predicted_probability", "culled", "duplicate_group", "selected", "dropped")


def selected_photos(photos_tsv: str | os.PathLike, columns: list[str] | None = None):
    """The placed photos, in id order: the row order of every global artifact. Reading only the
    ``columns`` a stage needs keeps 125k-row tables small."""
    table = read_table(photos_tsv, None if columns is None else ["id", "selected", *columns])
    return table[table["selected"].astype(bool)].sort_values("id").reset_index(drop=True)


def too_few_to_map(table: pd.DataFrame) -> str | None:
    """One sentence saying why too few photos are left for a map, or None when enough are."""
    placed = int(table["selected"].astype(bool).sum())
    if placed >= MIN_PHOTOS:
        return None
    why = table.loc[~table["selected"].astype(bool), "dropped"].value_counts()
    reasons = ", ".join(f"{n} {reason}" for reason, n in why.items())
    return (f"only {placed} of {len(table)} files can be placed, and the map needs at least "
            f"{MIN_PHOTOS} photos" + (f" (not placed: {reasons})" if reasons else ""))
