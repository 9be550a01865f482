"""Test set-up: an isolated Airflow home on SQLite, the DAGs of this repo, and the offline stand-ins.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="lightcurve-ingest-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
    "LIGHTCURVE_INGEST_RETRY_DELAY_SECONDS": "0.2",
    "LIGHTCURVE_INGEST_HTTP_TIMEOUT": "5",
})
for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_")]:
    del os.environ[name]  # only the stand-ins' connections, never the machine's
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    from airflow.utils import db

    db.initdb()
    return _HOME


@pytest.fixture(scope="session")
def dag_bag(airflow_db):  # noqa: ANN001, ANN201
    """Every DAG of the repository's DAG folder."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture(scope="session")
def dags(dag_bag):  # noqa: ANN001, ANN201
    """The ingest DAGs of the repository's DAG folder, by mission: {"k2": DAG, "kepler": DAG, "tess": DAG}."""
    return {slug: dag_bag.dags[f"{slug}_lightcurve_ingest"] for slug in ("k2", "kepler", "tess")}


@pytest.fixture(scope="session")
def ingest_dag(dags):  # noqa: ANN001, ANN201
    return dags["k2"]


@pytest.fixture(scope="module")
def standins():  # noqa: ANN201
    """The three stand-ins, wired in as Airflow connections: 8 K2 hosts + 1 host MAST does not know, and 8 Kepler
    and 8 TESS hosts (the real ones first: Kepler-10, Kepler-22, KOI-5, KOI-6; pi Men, LHS 3844...)."""
    from tests.standins import Standins

    with Standins(n_hosts=8, unknown_to_mast=1) as running, pytest.MonkeyPatch.context() as patch:
        for name, value in running.airflow_env().items():
            patch.setenv(name, value)
        yield running


# Modules that another file's owner keeps and whose every test is slow (the DAGs under dag.test(), Chromium, a
# stand-in per test); the other modules mark their slow tests themselves.
SLOW_MODULES = frozenset({"test_faults", "test_ingest_e2e", "test_mirror", "test_missions_e2e", "test_quicklook",
                          "test_standins"})
# The real-stack tests: one xdist work unit, so they run one after another on one worker. They kill Celery
# workers and restart Redis and PostgreSQL, and their timeouts assume the stack has most of the machine.
STACK_DIR = "tests/integration/"
# After the real stack, the longest work unit: one fixture that runs the benchmark, about a minute.
LONGEST_MODULES = frozenset({"test_benchmark_smoke"})


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):  # noqa: ANN201
    """Mark the slow tests (before ``-m`` selects), then order the files that are left for xdist's scheduler
    (``--dist loadfile --no-loadscope-reorder``, see ``pytest_xdist_make_scheduler``): the longest work first,
    so that no long file starts last. A file's tests keep their order."""
    for item in items:
        if item.get_closest_marker("integration") or item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    yield
    rank: dict[Path, tuple[int, int]] = {}
    for item in items:
        if item.get_closest_marker("integration"):
            tier = 0
        elif item.path.stem in LONGEST_MODULES:
            tier = 1
        else:
            tier = 2 if item.get_closest_marker("slow") else 3
        best, count = rank.get(item.path, (tier, 0))
        rank[item.path] = (min(best, tier), count - 1)  # then the files with more tests first
    items.sort(key=lambda item: rank[item.path])


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    """``--dist loadfile``, except that every real-stack file goes into one work unit, and the process that runs
    it takes the shortest files left: xdist hands a process its next file while its last two tests still run,
    and the stack's last two take minutes.

    (``--dist loadgroup`` with ``xdist_group`` marks would say the same, but pytest-xdist 3.8 marks the groups by
    rewriting node ids, which pytest 9.2 no longer lets it do: the marks are silently ignored.)
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class StackInOneUnit(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return STACK_DIR if nodeid.startswith(STACK_DIR) else super()._split_scope(nodeid)

        def _assign_work_unit(self, node) -> None:  # noqa: ANN001
            if STACK_DIR in self.assigned_work.get(node, {}):  # the queue is in collection order: shortest last
                self.workqueue.move_to_end(next(reversed(self.workqueue)), last=False)
            super()._assign_work_unit(node)

    return StackInOneUnit(config, log)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its reliability figures to the controller, which prints them."""
    from tests.reliability_figures import figures

    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["reliability_figures"] = dict(figures(session.config))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001
    """The controller adds up the figures of each xdist worker as it finishes."""
    from tests.reliability_figures import figures

    figures(node.config).update(getattr(node, "workeroutput", {}).get("reliability_figures", {}))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    """Print the reliability tests' figures before pytest's closing line."""
    from tests.reliability_figures import summary_lines

    for line in summary_lines(config):
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)  # this process's Airflow home: each run (and xdist worker) has its own
