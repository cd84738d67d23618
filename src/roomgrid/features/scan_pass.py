"""CNN features in the scan's own pass: each photo decoded once for the triage, the hashes, the
thumbnail and the network.

With ``features.kind: cnn`` the scan job of a city also embeds its photos (:func:`scan_and_embed`),
writing ``cnn_scan.h5`` beside the scan's files and recording which model made them. A later
change of model or precision does not re-run the scan: the workflow sees that the scan's features
were made by another model (:func:`scan_features_current`) and embeds that city anew into
``cnn.h5`` (:func:`roomgrid.features.cnn.embed_city`). Both paths decode at the same draft size
(:func:`draft_side`) and batch the same photos together, so they give the same vectors.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from ..scan.city import ScanSettings, draft_decode_side, scan_city
from .cnn import CnnEmbedder, EmbedSettings, PhotoBatches, write_features

logger = logging.getLogger(__name__)


def draft_side(scan: ScanSettings, input_px: int) -> int:
    """The smallest side a draft-mode JPEG decode must keep for the scan and the network together
    (0: decode at full size)."""
    return max(draft_decode_side(scan), input_px) if scan.draft else 0


def scan_features_current(features_h5: str | os.PathLike, wanted: dict) -> bool:
    """True unless ``features_h5`` exists and was made by another model than ``wanted``
    (:func:`roomgrid.features.cnn.model_facts`): a file not there yet is made by the coming scan,
    with today's model."""
    import h5py

    if not os.path.exists(features_h5):
        return True
    try:
        with h5py.File(features_h5, "r") as handle:
            attrs = handle["features"].attrs
            # The wanted keys: an int8 file from before 7-bit weights has no quantization.
            made = {key: attrs.get(key) for key in wanted}
    except (OSError, KeyError):
        return False  # unreadable: embed anew rather than trust it
    made["input_px"] = int(made["input_px"]) if made["input_px"] is not None else None
    return {key: _plain(value) for key, value in made.items()} == \
        {key: _plain(value) for key, value in wanted.items()}


def _plain(value):
    return value.decode() if isinstance(value, bytes) else value


class _Embedding:
    """The scan's ``on_photo``: each decoded photo into the network's batches, in scan order."""

    def __init__(self, embedder: CnnEmbedder, batch_size: int):
        self.batches = PhotoBatches(embedder, batch_size)
        self.ids: list[str] = []
        self.parts: list[np.ndarray] = []

    def __call__(self, photo_id: str, image) -> None:
        self.ids.append(photo_id)
        features = self.batches.add(image)
        if features is not None:
            self.parts.append(features.astype(np.float16))

    def features(self) -> np.ndarray:
        self.parts.append(self.batches.finish().astype(np.float16))
        return np.concatenate(self.parts)


def scan_and_embed(photos_tsv, scan_tsv, stacks_h5, thumbs_h5, features_h5, model_onnx,
                   scan: ScanSettings = ScanSettings(), embed: EmbedSettings = EmbedSettings()):
    """Scan a city (:func:`roomgrid.scan.city.scan_city`) and embed every photo it could read from
    the same decode; ``features_h5`` holds ``ids`` and ``features`` as ``cnn.h5`` does. A photo
    that cannot be decoded gets its reason once, in the scan table. Returns the scan table."""
    embedder = CnnEmbedder(model_onnx, threads=embed.threads, device=embed.device,
                           runtime=embed.runtime, cache_dir=embed.cache_dir)
    embedding = _Embedding(embedder, embed.batch_size)
    table = scan_city(photos_tsv, scan_tsv, stacks_h5, thumbs_h5, scan,
                      min_side=draft_side(scan, embedder.input_px), on_photo=embedding)
    write_features(features_h5, embedding.ids, embedding.features(), embedder.facts())
    logger.info("embedded %d photos with %s at %d px (%s) on %s in the scan's pass",
                len(embedding.ids), embedder.model, embedder.input_px, embedder.precision,
                embedder.providers[0])
    return table
