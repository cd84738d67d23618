"""Duplicates and near-duplicates across cities: byte-identical files and close difference hashes.

Listing photos are cross-posted between neighbouring cities and re-encoded along the way, so exact
identity (sha256) is joined by a Hamming-distance threshold on the 64-bit dHash. Hashes are kept as
uint64 integers: imagehash's own hash objects hash to only 8 bits and make poor dictionary keys.

A close dHash is only a candidate: dHash keeps just the sign of left-to-right steps, so pictures
with strong horizontal structure (every row the same 8 bits, e.g. ``8787878787878787``) share a
hash however different their brightness, colour and vertical content. Candidates are confirmed on
the pixels of the stored 64-px grey layer (:func:`pixel_check`).
"""

from __future__ import annotations

import logging
from typing import Callable, Mapping, Sequence

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

# Side of the grey image that confirms a candidate pair: averaging the 64-px layer down to 16 px
# forgives a re-encode, a 10% resize or a few pixels' crop, yet keeps the picture's layout.
CONFIRM_SIDE = 16

# A flat or smoothly graded picture hashes to (nearly) all zeros or all ones; such hashes say little
# about content and would chain unrelated images together, so they are matched only by bytes.
FLAT_HASH_BITS = 3


def dhash_hex(image: Image.Image) -> str:
    """64-bit difference hash as 16 hex digits."""
    import imagehash  # here: selection, which imports this module, runs without it

    return str(imagehash.dhash(image, hash_size=8))


def hashes_to_uint64(hex_hashes: Sequence[str]) -> np.ndarray:
    return np.array([int(h, 16) for h in hex_hashes], dtype=np.uint64)


def close_pairs(hashes: np.ndarray, max_distance: int, block: int = 256) -> np.ndarray:
    """All index pairs (i < j) whose hashes differ in at most ``max_distance`` bits, sorted.

    Exact, by the pigeonhole principle: cut the 64 bits into ``max_distance + 1`` pieces; two
    hashes within the distance agree on at least one piece entirely. So only hashes that share
    a piece's value are compared (numpy's popcount, in blocks of ``block`` rows), a few million
    comparisons for 125k photos where all pairs are 7.8 billion (2 s against 37 s).
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    n = len(hashes)
    pieces = max_distance + 1
    if n < 2 or max_distance < 0:
        return np.empty((0, 2), dtype=np.int64)
    if pieces > 16:  # pieces of under 4 bits barely narrow anything down
        return _pairs_among(np.arange(n), hashes, max_distance, block)
    edges = np.linspace(0, 64, pieces + 1).round().astype(np.uint64)
    found = []
    for low, high in zip(edges[:-1], edges[1:]):
        piece = (hashes >> low) & np.uint64((1 << int(high - low)) - 1)
        order = np.argsort(piece, kind="stable")
        bounds = np.flatnonzero(np.diff(piece[order])) + 1
        for members in np.split(order, bounds):
            if len(members) > 1:
                found.append(_pairs_among(np.sort(members), hashes, max_distance, block))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.unique(np.concatenate(found), axis=0)
    return pairs.astype(np.int64)


def _pairs_among(members: np.ndarray, hashes: np.ndarray, max_distance: int, block: int
                 ) -> np.ndarray:
    """Pairs (i < j) of ``members`` (sorted indices) within ``max_distance`` bits, brute force in
    row blocks: O(block * len(members)) memory."""
    values = hashes[members]
    pairs = []
    for start in range(0, len(members), block):
        rows = values[start:start + block]
        distance = np.bitwise_count(rows[:, None] ^ values[None, start:])
        i, j = np.nonzero(distance <= max_distance)
        i, j = i + start, j + start
        keep = i < j
        pairs.append(np.stack([members[i[keep]], members[j[keep]]], axis=1))
    return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)


def duplicate_groups(dhashes: Sequence[str], sha256: Sequence[str], max_distance: int,
                     priority: Sequence[int] | None = None,
                     confirm: Callable[[np.ndarray], np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Group duplicates around the copy that is kept.

    Two photos match when their file bytes are identical, or when their dHashes differ in at most
    ``max_distance`` bits (``max_distance < 0`` disables hash matching), neither hash is flat and
    ``confirm`` (given the (m, 2) array of such pairs, returning a boolean per pair; e.g.
    :func:`pixel_check`) agrees.
    Groups are formed greedily in ``priority`` order (best copy first): each photo not yet grouped
    becomes a leader and takes every ungrouped photo that matches *it*. Unlike connected
    components, this never chains A~B~C into one group when A and C look nothing alike, so every
    dropped photo is within the threshold of the photo kept in its place.

    Returns
    -------
    groups : ndarray of int
        Group number per photo (0..g-1), -1 for photos without duplicates.
    leaders : ndarray of bool
        True for the photo kept in each group.
    """
    # Imported here: the 400 per-city scan jobs load this module for dhash_hex alone.
    from scipy.sparse import coo_matrix

    n = len(dhashes)
    order = np.arange(n) if priority is None else np.asarray(priority)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    _, same_bytes = np.unique(np.asarray(sha256, dtype=str), return_inverse=True)
    links = [_same_bytes_pairs(same_bytes.ravel())]
    if max_distance >= 0:
        hashes = hashes_to_uint64(dhashes)
        bits = np.bitwise_count(hashes)
        informative = np.nonzero((bits > FLAT_HASH_BITS) & (bits < 64 - FLAT_HASH_BITS))[0]
        candidates = informative[close_pairs(hashes[informative], max_distance)]
        if confirm is not None and len(candidates):
            alike = np.asarray(confirm(candidates), dtype=bool)
            logger.info("dHash candidates: %d pairs, %d confirmed on pixels", len(candidates),
                        alike.sum())
            candidates = candidates[alike]
        links.append(candidates)
    edges = np.concatenate(links)
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])),
                       shape=(n, n)).tocsr()
    graph = (graph + graph.T).tocsr()
    groups = np.full(n, -1, dtype=np.int64)
    leaders = np.zeros(n, dtype=bool)
    next_group = 0
    for photo in order:
        if groups[photo] >= 0:
            continue
        members = graph.indices[graph.indptr[photo]:graph.indptr[photo + 1]]
        members = members[groups[members] < 0]
        if not len(members):
            continue
        groups[photo] = groups[members] = next_group
        leaders[photo] = True
        next_group += 1
    return groups, leaders


def grey_images(stacks_paths: Mapping[str, str], ids: Sequence[str], cities: Sequence[str],
                side: int = CONFIRM_SIDE, batch_size: int = 1024) -> np.ndarray:
    """The base (unblurred) layer of each photo's stored feature stack, averaged down to ``side``
    px square and to grey: float32 (n, side, side) in grey levels 0-255."""
    import h5py

    from ..core.stackreader import StackReader, batch_bounds

    ids = np.asarray(ids, dtype=object)
    out = np.empty((len(ids), side, side), dtype=np.float32)
    if not len(ids):
        return out
    with h5py.File(stacks_paths[cities[0]], "r") as handle:
        size = int(handle["stacks"].attrs["size"])
        colour = bool(handle["stacks"].attrs["colour"])
    if size % side:
        raise ValueError(f"stack size {size} is not a multiple of {side}")
    base = size * size * (3 if colour else 1)
    with StackReader(stacks_paths, ids, cities) as reader:
        for (start, stop), rows in zip(batch_bounds(len(ids), batch_size),
                                       reader.batches(batch_bounds(len(ids), batch_size))):
            layer = rows[:, :base].reshape(stop - start, size, size, -1).mean(axis=3) * 255
            out[start:stop] = layer.reshape(stop - start, side, size // side, side,
                                            size // side).mean(axis=(2, 4))
    return out


def pixel_check(stacks_paths: Mapping[str, str], ids: Sequence[str], cities: Sequence[str],
                max_difference: float) -> Callable[[np.ndarray], np.ndarray]:
    """A ``confirm`` for :func:`duplicate_groups`: a pair of positions in ``ids`` is the same
    picture when the mean absolute difference of their :func:`grey_images` is at most
    ``max_difference`` grey levels. Only photos in some pair are read."""
    ids = np.asarray(ids, dtype=object)
    cities = np.asarray(cities, dtype=object)

    def confirm(pairs: np.ndarray) -> np.ndarray:
        involved, where = np.unique(pairs, return_inverse=True)
        where = where.reshape(pairs.shape)
        grey = grey_images(stacks_paths, ids[involved], cities[involved])
        difference = np.abs(grey[where[:, 0]] - grey[where[:, 1]]).mean(axis=(1, 2))
        return difference <= max_difference

    return confirm


def _same_bytes_pairs(inverse: np.ndarray) -> np.ndarray:
    """All pairs of photos with the same sha256 (groups of identical files are small)."""
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    pairs = [np.array([(a, b) for a in group for b in group if a != b])
             for group in np.split(order, bounds) if len(group) > 1]
    return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)


def hamming(a: str, b: str) -> int:
    return int(np.bitwise_count(np.uint64(int(a, 16)) ^ np.uint64(int(b, 16))))
