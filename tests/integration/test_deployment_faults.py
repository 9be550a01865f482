"""Faults of the deployment's own parts, on the real stack (api-server, scheduler, dag-processor, Celery worker)
with a Redis and a PostgreSQL that this module starts itself (free ports, temporary data folders), so that
stopping them touches nothing else on the machine:

* a Celery worker killed with SIGKILL in the middle of a copy batch (a new worker is started, as compose's
  ``restart: always`` would);
* Redis stopped for 30 s and started again (empty: no persistence) while tasks are queued and running;
* PostgreSQL, the metadata database, restarted (down 5 s) while the run is in progress;
* the local destination's file system full (a small tmpfs mounted by the test): the batch fails saying the disk
  is full, no truncated file is left under a final name, and after space is freed a rerun completes.

Each ends with every file at the destination byte for byte, none twice (one catalog row each), no partial file
left, and the catalog consistent; a run that failed is completed by a plain rerun. The Redis and PostgreSQL
outages must also have been felt: a component (worker, scheduler, api-server) or a task logged losing the
service after it was stopped. Components that exit are
started again with the same arguments (``restart: always``). Every process started is stopped by its pid; the
figures (time from fault to success, files and bytes copied again) are printed at the end (``-s``). K2 only, as
every real-stack module: ``test_production_stack``'s docstring says why that covers Kepler and TESS.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from deltalake import DeltaTable

from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.storage.destination import parse_destination
from tests.helpers import mount_tmpfs, unmount
from tests.integration.services import LocalPostgres, LocalRedis
from tests.integration.stack import (
    DAG_ID,
    TERMINAL_RUN_STATES,
    AirflowStack,
    Deadline,
    StackError,
    TimeLimit,
    processes_with_home,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
MODULE_LIMIT_S = float(os.environ.get("K2_FAULTS_TIME_LIMIT", "600"))
N_HOSTS = 32  # 25 of them confirmed: the runs' targets
TARGETS_PER_BATCH = 6
RUN_TIMEOUT_S = 180
REDIS_DOWN_S = 30
PG_DOWN_S = 5  # about what a container restart takes
# Faster detection than Airflow's defaults (300 s heartbeat timeout, 600 s queued timeout, 300 s orphan
# check, 30 s health threshold) so that the test stays short; docs/deploy.md gives the defaults' timings.
FAULT_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "45",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
    # A scheduler that exits (its database went away) can leave a task queued that it never sent: the next
    # scheduler resets it once the dead one's job is older than the threshold, at its orphan check.
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "15",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
}
# What a component or a task logs when the service goes away under it (Celery/kombu and redis-py; psycopg and
# SQLAlchemy); ``{port}`` is the service's.
REDIS_LOST = (r"Connection to broker lost|Cannot connect to redis|Error 111 connecting to 127\.0\.0\.1:{port}"
              r"|redis\.exceptions\.ConnectionError|kombu\.exceptions\.OperationalError")
POSTGRES_LOST = (r"psycopg2?\.OperationalError|sqlalchemy\.exc\.OperationalError|port {port} failed"
                 r"|server closed the connection unexpectedly|terminating connection due to administrator command"
                 r"|the database system is (shutting down|starting up)")
FIGURES: list[dict] = []
_LIMIT: list[TimeLimit] = []


@dataclass
class Deployment:
    airflow: AirflowStack
    standins: object
    redis: LocalRedis
    postgres: LocalPostgres
    restarted: list[str] = field(default_factory=list)  # components started again after they exited, in order


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    from tests.standins import Standins

    started = time.monotonic()
    failed_before = request.session.testsfailed
    limit = TimeLimit(MODULE_LIMIT_S, "the deployment fault tests")
    _LIMIT.append(limit.start())
    redis, postgres = LocalRedis(), LocalPostgres()
    try:
        redis.start()
        postgres.init().start()
        postgres.create_database("airflow")
        with Standins(n_hosts=N_HOSTS, kepler_hosts=0, tess_hosts=0) as standins:
            airflow = AirflowStack({**standins.airflow_env(), **FAULT_ENV}, unpause=(DAG_ID,),
                                   broker_url=redis.url, database_url=postgres.url("airflow"))
            failed = True
            try:
                airflow.start(Deadline(300))
                _wait_scheduled_runs(airflow)
                print(f"\nfault stack up in {time.monotonic() - started:.1f} s (Redis :{redis.port}, "
                      f"PostgreSQL :{postgres.port}, home {airflow.home})")
                yield Deployment(airflow, standins, redis, postgres)
                failed = request.session.testsfailed > failed_before
            finally:
                limit.cancel()
                if failed:
                    saved = airflow.save_logs(ARTIFACTS / f"fault-stack-logs-{airflow.run_tag}")
                    print(f"{airflow.log_tails(60)}\nlogs saved to {saved}")
                home = airflow.home
                airflow.stop()
                assert not processes_with_home(home), "processes of the stack survived stop()"
    finally:
        limit.cancel()
        redis.close()
        postgres.close()
        _print_figures(time.monotonic() - started)


@pytest.fixture(autouse=True)
def _within_time_limit(deployment: Deployment) -> Iterator[None]:
    if _LIMIT and _LIMIT[0].expired:
        pytest.fail(_LIMIT[0].message)
    deployment.standins.reset()
    deployment.standins.s3._clear_logs()
    yield


# --- helpers --------------------------------------------------------------------------------------

def _wait_scheduled_runs(airflow: AirflowStack) -> None:
    """Unpausing starts the latest scheduled run: let it end, so that it does not share the faults' runs."""
    deadline = Deadline(RUN_TIMEOUT_S)
    while any(r["state"] not in TERMINAL_RUN_STATES for r in airflow.dag_runs(DAG_ID)):
        if deadline.remaining <= 0:
            raise StackError(f"the scheduled run did not end in time\n{airflow.log_tails()}")
        time.sleep(1)


def trigger(d: Deployment, destination: Path, note: str) -> str:
    conf = {"destination": str(destination), "targets": None, "targets_per_batch": TARGETS_PER_BATCH,
            "copy_threads": 2}
    return d.airflow.trigger(DAG_ID, conf, note=note)["dag_run_id"]


def run_state(d: Deployment, run_id: str) -> str | None:
    """The run's state, or None while the api-server cannot answer (its database may be restarting)."""
    try:
        return d.airflow.dag_run(DAG_ID, run_id)["state"]
    except (StackError, requests.RequestException):
        return None


def wait_end(d: Deployment, run_id: str) -> str:
    """Until the run ends, restarting any component that exited (compose's ``restart: always``)."""
    deadline = Deadline(RUN_TIMEOUT_S)
    while True:
        restarted = d.airflow.restart_exited()
        if restarted:
            d.restarted.extend(restarted)
            print(f"restarted after they exited: {restarted}")
        state = run_state(d, run_id)
        if state in TERMINAL_RUN_STATES:
            return state
        if deadline.remaining <= 0:
            raise StackError(f"run {run_id} still {state} at the deadline\n{d.airflow.log_tails()}")
        time.sleep(1)


def complete(d: Deployment, run_id: str, destination: Path, fault_at: float) -> dict:
    """Wait for the run; if it failed, rerun it plainly until one succeeds. Returns what happened."""
    runs = [(run_id, wait_end(d, run_id))]
    report = "" if runs[-1][1] == "success" else d.airflow.run_report(DAG_ID, run_id)
    failed = sorted(k for k, v in d.airflow.task_states(DAG_ID, run_id).items() if v not in ("success", "skipped"))
    while runs[-1][1] != "success":
        assert len(runs) < 3, f"two reruns did not complete the run: {runs}\n{report}"
        rerun = trigger(d, destination, "rerun after a fault")
        runs.append((rerun, wait_end(d, rerun)))
    return {"runs": runs, "seconds": time.monotonic() - fault_at, "first_report": report, "first_failed": failed}


def copy_task_in_flight(d: Deployment, run_id: str) -> bool:
    try:
        states = d.airflow.task_states(DAG_ID, run_id)
    except (StackError, requests.RequestException):
        return False
    return any(k.startswith("batch.copy_light_curves") and v == "running" for k, v in states.items())


def wait_for(condition, what: str, seconds: float = 120) -> None:  # noqa: ANN001
    deadline = Deadline(seconds)
    while not condition():
        if deadline.remaining <= 0:
            raise StackError(f"{what}: not seen in {seconds:.0f} s")
        time.sleep(0.2)


def log_files(d: Deployment) -> list[Path]:
    """The components' output and the task logs."""
    return [p for folder in (d.airflow.proc_logs, d.airflow.home / "logs") if folder.exists()
            for p in folder.rglob("*.log")]


def log_sizes(d: Deployment) -> dict[Path, int]:
    return {p: p.stat().st_size for p in log_files(d)}


def logged_since(d: Deployment, sizes: dict[Path, int], pattern: str) -> list[str]:
    """Lines matching ``pattern`` written to the logs after ``sizes`` was taken (a new file: all of it)."""
    found = []
    for path in log_files(d):
        with open(path, "rb") as log:
            log.seek(sizes.get(path, 0))
            text = log.read().decode(errors="replace")
        found += [f"{path.name}: {line.strip()[:200]}" for line in text.splitlines() if re.search(pattern, line)]
    return found


def outage_felt(d: Deployment, run_id: str, outcome: dict, logs_at_fault: dict[Path, int],
                restarted_before: int, lost: str) -> dict[str, list[str]]:
    """How the stack felt the outage: lines logged about losing the service, components that exited and were
    started again, the first run's retried tries and failed tasks."""
    retried = [f"{t['task_id']}[{t['map_index']}] try {t['try_number']}"
               for t in d.airflow.task_instances(DAG_ID, run_id) if t["try_number"] > 1]
    return {"logged": logged_since(d, logs_at_fault, lost), "restarted": d.restarted[restarted_before:],
            "retried": retried, "failed": outcome["first_failed"]}


def partials(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in root.rglob(".*.part-*")]


def source_files(d: Deployment) -> dict[str, bytes]:
    """Key -> bytes of every file of the confirmed hosts, as the stand-in's bucket serves them (built from the
    universe: no request, so that the request log holds the pipeline's reads only)."""
    universe = d.standins.universe
    return {f.key: universe.fits_bytes(f) for host in universe.confirmed_hosts() for f in host.files}


def source_gets(d: Deployment) -> Counter[str]:
    """Object key -> GETs of it from the public bucket: the pipeline's reads (the test reads none)."""
    prefix = f"/{d.standins.public_bucket}/"
    return Counter(e["path"][len(prefix):] for e in d.standins.s3.request_log
                   if e["method"] == "GET" and e["path"].startswith(prefix) and len(e["path"]) > len(prefix))


def check_destination(d: Deployment, root: Path) -> dict[str, bytes]:
    """Every source file at the destination byte for byte and nothing else (no partial file); the catalog has
    exactly one row per file with its size and SHA-256, and every target is complete."""
    expected = source_files(d)
    found = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
             if p.is_file() and p.relative_to(root).parts[0] != cat.CATALOG_DIR}
    assert sorted(found) == sorted(expected), (f"missing {sorted(set(expected) - set(found))[:3]}, "
                                               f"unexpected {sorted(set(found) - set(expected))[:3]}")
    different = [k for k in expected if found[k] != expected[k]]
    assert not different, f"{len(different)} file(s) differ from the source, e.g. {different[:3]}"

    destination = parse_destination(str(root))
    files = DeltaTable(str(root / cat.table_dir(cat.FILES_TABLE))).to_pandas()
    assert files["destination_uri"].is_unique, "a file is in the catalog twice"
    rows = files.set_index("destination_uri")
    assert sorted(rows.index) == sorted(destination.uri(k) for k in expected)
    for key, data in expected.items():
        row = rows.loc[destination.uri(key)]
        assert (int(row["size"]), row["sha256"]) == (len(data), hashlib.sha256(data).hexdigest()), key
    targets = DeltaTable(str(root / cat.table_dir(cat.TARGETS_TABLE))).to_pandas()
    hosts = d.standins.universe.confirmed_hosts()
    assert len(targets) == len(hosts) and set(targets["status"]) == {cat.COMPLETE}, targets[["target", "status"]]
    return expected


def record(d: Deployment, fault: str, outcome: dict, expected: dict[str, bytes]) -> dict:
    gets = source_gets(d)
    again = {k: n - 1 for k, n in gets.items() if n > 1}
    figures = {"fault": fault, "seconds_to_success": round(outcome["seconds"], 1),
               "runs": [state for _, state in outcome["runs"]], "first_run_failed": outcome.get("first_failed", []),
               "files": len(expected),
               "bytes": sum(map(len, expected.values())), "files_recopied": sum(again.values()),
               "bytes_recopied": sum(len(expected[k]) * n for k, n in again.items() if k in expected)}
    if "felt" in outcome:
        figures["felt"] = {kind: (len(items), items[:1]) for kind, items in outcome["felt"].items()}
    FIGURES.append(figures)
    return figures


def _print_figures(total: float) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "deployment_faults.json").write_text(json.dumps({"seconds": round(total), "faults": FIGURES},
                                                                 indent=2))
    print(f"\ndeployment faults ({total:.0f} s in all; tests/artifacts/deployment_faults.json):")
    for f in FIGURES:
        print(f"  {f['fault']}: success {f['seconds_to_success']} s after the fault, runs {f['runs']}, "
              f"{f['files_recopied']} of {f['files']} files ({f['bytes_recopied']} of {f['bytes']} bytes) "
              "read from the source again")


# --- tests ----------------------------------------------------------------------------------------

def test_celery_worker_killed_mid_batch(deployment: Deployment) -> None:
    d = deployment
    root = d.airflow.home / "dest-worker-kill"
    d.standins.s3.body_delay_s = 0.25  # a file takes about a second: the kill lands in the middle of copies
    run_id = trigger(d, root, "fault: worker SIGKILL")
    wait_for(lambda: copy_task_in_flight(d, run_id) and partials(root) if root.exists() else False,
             "a copy in progress")
    worker = d.airflow.process("celery-worker")
    fault_at = time.monotonic()
    d.airflow.kill(worker)  # the worker, its pool and the tasks they run
    d.airflow.spawn_worker("celery-worker-2")
    d.standins.s3.body_delay_s = 0.0
    outcome = complete(d, run_id, root, fault_at)

    expected = check_destination(d, root)
    tries = [t["try_number"] for t in d.airflow.task_instances(DAG_ID, run_id)
             if t["task_id"] == "batch.copy_light_curves"]
    assert max(tries) > 1 or len(outcome["runs"]) > 1, f"no copy was interrupted: tries {tries}"
    print(record(d, "worker SIGKILL", outcome, expected))


def test_redis_down_30s_while_tasks_queued_and_running(deployment: Deployment) -> None:
    _service_outage_during_copies(deployment, "dest-redis", "Redis down 30 s", deployment.redis, REDIS_DOWN_S,
                                  REDIS_LOST.format(port=deployment.redis.port))


def test_postgres_restarted_during_the_run(deployment: Deployment) -> None:
    _service_outage_during_copies(deployment, "dest-postgres", "PostgreSQL restart", deployment.postgres, PG_DOWN_S,
                                  POSTGRES_LOST.format(port=deployment.postgres.port))


def _service_outage_during_copies(d: Deployment, folder: str, fault: str, service: LocalRedis | LocalPostgres,
                                  down_s: float, lost: str) -> None:
    """Stop ``service`` while a copy task runs, start it again ``down_s`` later; the stack logs losing it (the
    ``lost`` pattern), and the run (or a rerun) completes."""
    root = d.airflow.home / folder
    d.standins.s3.body_delay_s = 0.1
    run_id = trigger(d, root, f"fault: {fault}")
    wait_for(lambda: copy_task_in_flight(d, run_id), "a copy task running")
    logs_at_fault, restarted_before = log_sizes(d), len(d.restarted)
    fault_at = time.monotonic()
    service.stop()
    time.sleep(down_s)
    service.start()
    d.standins.s3.body_delay_s = 0.0
    outcome = complete(d, run_id, root, fault_at)
    expected = check_destination(d, root)
    outcome["felt"] = felt = outage_felt(d, run_id, outcome, logs_at_fault, restarted_before, lost)
    assert felt["logged"], f"{fault}: no component nor task logged losing the service; {felt}"
    print(record(d, fault, outcome, expected))


def test_local_destination_disk_full(deployment: Deployment) -> None:
    d = deployment
    root = d.airflow.home / "dest-full"
    root.mkdir()
    total = sum(map(len, source_files(d).values()))
    mount_tmpfs(root, total // 2)
    try:
        run_id = trigger(d, root, "fault: destination disk full")
        first = wait_end(d, run_id)
        report = d.airflow.run_report(DAG_ID, run_id)
        assert first == "failed", f"the run did not fail on a full disk\n{report}"
        assert "disk full" in report and str(root) in report, report
        copies = [t for t in d.airflow.task_instances(DAG_ID, run_id) if t["task_id"] == "batch.copy_light_curves"]
        assert all(t["try_number"] == 1 for t in copies if t["state"] == "failed"), \
            f"a full disk was retried: {[(t['map_index'], t['try_number']) for t in copies]}"
        assert not partials(root), f"partial files left: {partials(root)}"
        expected = source_files(d)
        for path in root.rglob("*"):  # whatever is under a final name is whole
            key = path.relative_to(root).as_posix()
            if path.is_file() and not key.startswith(cat.CATALOG_DIR):
                assert path.read_bytes() == expected[key], f"{key} is not the source's bytes"

        freed_at = time.monotonic()
        mount_tmpfs(root, total * 4, remount=True)  # space freed
        outcome = complete(d, trigger(d, root, "rerun after freeing space"), root, freed_at)
        assert [state for _, state in outcome["runs"]] == ["success"], outcome["runs"]
        outcome["runs"].insert(0, (run_id, first))
        outcome["first_failed"] = sorted(k for k, v in d.airflow.task_states(DAG_ID, run_id).items()
                                         if v not in ("success", "skipped"))
        print(record(d, "disk full, then space freed", outcome, check_destination(d, root)))
    finally:
        unmount(root)
