"""The 256-px JPEG tile pyramid: where cells lie (geometry), where thumbnails are read from
(thumbnails), drawing a whole pyramid (pyramid) and redrawing only what changed (update)."""

from .geometry import TileGeometry, grid_cells
from .pyramid import render_tiles
from .update import update_tiles

__all__ = ["TileGeometry", "grid_cells", "render_tiles", "update_tiles"]
