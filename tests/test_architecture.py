"""The package's layers, as its docstring states them: a module imports only from its own layer
and the layers below it."""

import ast
from pathlib import Path

import roomgrid

PACKAGE = Path(roomgrid.__file__).parent
# Lowest first; stages.py and cli.py stand above all of them.
LAYERS = ["core", "sources", "scan", "features", "selection", "layout", "viewer", "report"]
TOP = len(LAYERS)


def layer_of(module: str) -> int:
    """Layer index of a dotted module name under roomgrid (``roomgrid.layout.grid`` -> layout)."""
    parts = module.split(".")
    assert parts[0] == "roomgrid", module
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else TOP


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, name: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) of every roomgrid import in module ``name``'s ``source``, also
    those inside functions."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names
                      if alias.name.split(".")[0] == "roomgrid"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "roomgrid":
                continue
            if node.module is None or target.count(".") == 0:
                # `from . import grid`: each name is a module of that package
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return found


def test_the_layers_are_the_packages_and_the_docstring_names_them_in_order():
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(LAYERS)
    positions = [roomgrid.__doc__.index(f"{layer}/") for layer in LAYERS]
    assert positions == sorted(positions), "the package docstring lists the layers out of order"


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = layer_of(module_name(path))
        for line, target in imported_modules(path.read_text(), module_name(path),
                                             path.name == "__init__.py"):
            if layer_of(target) > own:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_the_import_check_sees_relative_absolute_and_function_level_imports():
    """The check above can fail: a scan module reaching up into layout, three ways."""
    source = ("import numpy\nfrom .decode import BadPhoto\nfrom roomgrid.viewer.tiles import x\n"
              "def f():\n    from ..layout import grid\n")
    found = imported_modules(source, "roomgrid.scan.probe")
    assert found == [(2, "roomgrid.scan.decode"), (3, "roomgrid.viewer.tiles"),
                     (5, "roomgrid.layout")]
    assert [layer_of(t) > layer_of("roomgrid.scan.probe") for _, t in found] == [False, True, True]
