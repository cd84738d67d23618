"""Run a rule's code with only the packages its conda environment (envs/*.yaml) provides.

The allowed top-level modules are the standard library, roomgrid, and the import names of each
package the env file lists plus everything those packages require (conda installs requirements
too), read from the installed distributions' metadata. Anything else raises ModuleNotFoundError,
as it would inside the conda environment.

Used as ``python env_imports.py ENV_FILE SCRIPT``: SCRIPT is a Python script Snakemake generated
for a job (kept with --skip-script-cleanup); its preamble, which loads Snakemake itself to
unpickle the job object, runs before the blocker is armed. ``python env_imports.py ENV_FILE
--import MODULE`` only imports MODULE (for rules a test cannot run, such as scraping).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.metadata
import re
import sys
from pathlib import Path

import yaml

# conda package names whose Python distribution is named differently
CONDA_TO_DIST = {"matplotlib-base": "matplotlib", "pytorch": "torch"}
NOT_PYTHON = {"python", "pip"}


def env_packages(env_file: str | Path) -> list[str]:
    """Distribution names of the conda and pip dependencies of an environment file."""
    spec = yaml.safe_load(Path(env_file).read_text())
    names = []
    for item in spec["dependencies"]:
        for requirement in item["pip"] if isinstance(item, dict) else [item]:
            name = re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].strip()
            if name and name not in NOT_PYTHON:
                names.append(CONDA_TO_DIST.get(name, name))
    return names


def _required(dist: importlib.metadata.Distribution) -> list[str]:
    from packaging.requirements import Requirement

    names = []
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return names


def importable(env_file: str | Path) -> set[str]:
    """Top-level module names a job in this environment can import."""
    by_dist: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            by_dist.setdefault(_normal(dist), set()).add(module)
    allowed = (set(sys.stdlib_module_names) | set(sys.builtin_module_names)
               | {"roomgrid", "__main__", "__mp_main__"})
    pending, seen = list(env_packages(env_file)), set()
    while pending:
        name = _normal(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(f"{env_file} lists {name}, which is not installed here") from None
        allowed |= by_dist.get(name, set())
        pending.extend(_required(dist))
    return allowed


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class EnvBlocker(importlib.abc.MetaPathFinder):
    def __init__(self, allowed: set[str], env_file: str):
        self.allowed = allowed
        self.env_file = env_file

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        # _sysconfigdata_*: the interpreter's build settings, part of every Python
        if top in self.allowed or top.startswith("_sysconfigdata") or _called_from_snakemake():
            return None  # let the ordinary finders look
        if "." not in fullname and self._shipped_by_allowed(fullname, path):
            return None
        raise ModuleNotFoundError(f"No module named {fullname!r} (not provided by {self.env_file})",
                                  name=fullname)

    def _shipped_by_allowed(self, name, path) -> bool:
        """A module an allowed package ships in its own folder and imports by its bare name after
        putting that folder on sys.path (onnxruntime's quantization does, for fusion_utils)."""
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or not spec.origin:
            return False
        return any(folder.name in self.allowed and folder.parent.name in ("site-packages", "dist-packages")
                   for folder in Path(spec.origin).parents)

    def arm(self) -> None:
        """Forget modules outside the environment that loading Snakemake pulled in, then block."""
        for name in list(sys.modules):
            top = name.partition(".")[0]
            if top not in self.allowed and top != "snakemake":
                del sys.modules[name]
        sys.meta_path.insert(0, self)


def _called_from_snakemake() -> bool:
    """Snakemake's own lazy imports (its logging at exit) are not the job's code."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(("importlib", "_frozen_importlib")):
            return module.startswith("snakemake")
        frame = frame.f_back
    return False


def main(env_file: str, script: str, module: str | None = None) -> None:
    if script == "--import":
        EnvBlocker(importable(env_file), env_file).arm()
        importlib.import_module(module)
        return
    text = Path(script).read_text()
    preamble, _, body = text.partition("######## snakemake preamble end #########")
    namespace = {"__name__": "__main__", "__file__": script}
    exec(compile(preamble, script, "exec"), namespace)
    EnvBlocker(importable(env_file), env_file).arm()
    exec(compile(body, script, "exec"), namespace)


if __name__ == "__main__":
    main(*sys.argv[1:])
