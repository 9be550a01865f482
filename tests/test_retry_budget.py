"""The retry budget (the README's table) under faults that do not go away: each attempt is counted where it lands.

Each test makes one thing fail for good in a stand-in, runs the real DAG once (``dag.test()``, the real clients:
astroquery, requests, botocore) and counts the requests the stand-in received: exactly the budget that
``settings`` states, so a layer that retried more (or no longer retried) fails the test.
"""

from __future__ import annotations

import pytest

from lightcurve_ingest.settings import COPY_ATTEMPTS, HTTP_ATTEMPTS, S3_ATTEMPTS, TASK_TRIES
from tests.helpers import local_files, run_dag, task_states

pytestmark = pytest.mark.slow  # the real DAG under dag.test()
FOREVER = 1000  # a fault's "times": more than any budget


@pytest.fixture(autouse=True)
def _clean_standins(standins, monkeypatch):  # noqa: ANN001, ANN202
    """No faults or counts from an earlier test; no waits between HTTP tries (the counts do not depend on them)."""
    standins.reset()
    monkeypatch.setenv("LIGHTCURVE_INGEST_HTTP_BACKOFF", "0")
    yield
    standins.reset()


def tries(run, task_id: str) -> list[int]:  # noqa: ANN001
    """The try number each instance of ``task_id`` ended on (1: never retried)."""
    return [ti.try_number for ti in run.get_task_instances() if ti.task_id == task_id]


def host_with_files(standins, at_least: int = 1):  # noqa: ANN001, ANN201
    return next(h for h in standins.universe.confirmed_hosts() if len(h.light_curves()) >= at_least)


def test_a_mast_outage_gets_each_batch_query_at_most_http_attempts_times_task_tries(ingest_dag, standins,
                                                                                    tmp_path):
    host = host_with_files(standins)
    standins.mast.add_fault("http503", times=FOREVER)  # every request to MAST, for the whole run

    run = run_dag(ingest_dag, {"destination": str(tmp_path / "dest"), "targets": [host.hostname]})

    assert str(run.state) == "failed"
    assert tries(run, "batch.find_light_curves") == [TASK_TRIES], task_states(run)
    budget = HTTP_ATTEMPTS * TASK_TRIES  # 4 tries of the request in each of the task's 2 tries
    assert budget == 8
    assert standins.mast.request_count == budget, dict(standins.mast.requests_by_service)
    assert standins.mast.faults_fired["http503"] == budget
    assert "Mast.Caom.Products" not in standins.mast.requests_by_service  # the first query never got through


def test_an_archive_outage_gets_the_plans_query_at_most_http_attempts_times_task_tries(ingest_dag, standins,
                                                                                      tmp_path):
    host = host_with_files(standins)
    standins.tap.add_fault("http503", times=FOREVER)

    run = run_dag(ingest_dag, {"destination": str(tmp_path / "dest"), "targets": [host.hostname]})

    assert str(run.state) == "failed"
    assert tries(run, "plan_targets") == [TASK_TRIES], task_states(run)
    assert standins.tap.request_count == HTTP_ATTEMPTS * TASK_TRIES == 8
    assert standins.mast.request_count == 0


def test_a_file_that_never_reads_is_fetched_s3_attempts_times_copy_attempts_and_its_task_is_not_retried(
        ingest_dag, standins, tmp_path):
    host = host_with_files(standins, at_least=2)
    broken, *others = host.light_curves()
    standins.s3.add_fault("http500", times=FOREVER, key_substring=broken.key)  # every request for that object
    dest = tmp_path / "dest"

    run = run_dag(ingest_dag, {"destination": str(dest), "targets": [host.hostname]})

    gets = [e["path"] for e in standins.s3.request_log if e["method"] == "GET"]
    budget = S3_ATTEMPTS * COPY_ATTEMPTS  # botocore's 3 tries in each of the copy's 2
    assert budget == 6
    assert sum(p.endswith(broken.key) for p in gets) == budget, gets
    assert standins.s3.faults_fired["http500"] == budget
    # the failed file is reported, not retried by Airflow: the task (and every other file's read) ran once
    states = task_states(run)
    assert tries(run, "batch.copy_light_curves") == [1], states
    assert states["batch.copy_light_curves[0]"] == "success" and str(run.state) == "failed", states
    assert sorted(p for p in gets if not p.endswith(broken.key)) == sorted(f"/stpubdata/{f.key}" for f in others)
    assert sorted(local_files(dest)) == sorted(f.key for f in others)
