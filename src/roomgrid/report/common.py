"""What every report figure shares: a display-less matplotlib, atomic PNG writing, thumbnails."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import h5py
import matplotlib

matplotlib.use("Agg")  # no display on clusters or CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..core.io import atomic_path  # noqa: E402

__all__ = ["plt", "save_figure", "read_thumbnails", "thumbnail_grid"]


def save_figure(figure, path: str | os.PathLike) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(figure)


def read_thumbnails(thumbs_paths: Mapping[str, str | os.PathLike], ids: Sequence[str],
                    cities: Sequence[str]) -> dict[str, np.ndarray]:
    """Thumbnails of ``ids`` (each in the matching entry of ``cities``) that the scans stored."""
    wanted: dict[str, list[str]] = {}
    for photo_id, city in zip(ids, cities):
        wanted.setdefault(city, []).append(photo_id)
    found = {}
    for city, members in wanted.items():
        if city not in thumbs_paths:
            continue
        with h5py.File(thumbs_paths[city], "r") as handle:
            row_of = {name: row for row, name in enumerate(handle["ids"].asstr()[:])}
            for photo_id in members:
                if photo_id in row_of:
                    found[photo_id] = handle["thumbs"][row_of[photo_id]]
    return found


def thumbnail_grid(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], title: str, path,
                    columns: int) -> None:
    """One row of captioned thumbnails per (heading, [(caption, pixels)])."""
    height = max(1, len(rows))
    columns = max(1, min(columns, max((len(items) for _, items in rows), default=1)))
    figure, axes = plt.subplots(height, columns, figsize=(1.6 * columns, 1.9 * height),
                                squeeze=False)
    for r, (heading, items) in enumerate(rows):
        for c in range(columns):
            axis = axes[r][c]
            axis.set_xticks([])
            axis.set_yticks([])
            for side in axis.spines.values():
                side.set_visible(False)
            if c < len(items):
                caption, pixels = items[c]
                axis.imshow(pixels)
                axis.set_title(caption, fontsize=6)
        axes[r][0].set_ylabel(heading, fontsize=8, rotation=0, ha="right", va="center")
    if not rows:
        axes[0][0].text(0.5, 0.5, "nothing to show", ha="center", va="center")
    figure.suptitle(title, fontsize=10)
    save_figure(figure, path)
