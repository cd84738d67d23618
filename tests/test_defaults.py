"""A default lives in config/config.yaml: a library function either takes the setting without a
default or with the same value, so calling it directly behaves like the workflow."""

import dataclasses
import inspect

import pytest

from roomgrid.layout import frame
from roomgrid.layout import grid
from roomgrid.layout import pca
from roomgrid.viewer import tiles
from roomgrid.scan import triage
from roomgrid.layout import tsne
from roomgrid.core.config import default_config
from roomgrid.sources.demo import make_demo_city
from roomgrid.scan.city import ScanSettings
from roomgrid.sources.scrape import default_settings, resolve_settings

CONFIG = default_config()

# (function, its parameter, the config key that sets it in the workflow)
PARAMETERS = [
    (pca.reduce, "n_components", "pca.n_components"),
    (pca.reduce, "batch_size", "pca.batch_size"),
    (pca.reduce, "method", "pca.method"),
    (tsne.fit, "perplexity", "tsne.perplexity"),
    (tsne.fit, "learning_rate", "tsne.learning_rate"),
    (tsne.fit, "n_iter", "tsne.n_iter"),
    (tsne.fit, "early_exaggeration_iter", "tsne.early_exaggeration_iter"),
    (tsne.fit, "seed", "tsne.seed"),
    (tsne.fit, "initialization", "tsne.initialization"),
    (tsne.nearest_neighbours, "k", "neighbours.k"),
    (tsne.nearest_neighbours, "seed", "tsne.seed"),
    (grid.grid_shape, "aspect", "grid.aspect"),
    (grid.assign_cells, "method", "grid.method"),
    (grid.assign_cells, "exact_max", "grid.exact_max"),
    (grid.assign_cells, "block_size", "grid.block_size"),
    (grid.assign_blocks, "block_size", "grid.block_size"),
    (frame.spare_points, "share", "layout.spare"),
    (tiles.render_tiles, "cell_px", "tiles.cell_px"),
    (tiles.render_tiles, "tile_px", "tiles.tile_px"),
    (tiles.render_tiles, "quality", "tiles.quality"),
    (tiles.render_tiles, "background", "tiles.background"),
    (triage.entropy_bins, "graphic_below", "triage.graphic_below"),
    (triage.entropy_bins, "photo_from", "triage.photo_from"),
    (make_demo_city, "photos_per_city", "source.demo.photos_per_city"),
    (make_demo_city, "seed", "source.demo.seed"),
]

SCAN_SETTINGS = {"stack_size": "scan.stack.size", "sigmas": "scan.stack.sigmas",
                 "colour": "scan.stack.colour", "thumb_px": "scan.thumb_px", "draft": "scan.draft",
                 "max_pixels": "scan.max_pixels"}


def configured(key: str):
    value = CONFIG
    for part in key.split("."):
        value = value[part]
    return value


def same(default, value) -> bool:
    if isinstance(default, (tuple, list)):
        return list(default) == list(value)
    return default == value


@pytest.mark.parametrize(("function", "name", "key"), PARAMETERS,
                         ids=[f"{f.__name__}.{n}" for f, n, _ in PARAMETERS])
def test_function_defaults_agree_with_the_config(function, name, key):
    default = inspect.signature(function).parameters[name].default
    assert default is inspect.Parameter.empty or same(default, configured(key)), \
        f"{function.__module__}.{function.__name__}({name}={default!r}) but config {key}: {configured(key)!r}"


def test_scan_settings_defaults_agree_with_the_config():
    fields = {f.name: f.default for f in dataclasses.fields(ScanSettings)}
    assert set(fields) == set(SCAN_SETTINGS)
    for name, key in SCAN_SETTINGS.items():
        assert same(fields[name], configured(key)), (name, fields[name], configured(key))


def test_scrape_defaults_are_the_config_section():
    assert default_settings() == CONFIG["source"]["scrape"]
    assert resolve_settings({"delay_seconds": 0.5})["delay_seconds"] == 0.5
    assert resolve_settings({})["max_retries"] == CONFIG["source"]["scrape"]["max_retries"]
