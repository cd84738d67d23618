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


def test_every_rule_with_a_script_has_its_adapter():
    rules = rules_running_the_dispatcher()
    assert len(rules) >= 14
    assert rules <= set(stages.RULES), f"rules without an adapter: {sorted(rules - set(stages.RULES))}"


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

    monkeypatch.setitem(stages.RULES, "make_things", make_things)
    log = tmp_path / "logs/make_things.log"
    stages.run_rule(SimpleNamespace(rule="make_things", output=["out.txt"], log=[str(log)]))
    assert seen == ["out.txt"]
    assert "made out.txt" in log.read_text()


def test_a_rule_without_an_adapter_is_named():
    with pytest.raises(LookupError, match="no_such_rule"):
        stages.run_rule(SimpleNamespace(rule="no_such_rule", log=[]))
