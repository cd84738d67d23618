"""Reading the per-city thumbnails that tiles are drawn from."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import h5py
import numpy as np
import pandas as pd
from PIL import Image

from .geometry import TileGeometry

logger = logging.getLogger(__name__)


class ThumbnailReader:
    """Reads single thumbnails, opening each city's HDF5 file at most once."""

    def __init__(self, paths: list[str], cell_px: int) -> None:
        self._paths = paths
        self._cell_px = cell_px
        self._files: dict[int, h5py.File] = {}
        self._thumbs: dict[int, h5py.Dataset] = {}  # looking a dataset up costs as much as a read

    def read(self, city_code: int, index: int) -> np.ndarray:
        """Thumbnail ``index`` of city ``city_code`` as a (cell_px, cell_px, 3) uint8 array."""
        if city_code not in self._files:
            # Each thumbnail is read once: HDF5's per-dataset chunk cache (1 MiB each, hundreds of
            # cities per worker) would only hold memory.
            self._files[city_code] = h5py.File(self._paths[city_code], "r", rdcc_nbytes=0)
            self._thumbs[city_code] = self._files[city_code]["thumbs"]
        pixels = self._thumbs[city_code][index]
        if pixels.shape[0] != self._cell_px or pixels.shape[1] != self._cell_px:
            size = (self._cell_px, self._cell_px)
            pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))
        return pixels

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        self._thumbs.clear()


def locate_thumbnails(placed: pd.DataFrame, thumbs_paths: Mapping[str, os.PathLike | str],
                       geometry: TileGeometry) -> tuple[np.ndarray, np.ndarray, list[str],
                                                        dict[str, str]]:
    """Map each placed photo to (city file, row in it) once, reading only the ``ids`` datasets."""
    cell_city = np.full((geometry.rows, geometry.cols), -1, np.int32)
    cell_index = np.full((geometry.rows, geometry.cols), -1, np.int64)
    paths: list[str] = []
    skipped: dict[str, str] = {}
    for city, photos in placed.groupby("city", sort=True):
        path = thumbs_paths.get(city)
        if path is None:
            reason = "no thumbnails file for its city"
            skipped.update(dict.fromkeys(photos["id"], reason))
            continue
        try:
            with h5py.File(path, "r") as handle:
                ids = handle["ids"].asstr()[:]
                shape = handle["thumbs"].shape
        except (OSError, KeyError) as error:
            skipped.update(dict.fromkeys(photos["id"], f"unreadable thumbnails file: {error}"))
            continue
        if len(shape) != 4 or shape[0] != len(ids) or shape[1] != shape[2] or shape[3] != 3:
            reason = f"thumbnails file has shape {shape}, expected (n, T, T, 3)"
            skipped.update(dict.fromkeys(photos["id"], reason))
            continue
        position = {photo_id: index for index, photo_id in enumerate(ids)}
        code = len(paths)
        paths.append(str(path))
        for photo_id, row, col in photos[["id", "row", "col"]].itertuples(index=False):
            index = position.get(photo_id)
            if index is None:
                skipped[photo_id] = "id not in its city's thumbnails file"
                continue
            cell_city[row, col] = code
            cell_index[row, col] = index
    for photo_id, reason in skipped.items():
        logger.warning("tiles: skipping %s: %s", photo_id, reason)
    return cell_city, cell_index, paths, skipped
