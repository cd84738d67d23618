"""The per-city scan: read each photo once and derive everything later stages need from it.

One decode per photo feeds the triage entropy, the dHash, the feature stack and the thumbnail, so
the cost of a city is about one (draft-mode) JPEG decode per photo.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import h5py
import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from .decode import DEFAULT_MAX_PIXELS, BadPhoto, decode_photo
from .dedup import dhash_hex
from ..core.io import NotRegularFile, atomic_path, open_regular_file, read_table, write_table
from .stacks import blur_stack, square_thumbnail, stack_shape
from .triage import histogram_entropy, trim_uniform_border

logger = logging.getLogger(__name__)

SCAN_COLUMNS = ["id", "status", "reason", "notes", "width", "height", "format", "mode",
                "entropy", "entropy_untrimmed", "dhash", "sha256"]


@dataclass(frozen=True)
class ScanSettings:
    stack_size: int = 64
    sigmas: Sequence[float] = (3.0, 8.0)
    colour: bool = False
    thumb_px: int = 128
    draft: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS


def scan_city(photos_tsv: str | os.PathLike, scan_tsv: str | os.PathLike,
              stacks_h5: str | os.PathLike, thumbs_h5: str | os.PathLike,
              settings: ScanSettings = ScanSettings(), *, min_side: int | None = None,
              on_photo: Callable[[str, Image.Image], None] | None = None) -> pd.DataFrame:
    """Scan every photo of a city's photo table.

    Writes ``scan_tsv`` (one row per file: ok or skipped with a reason), and for the readable ones
    ``stacks_h5`` (``ids``, ``stacks``) and ``thumbs_h5`` (``ids``, ``thumbs``), rows in the same
    order. All three are written atomically.

    ``on_photo(id, image)``, if given, receives each readable photo's decoded image, in the order
    of the rows, so that a later stage can share the decode (the CNN features do); ``min_side``
    then overrides the draft decode's smallest side (see :func:`draft_decode_side`).
    """
    photos = read_table(photos_tsv)
    n = len(photos)
    shape = stack_shape(settings.stack_size, len(settings.sigmas), settings.colour)
    thumb_shape = (settings.thumb_px, settings.thumb_px, 3)
    if min_side is None:
        min_side = draft_decode_side(settings)
    records = []
    with atomic_path(stacks_h5) as stacks_tmp, atomic_path(thumbs_h5) as thumbs_tmp, \
            h5py.File(stacks_tmp, "w") as stacks_file, h5py.File(thumbs_tmp, "w") as thumbs_file:
        stacks = _BufferedRows(stacks_file, "stacks", n, shape, chunk_rows=64)
        thumbs = _BufferedRows(thumbs_file, "thumbs", n, thumb_shape, chunk_rows=1)
        ok_ids = []
        not_read = (photos["skip_reason"].astype("string").fillna("") if "skip_reason" in photos.columns
                    else pd.Series("", index=photos.index))
        for photo_id, path, reason in tqdm(zip(photos["id"], photos["path"], not_read), total=n,
                                           desc="scan", mininterval=5, unit="photo"):
            record = {"id": photo_id}
            if reason:
                record.update(status="skipped", reason=reason)
                records.append(record)
                continue
            try:
                data = read_regular_file(path)
                record["sha256"] = hashlib.sha256(data).hexdigest()
                decoded = decode_photo(data, min_side=min_side, max_pixels=settings.max_pixels)
            except (BadPhoto, OSError) as exc:
                record.update(status="skipped", reason=str(exc))
                logger.warning("skipped %s: %s", photo_id, exc)
                records.append(record)
                continue
            image = decoded.image
            gray = image.convert("L")
            # The stack's base layer doubles as the dHash input: hashing a 64-px thumbnail, as the
            # original project did, costs a fraction of hashing the decoded photo.
            stack = blur_stack(image if settings.colour else gray, settings.stack_size,
                               settings.sigmas, settings.colour)
            small = Image.fromarray(stack[:settings.stack_size])
            stacks.append(stack)
            thumbs.append(square_thumbnail(image, settings.thumb_px))
            ok_ids.append(photo_id)
            record.update(status="ok", notes="; ".join(decoded.notes), width=decoded.width,
                          height=decoded.height, format=decoded.format, mode=decoded.mode,
                          entropy=round(histogram_entropy(trim_uniform_border(gray)), 6),
                          entropy_untrimmed=round(histogram_entropy(gray), 6), dhash=dhash_hex(small))
            records.append(record)
            if on_photo is not None:
                on_photo(photo_id, image)
        for handle, rows in ((stacks_file, stacks), (thumbs_file, thumbs)):
            rows.close()
            handle.create_dataset("ids", data=np.array(ok_ids, dtype=object),
                                  dtype=h5py.string_dtype())
        stacks.dataset.attrs.update(size=settings.stack_size, sigmas=list(settings.sigmas),
                                    colour=settings.colour)
        thumbs.dataset.attrs["size"] = settings.thumb_px
        thumbs_file.attrs["size"] = settings.thumb_px
    table = pd.DataFrame.from_records(records, columns=SCAN_COLUMNS)
    write_table(table, scan_tsv)
    skipped = table[table["status"] != "ok"]
    logger.info("scanned %d photos: %d ok, %d skipped", n, len(ok_ids), len(skipped))
    return table


def draft_decode_side(settings: ScanSettings) -> int:
    """The smallest side the scan's products need from a draft-mode JPEG decode (0: full size)."""
    return max(settings.stack_size, settings.thumb_px) if settings.draft else 0


def read_regular_file(path: str | os.PathLike) -> bytes:
    """The bytes of ``path`` if it is a regular file (or a link to one), else :class:`BadPhoto`;
    never blocks on a named pipe (see :func:`roomgrid.core.io.open_regular_file`)."""
    try:
        with open_regular_file(path) as handle:
            return handle.read()
    except NotRegularFile:
        raise BadPhoto("not a regular file") from None
    except FileNotFoundError:
        if os.path.islink(path):
            raise BadPhoto("broken symbolic link") from None
        raise


class _BufferedRows:
    """Append rows to an HDF5 dataset in blocks: one h5py write per row costs more than the row."""

    def __init__(self, handle: h5py.File, name: str, capacity: int, shape: tuple, chunk_rows: int,
                 block: int = 256):
        self.dataset = handle.create_dataset(name, shape=(capacity, *shape), maxshape=(None, *shape),
                                             dtype=np.uint8, chunks=(max(1, min(chunk_rows, capacity)), *shape))
        self.buffer = np.empty((block, *shape), dtype=np.uint8)
        self.filled = 0
        self.written = 0

    def append(self, row: np.ndarray) -> None:
        self.buffer[self.filled] = row
        self.filled += 1
        if self.filled == len(self.buffer):
            self.flush()

    def flush(self) -> None:
        if self.filled:
            self.dataset[self.written:self.written + self.filled] = self.buffer[:self.filled]
            self.written += self.filled
            self.filled = 0

    def close(self) -> None:
        self.flush()
        self.dataset.resize(self.written, axis=0)
