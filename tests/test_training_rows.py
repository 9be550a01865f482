"""One star's training rows from light curves with a planted transit (issue 21): views, series, labels, the
inputs hash that makes runs incremental, the Delta tables they are committed to, and the DAG's params."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from lightcurve_ingest.domain.catalog import SERIES_TABLE, VIEWS_TABLE, Catalog
from lightcurve_ingest.domain.catalog_records import CatalogFile, ObjectState
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.storage.backends import open_storage
from lightcurve_ingest.storage.destination import parse_destination
from lightcurve_ingest.tasks.training import TrainingParams, npz_bytes
from lightcurve_ingest.training import dataset as ds
from lightcurve_ingest.training.records import LightCurveSeries, ObjectViews

AT = datetime(2026, 12, 7, tzinfo=UTC)
PERIOD, EPOCH, DURATION_H, DEPTH = 3.3, 2001.2, 3.0, 0.004  # BKJD; a 4,000 ppm box


def catalog_file(unit: int, sha: str = "a") -> CatalogFile:
    key = f"k2/public/lightcurves/c{unit}/201300000/67000/ktwo201367065-c{unit:02d}_llc.fits"
    return CatalogFile(destination_uri=f"/data/{key}", mission="K2", target_id=201367065, target="K2-3",
                       observing_unit=unit, source_key=key, data_uri="", obs_id="", obsid="", product_filename="",
                       mast_size=1, size=1, sha256=sha * 64, fits_checksum_verified=True, copy_method="copy",
                       ingested_at=AT, run_id="r", product="K2", cadence_s=1800.0,
                       source="bucket")


def planet(name: str = "K2-3 b", disposition: str = "CONFIRMED", epoch: float | None = EPOCH,
           reason: str = "") -> ObjectState:
    return ObjectState(mission="K2", target_id=201367065, object=name, disposition=disposition,
                       period_days=PERIOD, epoch=epoch, epoch_system="BKJD", duration_hours=DURATION_H,
                       depth_ppm=DEPTH * 1e6, ephemeris_reason=reason, run_id="r", updated_at=AT)


def curve(unit: int, start: float, level: float) -> ds.Curve:
    """80 days of 30-minute cadences: a slow wave, the planted box, noise, at the file's own flux level."""
    rng = np.random.default_rng(unit)
    time = start + np.arange(3800) * 0.0204
    flux = 1 + 0.003 * np.sin(2 * np.pi * time / 7.0) + rng.normal(0, 2e-4, time.size)
    flux[np.abs((time - EPOCH + PERIOD / 2) % PERIOD - PERIOD / 2) < DURATION_H / 48] -= DEPTH
    return ds.Curve(file=catalog_file(unit), time=time, flux=flux * level)


def star(*objects: ObjectState, files: tuple[CatalogFile, ...] = (catalog_file(5), catalog_file(6))) -> ds.Star:
    return ds.Star(mission="K2", target_id=201367065, target="K2-3", disposition="CONFIRMED", files=files,
                   objects=objects)


CURVES = [curve(5, 1990.0, 1.0), curve(6, 2075.0, 3.7)]


def test_views_put_the_planted_transit_at_the_centre_of_the_local_view():
    row = ds.object_views(star(planet()), planet(), CURVES, [], ds.Settings(), AT)
    assert row.skipped_reason == "" and row.label == 1 and row.split in ("train", "validation", "test")
    assert (row.global_view.size, row.local_view.size, row.secondary_view.size) == (2001, 201, 201)
    assert row.global_view.dtype == np.float32
    bottom = np.flatnonzero(row.local_view < -0.5)  # the box: 1 duration wide, 25 bins of the 201
    assert abs(bottom.mean() - 100) <= 1 and 20 <= bottom.size <= 30 and row.local_view.min() == pytest.approx(-1.0)
    assert row.n_transits >= 40  # two 80-day campaigns at 3.3 d
    assert row.local_depth_ppm == pytest.approx(DEPTH * 1e6, rel=0.05)
    assert abs(row.secondary_view.min()) < 0.2  # a planet: nothing at phase 0.5
    assert row.source_files == tuple(c.file.destination_uri for c in CURVES)


def test_an_object_without_a_usable_ephemeris_gets_a_row_that_says_why():
    missing = planet("K2-3 c", "CANDIDATE", epoch=None, reason="no pl_tranmid in the archive's row")
    row = ds.object_views(star(missing), missing, CURVES, [], ds.Settings(), AT)
    assert row.local_view.size == 0 and row.label is None
    assert row.skipped_reason == "no usable ephemeris: no pl_tranmid in the archive's row"


def test_a_transit_outside_the_data_and_an_unreadable_file_are_named():
    late = planet(epoch=EPOCH)
    row = ds.object_views(star(late), late, [], ["/data/x.fits"], ds.Settings(), AT)
    assert row.local_view.size == 0
    assert row.skipped_reason == "left out unreadable /data/x.fits; no readable light curve of the star"
    far = ObjectState(**{**vars(planet()), "period_days": 1000.0, "epoch": 3500.0})
    row = ds.object_views(star(far), far, CURVES, [], ds.Settings(), AT)
    assert row.local_view.size == 0 and "no transit" in row.skipped_reason


def test_the_inputs_hash_changes_with_new_files_a_new_verdict_or_other_settings_only():
    base = ds.views_inputs(star(planet()), planet(), ds.Settings())
    assert base == ds.views_inputs(star(planet()), planet(), ds.Settings())
    more_files = star(planet(), files=(catalog_file(5), catalog_file(6), catalog_file(7)))
    assert ds.views_inputs(more_files, planet(), ds.Settings()) != base
    assert ds.views_inputs(star(planet()), planet(disposition="FALSE POSITIVE"), ds.Settings()) != base
    assert ds.views_inputs(star(planet()), planet(), ds.Settings(series_points=100)) == base  # not a views input
    from lightcurve_ingest.training.views import ViewSettings

    assert ds.views_inputs(star(planet()), planet(), ds.Settings(views=ViewSettings(local_bins=61))) != base


def test_series_are_resampled_detrended_and_labelled_by_the_star():
    files = (catalog_file(5),)
    row = ds.light_curve_series(star(planet()), 5, files, CURVES[:1], [], ds.Settings(), AT)
    assert row.flux.size == row.n_points == 3197 and row.label == 1 and row.skipped_reason == ""
    assert abs(float(np.median(row.flux))) < 1e-3
    assert row.flux.min() < -0.6 * DEPTH  # the transits survive the detrending
    assert np.std(row.flux[row.flux > -DEPTH / 2]) < 1e-3  # the 0.3 % wave does not
    assert ds.series_label("K2", "") == 0 and ds.series_label("K2", "FALSE POSITIVE") == 0
    assert ds.series_label("TESS", "PC") is None and ds.series_label("TESS", "KP") == 1


def test_rows_round_trip_through_the_delta_tables(tmp_path):
    catalog = Catalog(open_storage(parse_destination(str(tmp_path))))
    view = ds.object_views(star(planet()), planet(), CURVES, [], ds.Settings(), AT)
    series = ds.light_curve_series(star(planet()), 5, (catalog_file(5),), CURVES[:1], [], ds.Settings(), AT)
    catalog.upsert(VIEWS_TABLE, [view.row()])
    catalog.upsert(SERIES_TABLE, [series.row()])
    assert (tmp_path / "_training" / "views" / "_delta_log").is_dir()
    [stored] = [ObjectViews.from_row(r) for r in catalog.rows(VIEWS_TABLE, "K2")]
    assert stored.object == "K2-3 b" and stored.label == 1 and stored.inputs_sha256 == view.inputs_sha256
    assert np.array_equal(stored.local_view, view.local_view) and stored.source_files == view.source_files
    [back] = [LightCurveSeries.from_row(r) for r in catalog.rows(SERIES_TABLE, "K2")]
    assert back.observing_unit == 5 and np.array_equal(back.flux, series.flux)
    with np.load(__import__("io").BytesIO(npz_bytes([stored]))) as arrays:
        assert arrays["local_view"].shape == (1, 201) and list(arrays["object"]) == ["K2-3 b"]


@pytest.mark.parametrize(("params", "field"), [
    ({"destination": ""}, "destination"),
    ({"destination": "ftp://nowhere"}, "destination"),
    ({"destination": "/x", "global_bins": 1}, "global_bins"),
    ({"destination": "/x", "local_bins": "201"}, "local_bins"),
    ({"destination": "/x", "series_points": True}, "series_points"),
    ({"destination": "/x", "export_npz": "yes"}, "export_npz"),
    ({"destination": "/x", "stars_per_batch": 0}, "stars_per_batch"),
])
def test_bad_params_are_refused_naming_the_field(params: dict, field: str):
    with pytest.raises(InvalidInputError) as raised:
        TrainingParams.parse(params)
    assert raised.value.field == field


def test_asset_events_name_the_destinations_and_a_daily_run_takes_the_default_folders(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from lightcurve_ingest.tasks.quicklook import requests_of_events

    events = [SimpleNamespace(extra={"destination": "s3://team/k2", "run_id": "a", "dest_aws_conn_id": "team"}),
              SimpleNamespace(extra={"destination": "s3://team/k2", "run_id": "b", "dest_aws_conn_id": "team"})]
    destinations = [(r.destination, r.dest_aws_conn_id) for r in requests_of_events(events)]
    assert TrainingParams.parse({}, destinations).destinations == (("s3://team/k2", "team"),)

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    (tmp_path / "data" / "tess_lightcurves").mkdir(parents=True)
    daily = TrainingParams.parse({})
    assert daily.destinations == ((str(tmp_path / "data" / "tess_lightcurves"), "aws_default"),)


def test_one_product_a_unit_goes_into_the_views_the_missions_own_first():
    from dataclasses import replace

    spoc = replace(catalog_file(5), product="SPOC", destination_uri="/a")
    qlp5, qlp6 = replace(spoc, product="QLP", destination_uri="/b"), replace(catalog_file(6), product="QLP")
    tess_spoc6 = replace(qlp6, product="TESS-SPOC", destination_uri="/c")
    chosen = ds.preferred_files([spoc, qlp5, qlp6, tess_spoc6], ("SPOC", "TESS-SPOC", "QLP"))
    assert chosen == (spoc, tess_spoc6)
