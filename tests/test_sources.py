"""Issue 22: a source for every file. The public bucket where it holds a file, MAST's download service over HTTPS
otherwise; the ``source`` param forces one. End to end against the stand-ins (with their high-level science
products): what lands, where each file came from (the catalog's ``source``, the stand-ins' own counts), the
statuses while files wait for the HTTPS step, downloads cut short, reruns, and the run summary's ``by_source``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from tests.helpers import (
    local_files,
    read_local_catalog,
    run_dag,
    run_flow,
    s3_catalog_table,
    s3_files,
    summary,
    task_states,
)
from tests.standins import Standins

pytestmark = pytest.mark.slow  # DAG and flow runs against the stand-ins

PUBLIC = "stpubdata"
PARAMS = {"targets_per_batch": 2}


@pytest.fixture(scope="module")
def standins():  # noqa: ANN201
    """Small stand-ins with HLSPs: 4 K2 hosts (3 confirmed) and 4 TESS hosts, light curves of 200 rows."""
    with Standins(n_hosts=4, kepler_hosts=0, tess_hosts=4, fits_rows=200, hlsps=True) as running, \
            pytest.MonkeyPatch.context() as patch:
        for name, value in running.airflow_env().items():
            patch.setenv(name, value)
        yield running


@pytest.fixture(autouse=True)
def _fresh(standins):  # noqa: ANN001, ANN202
    standins.reset()
    yield
    standins.reset()


def k2_hosts(standins):  # noqa: ANN001, ANN201
    return [h for h in standins.universe.confirmed_hosts(mission="K2") if h.light_curves()][:2]


def targets(hosts) -> list[str]:  # noqa: ANN001
    return [f"{'EPIC' if h.mission == 'K2' else 'TIC'} {h.target_id}" for h in hosts]


def own_files(standins, hosts) -> dict[str, bytes]:  # noqa: ANN001
    """Key -> bytes of the hosts' own pipeline's light curves."""
    return {f.key: standins.universe.fits_bytes(f) for h in hosts for f in h.light_curves()}


def public_bucket_requests(standins) -> list[dict]:  # noqa: ANN001
    """Every request the S3 stand-in received for the public bucket (listings and HEADs included), and every copy
    out of it."""
    return [r for r in standins.s3.request_log
            if r["path"].lstrip("/").startswith(PUBLIC) or PUBLIC in (r["copy_source"] or "")]


def by_source(bucket: dict[str, bytes], mast: dict[str, bytes]) -> dict[str, dict[str, int]]:
    return {"bucket": {"files": len(bucket), "bytes": sum(map(len, bucket.values()))},
            "mast": {"files": len(mast), "bytes": sum(map(len, mast.values()))}}


@contextmanager
def missing_from_bucket(standins, key: str) -> Iterator[None]:  # noqa: ANN001
    """The public bucket without ``key`` until the block ends, then with it again."""
    from tests.standins.s3 import _moto_backend

    data = _moto_backend().get_object(PUBLIC, key).value
    _moto_backend().delete_object(PUBLIC, key)
    try:
        yield
    finally:
        standins.s3.put_object(key, data)


@contextmanager
def short_in_bucket(standins, key: str) -> Iterator[None]:  # noqa: ANN001
    """The public bucket holds ``key`` one FITS block short until the block ends."""
    from tests.standins.s3 import _moto_backend

    data = _moto_backend().get_object(PUBLIC, key).value
    standins.s3.put_object(key, data[:-2880])
    try:
        yield
    finally:
        standins.s3.put_object(key, data)


def statuses(dest) -> dict[int, str]:  # noqa: ANN001
    states = read_local_catalog(dest, "targets")
    return dict(zip(states["target_id"], states["status"], strict=True))


# --- source: mast ---------------------------------------------------------------------------------------------------

def test_source_mast_lands_every_file_over_https_and_never_touches_the_bucket(ingest_dag, standins, tmp_path):
    hosts = k2_hosts(standins)
    expected = own_files(standins, hosts)
    dest = tmp_path / "lc"
    conf = {**PARAMS, "destination": str(dest), "targets": targets(hosts), "source": "mast"}

    run = run_dag(ingest_dag, conf)

    states = task_states(run)
    assert str(run.state) == "success", states
    assert {s for t, s in states.items() if t.startswith("batch.download_light_curves")} == {"success"}
    assert local_files(dest) == expected
    assert public_bucket_requests(standins) == [] and sum(standins.s3.requests_by_method.values()) == 0
    uris = {f.data_uri for h in hosts for f in h.light_curves()}
    assert standins.mast.downloads == Counter(dict.fromkeys(uris, 1))
    catalog = read_local_catalog(dest)
    assert sorted(catalog["source_key"]) == sorted(expected)
    assert set(catalog["source"]) == {"mast"} and set(catalog["copy_method"]) == {"https"}
    assert set(catalog["fits_checksum"]) == {"verified"} and catalog["fits_checksum_verified"].all()
    result = summary(run)
    assert result["by_source"] == by_source({}, expected)
    assert (result["copied"], result["failed"], result["not_in_bucket"]) == (len(expected), 0, [])
    assert result["bytes_through_worker"] == sum(map(len, expected.values()))
    assert set(statuses(dest).values()) == {"complete"}

    standins.reset()
    rerun = summary(run_dag(ingest_dag, {**conf, "full_refresh": True}))  # asks MAST again about every target
    assert (rerun["copied"], rerun["already_present"], rerun["bytes_through_worker"]) == (0, len(expected), 0)
    assert rerun["by_source"] == by_source({}, {})
    assert standins.mast.download_count == 0 and public_bucket_requests(standins) == []


# --- a file the bucket lacks --------------------------------------------------------------------------------------

def test_source_bucket_reports_a_file_the_bucket_lacks_and_does_not_fetch_it(standins, tmp_path):
    hosts = k2_hosts(standins)
    expected = own_files(standins, hosts)
    gone = hosts[0].light_curves()[0]
    dest = tmp_path / "lc"

    with missing_from_bucket(standins, gone.key):
        standins.s3.request_log.clear()
        result = run_flow("k2", {**PARAMS, "destination": str(dest), "targets": targets(hosts), "source": "bucket"})
        gets = [r["path"] for r in standins.s3.request_log if r["method"] == "GET" and r["path"].endswith(gone.key)]

    assert result["not_in_bucket"] == [gone.key]
    assert result["failed"] == 1
    [failure] = result["failed_files"]
    assert "not in the public bucket" in failure and "source auto or mast" in failure
    assert len(gets) == 1, "a key the bucket lacks is asked once: retrying cannot help"
    assert local_files(dest) == {k: v for k, v in expected.items() if k != gone.key}
    assert standins.mast.download_count == 0
    assert result["by_source"] == by_source({k: v for k, v in expected.items() if k != gone.key}, {})
    assert statuses(dest) == {hosts[0].target_id: "incomplete", hosts[1].target_id: "complete"}


def test_source_auto_fetches_what_the_bucket_lacks_over_https_and_the_rest_from_the_bucket(standins):
    """An S3 destination: the bucket's files are copied server-side, the one it lacks (its HEAD answers 404)
    streamed from MAST's download service into an atomic put."""
    hosts = k2_hosts(standins)
    expected = own_files(standins, hosts)
    gone = hosts[1].light_curves()[-1]
    standins.s3.create_bucket("team-auto")
    params = {**PARAMS, "destination": "s3://team-auto/lc", "targets": targets(hosts)}

    with missing_from_bucket(standins, gone.key):
        standins.reset()
        result = run_flow("k2", params)  # source auto: the default
        reads = standins.fetch_counts()

    assert s3_files(standins, "team-auto", "lc") == expected
    assert standins.mast.downloads == Counter({gone.data_uri: 1})
    assert reads == {"https": 1, "bucket": len(expected) - 1}
    rest = {k: v for k, v in expected.items() if k != gone.key}
    assert result["by_source"] == by_source(rest, {gone.key: expected[gone.key]})
    assert (result["copied"], result["failed"], result["not_in_bucket"]) == (len(expected), 0, [])
    assert result["bytes_through_worker"] == len(expected[gone.key])  # only the HTTPS file passed through
    catalog = s3_catalog_table(standins, "team-auto", "lc").set_index("source_key")
    assert catalog["source"].to_dict() == {k: "mast" if k == gone.key else "bucket" for k in expected}
    assert catalog["fits_checksum"].to_dict() == {k: "verified" if k == gone.key else "not read" for k in expected}
    assert catalog.loc[gone.key, "copy_method"] == "https"

    standins.reset()
    rerun = run_flow("k2", {**params, "full_refresh": True})
    assert (rerun["copied"], rerun["already_present"], rerun["failed"]) == (0, len(expected), 0)
    assert standins.fetch_counts() == {"https": 0, "bucket": 0}


def test_targets_with_files_left_for_https_stay_pending_until_that_step_commits_them(standins, tmp_path):
    """Host A: one file the bucket lacks (deferred) and one it serves damaged (failed in the copy step); host B: all
    in the bucket. After the copy step A is pending and B complete; the HTTPS step makes A incomplete."""
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.ingest import (
        RunInfo,
        copy_light_curves,
        download_light_curves,
        find_light_curves,
        plan_targets,
    )
    from lightcurve_ingest.wiring.connections import services_from_connections

    a, b = k2_hosts(standins)
    gone, damaged = a.light_curves()[:2]
    k2, run, services = get_mission("k2"), RunInfo(run_id="steps"), services_from_connections()
    dest = tmp_path / "lc"
    params = {"destination": str(dest), "targets": targets([a, b])}

    with missing_from_bucket(standins, gone.key), short_in_bucket(standins, damaged.key):
        [batch] = plan_targets(k2, params, run, services).batches
        copied = copy_light_curves(k2, find_light_curves(k2, batch, params, services), params, run, services)
    assert statuses(dest) == {a.target_id: "pending", b.target_id: "complete"}
    assert [f.source_key for f in copied.https.files] == [gone.key]
    assert [t.target_id for t in copied.https.targets] == [a.target_id]
    assert copied.https.failed_targets == (a.target_id,)
    assert standins.mast.download_count == 0  # the copy step fetches nothing over HTTPS

    done = download_light_curves(k2, copied, params, run, services)
    assert done.https is None and done.failed == 1 and done.copied == copied.copied + 1
    assert done.by_source["mast"] == {"files": 1, "bytes": gone.size}
    assert statuses(dest) == {a.target_id: "incomplete", b.target_id: "complete"}
    files = read_local_catalog(dest, "targets").set_index("target_id")["files"].to_dict()
    assert files == {a.target_id: len(a.light_curves()) - 1, b.target_id: len(b.light_curves())}


# --- downloads cut short ------------------------------------------------------------------------------------------

def test_a_download_cut_short_is_refused_retried_and_lands_whole(standins, tmp_path):
    hosts = k2_hosts(standins)
    expected = own_files(standins, hosts)
    cut, short = hosts[0].light_curves()[0], hosts[1].light_curves()[0]
    # broken off mid-body (full Content-Length, half the bytes); a whole reply of half the file
    standins.mast.add_fault("truncated", times=1, service=f"uri:{cut.data_uri}")
    standins.mast.add_fault("short", times=1, service=f"uri:{short.data_uri}")
    dest = tmp_path / "lc"

    result = run_flow("k2", {**PARAMS, "destination": str(dest), "targets": targets(hosts), "source": "mast"})

    assert standins.mast.faults_fired == Counter({"truncated": 1, "short": 1})
    assert standins.mast.downloads[cut.data_uri] == 2 and standins.mast.downloads[short.data_uri] == 2
    assert local_files(dest) == expected
    assert not list(dest.rglob(".*.part-*")), "no partial file may be left behind"
    assert (result["copied"], result["failed"]) == (len(expected), 0)
    catalog = read_local_catalog(dest).set_index("source_key")
    assert catalog.loc[cut.key, "size"] == cut.size and catalog.loc[short.key, "size"] == short.size


# --- the HLSPs: where the bucket has them and where it does not ------------------------------------------------------

def test_tess_hlsps_come_from_the_bucket_where_it_has_them_and_over_https_otherwise(standins, tmp_path):
    universe = standins.universe
    hosts = universe.confirmed_hosts(mission="TESS")[:2]
    hlsps = [f for h in hosts for p in ("QLP", "TESS-SPOC") for f in universe.hlsps_of(h, p)]
    expected = {f.key: universe.fits_bytes(f) for f in hlsps}
    in_bucket = {f.key for f in hlsps if f.in_bucket}
    assert {f.provenance for f in hlsps if f.in_bucket} == {"QLP"} and {f.unit for f in hlsps if f.in_bucket} and \
        max(f.unit for f in hlsps if f.in_bucket) <= 26
    dest = tmp_path / "lc"

    result = run_flow("tess", {**PARAMS, "destination": str(dest), "targets": targets(hosts),
                               "products": ["QLP", "TESS-SPOC"]})

    assert local_files(dest) == expected
    assert standins.mast.downloads == Counter({f.data_uri: 1 for f in hlsps if not f.in_bucket})
    catalog = read_local_catalog(dest).set_index("source_key")
    assert catalog["source"].to_dict() == {k: "bucket" if k in in_bucket else "mast" for k in expected}
    assert catalog["product"].to_dict() == {f.key: f.provenance for f in hlsps}
    # QLP writes no FITS sums: astropy checked its structure; TESS-SPOC carries them
    assert catalog["fits_checksum"].to_dict() == {
        f.key: "absent" if f.provenance == "QLP" else "verified" for f in hlsps}
    assert result["by_source"] == by_source({k: v for k, v in expected.items() if k in in_bucket},
                                            {k: v for k, v in expected.items() if k not in in_bucket})
    # HLSPs only: the stars' SPOC light curves were not looked for, so none is complete (a SPOC run completes them)
    assert (result["failed"], set(statuses(dest).values())) == (0, {"pending"})


def test_k2_hlsps_are_verified_with_their_own_light_curve_extension(standins, tmp_path):
    """K2SFF's light curve is in BESTAPER (from the bucket), EVEREST's in ARRAYS (over HTTPS): neither file has a
    LIGHTCURVE extension, nor FITS sums."""
    universe = standins.universe
    hosts = k2_hosts(standins)
    hlsps = [f for h in hosts for p in ("K2SFF", "EVEREST") for f in universe.hlsps_of(h, p)]
    expected = {f.key: universe.fits_bytes(f) for f in hlsps}
    dest = tmp_path / "lc"

    result = run_flow("k2", {**PARAMS, "destination": str(dest), "targets": targets(hosts),
                             "products": ["K2SFF", "EVEREST"]})

    assert result["failed"] == 0, result["failed_files"]
    assert local_files(dest) == expected
    catalog = read_local_catalog(dest).set_index("source_key")
    assert catalog["source"].to_dict() == {f.key: "bucket" if f.provenance == "K2SFF" else "mast" for f in hlsps}
    assert set(catalog["fits_checksum"]) == {"absent"} and not catalog["fits_checksum_verified"].any()


# --- the catalog's fits_checksum column -------------------------------------------------------------------------------

def test_an_older_catalog_gains_the_fits_checksum_column_from_what_it_recorded(tmp_path):
    from lightcurve_ingest.domain import catalog as cat
    from lightcurve_ingest.domain.catalog import Catalog
    from lightcurve_ingest.storage.backends import open_storage
    from lightcurve_ingest.storage.destination import parse_destination

    def row(i: int, verified: bool) -> dict:
        key = f"k2/public/lightcurves/c5/211000000/4{i}000/ktwo21104{i}000-c05_llc.fits"
        return {"destination_uri": f"{tmp_path}/{key}", "mission": "K2", "target_id": 211040000 + i * 1000,
                "target": "", "observing_unit": 5, "source_key": key, "data_uri": "", "obs_id": "", "obsid": "",
                "product_filename": "", "mast_size": 1, "size": 1, "sha256": "", "fits_checksum_verified": verified,
                "copy_method": "download" if verified else "server-side",
                "ingested_at": datetime(2026, 11, 1, tzinfo=UTC), "run_id": "old", "product": "K2",
                "cadence_s": 1800.0, "source": "bucket"}

    schema = pa.schema([f for f in cat.schema(cat.FILES_TABLE) if f.name != "fits_checksum"])
    write_deltalake(str(tmp_path / "_catalog" / "files"), pa.Table.from_pylist([row(1, True), row(2, False)],
                                                                              schema=schema),
                    partition_by=["mission"])
    catalog = Catalog(open_storage(parse_destination(str(tmp_path))))
    assert [f.fits_checksum for f in sorted(catalog.files(), key=lambda f: f.target_id)] == ["verified", "not read"]

    assert catalog.upsert(cat.FILES_TABLE, [{**row(3, False), "fits_checksum": "absent"}]) == 1

    stored = DeltaTable(str(tmp_path / "_catalog" / "files")).to_pandas().sort_values("target_id")
    assert stored["fits_checksum"].tolist() == ["verified", "not read", "absent"]
