"""An object's ephemeris from its archive row, in the light curves' own time (issue 21, point 1)."""

from __future__ import annotations

import math

import pytest

from lightcurve_ingest.domain.ephemerides import ephemeris_of
from lightcurve_ingest.domain.missions import get_mission

# Rows as each table gives them (values rounded from the archive's): Kepler-10 b (KOI table, epoch already in
# BKJD), pi Men c (TOI table, BJD), K2-18 b (k2pandc, BJD, depth in percent).
KEPLER_10_B = {"kepoi_name": "K00072.01", "koi_period": 0.837491, "koi_time0bk": 131.5750, "koi_duration": 1.81,
               "koi_depth": 152.0}
PI_MEN_C = {"toi": 144.01, "pl_orbper": 6.26790, "pl_tranmid": 2458325.50400, "pl_trandurh": 2.97,
            "pl_trandep": 300.0}
K2_18_B = {"pl_name": "K2-18 b", "pl_orbper": 32.9396, "pl_tranmid": 2457264.3914, "pl_trandur": 2.68,
           "pl_trandep": 0.29, "pl_tsystemref": "BJD_TDB"}


def of(slug: str, row: dict):  # noqa: ANN201
    mission = get_mission(slug)
    return ephemeris_of(row, mission.ephemeris_columns, mission.light_curve_format.time_system)


def test_each_mission_reads_its_own_columns_into_its_own_time():
    kepler, tess, k2 = of("kepler", KEPLER_10_B), of("tess", PI_MEN_C), of("k2", K2_18_B)
    assert kepler.usable and (kepler.object, kepler.epoch, kepler.epoch_system) == ("K00072.01", 131.575, "BKJD")
    assert tess.usable and tess.epoch_system == "BTJD" and tess.epoch == pytest.approx(1325.504)
    assert k2.usable and k2.epoch_system == "BKJD" and k2.epoch == pytest.approx(2431.3914)
    assert (kepler.duration_hours, tess.duration_hours, k2.duration_hours) == (1.81, 2.97, 2.68)
    assert (kepler.depth_ppm, tess.depth_ppm) == (152.0, 300.0) and k2.depth_ppm == pytest.approx(2900.0)


@pytest.mark.parametrize(("change", "reason"), [
    ({"pl_orbper": None}, "no pl_orbper in the archive's row"),
    ({"pl_tranmid": ""}, "no pl_tranmid in the archive's row"),
    ({"pl_trandur": math.nan}, "no pl_trandur in the archive's row"),
    ({"pl_orbper": "n/a"}, "no pl_orbper in the archive's row"),
    ({"pl_orbper": -1.0}, "must both be positive"),
    ({"pl_orbper": 0.05, "pl_trandur": 2.68}, "does not fit in a period of 0.05 d"),
    ({"pl_tsystemref": "HJD_UTC"}, "pl_tranmid is in HJD_UTC, not BJD"),
])
def test_an_unusable_ephemeris_is_kept_with_the_reason(change: dict, reason: str):
    ephemeris = of("k2", {**K2_18_B, **change})
    assert not ephemeris.usable and reason in ephemeris.reason
    assert ephemeris.object == "K2-18 b" and ephemeris.epoch_system == "BKJD"


def test_a_missing_depth_or_time_system_does_not_make_it_unusable():
    ephemeris = of("k2", {**K2_18_B, "pl_trandep": None, "pl_tsystemref": None})
    assert ephemeris.usable and ephemeris.depth_ppm is None


def test_every_registered_mission_names_its_ephemeris_columns():
    from lightcurve_ingest.domain.missions import MISSIONS

    for mission in MISSIONS.values():
        columns = mission.ephemeris_columns
        assert columns is not None, mission.name
        assert len({columns.object, columns.period_days, columns.epoch, columns.duration_hours}) == 4


# --- the targets step reads them with each object's row, and the plan records them ---------------------------------

@pytest.mark.slow  # the stand-ins
def test_the_targets_step_reads_each_objects_ephemeris_and_the_plan_records_it(standins, tmp_path):
    from lightcurve_ingest.clients.tap import TapClient
    from lightcurve_ingest.domain.catalog import Catalog
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.domain.targets import ArchiveTargets
    from lightcurve_ingest.storage.backends import open_storage
    from lightcurve_ingest.storage.destination import parse_destination
    from lightcurve_ingest.tasks.ingest import RunInfo, plan_targets
    from lightcurve_ingest.tasks.params import param_specs
    from lightcurve_ingest.wiring.connections import services_from_connections

    tap = TapClient(standins.tap.base_url)
    for slug in ("kepler", "tess", "k2"):
        mission = get_mission(slug)
        hosts = standins.universe.hosts_of(mission.name)
        [target] = ArchiveTargets(mission, tap).with_ids([hosts[0].target_id])
        planets = {p.pl_name: p for p in hosts[0].planets}
        assert 1 <= len(target.known) <= len(planets)  # pi Men b transits no one: the TOI table lists only c
        for known in target.known:
            assert known.ephemeris.epoch_system == mission.light_curve_format.time_system.name
            if known.ephemeris.usable:
                bjd = known.ephemeris.epoch + mission.light_curve_format.time_system.bjd_offset
                assert any(abs(bjd - p.epoch_bjd) < 1e-6 for p in planets.values()), known

    mission = get_mission("kepler")
    params = {name: spec["default"] for name, spec in param_specs(mission).items()}
    plan = plan_targets(mission, {**params, "destination": str(tmp_path), "targets": ["Kepler-10"]},
                        RunInfo(run_id="r"), services_from_connections())
    assert all(not t.known for b in plan.batches for t in b.targets)  # the batches carry labels only
    recorded = Catalog(open_storage(parse_destination(str(tmp_path)))).objects("Kepler")
    assert sorted(o.object for o in recorded) == ["K00072.01 (Kepler-10 b)", "K00072.02 (Kepler-10 c)"]
    b = next(o for o in recorded if o.object.startswith("K00072.01"))
    assert b.epoch_system == "BKJD" and b.ephemeris.usable and 0.83 < b.period_days < 0.84
