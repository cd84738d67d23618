"""Stream the feature stacks of the selected photos from the per-city HDF5 files, batch by batch."""

from __future__ import annotations

import os
from typing import Iterator, Mapping, Sequence

import h5py
import numpy as np


class StackReader:
    """Rows of the selected photos' stacks, in the order of ``ids``, as float32 in [0, 1].

    Only one batch is ever in memory; each city's file is opened once.
    """

    def __init__(self, stacks_paths: Mapping[str, str | os.PathLike], ids: Sequence[str],
                 cities: Sequence[str]):
        self.ids = np.asarray(ids, dtype=object)
        # No HDF5 chunk cache: rows are read in whole slices, and a 1 MiB cache per open city file
        # adds up to hundreds of MiB across 400 cities.
        self._files = {city: h5py.File(path, "r", rdcc_nbytes=0) for city, path in stacks_paths.items()}
        self._city = np.asarray(cities, dtype=object)
        self._row = np.empty(len(self.ids), dtype=np.int64)
        for city, handle in self._files.items():
            mine = np.nonzero(self._city == city)[0]
            if not len(mine):
                continue
            stored = handle["ids"].asstr()[:]
            position = {photo_id: i for i, photo_id in enumerate(stored)}
            missing = [self.ids[i] for i in mine if self.ids[i] not in position]
            if missing:
                raise KeyError(f"{len(missing)} selected ids have no stack in {city}'s file, "
                               f"e.g. {missing[:3]}")
            self._row[mine] = [position[self.ids[i]] for i in mine]
        unknown = set(self._city) - set(self._files)
        if unknown:
            raise KeyError(f"no stacks file given for cities {sorted(unknown)[:5]}")
        first = next(iter(self._files.values()))["stacks"]
        self.n_features = int(np.prod(first.shape[1:]))

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as a float32 matrix (rows, n_features)."""
        out = np.empty((stop - start, self.n_features), dtype=np.float32)
        city = self._city[start:stop]
        rows = self._row[start:stop]
        # Selected photos of one city are contiguous and mostly adjacent on disk: read one slice per
        # city and pick rows from it, far cheaper than HDF5 point selection.
        for name in dict.fromkeys(city):
            where = np.nonzero(city == name)[0]
            wanted = rows[where]
            lo, hi = int(wanted.min()), int(wanted.max()) + 1
            block = self._files[name]["stacks"][lo:hi]
            out[where] = block[wanted - lo].reshape(len(where), -1)
        out *= 1.0 / 255.0
        return out

    def batches(self, bounds: Sequence[tuple[int, int]]) -> Iterator[np.ndarray]:
        for start, stop in bounds:
            yield self.read(start, stop)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

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
