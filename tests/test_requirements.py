"""The two dependency sets: requirements.txt (what the DAGs need at run time: the image, every worker) and
requirements-dev.txt (that plus the test, benchmark and lint tools).

"Test-only" is read from the installed packages' own metadata (importlib.metadata), not from a list: the
closure of the test tools' requirements less the closure of what the runtime needs. The runtime roots are the
distributions that dags/ and plugins/ import (found by parsing them) plus the Airflow parts the deployment
configures (executor, auth manager, metadata database and broker drivers, connection types).
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "requirements.txt"
DEV = ROOT / "requirements-dev.txt"
TEST_TOOLS = ("moto[server]", "pytest", "pytest-xdist", "hypothesis", "ruff", "playwright")
# What docker-compose.yaml configures rather than imports: CeleryExecutor with Redis, the FAB auth manager,
# PostgreSQL (psycopg2) for metadata, and the connection types of the DAGs' connections (http, aws).
DEPLOYMENT_ROOTS = ("apache-airflow", "apache-airflow-providers-celery", "apache-airflow-providers-fab",
                    "apache-airflow-providers-postgres", "apache-airflow-providers-http",
                    "apache-airflow-providers-amazon", "psycopg2-binary", "redis",
                    "pyarrow")  # pandas' Parquet engine for the catalog: loaded by pandas, never imported by us
LOCAL_PACKAGES = {"lightcurve_ingest"}
# What every venv (and the base image) brings, so pip freeze leaves it out of both files.
BOOTSTRAP = {"pip", "setuptools", "wheel"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)$")


def pins(path: Path) -> dict[str, str]:
    """Canonical name -> version of every ``name==version`` line; any other requirement line fails the test."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line == "-r requirements.txt":
            continue
        match = _PIN.match(line)
        assert match, f"{path.name}: `{line}` is not pinned as name==version"
        name = canonicalize_name(match.group(1))
        assert name not in found, f"{path.name}: {name} is pinned twice"
        found[name] = match.group(3)
    return found


def closure(roots: list[str]) -> set[str]:
    """Canonical names of ``roots`` (requirement strings, extras allowed) and of everything they require, as
    installed here, with markers evaluated for this interpreter and the extras asked for."""
    seen: set[str] = set()
    extras_seen: set[tuple[str, str]] = set()
    todo = [Requirement(root) for root in roots]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        wanted = {""} | set(req.extras)
        if name in seen and all((name, extra) in extras_seen for extra in wanted):
            continue
        seen.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is required (by {req}) but not installed in this environment")
        for extra in wanted:
            extras_seen.add((name, extra))
            for text in requires:
                dep = Requirement(text)
                if dep.marker is None or dep.marker.evaluate({"extra": extra}):
                    todo.append(dep)
    return seen


def imported_distributions() -> set[str]:
    """Distributions that provide the top-level modules imported anywhere in dags/ and plugins/."""
    modules = set()
    for path in [*ROOT.joinpath("dags").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | LOCAL_PACKAGES
    providers = metadata.packages_distributions()
    unknown = sorted(m for m in modules if m not in providers)
    assert not unknown, f"dags/ or plugins/ import modules no installed distribution provides: {unknown}"
    return {canonicalize_name(dist) for module in modules for dist in providers[module]}


@pytest.fixture(scope="module")
def runtime_closure() -> set[str]:
    return closure([*DEPLOYMENT_ROOTS, *sorted(imported_distributions())])


@pytest.fixture(scope="module")
def test_only(runtime_closure: set[str]) -> set[str]:
    return closure(list(TEST_TOOLS)) - runtime_closure


def test_test_tools_and_what_only_they_need_are_not_runtime(test_only: set[str]) -> None:
    tools = {canonicalize_name(Requirement(t).name) for t in TEST_TOOLS}
    assert tools <= test_only, f"a test tool is needed at run time: {sorted(tools - test_only)}"
    # moto[server]'s own needs (flask-cors, responses, ...) must count as test-only: the metadata is read.
    assert {"responses", "flask-cors", "py-partiql-parser"} <= test_only, sorted(test_only)
    leaked = sorted(set(pins(RUNTIME)) & test_only)
    assert not leaked, f"requirements.txt holds test-only packages (move them to requirements-dev.txt): {leaked}"


def test_runtime_set_is_exactly_what_the_dags_need(runtime_closure: set[str]) -> None:
    runtime = set(pins(RUNTIME))
    missing = sorted(runtime_closure - runtime - BOOTSTRAP)
    assert not missing, f"requirements.txt lacks packages the DAGs need at run time: {missing}"
    unneeded = sorted(runtime - runtime_closure)
    assert not unneeded, f"requirements.txt holds packages nothing at run time needs: {unneeded}"


def test_dev_set_adds_the_test_tools_and_their_closure(test_only: set[str]) -> None:
    lines = [line.strip() for line in DEV.read_text().splitlines()]
    assert "-r requirements.txt" in lines, "requirements-dev.txt must include the runtime set (-r requirements.txt)"
    runtime, dev = pins(RUNTIME), pins(DEV)
    assert not set(runtime) & set(dev), f"pinned in both files: {sorted(set(runtime) & set(dev))}"
    missing = sorted(test_only - set(dev) - BOOTSTRAP)
    assert not missing, f"requirements-dev.txt lacks what the test tools need: {missing}"
    for name, version in {**runtime, **dev}.items():
        assert metadata.version(name) == version, f"{name}: pinned {version}, installed {metadata.version(name)}"


def _code(text: str) -> str:
    """The lines that are not comments."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_image_and_quickstart_install_the_runtime_set_and_tests_the_dev_set() -> None:
    dockerfile = _code((ROOT / "Dockerfile").read_text())
    assert re.search(r"pip install --no-cache-dir -r /opt/airflow/requirements\.txt", dockerfile)
    assert "requirements-dev" not in dockerfile
    assert "requirements-dev" not in _code((ROOT / "docker-compose.yaml").read_text())
    quickstart = (ROOT / "scripts" / "quickstart").read_text()
    assert re.search(r"^ensure_venv$", quickstart, re.M), "scripts/quickstart must install the runtime set only"
    assert re.search(r"^ensure_venv dev$", (ROOT / "scripts" / "test").read_text(), re.M)
    assert "exec bash scripts/test" in (ROOT / ".ci" / "run").read_text()
