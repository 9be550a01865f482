"""The ``lightcurve_training_set`` DAG on light curves with transits planted at the archive's ephemerides (issue 21):
views where the transits are, eclipsing binaries that show it, labels and splits, incremental runs, a damaged
file and a missing ephemeris that leave rows with reasons, and the .npz export."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import run_flow, task_states, xcom

pytestmark = pytest.mark.slow  # an ingest and three DAG runs against the stand-ins

DISPOSITIONS = ["CONFIRMED", "CANDIDATE", "FALSE POSITIVE", "REFUTED"]


@pytest.fixture(scope="module")
def standins():  # noqa: ANN201
    """The K2 stand-ins with the real K2 stars too (K2-18, K2-3: their archive ephemerides planted); no Kepler or
    TESS star, whose real-size files the S3 stand-in would upload for nothing."""
    from tests.standins import Standins

    with Standins(n_hosts=8, unknown_to_mast=1, real_k2=True, kepler_hosts=0, tess_hosts=0) as running, \
            pytest.MonkeyPatch.context() as patch:
        for name, value in running.airflow_env().items():
            patch.setenv(name, value)
        yield running


@pytest.fixture(scope="module")
def training_dag(dag_bag):  # noqa: ANN001, ANN201
    return dag_bag.dags["lightcurve_training_set"]


def run_training(dag, conf: dict):  # noqa: ANN001, ANN201
    from lightcurve_ingest.wiring.training_dag import param_specs

    run = dag.test(run_conf={**{n: s["default"] for n, s in param_specs().items()}, **conf})
    assert str(run.state) == "success", task_states(run)
    return run, xcom(run, "export_and_summarize")


def catalog_of(dest: Path):  # noqa: ANN201
    from lightcurve_ingest.domain.catalog import Catalog
    from lightcurve_ingest.storage.backends import open_storage
    from lightcurve_ingest.storage.destination import parse_destination

    return Catalog(open_storage(parse_destination(str(dest))))


def views_of(dest: Path) -> dict:
    from lightcurve_ingest.domain.catalog import VIEWS_TABLE
    from lightcurve_ingest.training.records import ObjectViews

    return {(r["target_id"], r["object"]): ObjectViews.from_row(r) for r in catalog_of(dest).rows(VIEWS_TABLE)}


def series_of(dest: Path) -> dict:
    from lightcurve_ingest.domain.catalog import SERIES_TABLE
    from lightcurve_ingest.training.records import LightCurveSeries

    return {(r["target_id"], r["observing_unit"]): LightCurveSeries.from_row(r)
            for r in catalog_of(dest).rows(SERIES_TABLE)}


@pytest.fixture(scope="module")
def trained(standins, training_dag, tmp_path_factory):  # noqa: ANN001, ANN201
    """Every K2 star of the stand-ins ingested; then, before the first training run, one file of one star hidden
    from the catalog (a campaign still to come) and one file of another damaged at the destination."""
    from deltalake import DeltaTable

    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.params import param_specs

    dest = tmp_path_factory.mktemp("training")
    defaults = {name: spec["default"] for name, spec in param_specs(get_mission("k2")).items()}
    ingest = run_flow("k2", {**defaults, "destination": str(dest), "dispositions": DISPOSITIONS})
    assert ingest["copied"] > 0 and not ingest["failed_batches"]
    files = catalog_of(dest).files("K2")
    by_star: dict[int, list] = {}
    for f in files:
        by_star.setdefault(f.target_id, []).append(f)
    several = sorted(i for i, fs in by_star.items() if len(fs) > 1)
    later, damaged = by_star[several[0]][-1], by_star[several[-1]][0]
    DeltaTable(str(dest / "_catalog" / "files")).delete(f"destination_uri = '{later.destination_uri}'")
    (dest / damaged.source_key).write_bytes((dest / damaged.source_key).read_bytes()[:20000])
    _, summary = run_training(training_dag, {"destination": str(dest)})
    return dest, summary, later, damaged


def test_every_object_of_every_star_gets_a_row(standins, trained):
    dest, summary, _, _ = trained
    catalog = catalog_of(dest)
    with_files = {f.target_id for f in catalog.files("K2")}
    objects = [o for o in catalog.objects("K2") if o.target_id in with_files]  # the star MAST has nothing of: none
    views = views_of(dest)
    assert {(o.target_id, o.object) for o in objects} == set(views) and summary["views"] == len(views) > 5
    for row in views.values():
        if not row.local_view.size:
            assert any(why in row.skipped_reason for why in ("no usable ephemeris", "no transit", "time:")), row
        else:
            assert (row.global_view.size, row.local_view.size, row.odd_view.size) == (2001, 201, 201), row
            assert row.preprocessing and len(row.inputs_sha256) == 64 and row.source_files


WHITE_NOISE_PPM = 100  # the stand-ins' per-cadence noise (fits_factory: 1e-4 of the flux)


def test_planted_transits_sit_at_the_centre_of_the_local_view_with_their_depth(standins, trained):
    """Within 5 % of the planted depth where the transit is at least ten times the per-cadence noise; shallower
    ones (a 390 ppm planet: some 40 points in its flat bottoms) have a noise share of their own, within 20 %."""
    dest, _, _, damaged = trained
    checked = 0
    for host in standins.universe.hosts_of("K2"):
        for planet in host.planets:
            row = views_of(dest).get((host.target_id, planet.pl_name))
            if row is None or not row.local_view.size or planet.eclipsing_binary or host.target_id == damaged.target_id:
                continue
            bottom = np.flatnonzero(row.local_view < -0.5)
            assert abs(bottom.mean() - 100) <= 2, (planet, row.local_view)
            # the flat bottom: the bins within 0.2 durations of the centre (spaced 0.04 durations, 0.16 wide), their
            # median: with a few transits at 30-minute cadence a 0.16-duration bin may hold no point (filled with 0)
            depth = -float(np.median(row.local_view[95:106])) * row.local_depth_ppm
            deep = planet.depth_ppm >= 10 * WHITE_NOISE_PPM
            assert depth == pytest.approx(planet.depth_ppm, rel=0.05 if deep else 0.2), planet
            checked += deep
    assert checked >= 8
    k2_18_b = views_of(dest)[(201912552, "K2-18 b")]  # a real star, its archive ephemeris planted
    assert k2_18_b.label == 1 and k2_18_b.n_transits >= 2 and k2_18_b.local_view.size == 201


def test_an_eclipsing_binary_shows_unequal_eclipses_and_a_secondary(standins, trained):
    dest, _, _, _ = trained
    binaries = [(h, p) for h in standins.universe.hosts_of("K2") for p in h.planets if p.eclipsing_binary]
    rows = [views_of(dest)[(h.target_id, p.pl_name)] for h, p in binaries]
    rows = [r for r in rows if r.local_view.size]
    assert rows, "no false positive of the stand-ins got views"
    for row in rows:
        assert row.label == 0
        assert abs(float(row.odd_view.min()) - float(row.even_view.min())) > 0.2, row.object
        assert float(row.secondary_view.min()) < -0.1, row.object


def test_labels_follow_the_dispositions_and_no_star_is_in_two_splits(trained):
    from lightcurve_ingest.training.labels import label_of, split_of

    dest, _, _, _ = trained
    splits: dict[int, set[str]] = {}
    for row in views_of(dest).values():
        assert row.label == label_of("K2", row.disposition)
        assert row.split == split_of("K2", row.target_id)
        splits.setdefault(row.target_id, set()).add(row.split)
    for row in series_of(dest).values():
        splits.setdefault(row.target_id, set()).add(row.split)
    assert all(len(s) == 1 for s in splits.values())
    assert {r.label for r in views_of(dest).values()} >= {0, 1}


def test_a_damaged_file_and_a_missing_ephemeris_leave_rows_with_reasons(trained):
    dest, summary, _, damaged = trained
    assert damaged.destination_uri in summary["unreadable"]
    for row in views_of(dest).values():
        if row.target_id == damaged.target_id:
            assert f"left out unreadable {damaged.destination_uri}" in row.skipped_reason
            assert damaged.destination_uri not in row.source_files
    missing = [r for r in views_of(dest).values() if "no usable ephemeris: no pl_tranmid" in r.skipped_reason]
    assert missing and all(r.local_view.size == 0 and r.n_transits == 0 for r in missing)


def test_a_rerun_builds_nothing_and_a_new_campaign_rebuilds_only_its_star(training_dag, trained):
    dest, _, later, _ = trained
    before = views_of(dest)
    _, again = run_training(training_dag, {"destination": str(dest)})
    assert (again["batches"], again["views"], again["series"]) == (0, 0, 0)

    catalog_of(dest).record(files=[later])  # the campaign lands
    _, after_new = run_training(training_dag, {"destination": str(dest)})
    rebuilt = {k for k, v in views_of(dest).items() if v.built_at != before[k].built_at}
    assert rebuilt == {k for k in before if k[0] == later.target_id}
    assert after_new["series"] == 1 and after_new["views"] == len(rebuilt)
    assert all(later.destination_uri in views_of(dest)[k].source_files for k in rebuilt
               if views_of(dest)[k].local_view.size)


def test_the_export_writes_one_npz_per_split_of_one_version(training_dag, trained):
    dest, _, _, _ = trained
    _, summary = run_training(training_dag, {"destination": str(dest), "export_npz": True})
    [export] = summary["exports"]
    rows = [r for r in views_of(dest).values() if r.local_view.size]
    total = 0
    for split, written in export["files"].items():
        path = dest / "_training" / "export" / f"v{export['version']}" / f"{split}.npz"
        with np.load(io.BytesIO(path.read_bytes())) as arrays:
            assert arrays["global_view"].shape == (written["objects"], 2001)
            assert arrays["local_view"].shape == (written["objects"], 201)
            assert sorted(zip(arrays["target_id"].tolist(), arrays["object"].tolist(), strict=True)) == sorted(
                (r.target_id, r.object) for r in rows if r.split == split)
            total += written["objects"]
    assert total == len(rows)


def test_bad_params_fail_the_run_naming_the_field(training_dag, trained, caplog):
    from lightcurve_ingest.wiring.training_dag import param_specs

    dest, _, _, _ = trained
    with caplog.at_level(logging.ERROR):
        run = training_dag.test(run_conf={**{n: s["default"] for n, s in param_specs().items()},
                                          "destination": "ftp://nowhere"})
    assert str(run.state) == "failed"
    assert "destination" in caplog.text
