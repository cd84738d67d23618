"""Stream the features of the selected photos (blur stacks or CNN vectors) from the per-city HDF5
files, batch by batch."""

from __future__ import annotations

import os
from typing import Iterator, Mapping, Sequence

import h5py
import numpy as np


class StackReader:
    """Rows of the selected photos' features, in the order of ``ids``, as float32.

    ``dataset`` names what is read from each city's file: ``stacks`` (uint8 blur stacks, scaled to
    [0, 1]) or ``features`` (float16 CNN vectors, read as they are).

    Only one batch is ever in memory. Batches walk the cities in order, so only the few city files
    a batch touches are kept open: an open HDF5 file costs ~0.5 MiB, 200 MiB over 400 cities.
    """

    OPEN_FILES = 8

    def __init__(self, stacks_paths: Mapping[str, str | os.PathLike], ids: Sequence[str],
                 cities: Sequence[str], dataset: str = "stacks"):
        self.dataset = dataset
        self.ids = np.asarray(ids, dtype=object)
        self._paths = dict(stacks_paths)
        self._files: dict[str, h5py.File] = {}  # open files, least recently used first
        self._city = np.asarray(cities, dtype=object)
        self._raw: np.ndarray | None = None  # rows as stored, reused across reads
        self._scale: np.float32 | None = None
        self._row = np.empty(len(self.ids), dtype=np.int64)
        for city in self._paths:
            mine = np.nonzero(self._city == city)[0]
            if not len(mine):
                continue
            with h5py.File(self._paths[city], "r") as handle:
                stored = handle["ids"].asstr()[:]
                self.n_features = int(np.prod(handle[dataset].shape[1:]))
                self._scale = np.float32(1.0 / 255.0) if handle[dataset].dtype == np.uint8 else None
            position = {photo_id: i for i, photo_id in enumerate(stored)}
            missing = [self.ids[i] for i in mine if self.ids[i] not in position]
            if missing:
                raise KeyError(f"{len(missing)} selected ids have no {dataset} in {city}'s file, "
                               f"e.g. {missing[:3]}")
            self._row[mine] = [position[self.ids[i]] for i in mine]
        unknown = set(self._city) - set(self._paths)
        if unknown:
            raise KeyError(f"no {dataset} file given for cities {sorted(unknown)[:5]}")
        if not len(self.ids):
            raise ValueError("no photos to read")

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``start:stop`` as a float32 matrix (rows, n_features), written into ``out`` if given."""
        if out is None:
            out = np.empty((stop - start, self.n_features), dtype=np.float32)
        city = self._city[start:stop]
        rows = self._row[start:stop]
        # Selected photos of one city are contiguous and mostly adjacent on disk: read one slice per
        # city and pick rows from it, far cheaper than HDF5 point selection.
        for name in dict.fromkeys(city):
            where = np.nonzero(city == name)[0]
            wanted = rows[where]
            lo, hi = int(wanted.min()), int(wanted.max()) + 1
            stacks = self._stacks(name)
            if self._raw is None or len(self._raw) < hi - lo:
                self._raw = np.empty((hi - lo, *stacks.shape[1:]), stacks.dtype)
            # Into a kept buffer: fresh arrays per read would cost page faults on every batch.
            stacks.read_direct(self._raw, np.s_[lo:hi], np.s_[0:hi - lo])
            block = self._raw[:hi - lo].reshape(hi - lo, -1)
            if where[-1] - where[0] == hi - lo - 1 and (np.diff(wanted) == 1).all():
                # The usual case, consecutive rows to consecutive rows: cast without the fancy-index
                # copy (every PCA pass reads all stacks, so this loop is hot).
                out[where[0]:where[-1] + 1] = block
            else:
                out[where] = block[wanted - lo]
        if self._scale is not None:
            out *= self._scale
        return out

    def _stacks(self, city: str) -> h5py.Dataset:
        handle = self._files.pop(city, None)
        if handle is None:
            # No chunk cache: rows are read in whole slices, each once per pass.
            handle = h5py.File(self._paths[city], "r", rdcc_nbytes=0)
            if len(self._files) >= self.OPEN_FILES:
                self._files.pop(next(iter(self._files))).close()
        self._files[city] = handle  # most recently used last
        return handle[self.dataset]

    def batches(self, bounds: Sequence[tuple[int, int]]) -> Iterator[np.ndarray]:
        """Each batch ``read(start, stop)`` in turn, all in one reused buffer: a batch is only valid
        until the next one is drawn (copy what you keep). Reusing the buffer spares the kernel
        zeroing fresh pages for every batch, which cost more than the cast itself."""
        if not bounds:
            return
        buffer = np.empty((max(stop - start for start, stop in bounds), self.n_features), np.float32)
        for start, stop in bounds:
            yield self.read(start, stop, out=buffer[:stop - start])

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def __enter__(self) -> "StackReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def batch_bounds(n: int, batch_size: int, min_rows: int = 1) -> list[tuple[int, int]]:
    """Split ``range(n)`` into near-equal consecutive batches of at most ~``batch_size`` rows, every
    one with at least ``min_rows`` rows (IncrementalPCA needs >= n_components per batch), covering
    every row: the remainder is spread over the batches, never dropped."""
    if n <= 0:
        return []
    count = max(1, min(-(-n // batch_size), n // max(1, min_rows)))
    edges = np.linspace(0, n, count + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
