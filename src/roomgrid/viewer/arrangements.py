"""The viewer's data for arrangements (layout.arrangements), written under ``data/arrangements/``.

Nothing here is loaded before the first paint, so opening the page costs the same however many
arrangements there are:

``data/arrangements/index.json``
    Each arrangement's name, grid shape, tile address and label count, fetched after the map
    shows (the switch appears then). The first is ``similarity``, whose cells are ``grid.bin``'s.
    An arrangement the data could not make (``grid.json``'s ``unavailable``) has only its name,
    kind, column and that reason, and no files.
``data/arrangements/<name>.bin``
    The cell ``row * cols + col`` of every photo, by the viewer's photo index (little-endian
    ``int32``, -1 for a photo the arrangement does not place): 4 bytes a photo, fetched when the
    arrangement is first shown.
``data/arrangements/<name>.json``
    Its blocks: label, rectangle (row, col, rows, cols) and photo count, drawn as labels.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .tiles import TileGeometry

logger = logging.getLogger(__name__)

SIMILARITY = "similarity"
FOLDER = "arrangements"
BLOCK_FIELDS = ("label", "row", "col", "rows", "cols", "count")


def arrangement_data(ids: Sequence[str], similarity: TileGeometry,
                     arrangements: Mapping[str, tuple[pd.DataFrame, dict]]
                     ) -> tuple[dict, dict[str, tuple[bytes, dict]]]:
    """The index and, per arrangement, the bytes of ``<name>.bin`` and the content of
    ``<name>.json``.

    Parameters
    ----------
    ids : sequence of str
        Photo ids in the viewer's photo index order.
    similarity : TileGeometry
        The look-alike map's geometry (its tiles are ``tiles/``).
    arrangements : mapping
        Name -> (grid table with ``id``, ``row``, ``col``; its ``grid.json`` facts), in the order
        the switch shows them, similarity left out.
    """
    index_of = pd.Index(ids)
    entries = [_entry(SIMILARITY, similarity, "tiles/{z}/{x}/{y}.jpg", "similarity", 0)]
    files = {}
    for name, (grid, facts) in arrangements.items():
        if name == SIMILARITY or "/" in name or name.startswith("."):
            raise ValueError(f"arrangement name {name!r} cannot be a file name of its own")
        if facts.get("unavailable"):
            # Listed, greyed out with its reason, so the switch says why there is no such view.
            entries.append({"name": name, "kind": facts.get("kind", ""), "by": facts.get("by"),
                            "unavailable": facts["unavailable"]})
            continue
        geometry = TileGeometry(int(facts["rows"]), int(facts["cols"]), similarity.cell_px,
                                similarity.tile_px)
        cells = np.full(len(ids), -1, dtype="<i4")
        position = index_of.get_indexer(grid["id"])
        known = position >= 0
        cells[position[known]] = (grid["row"].to_numpy()[known] * geometry.cols
                                  + grid["col"].to_numpy()[known])
        if (cells < 0).any():
            logger.warning("arrangement %s leaves %d photos of the viewer without a cell", name,
                           int((cells < 0).sum()))
        blocks = [{k: block[k] for k in BLOCK_FIELDS} for block in facts.get("blocks", [])]
        files[name] = (cells.tobytes(), {"name": name, "blocks": blocks,
                                         "quality": facts.get("quality", {})})
        entries.append(_entry(name, geometry, f"{FOLDER}/{name}/tiles/{{z}}/{{x}}/{{y}}.jpg",
                              facts.get("kind", ""), len(blocks), facts.get("by")))
    return {"format": 1, "arrangements": entries}, files


def write_arrangement_data(data_dir: Path, index: dict, files: Mapping[str, tuple[bytes, dict]]
                           ) -> None:
    """Write what :func:`arrangement_data` made into ``data_dir / "arrangements"``."""
    import json

    folder = Path(data_dir) / FOLDER
    folder.mkdir()
    def dump(data) -> str:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    (folder / "index.json").write_text(dump(index), encoding="utf-8")
    for name, (cells, facts) in files.items():
        (folder / f"{name}.bin").write_bytes(cells)
        (folder / f"{name}.json").write_text(dump(facts), encoding="utf-8")


def _entry(name: str, geometry: TileGeometry, tile_url: str, kind: str, blocks: int,
           by: str | None = None) -> dict:
    entry = {"name": name, "kind": kind, "by": by, "blocks": blocks, "tile_url": tile_url}
    return entry | geometry.to_dict()
