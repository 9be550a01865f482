"""Test set-up: an isolated Airflow home on SQLite, the DAGs of this repo, and the offline stand-ins.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports it.
"""

from __future__ import annotations

import os
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


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    """Print the reliability tests' figures before pytest's closing line."""
    from tests.reliability_figures import summary_lines

    for line in summary_lines(config):
        terminalreporter.write_line(line)
