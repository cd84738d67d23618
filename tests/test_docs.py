"""The README's factual claims about the code, checked against the code."""

import inspect
import re

from roomgrid.layout.pca import fit_transform_randomized
from roomgrid.sources.scrape.http import RETRIED_STATUSES
from workflow_helpers import REPO

README = (REPO / "README.md").read_text()


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
    assert "run_stage.py" in README and "three-line glue" not in README
