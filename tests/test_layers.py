"""The package's layers, as docs/code.md states them: wiring -> tasks -> domain, quicklook and training -> storage
and clients, with settings and errors used by all. A module never imports a layer above its own (lazy imports
inside functions count too), and only the wiring imports Airflow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "lightcurve_ingest"

# sub-package (or top-level module) -> its layer; a higher number is a higher layer
LAYERS = {
    "wiring": 4,
    "tasks": 3,
    "domain": 2,
    "quicklook": 2,
    "training": 2,
    "storage": 1,
    "clients": 1,
    "settings": 0,
    "errors": 0,
}


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def part_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported(path: Path) -> list[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "lightcurve_ingest":
                names += [f"lightcurve_ingest.{alias.name}" for alias in node.names]
    return names


def test_every_module_belongs_to_a_layer():
    assert {part_of(p) for p in modules()} <= set(LAYERS)
    assert not [p for p in PACKAGE.glob("*.py") if p.stem not in LAYERS and p.name != "__init__.py"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_its_own(path: Path):
    own = LAYERS[part_of(path)]
    upward = [name for name in imported(path) if name.startswith("lightcurve_ingest.")
              and LAYERS[name.split(".")[1]] > own]
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {part_of(path)}) imports {upward}"


@pytest.mark.parametrize("path", [p for p in modules() if part_of(p) != "wiring"],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_wiring_imports_airflow(path: Path):
    assert not [name for name in imported(path) if name.split(".")[0] == "airflow"]


def test_the_check_sees_an_upward_import(tmp_path: Path):
    """The parser finds lazy imports, and the rule flags them: the check itself can fail."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from lightcurve_ingest.wiring.connections import dest_s3_hook\n"
                      "    from lightcurve_ingest import tasks\n")
    assert imported(module) == ["lightcurve_ingest.wiring.connections", "lightcurve_ingest",
                                "lightcurve_ingest.tasks"]
