"""Validate a configuration against the JSON schema with an error that names the offending key."""

from __future__ import annotations

import os
from typing import Mapping

import jsonschema
import yaml


class ConfigError(ValueError):
    pass


def validate_config(config: Mapping, schema_path: str | os.PathLike) -> None:
    """Raise :class:`ConfigError` listing every problem as ``key.path: message``."""
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
