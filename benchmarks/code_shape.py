"""The package's shape: lines per module, the longest functions, and which layer imports which.

    python -m benchmarks.code_shape [--plugins <another tree>/plugins] [--top 5]

Lines are physical lines of each file. A function's length runs from its ``def`` to its last line (a nested
function counts inside its parent too). Imports are every ``lightcurve_ingest`` import, at the top of a module or
inside a function, grouped by the first part of the module's path below the package (a sub-package, or the
module itself in a flat tree).
"""

from __future__ import annotations

import argparse
import ast
from collections import Counter
from pathlib import Path

from benchmarks._paths import REPO


def modules(package: Path) -> list[Path]:
    return sorted(package.rglob("*.py"))


def functions(path: Path) -> list[tuple[int, str]]:
    """(lines, name) of every function of a module."""
    tree = ast.parse(path.read_text())
    return [(node.end_lineno - node.lineno + 1, node.name) for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def group(package: Path, path: Path) -> str:
    return path.relative_to(package).parts[0].removesuffix(".py")


def imports(package: Path, path: Path) -> set[str]:
    """The groups of the package that ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == package.name]
        found |= {name.split(".")[1] for name in names if name.startswith(f"{package.name}.")}
    return found - {group(package, path)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=Path, default=REPO / "plugins")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    package = args.plugins / "lightcurve_ingest"
    paths = modules(package)
    sizes = {p: len(p.read_text().splitlines()) for p in paths}
    print(f"{len(paths)} modules, {sum(sizes.values())} lines, {len({group(package, p) for p in paths})} groups")
    for path in paths:
        print(f"  {sizes[path]:5d}  {path.relative_to(package)}")
    longest = sorted(((n, f"{p.relative_to(package)}:{name}") for p in paths for n, name in functions(p)),
                     reverse=True)
    print("longest functions:")
    for lines, name in longest[:args.top]:
        print(f"  {lines:5d}  {name}")
    edges: Counter[tuple[str, str]] = Counter()
    for path in paths:
        for target in imports(package, path):
            edges[group(package, path), target] += 1
    print("imports between groups (importer -> imported: modules):")
    for (source, target), count in sorted(edges.items()):
        print(f"  {source} -> {target}: {count}")


if __name__ == "__main__":
    main()
