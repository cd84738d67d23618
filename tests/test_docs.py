"""The README's factual claims about the code, checked against the code."""

import importlib.util
import inspect
import re
import shlex

import yaml

from roomgrid.cli import parser as command_line
from roomgrid.layout.pca import fit_transform_randomized
from roomgrid.sources.scrape.http import RETRIED_STATUSES
from workflow_helpers import REPO

README = (REPO / "README.md").read_text()
CONFIG = yaml.safe_load((REPO / "config/config.yaml").read_text())


def section(heading: str) -> str:
    """The README's text from ``heading`` to the next heading of its level."""
    start = README.index(f"\n{heading}\n")
    level = heading.split(" ")[0]
    end = README.find(f"\n{level} ", start + len(heading) + 2)
    return README[start:end if end > 0 else None]


def config_keys(node=CONFIG, prefix=""):
    """Dotted names of every section and setting of config/config.yaml: (name, is a setting)."""
    for key, value in node.items():
        yield prefix + key, not isinstance(value, dict)
        if isinstance(value, dict):
            yield from config_keys(value, f"{prefix}{key}.")


def test_retried_statuses_are_the_ones_the_client_retries():
    sentence = re.search(r"connection errors and HTTP ([^.]*?) are retried", README)
    assert sentence, "README no longer says which HTTP statuses are retried"
    assert {int(code) for code in re.findall(r"\d{3}", sentence.group(1))} == set(RETRIED_STATUSES)


def test_randomized_pca_passes_match_the_code():
    claimed = int(re.search(r"randomized SVD \((\d+) passes over the stacks\)", README).group(1))
    power_iterations = inspect.signature(fit_transform_randomized).parameters["power_iterations"].default
    assert claimed == power_iterations + 1  # one pass per power iteration plus the sketch


def test_exact_max_is_described_in_cells():
    row = next(line for line in README.splitlines() if line.startswith("| `grid.method`"))
    assert "`exact_max` grid cells" in row


def test_every_rule_log_has_a_form_the_readme_names():
    forms = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for log in re.findall(r'log:\s*\n\s*"([^"]+)"', smk.read_text()):
            forms.add(re.sub(r"^logs/\w+", "logs/<rule>", log).replace("{city}", "<city>")
                      .replace("{arrangement}", "<arrangement>"))
    assert forms == {"logs/<rule>.log", "logs/<rule>/<city>.log", "logs/<rule>/<arrangement>.log"}
    row = next(line for line in README.splitlines() if line.startswith("| `logs/"))
    assert all(f"`{form}`" in row for form in forms)


def test_readme_names_the_script_every_rule_runs():
    scripts = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        scripts |= set(re.findall(r'script:\s*\n\s*"([^"]+)"', smk.read_text()))
    assert scripts == {"../scripts/run_stage.py"}
    assert "run_stage.py" in README


def test_the_configuration_table_names_real_keys_and_every_setting():
    named = set()
    for row in section("## Configuration").splitlines():
        if row.startswith("| `"):
            # "| `tsne.perplexity`, `.learning_rate` |": the later names share the first's section
            first, *more = re.findall(r"`([^`]+)`", row.split("|")[1])
            first = first.removesuffix(".*")
            named |= {first} | {first.rsplit(".", 1)[0] + name for name in more}
    keys = dict(config_keys())
    assert named - set(keys) == set(), "the table names keys config.yaml does not have"
    settings = {key for key, leaf in keys.items() if leaf and not key.startswith("source.scrape.")}
    assert settings - named == set(), "settings missing from the README's configuration table"


def test_every_scrape_setting_is_described_where_scraping_is():
    described = set(re.findall(r"`([^`]+)`", section("## Scraping Craigslist")))
    scrape = CONFIG["source"]["scrape"]
    assert set(scrape) - described == set()
    assert set(scrape["query"]) - described == set()


def test_the_commands_the_readme_gives_exist():
    makefile = (REPO / "Makefile").read_text()
    for target in set(re.findall(r"(?:`|^)make ([a-z-]+)", README, re.MULTILINE)):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"make {target}"
    shell = "\n".join(re.findall(r"```sh\n(.*?)```", README, re.DOTALL))
    examples = [line for line in shell.splitlines() if line.startswith("roomgrid ")]
    assert len(examples) >= 3
    for line in examples:
        words = shlex.split(re.sub(r"\[[^]]*\]", "", line.split("#")[0]))
        command_line().parse_args(words[1:])  # exits (fails the test) on an unknown command
    for module in set(re.findall(r"python -m (roomgrid[\w.]*)", README)):
        spec = importlib.util.find_spec(module)  # a module, or a package with a __main__
        assert spec and (spec.submodule_search_locations is None
                         or importlib.util.find_spec(f"{module}.__main__")), module
    for path in set(re.findall(r"--profile (\S+)", README)) | set(re.findall(
            r"`((?:src|config|workflow|profiles|benchmarks|docs|envs)/[^`* ]*)`", README)):
        assert (REPO / path).exists(), path
