"""The production stack on this machine: api-server, scheduler, dag-processor and a Celery worker (CeleryExecutor),
PostgreSQL for metadata, Redis as broker; the DAG talks to the offline stand-ins of MAST, the Exoplanet Archive and
the public S3 bucket.

* a run triggered through the REST API with params, as the UI's trigger form does; the copies at the destination
  are checked byte for byte against the stand-in's source objects;
* the ``lightcurve_quicklook`` DAG, scheduled on the catalog Asset, runs on the REST run's Asset event and draws
  a PNG of every file it copied, plus the gallery, into the same S3 destination;
* ``airflow backfill create`` over three days: three successful backfill runs;
* the UI in Debian's Chromium (headless, driven by Playwright): login, trigger form (every param with its
  description), fill ``targets`` and ``destination``, trigger, see the run succeed; screenshots of the form and
  of the finished run's grid go to tests/artifacts/.

K2 only, on purpose (so do the other real-stack modules): one factory (``wiring.dag_factory.build_ingest_dag``)
builds every mission's DAG, with the same tasks, pools, params wiring, Asset and Celery queue; the missions differ
only in their ``domain.missions`` module (archive table, key layout, units, labels), which needs no stack and is
covered per mission without one: tests/test_dag_integrity.py::test_ingest_dag_contract (each DAG's tasks, pools,
params, Asset), tests/test_missions_e2e.py (Kepler and TESS end to end under ``dag.test``: local and S3
destinations byte for byte, targets, dispositions, a TESS backfill day), tests/test_units.py and
tests/test_fuzz_params.py (each mission's ids, keys and params). Another mission here would add a run and
its start-up per mission for nothing the stack does differently.

Needs (and fails, never skips, without them): PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres), Redis on
127.0.0.1:6379, /usr/bin/chromium (``apt-get install -y chromium``). Every process started is stopped by its pid
(process group) and the database is dropped, on success and on failure. The module is bounded to 10 minutes.

Run: ``.venv/bin/python -m pytest -m integration tests/integration -v -s`` (``-s`` shows start-up and stop
times). ``K2_KEEP_STACK_HOME=1`` keeps the stack's AIRFLOW_HOME (logs, env file) in /tmp;
``K2_INTEGRATION_TIME_LIMIT`` changes the 600 s limit.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from lightcurve_ingest.settings import DEFAULT_MAST_POOL_SLOTS, MAST_POOL
from tests.integration.stack import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    CONSUMER_DAG_ID,
    DAG_ID,
    AirflowStack,
    Deadline,
    StackError,
    TimeLimit,
    processes_with_home,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# As the machine's notes advise for Chromium as root on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
MODULE_LIMIT_S = float(os.environ.get("K2_INTEGRATION_TIME_LIMIT", "600"))  # start and three tests; stop after
RUN_TIMEOUT_S = 180
DEST_BUCKET = "team-bucket"
CATALOG_DIR = "_catalog"
QUICKLOOK_DAG_ID = "lightcurve_quicklook"
QUICKLOOK_DIR = "_quicklook"
N_HOSTS = 20
BACKFILL_DAYS = ("2026-11-20", "2026-11-21", "2026-11-22")
_LIMITS: dict[str, TimeLimit] = {}
# What the trigger form posts: every param in conf (here with no logical date: no data interval).
REST_CONF = {"destination": f"s3://{DEST_BUCKET}/rest", "dest_aws_conn_id": "aws_default", "targets": None,
             "full_refresh": False, "targets_per_batch": 5, "copy_threads": 4, "read_back_server_side_copies": False}


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[tuple[AirflowStack, object]]:
    """Stand-ins + the Airflow stack for the whole module, under one time limit; always torn down.

    When a test of the module failed, the components' output and the task logs are copied to
    tests/artifacts/stack-logs-<tag>/ before the stack's home is removed.
    """
    from tests.standins import Standins

    started = time.monotonic()
    failed_before = request.session.testsfailed
    limit = _LIMITS[request.module.__name__] = TimeLimit(MODULE_LIMIT_S, "the production-stack integration tests")
    limit.start()
    try:
        with Standins(n_hosts=N_HOSTS, kepler_hosts=0, tess_hosts=0) as standins:
            standins.s3.create_bucket(DEST_BUCKET)
            airflow = AirflowStack(standins.airflow_env(), keep_home=bool(os.environ.get("K2_KEEP_STACK_HOME")),
                                   unpause=(DAG_ID, CONSUMER_DAG_ID, QUICKLOOK_DAG_ID))
            print(f"\nAirflow stack home: {airflow.home}; api-server {airflow.base_url}")
            failed = True
            try:
                airflow.start(Deadline(240))
                print(f"stack up in {time.monotonic() - started:.1f} s")
                yield airflow, standins
                failed = request.session.testsfailed > failed_before
            finally:
                limit.cancel()  # the teardown has bounds of its own and must not be interrupted
                if failed:
                    saved = airflow.save_logs(ARTIFACTS / f"stack-logs-{airflow.run_tag}")
                    print(f"{airflow.log_tails(80)}\nlogs saved to {saved}")
                home = airflow.home
                stop_started = time.monotonic()
                airflow.stop()
                print(f"stack stopped in {time.monotonic() - stop_started:.1f} s; "
                      f"module took {time.monotonic() - started:.1f} s")
                assert not processes_with_home(home), "processes of the stack survived stop()"
    finally:
        limit.cancel()


@pytest.fixture(scope="module")
def rest_run(stack) -> dict:  # noqa: ANN001
    """The run triggered through the REST API with ``REST_CONF``, once for the module, ended in success (the
    trigger's reply): the REST test checks it, the quick-look test draws what it copied, whichever runs first."""
    airflow, _ = stack
    run = airflow.trigger(DAG_ID, REST_CONF, note="integration test: REST trigger")
    wait_success(airflow, run["dag_run_id"])
    return run


@pytest.fixture(autouse=True)
def _within_time_limit(request: pytest.FixtureRequest) -> None:
    """Once the module's time limit has fired (in an earlier test), the tests left fail at once."""
    limit = _LIMITS.get(request.module.__name__)
    if limit is not None and limit.expired:
        pytest.fail(limit.message)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# --- helpers --------------------------------------------------------------------------------------

def source_objects(standins, hosts) -> dict[str, bytes]:  # noqa: ANN001
    """Bucket key -> bytes, read back from the stand-in's public bucket, of every LLC file of ``hosts``."""
    client = standins.s3.client()
    try:
        return {f.key: client.get_object(Bucket=standins.public_bucket, Key=f.key)["Body"].read()
                for host in hosts for f in host.files}
    finally:
        client.close()


def s3_destination_files(standins, bucket: str, prefix: str) -> dict[str, bytes]:  # noqa: ANN001
    """Key below ``prefix`` -> bytes of every object of the destination but the catalog."""
    client = standins.s3.client(signed=True)
    try:
        files = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) + 1:]
                if not relative.startswith((f"{CATALOG_DIR}/", f"{QUICKLOOK_DIR}/")):
                    files[relative] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return files
    finally:
        client.close()


def local_destination_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] not in (CATALOG_DIR, QUICKLOOK_DIR)}


def assert_same_files(found: dict[str, bytes], expected: dict[str, bytes], *, exact: bool = True) -> None:
    missing = sorted(set(expected) - set(found))
    assert not missing, f"{len(missing)} file(s) missing at the destination, e.g. {missing[:3]}"
    if exact:
        extra = sorted(set(found) - set(expected))
        assert not extra, f"{len(extra)} unexpected file(s) at the destination, e.g. {extra[:3]}"
    different = [key for key in expected if found[key] != expected[key]]
    assert not different, f"{len(different)} file(s) differ from the source object, e.g. {different[:3]}"


def wait_success(airflow: AirflowStack, run_id: str) -> dict:
    run = airflow.wait_for_run(DAG_ID, run_id, Deadline(RUN_TIMEOUT_S))
    if run["state"] != "success":
        pytest.fail(f"run {run_id} ended {run['state']}\n{airflow.run_report(DAG_ID, run_id)}")
    return run


def summary_of(airflow: AirflowStack, run_id: str) -> dict:
    return airflow.xcom(DAG_ID, run_id, "summarize_run")


# --- tests ----------------------------------------------------------------------------------------

def test_rest_api_trigger_with_params_copies_every_file(stack, rest_run) -> None:  # noqa: ANN001
    airflow, standins = stack
    pool = airflow.api("GET", f"/api/v2/pools/{MAST_POOL}").json()
    assert pool["slots"] == DEFAULT_MAST_POOL_SLOTS

    run = rest_run
    assert run["state"] == "queued" and run["conf"] == REST_CONF and run["run_type"] == "manual"

    confirmed = standins.universe.confirmed_hosts()
    expected = source_objects(standins, confirmed)
    assert_same_files(s3_destination_files(standins, DEST_BUCKET, "rest"), expected)

    summary = summary_of(airflow, run["dag_run_id"])
    assert summary["mode"] == "all K2 targets (CONFIRMED)"
    assert (summary["targets_planned"], summary["copied"], summary["failed"]) == (len(confirmed), len(expected), 0)
    assert summary["failed_batches"] == [] and summary["batches"] == -(-len(confirmed) // 5)

    tasks = airflow.task_instances(DAG_ID, run["dag_run_id"])
    finds = [t for t in tasks if t["task_id"] == "batch.find_light_curves"]
    assert len(finds) == summary["batches"] and {t["pool"] for t in finds} == {MAST_POOL}
    states = {t["task_id"]: t["state"] for t in tasks}
    # a run of targets maps mirror_shard over no shard: Airflow skips it
    assert states.pop("mirror_shard") == "skipped", states
    assert all(t["state"] == "success" for t in tasks if t["task_id"] != "mirror_shard"), states


def test_quicklook_runs_on_the_catalog_asset_event(stack, rest_run) -> None:  # noqa: ANN001
    """The REST run (``rest_run``) published the K2 catalog Asset: the quick-look DAG ran on its event and drew
    every file the run copied into its destination, then the gallery. (The scheduled run made when the DAG was
    unpaused may have triggered a run of its own, for its own destination.)"""
    airflow, standins = stack
    copied = set(s3_destination_files(standins, DEST_BUCKET, "rest"))
    expected = {f"{key}.png" for key in copied} | {"index.html"}
    client = standins.s3.client(signed=True)
    try:
        deadline = Deadline(RUN_TIMEOUT_S)
        while True:
            runs = airflow.dag_runs(QUICKLOOK_DAG_ID)
            drawn = _quicklook_keys(client, "rest")
            if drawn == expected and runs and all(r["state"] in ("success", "failed") for r in runs):
                break
            if deadline.remaining <= 0:
                raise StackError(f"quick-looks not drawn in time: {len(drawn)} of {len(expected)} files; runs "
                                 f"{[(r['dag_run_id'], r['state']) for r in runs]}")
            time.sleep(1)
        # Later tests' runs would trigger it again: it has done what this test needs.
        airflow.api("PATCH", f"/api/v2/dags/{QUICKLOOK_DAG_ID}", json={"is_paused": True})
        assert {r["run_type"] for r in runs} == {"asset_triggered"}, runs
        failed = [r["dag_run_id"] for r in runs if r["state"] != "success"]
        assert not failed, "\n".join(airflow.run_report(QUICKLOOK_DAG_ID, r) for r in failed)
        for key in sorted(drawn):
            head = client.head_object(Bucket=DEST_BUCKET, Key=f"rest/{QUICKLOOK_DIR}/{key}")
            assert head["ContentType"] == ("text/html; charset=utf-8" if key == "index.html" else "image/png")
            assert head["ContentLength"] > 1000, key
        page = client.get_object(Bucket=DEST_BUCKET, Key=f"rest/{QUICKLOOK_DIR}/index.html")["Body"].read().decode()
    finally:
        client.close()
    assert all(f'src="{key}.png"' in page for key in copied)


def _quicklook_keys(client, prefix: str) -> set[str]:  # noqa: ANN001
    below = f"{prefix}/{QUICKLOOK_DIR}/"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=DEST_BUCKET, Prefix=below)
    return {item["Key"][len(below):] for page in pages for item in page.get("Contents", [])}


def test_backfill_create_three_days(stack) -> None:  # noqa: ANN001
    airflow, standins = stack
    airflow.cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", BACKFILL_DAYS[0],
                "--to-date", BACKFILL_DAYS[-1], timeout=120)
    deadline = Deadline(RUN_TIMEOUT_S)
    while True:
        runs = airflow.dag_runs(DAG_ID, run_type="backfill")
        if len(runs) == len(BACKFILL_DAYS) and all(r["state"] in ("success", "failed") for r in runs):
            break
        if deadline.remaining <= 0:
            raise StackError(f"backfill runs not finished in time: {[(r['dag_run_id'], r['state']) for r in runs]}")
        time.sleep(1)
    failed = [r["dag_run_id"] for r in runs if r["state"] != "success"]
    assert not failed, "\n".join(airflow.run_report(DAG_ID, r) for r in failed)
    assert sorted(r["logical_date"][:10] for r in runs) == list(BACKFILL_DAYS)
    backfills = airflow.api("GET", "/api/v2/backfills", params={"dag_id": DAG_ID}).json()["backfills"]
    assert len(backfills) == 1 and backfills[0]["from_date"].startswith(BACKFILL_DAYS[0])

    # Each day's run copied (at least) the hosts whose CONFIRMED rows were updated that day, into the default
    # destination ($AIRFLOW_HOME/data/k2_lightcurves), which the scheduled run of the latest day shares.
    hosts = {h.target_id: h for day in BACKFILL_DAYS
             for h in standins.universe.confirmed_hosts(date.fromisoformat(day))}
    assert hosts, "the stand-ins' archive has no rows in the backfill window"
    for run in runs:
        summary = summary_of(airflow, run["dag_run_id"])
        assert summary["mode"].startswith("window ") and summary["failed"] == 0, summary
    default_destination = airflow.home / "data" / "k2_lightcurves"
    assert_same_files(local_destination_files(default_destination), source_objects(standins, hosts.values()),
                      exact=False)


def test_ui_trigger_form_runs_the_dag(stack, artifacts) -> None:  # noqa: ANN001
    airflow, standins = stack
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: `apt-get update && apt-get install -y chromium`"
    from playwright.sync_api import expect, sync_playwright

    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.params import param_specs

    confirmed = standins.universe.confirmed_hosts()
    chosen = [confirmed[1], confirmed[4], confirmed[6]]
    targets = [chosen[0].hostname, chosen[1].hostname, f"EPIC {chosen[2].target_id}"]
    destination = airflow.home / "ui-destination"
    form_png, grid_png = artifacts / "ui_trigger_form.png", artifacts / "ui_run_grid.png"
    for png in (form_png, grid_png):
        png.unlink(missing_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)

            # Login (FAB) and back to the DAG's page.
            page.goto(f"{airflow.base_url}/dags/{DAG_ID}")
            page.locator("input[name=username]").fill(ADMIN_USER)
            page.locator("input[name=password]").fill(ADMIN_PASSWORD)
            page.locator("input[type=submit], button[type=submit]").first.click()
            page.wait_for_url(f"**/dags/{DAG_ID}")

            # The trigger form: every param, with its title and description.
            page.get_by_role("button", name="Trigger Dag").click()
            dialog = page.get_by_role("dialog").filter(has_text=f"Trigger Dag - {DAG_ID}")
            expect(dialog).to_be_visible()
            for name, spec in param_specs(get_mission("k2")).items():
                # an array of integers (campaigns) gets Airflow's JSON editor, which has an id but no name
                control = page.locator(f'[name="element_{name}"], [id="element_{name}"]')
                field = dialog.get_by_role("group").filter(has=control)
                expect(field, f"param {name} in the form").to_have_count(1)
                expect(field.locator("label").first).to_contain_text(spec["title"])
                expect(field, f"description of {name}").to_contain_text(spec["description"])

            dialog.locator('[name="element_targets"]').fill("\n".join(targets))
            dialog.locator('[name="element_destination"]').fill(str(destination))
            page.set_viewport_size({"width": 1440, "height": 2000})  # the whole form in one picture
            page.screenshot(path=form_png)
            page.set_viewport_size({"width": 1440, "height": 1000})

            dag_runs_url = f"{airflow.base_url}/api/v2/dags/{DAG_ID}/dagRuns"
            with page.expect_response(lambda r: r.request.method == "POST" and r.url == dag_runs_url) as posted:
                dialog.get_by_role("button", name="Trigger", exact=True).click()
            response = posted.value
            assert response.ok, f"trigger: HTTP {response.status}: {response.text()}"
            sent = response.request.post_data_json["conf"]
            assert sent["targets"] == targets and sent["destination"] == str(destination), sent
            run_id = response.json()["dag_run_id"]

            # The UI goes to the run's page, which refreshes itself until the run ends.
            page.wait_for_url(f"**/dags/{DAG_ID}/runs/**")
            badge = page.get_by_test_id("header-card").get_by_test_id("state-badge")
            try:
                expect(badge).to_have_text("Success", timeout=RUN_TIMEOUT_S * 1000)
            except AssertionError:
                page.screenshot(path=grid_png)
                raise AssertionError(f"the UI did not show the run succeed; badge: {badge.all_inner_texts()}\n"
                                     f"{airflow.run_report(DAG_ID, run_id)}") from None
            # The grid: widen its panel (drag the separator), open the task group, and take the picture.
            separator = page.get_by_role("separator").first
            box = separator.bounding_box()
            if box:
                x, y = box["x"] + box["width"] / 2, box["y"] + 300
                page.mouse.move(x, y)
                page.mouse.down()
                page.mouse.move(x + 450, y, steps=10)
                page.mouse.up()
            page.get_by_role("button", name="Expand all task groups").click()
            expect(page.get_by_text("find_light_curves").first).to_be_visible()
            page.screenshot(path=grid_png)
        finally:
            browser.close()

    assert airflow.dag_run(DAG_ID, run_id)["state"] == "success"
    summary = summary_of(airflow, run_id)
    assert summary["mode"] == "targets" and summary["not_found"] == [] and summary["failed"] == 0, summary
    assert_same_files(local_destination_files(destination), source_objects(standins, chosen))
    assert form_png.stat().st_size > 10_000 and grid_png.stat().st_size > 10_000

