"""Issue 6: MAST, the archive and S3 misbehave; nothing is lost, nothing corrupt counts, hangs end.

Faults are injected into the offline stand-ins (tests/standins) and the real DAG or the pipeline's own
functions run through them. Each test adds its figures to a tally printed once when the session ends
(``pytest -s tests/test_faults.py tests/test_security.py tests/test_fuzz_params.py
tests/test_crash_safety.py``); docs/reliability.md lists what each test shows.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lightcurve_ingest.domain.missions import get_mission
from tests.helpers import (
    expected_files,
    find,
    local_files,
    read_local_catalog,
    run_dag,
    summary,
    task_states,
    xcom,
)
from tests.reliability_figures import count_run, figures
from tests.standins.tap import SYNC_PATH

K2 = get_mission("k2")
COPY_TASK = "batch.copy_light_curves"
FAST_BACKOFF = "0.05"  # LIGHTCURVE_INGEST_HTTP_BACKOFF: urllib3 waits of ~0, 0.1, 0.2 s instead of ~0, 2, 4 s




@pytest.fixture(autouse=True)
def _fresh_standins(request):  # noqa: ANN001, ANN202
    """Tests sharing the module's stand-ins start with no faults, no latency, zeroed counters."""
    if "standins" not in request.fixturenames:
        yield
        return
    running = request.getfixturevalue("standins")
    parts = (running.mast, running.tap, running.s3)
    running.reset()
    yield
    figures(request.config)["faults injected (fired in the stand-ins)"] += sum(
        sum(part.faults_fired.values()) for part in parts)


def fired(standins) -> int:  # noqa: ANN001
    return sum(sum(p.faults_fired.values()) for p in (standins.mast, standins.tap, standins.s3))




# --- helpers ------------------------------------------------------------------------------------

def batch_results(run) -> list[dict]:  # noqa: ANN001
    """The results of the copy tasks that succeeded, read from XCom (a failed run returns no summary)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, key="return_value", task_ids=COPY_TASK,
                                                  dag_ids=run.dag_id)).all()
        return [XComModel.deserialize_value(r) for r in rows]


def summary_of_failed_run(run) -> dict:  # noqa: ANN001
    """What ``summarize_run`` computed before failing the run, recomputed from the run's XComs."""
    from lightcurve_ingest.domain.payloads import PartResult, Plan
    from lightcurve_ingest.tasks.ingest import summarize_run

    plan = Plan.from_dict({**xcom(run, "plan_targets", key="plan"), "batches": xcom(run, "plan_targets")})
    return summarize_run(plan, [PartResult.from_dict(r) for r in batch_results(run)])


def run_tasks(params: dict, run_id: str) -> list:
    """plan_targets, then find_light_curves and copy_light_curves of each batch: the DAG's tasks, in turn."""
    from lightcurve_ingest.tasks.ingest import RunInfo, copy_light_curves, find_light_curves, plan_targets
    from lightcurve_ingest.wiring.connections import services_from_connections

    services, run = services_from_connections(), RunInfo(run_id=run_id)
    planned = plan_targets(K2, params, run, services)
    return [copy_light_curves(K2, find_light_curves(K2, batch, params, services), params, run, services)
            for batch in planned.batches]


def assert_destination_clean(dest: Path, expected: dict[str, bytes]) -> None:
    """Exactly ``expected`` at final names, byte for byte; no partial file; catalog rows unique and true."""
    assert local_files(dest) == expected
    assert not list(dest.rglob(".*.part-*")), "a partial file was left behind"
    catalog = read_local_catalog(dest)
    assert catalog["destination_uri"].is_unique
    assert sorted(catalog["source_key"]) == sorted(expected)
    sha = dict(zip(catalog["source_key"], catalog["sha256"], strict=True))
    assert sha == {k: hashlib.sha256(v).hexdigest() for k, v in expected.items()}
    assert catalog["fits_checksum_verified"].all()


def corrupt_same_size(data: bytes) -> bytes:
    """Flip one byte in the last data block: the size stays right, the HDU's FITS CHECKSUM does not."""
    position = len(data) - 2880 + 100
    return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1:]


def confirmed_hosts(standins):  # noqa: ANN001, ANN201
    return [h for h in standins.universe.confirmed_hosts() if h.files]


@contextmanager
def damaged_source(standins, damage: dict) -> Iterator[None]:  # noqa: ANN001
    """The public bucket holds ``damage`` (light-curve file -> bytes) in place of those files until the block ends,
    then the files again however it ends: the tests after it meet a whole bucket."""
    try:
        for file, data in damage.items():
            standins.s3.put_object(file.key, data)
        yield
    finally:
        for file in damage:
            standins.s3.put_object(file.key, standins.universe.fits_bytes(file))


# --- 2. timeouts and retries: the policy ---------------------------------------------------------

def test_every_client_has_a_timeout_far_below_astroquerys_600s_and_capped_jittered_retries(standins):
    from astroquery.mast import conf as astroquery_conf

    from lightcurve_ingest.clients.mast import QUERY_BUDGET_TIMEOUTS, MastClient
    from lightcurve_ingest.clients.sessions import TimeoutSession
    from lightcurve_ingest.clients.tap import TapClient
    from lightcurve_ingest.settings import HTTP_ATTEMPTS, S3_ATTEMPTS
    from lightcurve_ingest.wiring.connections import source_s3_hook

    assert astroquery_conf.timeout == 600  # what astroquery alone would wait
    mast = MastClient(standins.mast.base_url)
    archive = TapClient(standins.tap.base_url)
    portal = mast.observations._portal_api_connection
    for session in (mast.session, archive.session, portal._session, mast.observations._service_api_connection._session):
        assert isinstance(session, TimeoutSession) and session.timeout <= 60
        retry = session.get_adapter("https://mast.stsci.edu").max_retries
        assert retry.total == HTTP_ATTEMPTS - 1 and {503, 500, 502, 504, 429} <= set(retry.status_forcelist)
        assert retry.backoff_factor > 0 and retry.backoff_jitter > 0 and retry.backoff_max <= 30
        assert retry.allowed_methods is None  # MAST queries are POSTs: retried too
    # astroquery's TIMEOUT limits a whole query (pages, EXECUTING polls, retries): 5 request timeouts, 300 s
    # at the production timeout of 60 s
    assert portal.TIMEOUT == QUERY_BUDGET_TIMEOUTS * mast.session.timeout and QUERY_BUDGET_TIMEOUTS * 60 <= 300
    source = source_s3_hook().get_conn().meta.config
    assert source.connect_timeout <= 60 and source.read_timeout <= 60
    assert source.retries == {"mode": "standard", "total_max_attempts": S3_ATTEMPTS}  # full jitter, capped at 20 s


# --- 1-2. hangs, 503s, Retry-After, EXECUTING: each ends or is retried ----------------------------

def test_mast_and_archive_hangs_end_at_the_timeout_and_are_retried(standins, caplog):
    from lightcurve_ingest.clients.tap import TapClient
    from lightcurve_ingest.domain.targets import ArchiveTargets

    hosts = confirmed_hosts(standins)[:2]
    timeout = 1.0
    hung = {"Mast.Caom.Filtered": standins.mast, "Mast.Caom.Products": standins.mast, SYNC_PATH: standins.tap}

    def ask():  # noqa: ANN202
        return (find(standins, "k2", hosts, timeout=timeout),
                ArchiveTargets(K2, TapClient(standins.tap.base_url, timeout=timeout)).all(["CONFIRMED"]))

    ask()  # without faults: the requests each service gets
    calm = {name: part.requests_by_service[name] for name, part in hung.items()}
    standins.reset()
    standins.mast.add_fault("hang", service="Mast.Caom.Filtered")
    standins.mast.add_fault("hang", service="Mast.Caom.Products")
    standins.tap.add_fault("hang")
    caplog.set_level(logging.WARNING, logger="urllib3")

    started = time.monotonic()
    listing, hosts_found = ask()
    elapsed = time.monotonic() - started

    assert sorted(f.source_key for f in listing.files) == sorted(f.key for h in hosts for f in h.files)
    assert {t.target_id for t in hosts_found} == {h.target_id for h in standins.universe.confirmed_hosts()}
    assert (standins.mast.faults_fired["hang"], standins.tap.faults_fired["hang"]) == (2, 1)
    # each hang was cut by the timeout (urllib3 says so) and its request sent once more: had a client waited the
    # hang out, the stand-in's late reply would have served it with no second request
    cut = [r.getMessage() for r in caplog.records if "ReadTimeoutError" in r.getMessage()]
    assert len(cut) == 3, cut
    assert {name: part.requests_by_service[name] for name, part in hung.items()} == {
        name: count + 1 for name, count in calm.items()}
    hang_s = min(standins.mast.hang_s, standins.tap.hang_s)
    assert elapsed < hang_s, f"took {elapsed:.1f} s: a {hang_s:.0f} s hang was waited out, not cut at {timeout} s"


def test_retry_after_from_an_outage_page_is_capped(standins, monkeypatch):
    from lightcurve_ingest.clients.sessions import CappedRetry
    from lightcurve_ingest.settings import HTTP_BACKOFF_MAX_SECONDS

    monkeypatch.setenv("LIGHTCURVE_INGEST_HTTP_BACKOFF", FAST_BACKOFF)  # caps waits at 30 x 0.05 = 1.5 s
    cap = HTTP_BACKOFF_MAX_SECONDS * float(FAST_BACKOFF)
    waits: list[float | None] = []  # what urllib3 sleeps for each Retry-After it meets
    retry_after = CappedRetry.get_retry_after

    def recorded_retry_after(retry, response):  # noqa: ANN001, ANN202
        waits.append(retry_after(retry, response))
        return waits[-1]

    monkeypatch.setattr(CappedRetry, "get_retry_after", recorded_retry_after)
    host = confirmed_hosts(standins)[0]
    standins.mast.retry_after = "3600"
    standins.mast.add_fault("http503", times=2, service="Mast.Caom.Filtered")
    outcome: dict = {}

    def query() -> None:
        outcome["listing"] = find(standins, "k2", [host])

    worker = threading.Thread(target=query, daemon=True)
    worker.start()
    worker.join(timeout=20 * cap)  # two capped waits take 3 s; an obeyed Retry-After, an hour
    assert not worker.is_alive(), f"Retry-After: 3600 was obeyed: the task would stall for an hour (waits: {waits})"
    assert waits == [cap, cap], "each outage page's Retry-After: 3600 must be cut to the backoff cap"
    assert len(outcome["listing"].files) == len(host.files)
    assert standins.mast.faults_fired["http503"] == 2


def test_mast_executing_polls_and_503_bursts_are_absorbed_inside_one_query(standins, monkeypatch):
    monkeypatch.setenv("LIGHTCURVE_INGEST_HTTP_BACKOFF", FAST_BACKOFF)
    host = confirmed_hosts(standins)[1]
    standins.mast.add_fault("http503", times=2, service="Mast.Caom.Filtered")
    standins.mast.add_fault("http500", service="Mast.Caom.Filtered")  # 3 in a row: the most urllib3 retries
    standins.mast.add_fault("executing", times=4, service="Mast.Caom.Filtered")
    standins.mast.add_fault("executing", times=2, service="Mast.Caom.Products")

    listing = find(standins, "k2", [host])

    assert sorted(f.source_key for f in listing.files) == sorted(f.key for f in host.files)
    assert standins.mast.faults_fired == {"http503": 2, "http500": 1, "executing": 6}


@pytest.mark.parametrize(("kind", "error", "says"), [
    ("malformed_json", "JSONDecodeError", "Expecting"),  # where the reply stops being JSON
    ("error_status", "RemoteServiceError", "Injected error from the MAST stand-in."),  # MAST's own message
    ("http503x4", "HTTPError", "503 Server Error"),
])
def test_mast_replies_it_cannot_use_fail_the_query_loudly(standins, monkeypatch, kind, error, says):
    """Not retried inside the query: the task fails and Airflow retries it (see the storm run)."""
    monkeypatch.setenv("LIGHTCURVE_INGEST_HTTP_BACKOFF", FAST_BACKOFF)
    host = confirmed_hosts(standins)[0]
    if kind == "http503x4":
        standins.mast.add_fault("http503", times=4, service="Mast.Caom.Filtered")  # retries exhausted
    else:
        standins.mast.add_fault(kind, service="Mast.Caom.Products")
    with pytest.raises(Exception) as caught:
        find(standins, "k2", [host])
    assert type(caught.value).__name__ == error and says in str(caught.value), repr(caught.value)


@pytest.mark.parametrize("kind", ["html_error", "truncated_csv", "http503"])
def test_archive_html_pages_and_truncated_tables_are_never_taken_as_data(standins, monkeypatch, kind):
    from lightcurve_ingest.clients.tap import TapClient
    from lightcurve_ingest.domain.targets import ArchiveTargets
    from lightcurve_ingest.errors import ServiceReplyError

    monkeypatch.setenv("LIGHTCURVE_INGEST_HTTP_BACKOFF", FAST_BACKOFF)
    standins.tap.add_fault(kind, times=4)  # more than the retries: the error must surface, not a short list
    with pytest.raises(ServiceReplyError, match="HTML|truncated|HTTP 50"):
        ArchiveTargets(K2, TapClient(standins.tap.base_url)).all(["CONFIRMED"])
    assert standins.tap.faults_fired[kind] == (4 if kind != "truncated_csv" else 1)  # a 200 is not retried


# --- 3. verification: what does not match never counts ------------------------------------------

def test_verify_file_checks_sizes_fits_sums_and_hashes(tmp_path, standins):
    from lightcurve_ingest.domain.verify import VerificationError, verify_file

    file = standins.universe.files[0]
    good = standins.universe.fits_bytes(file)
    cases = {
        "short": good[: len(good) // 2],
        "corrupt": corrupt_same_size(good),
        "html": b"<html><body>503 Service Unavailable</body></html>".ljust(len(good), b" "),
        "zeros": bytes(len(good)),
    }
    path = tmp_path / "f.fits"
    path.write_bytes(good)
    verified = verify_file(path, {"MAST's size": len(good), "the source's length": len(good)})
    assert verified.sha256 == hashlib.sha256(good).hexdigest() and verified.fits_checksum
    for name, data in cases.items():
        path.write_bytes(data)
        with pytest.raises(VerificationError):
            verify_file(path, {"MAST's size": len(good), "the source's length": len(data)})
        if name != "short":  # right size, wrong content: only the FITS check can tell
            with pytest.raises(VerificationError):
                verify_file(path, {"MAST's size": len(good)})
    path.write_bytes(good)
    with pytest.raises(VerificationError, match="against the source's length"):
        verify_file(path, {"MAST's size": len(good), "the source's length": len(good) + 1})


def test_corrupt_files_already_at_final_names_are_replaced_not_counted(standins, tmp_path, request):
    """Half-downloads and damaged copies left by other tools (lightkurve's cache...) never count as present."""
    hosts = confirmed_hosts(standins)[:2]
    files = [f for h in hosts for f in h.files]
    universe = standins.universe
    dest = tmp_path / "dest"
    planted = {
        files[0].key: universe.fits_bytes(files[0])[:1000],  # a half download
        files[1].key: corrupt_same_size(universe.fits_bytes(files[1])),  # right size, bad CHECKSUM
        files[2].key: b"\0" * files[2].size,  # right size, not FITS
        files[3].key: universe.fits_bytes(files[3]),  # a good file the catalog does not know
    }
    for key, data in planted.items():
        (dest / key).parent.mkdir(parents=True, exist_ok=True)
        (dest / key).write_bytes(data)
    params = {"destination": str(dest), "targets": [h.hostname for h in hosts]}

    results = run_tasks(params, "planted")

    assert sum(r.failed for r in results) == 0
    assert sum(r.adopted for r in results) == 1
    assert sum(r.copied for r in results) == len(files) - 1
    assert_destination_clean(dest, expected_files(standins, [h.hostname for h in hosts]))
    tally = figures(request.config)
    tally["files verified and recorded (copied or adopted)"] += len(files)
    tally["corrupt files caught (never counted, reported or replaced)"] += 3


def test_s3_destination_short_source_is_deleted_and_reported_not_recorded(standins, request):
    from lightcurve_ingest.wiring.consumer import open_catalog

    host = confirmed_hosts(standins)[2]
    bad, good = host.files[0], host.files[1:]
    standins.s3.create_bucket("verify-bucket")
    figures(request.config)["damaged source objects planted (corrupt or short, persistent)"] += 1
    params = {"destination": "s3://verify-bucket/lc", "targets": [host.hostname]}
    with damaged_source(standins, {bad: standins.universe.fits_bytes(bad)[:-2880]}):
        [result] = run_tasks(params, "short-s3")

    assert (result.copied, result.failed) == (len(good), 1)
    assert bad.key in result.failed_files[0] and "VerificationError" in result.failed_files[0]
    client = standins.s3.client(signed=True)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="verify-bucket", Prefix="lc/k2/").get("Contents", [])}
    assert keys == {f"lc/{f.key}" for f in good}, "the short copy must not stay at its final key"
    assert sorted(open_catalog(params["destination"]).read("files")["source_key"]) == sorted(f.key for f in good)
    tally = figures(request.config)
    tally["files verified and recorded (copied or adopted)"] += len(good)
    tally["corrupt files caught (never counted, reported or replaced)"] += 1


def test_s3_destination_with_read_back_catches_a_corrupt_same_size_source(standins, request):
    host = confirmed_hosts(standins)[3]
    bad = host.files[0]
    standins.s3.create_bucket("datasum-bucket")
    figures(request.config)["damaged source objects planted (corrupt or short, persistent)"] += 1
    # Only a read-back can see it: a plain server-side copy reproduces the source, right size and ETag.
    params = {"destination": "s3://datasum-bucket/lc", "targets": [host.hostname],
              "read_back_server_side_copies": True}
    with damaged_source(standins, {bad: corrupt_same_size(standins.universe.fits_bytes(bad))}):
        [result] = run_tasks(params, "corrupt-s3")
    assert result.failed == 1 and bad.key in result.failed_files[0]
    assert "damaged FITS file" in result.failed_files[0] and "CHECKSUM does not match" in result.failed_files[0]
    client = standins.s3.client(signed=True)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="datasum-bucket", Prefix="lc/k2/").get("Contents", [])}
    assert keys == {f"lc/{f.key}" for f in host.files[1:]}, "neither the bad copy nor its staging object may stay"


# --- the real DAG through a storm, then through faults that do not go away ------------------------

def test_a_run_through_a_storm_of_transient_faults_completes_byte_for_byte(ingest_dag, standins, tmp_path,
                                                                          monkeypatch, request):
    monkeypatch.setenv("LIGHTCURVE_INGEST_HTTP_BACKOFF", FAST_BACKOFF)
    mast, tap, s3 = standins.mast, standins.tap, standins.s3
    keys = sorted(expected_files(standins))  # each S3 fault on a file of its own: within a file's retry budget
    storm = [  # (stand-in, kind, times, which requests), fired in this order
        (tap, "http503", 1, None),  # retried by urllib3
        (tap, "html_error", 1, None),  # an HTTP 500 HTML page: retried by urllib3
        (tap, "truncated_csv", 1, None),  # a 200 with half a table: refused; plan_targets retried by Airflow
        (mast, "http503", 2, "Mast.Caom.Filtered"),  # with the next: 3 in a row, urllib3's limit
        (mast, "http500", 1, "Mast.Caom.Filtered"),
        (mast, "executing", 3, "Mast.Caom.Filtered"),  # astroquery polls again
        (mast, "malformed_json", 1, "Mast.Caom.Products"),  # find_light_curves retried by Airflow (its one retry)
        (mast, "executing", 2, "Mast.Caom.Products"),
        (s3, "http500", 2, keys[0]),  # retried by botocore
        (s3, "slowdown", 2, keys[1]),
        (s3, "reset", 1, keys[2]),  # cut mid-body: the copy is retried
        (s3, "reset", 1, keys[3]),
        (s3, "short", 1, keys[4]),  # a well-formed reply of half the object: verification refuses it, retried
        (s3, "short", 1, keys[5]),
    ]
    for standin, kind, times, which in storm:
        standin.add_fault(kind, times, which) if which else standin.add_fault(kind, times)
    injected = sum(times for _, _, times, _ in storm)
    dest = tmp_path / "storm"

    run = run_dag(ingest_dag, {"destination": str(dest), "targets_per_batch": 3})

    result = summary(run) if str(run.state) == "success" else None
    count_run(request.config, run, result)
    assert str(run.state) == "success", task_states(run)
    assert fired(standins) == injected, (mast.faults_fired, tap.faults_fired, s3.faults_fired)
    expected = expected_files(standins)
    assert (result["copied"], result["failed"], result["failed_batches"]) == (len(expected), 0, [])
    assert_destination_clean(dest, expected)
    figures(request.config)["corrupt files caught (never counted, reported or replaced)"] += 2  # the "short"s


def test_faults_that_persist_fail_only_their_batch_and_files_and_the_next_run_takes_only_what_is_missing(
        ingest_dag, standins, tmp_path, capfd, request):
    universe = standins.universe
    hosts = confirmed_hosts(standins)
    dest = tmp_path / "persist"
    conf = {"destination": str(dest), "targets_per_batch": 2}
    # MAST keeps failing for one host's batch; two files of two other hosts are damaged at the source
    broken_host = hosts[0]
    standins.mast.add_fault("error_status", times=50, service=f"target:ktwo{broken_host.target_id:09d}")
    corrupt, short = hosts[3].files[0], hosts[4].files[-1]
    figures(request.config)["damaged source objects planted (corrupt or short, persistent)"] += 2

    with damaged_source(standins, {corrupt: corrupt_same_size(universe.fits_bytes(corrupt)),
                                   short: universe.fits_bytes(short)[:-2880]}):
        first = run_dag(ingest_dag, conf)
    count_run(request.config, first)
    printed = capfd.readouterr().out
    states = task_states(first)
    result = summary_of_failed_run(first)
    standins.mast.clear_faults()

    assert str(first.state) == "failed"
    failed_finds = [t for t, s in states.items() if t.startswith("batch.find_light_curves") and s == "failed"]
    assert len(failed_finds) == 1, states  # that batch alone; the others ran to the end
    assert states["publish_catalog"] == "success" and states["summarize_run"] == "failed"
    assert len(result["failed_batches"]) == 1 and broken_host.hostname in result["failed_batches"][0]
    assert sorted(f.split(":")[0] for f in result["failed_files"]) == sorted([corrupt.key, short.key])
    for line in (result["failed_batches"][0], corrupt.key, short.key):
        assert line in printed, "the run's summary must name the failed batch and files"
    batches = xcom(first, "plan_targets")
    failed_batch = next(b for b in batches if b["label"] == result["failed_batches"][0])
    in_failed_batch = {t["name"] for t in failed_batch["targets"]}
    lost = {f.key for h in hosts if h.hostname in in_failed_batch for f in h.files} | {corrupt.key, short.key}
    done = {k: v for k, v in expected_files(standins).items() if k not in lost}
    assert_destination_clean(dest, done)  # nothing damaged at a final name, nor in the catalog

    second = run_dag(ingest_dag, conf)
    rerun = summary(second)
    count_run(request.config, second, rerun)
    expected = expected_files(standins)
    missing = len(expected) - len(done)
    unknown_to_mast = [h for h in universe.confirmed_hosts() if not h.files]
    incomplete_hosts = {hosts[3].hostname, hosts[4].hostname}
    assert str(second.state) == "success", task_states(second)
    assert rerun["targets_planned"] == len(in_failed_batch | incomplete_hosts | {h.hostname for h in
                                                                                  unknown_to_mast})
    assert (rerun["copied"], rerun["failed"]) == (missing, 0)
    assert rerun["already_present"] == sum(len(universe.host_by_name(n).files) for n in incomplete_hosts) - 2
    assert_destination_clean(dest, expected)
    tally = figures(request.config)
    tally["files verified and recorded (copied or adopted)"] += result["copied"] + result["adopted"]
    tally["corrupt files caught (never counted, reported or replaced)"] += 2
