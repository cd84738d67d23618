"""The base a map grows from: a full build's PCA basis, t-SNE embedding, grid and tiles, kept in
``results/base/`` so that ``layout.mode: extend`` adds photos without moving placed ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Mapping

from ..core.io import atomic_directory

BASE_FILES = ("pca.h5", "tsne.pkl", "tsne.tsv", "tsne.json", "grid.tsv", "grid.json", "tiles")
# Kept too when the build made them (clusters.k > 0), so an extension keeps the cluster numbers.
OPTIONAL_BASE_FILES = ("clusters.tsv", "clusters.json")


def run_save_base(parts: Mapping[str, str], out_dir) -> None:
    """Keep a full build's PCA, t-SNE, grid and tiles as the base that extensions grow from.

    Files are hard-linked where the file system allows (a 125k-photo pyramid is ~30,000 tiles),
    copied elsewhere. Every stage replaces its outputs by renaming a new file onto them, so a link
    here keeps the base's version after the build moves on.
    """
    missing = sorted(set(BASE_FILES) - set(parts))
    if missing:
        raise ValueError(f"a base needs {list(BASE_FILES)}; missing {missing}")
    with atomic_directory(out_dir) as work:
        for name in BASE_FILES + tuple(n for n in OPTIONAL_BASE_FILES if parts.get(n)):
            source = Path(parts[name])
            if source.is_dir():
                shutil.copytree(source, work / name, copy_function=_link_or_copy)
            else:
                _link_or_copy(source, work / name)


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
