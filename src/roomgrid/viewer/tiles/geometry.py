"""Where cells and tiles lie: the pixel and tile extent of a grid, and the photos that occupy it.

Shared by the tile writers and the viewer's data, so both put the same photo in each cell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TileGeometry:
    """Pixel and tile extent of a ``rows`` x ``cols`` grid of square cells.

    Pixel coordinates are those of the deepest zoom (``max_zoom``), where one cell is ``cell_px``
    wide; ``y`` grows downward, as in Leaflet's ``CRS.Simple``.

    Parameters
    ----------
    rows, cols : int
        Grid shape.
    cell_px : int, default 128
        Side of one cell at the deepest zoom, in pixels.
    tile_px : int, default 256
        Side of one tile, in pixels.
    """

    rows: int
    cols: int
    cell_px: int = 128
    tile_px: int = 256

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "cell_px", "tile_px"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @property
    def width(self) -> int:
        """Map width at the deepest zoom, in pixels."""
        return self.cols * self.cell_px

    @property
    def height(self) -> int:
        """Map height at the deepest zoom, in pixels."""
        return self.rows * self.cell_px

    @property
    def max_zoom(self) -> int:
        """Smallest zoom ``z`` with ``tile_px * 2**z >= max(width, height)``."""
        zoom = 0
        while self.tile_px * 2**zoom < max(self.width, self.height):
            zoom += 1
        return zoom

    def tiles_at(self, zoom: int) -> tuple[int, int]:
        """Number of tiles ``(nx, ny)`` that intersect the map at ``zoom``."""
        if not 0 <= zoom <= self.max_zoom:
            raise ValueError(f"zoom must be in 0..{self.max_zoom}, got {zoom}")
        span = self.tile_px * 2 ** (self.max_zoom - zoom)  # deepest-zoom pixels per tile
        return -(-self.width // span), -(-self.height // span)

    def cell_at(self, px: float, py: float) -> tuple[int, int] | None:
        """Grid ``(row, col)`` under deepest-zoom pixel ``(px, py)``, or None outside the map."""
        if not (0 <= px < self.width and 0 <= py < self.height):
            return None
        return int(py // self.cell_px), int(px // self.cell_px)

    def to_dict(self) -> dict:
        """Plain-JSON description shared by the tile summary and the viewer."""
        return {
            "rows": self.rows, "cols": self.cols, "cell_px": self.cell_px,
            "tile_px": self.tile_px, "max_zoom": self.max_zoom,
            "width": self.width, "height": self.height,
        }


def grid_cells(grid: pd.DataFrame, geometry: TileGeometry) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows of ``grid`` that occupy a valid cell, sorted by ``(row, col)``.

    Shared by the tiles and the viewer so both put the same photo in each cell. A row outside the
    grid, a second photo in an occupied cell, or a repeated id is skipped with a reason.

    Returns
    -------
    placed : DataFrame
        Columns ``id``, ``city``, ``row``, ``col`` (ints), one row per occupied cell.
    skipped : dict
        ``id -> reason`` for the rows left out (a repeated id keeps its first cell).
    """
    frame = grid.loc[:, ["id", "city", "row", "col"]].copy()
    frame["row"] = pd.to_numeric(frame["row"], errors="coerce")
    frame["col"] = pd.to_numeric(frame["col"], errors="coerce")
    skipped: dict[str, str] = {}
    inside = (frame["row"].between(0, geometry.rows - 1)
              & frame["col"].between(0, geometry.cols - 1)
              & (frame["row"] % 1 == 0) & (frame["col"] % 1 == 0))
    for photo_id in frame.loc[~inside, "id"]:
        skipped[str(photo_id)] = f"cell outside the {geometry.rows}x{geometry.cols} grid"
    frame = frame[inside].astype({"row": int, "col": int})
    repeated_id = frame["id"].duplicated()
    for photo_id, row, col in frame.loc[repeated_id, ["id", "row", "col"]].itertuples(index=False):
        skipped[str(photo_id)] = (f"id placed more than once; its extra cell ({row}, {col}) "
                                  "is left empty")
    frame = frame[~repeated_id]
    taken = frame.duplicated(["row", "col"])
    for photo_id in frame.loc[taken, "id"]:
        skipped[str(photo_id)] = "cell already taken by another photo"
    frame = frame[~taken].sort_values(["row", "col"], kind="stable").reset_index(drop=True)
    for photo_id, reason in skipped.items():
        logger.warning("grid: skipping %s: %s", photo_id, reason)
    return frame, skipped
