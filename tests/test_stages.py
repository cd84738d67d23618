"""The script dispatch: every rule runs workflow/scripts/run_stage.py, which calls the adapter in
roomgrid.stages named after the rule."""

import logging
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from roomgrid import stages
from workflow_helpers import REPO

HEAVY = ("lapjv", "sklearn", "openTSNE", "matplotlib", "h5py", "PIL", "imagehash", "requests")


def rules_running_the_dispatcher() -> set[str]:
    names = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for block in re.split(r"\n(?=(?:rule|checkpoint) )", smk.read_text()):
            head = re.match(r"(?:rule|checkpoint) (\w+):", block)
            if head and "../scripts/run_stage.py" in block:
                names.add(head.group(1))
    return names


def test_every_rule_with_a_script_has_its_adapter_found_by_its_name():
    rules = rules_running_the_dispatcher()
    assert len(rules) >= 14
    assert {"reduce_pca", "project_pca", "render_tiles", "update_tiles", "embed_city"} <= rules
    for rule in rules:
        assert stages.adapter_for(rule).__name__ == rule


@pytest.mark.parametrize("name", ["run_rule", "adapter_for", "by_city", "_private", "Path"])
def test_helpers_and_imports_are_not_adapters(name):
    with pytest.raises(LookupError, match="no stage adapter"):
        stages.adapter_for(name)


class Job:
    """What an adapter reads of Snakemake's job object."""

    def __init__(self, rule, files, cities):
        self.rule = rule
        self.input = {"thumbs": files}
        self.params = SimpleNamespace(cities=cities)


def test_per_city_inputs_are_matched_by_name_not_position():
    files = ["results/cities/denver/thumbs.h5", "results/cities/boston/thumbs.h5"]
    assert stages.by_city(Job("render_tiles", files, ["boston", "denver"]), "thumbs") == {
        "boston": "results/cities/boston/thumbs.h5", "denver": "results/cities/denver/thumbs.h5"}
    with pytest.raises(ValueError, match="no one file per city"):
        stages.by_city(Job("render_tiles", files[:1], ["boston", "denver"]), "thumbs")


def test_importing_the_adapters_imports_no_stage_library():
    """Each rule's environment has only its own stage's libraries."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, roomgrid.stages; "
         f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_run_rule_calls_the_adapter_named_after_the_rule_and_logs_to_the_job_log(tmp_path, monkeypatch):
    seen = []

    def make_things(job):
        seen.append(job.output[0])
        logging.getLogger("roomgrid.stages").info("made %s", job.output[0])

    monkeypatch.setattr(stages, "make_things", make_things, raising=False)
    log = tmp_path / "logs/make_things.log"
    stages.run_rule(SimpleNamespace(rule="make_things", output=["out.txt"], log=[str(log)]))
    assert seen == ["out.txt"]
    assert "made out.txt" in log.read_text()


def test_a_rule_without_an_adapter_is_named():
    with pytest.raises(LookupError, match="no_such_rule"):
        stages.run_rule(SimpleNamespace(rule="no_such_rule", log=[]))
