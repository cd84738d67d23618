"""What the tests that run the whole workflow share: the command line and a small demo config."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake_command(workdir: Path, *args: str, configs=("config.yaml",)) -> list[str]:
    """``snakemake`` on this repository's Snakefile in ``workdir``; targets and flags go before
    ``--configfile``, which takes every following word as a config file."""
    return [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            *args, "--configfile", *[str(workdir / c) for c in configs]]


def small_demo_config(cities, photos_per_city: int, *, n_components: int, perplexity: float,
                      n_iter: int) -> dict:
    """A demo small enough to build in seconds, with PCA and t-SNE sized to it."""
    return {"source": {"kind": "demo", "demo": {"cities": list(cities),
                                                "photos_per_city": photos_per_city, "seed": 3}},
            "pca": {"n_components": n_components, "batch_size": 30},
            "tsne": {"perplexity": perplexity, "learning_rate": "auto", "n_iter": n_iter,
                     "early_exaggeration_iter": 100, "seed": 1, "initialization": "pca"},
            "tiles": {"cell_px": 64, "tile_px": 256, "quality": 80, "background": [24, 24, 24]}}
