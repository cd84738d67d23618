"""The workflow's configuration: its defaults (config/config.yaml, the one place they live) and
validation against the JSON schema with an error that names the offending key."""

from __future__ import annotations

import copy
import functools
import os
import sys
from pathlib import Path
from typing import Mapping, NoReturn

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


def stop(problem: str | Exception) -> NoReturn:
    """End a workflow run at its start with ``Error: <problem>`` and nothing else; for the
    Snakefile, which Snakemake runs: it prints an exception raised there with the Snakefile's
    traceback, which says nothing to someone who only wrote a configuration."""
    sys.exit(f"Error: {problem}")


def validate_config(config: Mapping, schema_path: str | os.PathLike) -> None:
    """Raise :class:`ConfigError` naming each problem as ``config key <key.path>: <message>``, on
    one line when there is one."""
    import jsonschema

    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    problems = [f"config key {'.'.join(map(str, e.absolute_path)) or '(top level)'}: "
                f"{_explain(e)}" for e in errors]
    if len(problems) == 1:
        raise ConfigError(f"invalid configuration: {problems[0]}")
    raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))


def _explain(error) -> str:
    """The schema's complaint in the user's terms where jsonschema's wording would puzzle."""
    value = error.instance
    if error.validator == "additionalProperties":
        allowed = error.schema.get("properties", {})
        unknown = sorted(set(value) - set(allowed))
        return f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}"
    if error.validator == "uniqueItems":
        twice = []
        for i, item in enumerate(value):
            if item in value[:i] and item not in twice:
                twice.append(item)
        return f"{', '.join(map(repr, twice))} listed more than once"
    expected = error.validator_value if error.validator == "type" else None
    if expected == "string" or isinstance(expected, list) and "string" in expected:
        # YAML 1.1 reads unquoted 36372 and 01234 (octal: 668) as numbers, yes/no/on/off as true/false
        if isinstance(value, bool):
            return (f"YAML read {str(value).lower()} (from yes, no, on, off, true or false), not "
                    "text: put it in quotes, as in 'no'")
        if isinstance(value, int):
            return (f"YAML read {value} as a number, not text: put it in quotes, as in '02134' "
                    "(unquoted, digits make a number and a leading 0 an octal one: 01234 reads "
                    "as 668)")
        if isinstance(value, float):
            return f"YAML read {value} as a number, not text: put it in quotes, as in '1.50'"
    return error.message
