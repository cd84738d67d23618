"""The workflow's configuration: its defaults (config/config.yaml, the one place they live) and
validation against the JSON schema with an error that names the offending key."""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Mapping

import yaml

# The checkout's config/config.yaml: the workflow reads it as its configfile, and code that runs
# outside the workflow (e.g. ``python -m roomgrid.scrape``) takes its defaults from it too.
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[3] / "config" / "config.yaml"


class ConfigError(ValueError):
    pass


def default_config() -> dict:
    """A fresh copy of config/config.yaml."""
    return copy.deepcopy(_read_default_config())


@functools.cache
def _read_default_config() -> dict:
    if not DEFAULT_CONFIG_PATH.is_file():
        raise FileNotFoundError(f"no default configuration at {DEFAULT_CONFIG_PATH}: roomgrid runs "
                                "from a checkout of its repository (pip install -e .)")
    with open(DEFAULT_CONFIG_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def validate_config(config: Mapping, schema_path: str | os.PathLike) -> None:
    """Raise :class:`ConfigError` listing every problem as ``key.path: message``."""
    import jsonschema

    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    lines = []
    for error in errors:
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            message = f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: " \
                      f"{', '.join(sorted(error.schema.get('properties', {})))}"
        else:
            message = error.message
        lines.append(f"  config key {key}: {message}")
    raise ConfigError("invalid configuration:\n" + "\n".join(lines))
