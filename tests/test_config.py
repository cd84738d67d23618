"""Configuration errors as the user reads them: one line per problem, in the user's terms."""

import pytest
import yaml

from roomgrid.core.config import ConfigError, default_config, validate_config
from workflow_helpers import REPO

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def problem(overrides: str) -> str:
    """The error for the default config with ``overrides`` (YAML, as a user would type it)."""
    config = default_config()
    for section, values in yaml.safe_load(overrides).items():
        config[section].update(values)
    with pytest.raises(ConfigError) as raised:
        validate_config(config, SCHEMA)
    return str(raised.value)


@pytest.mark.parametrize("typed, said", [
    ("[01234]", "YAML read 668 as a number, not text: put it in quotes, as in '02134' (unquoted, "
                "digits make a number and a leading 0 an octal one: 01234 reads as 668)"),
    ("[1.50]", "YAML read 1.5 as a number, not text: put it in quotes, as in '1.50'"),
    ("[no]", "YAML read false (from yes, no, on, off, true or false), not text: put it in "
             "quotes, as in 'no'")])
def test_a_name_yaml_reads_as_something_else_is_named_with_the_fix(typed, said):
    assert problem(f"source: {{folder: {{cities: {typed}}}}}") == \
        f"invalid configuration: config key source.folder.cities.0: {said}"


def test_a_city_listed_twice_is_named_once():
    assert problem("source: {folder: {cities: [a, b, a, a, b, c]}}") == \
        "invalid configuration: config key source.folder.cities: 'a', 'b' listed more than once"


def test_several_problems_are_one_line_each():
    said = problem("source: {scrape: {areas: [boston, boston]}}\nviewer: {title: 2024}")
    assert said.splitlines() == [
        "invalid configuration:",
        "  config key source.scrape.areas: 'boston' listed more than once",
        "  config key viewer.title: YAML read 2024 as a number, not text: put it in quotes, as in "
        "'02134' (unquoted, digits make a number and a leading 0 an octal one: 01234 reads as 668)"]
