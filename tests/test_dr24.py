"""AstroNet's training set rebuilt: the Kepler DAG takes its targets from the DR24 TCE table (``object_table``), with
the TCEs' ephemerides and ``av_training_set`` labels (PC 1, AFP and NTP 0, UNK unlabelled)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lightcurve_ingest.domain.missions import K2, Kepler, Tess
from lightcurve_ingest.domain.missions.base import ObjectSource
from lightcurve_ingest.domain.targets import ArchiveTargets
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.tasks.ingest import run_failed
from lightcurve_ingest.tasks.params import RunParams, param_specs
from lightcurve_ingest.training.labels import label_of
from tests.helpers import run_flow

KEPLER, DR24 = Kepler(), "q1_q17_dr24_tce"
# DR24 rows as the archive's CSV gives them (text): a planet candidate and an NTP on one star, an AFP, an UNK alone
ROWS = [
    {"kepid": "11904151", "tce_plnt_num": "1", "tce_period": "0.837495", "tce_time0bk": "131.574",
     "tce_duration": "1.81", "tce_depth": "152.0", "av_training_set": "PC"},
    {"kepid": "11904151", "tce_plnt_num": "2", "tce_period": "12.345678", "tce_time0bk": "140.2468",
     "tce_duration": "3.21", "tce_depth": "85.0", "av_training_set": "NTP"},
    {"kepid": "8554498", "tce_plnt_num": "1", "tce_period": "4.78033", "tce_time0bk": "132.9757",
     "tce_duration": "2.6", "tce_depth": "", "av_training_set": "AFP"},
    {"kepid": "10593626", "tce_plnt_num": "1", "tce_period": "289.86", "tce_time0bk": "", "tce_duration": "7.4",
     "tce_depth": "492.0", "av_training_set": "UNK"},
]


class FakeTap:
    """A TapClient whose every query returns ``ROWS`` (as many as the query's ids allow); the queries are kept."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def query(self, adql: str, required: tuple[str, ...] = ()) -> list[dict[str, str]]:
        self.queries.append(adql)
        assert all(c in ROWS[0] for c in required), required
        return [r for r in ROWS if " in (" not in adql or r["kepid"] in adql.split(" in (", 1)[1]]


def dr24_targets() -> tuple[ArchiveTargets, FakeTap]:
    tap = FakeTap()
    return ArchiveTargets(KEPLER, tap, KEPLER.object_source(DR24)), tap


# --- params ------------------------------------------------------------------------------------------------------

def test_only_the_kepler_dag_has_object_table_and_its_default_is_cumulative():
    spec = param_specs(KEPLER)["object_table"]
    assert (spec["default"], spec["enum"], spec["type"]) == ("cumulative", ["cumulative", DR24], "string")
    assert param_specs(KEPLER)["dispositions"]["default"] == ["CONFIRMED"]
    for mission in (K2(), Tess()):
        specs = param_specs(mission)
        assert "object_table" not in specs
        assert specs["dispositions"]["items"]["enum"] == list(mission.table.dispositions)
    parsed = RunParams.parse({}, KEPLER)
    assert parsed.object_source.table.name == "cumulative" and parsed.dispositions == ["CONFIRMED"]


@pytest.mark.parametrize("value", ["koi", "Q1_Q17_DR24_TCE", None, 5, ["cumulative"]])
def test_an_unknown_object_table_is_refused_naming_the_param(value):
    with pytest.raises(InvalidInputError, match="is not a Kepler object table; known: cumulative, "
                                                "q1_q17_dr24_tce") as raised:
        RunParams.parse({"object_table": value}, KEPLER)
    assert raised.value.field == "object_table"


def test_k2_and_tess_refuse_object_table():
    for mission in (K2(), Tess()):
        with pytest.raises(InvalidInputError) as raised:
            RunParams.parse({"object_table": DR24}, mission)
        assert raised.value.field == "object_table"


def test_dr24_dispositions_are_its_own_and_default_to_the_labelled_set():
    assert RunParams.parse({"object_table": DR24}, KEPLER).dispositions == ["PC", "AFP", "NTP"]
    # the form's default (cumulative's) left as it is means DR24's default
    assert RunParams.parse({"object_table": DR24, "dispositions": ["CONFIRMED"]}, KEPLER).dispositions == [
        "PC", "AFP", "NTP"]
    assert RunParams.parse({"object_table": DR24, "dispositions": ["UNK", "PC"]}, KEPLER).dispositions == ["UNK", "PC"]
    with pytest.raises(InvalidInputError, match="'CANDIDATE' is not a disposition of Kepler's q1_q17_dr24_tce; "
                                                "allowed: PC, AFP, NTP, UNK") as raised:
        RunParams.parse({"object_table": DR24, "dispositions": ["PC", "CANDIDATE"]}, KEPLER)
    assert raised.value.field == "dispositions"
    with pytest.raises(InvalidInputError, match="'PC' is not a Kepler disposition; allowed: CONFIRMED") as raised:
        RunParams.parse({"dispositions": ["PC"]}, KEPLER)
    assert raised.value.field == "dispositions"


def test_a_mirror_run_refuses_another_table():
    class TwoTables(K2):
        def other_object_sources(self) -> tuple[ObjectSource, ...]:
            return (ObjectSource(replace(self.table, name="other"), None, self.object_of_row),)

    mission = TwoTables()
    assert RunParams.parse({"object_table": "k2pandc", "campaigns": [5]}, mission).units == [5]  # its own: fine
    with pytest.raises(InvalidInputError, match="cannot be combined with campaigns") as raised:
        RunParams.parse({"object_table": "other", "campaigns": [5]}, mission)
    assert raised.value.field == "object_table"


# --- targets -----------------------------------------------------------------------------------------------------

def test_dr24_targets_carry_each_tce_with_its_ephemeris_in_bkjd_as_given_and_its_training_label():
    archive, tap = dr24_targets()
    targets = {t.target_id: t for t in archive.all(["PC", "AFP", "NTP"])}

    assert set(targets) == {11904151, 8554498}  # the UNK-only star is not in the labelled set
    assert "from q1_q17_dr24_tce where kepid is not null" in tap.queries[0]
    assert all(c in tap.queries[0] for c in ("tce_period", "tce_time0bk", "tce_duration", "tce_depth"))
    kepler10 = targets[11904151]
    assert (kepler10.name, kepler10.disposition, KEPLER.label(kepler10)) == ("", "PC", "KIC 11904151")
    assert kepler10.objects == ("KIC 11904151 TCE 1", "KIC 11904151 TCE 2")
    pc, ntp = kepler10.known
    assert (pc.name, pc.disposition, ntp.disposition) == ("KIC 11904151 TCE 1", "PC", "NTP")
    assert (pc.ephemeris.period_days, pc.ephemeris.epoch, pc.ephemeris.duration_hours, pc.ephemeris.depth_ppm,
            pc.ephemeris.epoch_system, pc.ephemeris.object) == (0.837495, 131.574, 1.81, 152.0, "BKJD",
                                                                "KIC 11904151 TCE 1")
    assert ntp.ephemeris.epoch == 140.2468 and ntp.ephemeris.usable
    [afp] = targets[8554498].known
    assert (afp.disposition, afp.ephemeris.depth_ppm, afp.ephemeris.usable) == ("AFP", None, True)


def test_a_tce_without_an_epoch_keeps_its_label_and_says_why_it_has_no_ephemeris():
    archive, _ = dr24_targets()
    [unk] = archive.with_ids([10593626])
    [tce] = unk.known
    assert (unk.disposition, tce.disposition) == ("UNK", "UNK")
    assert tce.ephemeris.reason == "no tce_time0bk in the archive's row"


def test_ids_are_looked_up_in_dr24_and_a_star_it_lacks_gets_no_labels():
    archive, tap = dr24_targets()
    targets, unresolved = archive.resolve(["KIC 8554498", "1234567"])
    assert unresolved == [] and "from q1_q17_dr24_tce where kepid in (1234567, 8554498)" in tap.queries[-1]
    assert [(t.target_id, t.disposition) for t in targets] == [(1234567, ""), (8554498, "AFP")]


def test_a_window_over_dr24_takes_every_star_of_the_dispositions():
    """The table has no date columns: it cannot say what changed, so a scheduled run takes all its stars."""
    archive, tap = dr24_targets()
    window = archive.changed_in(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), ["PC"])
    assert [t.target_id for t in window] == [11904151]
    assert len(tap.queries) == 1 and "2026" not in tap.queries[0]


def test_a_tce_number_that_is_not_one_is_refused_naming_its_column():
    with pytest.raises(InvalidInputError) as raised:
        KEPLER.tce_of_row({**ROWS[0], "tce_plnt_num": "1; drop"})
    assert raised.value.field == "tce_plnt_num"


# --- labels ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("disposition", "label"), [("PC", 1), ("AFP", 0), ("NTP", 0), ("UNK", None), ("ntp", 0)])
def test_dr24_words_label_kepler_objects(disposition, label):
    assert label_of("Kepler", disposition) == label


@pytest.mark.parametrize("disposition", ["PC", "AFP", "NTP", "UNK"])
def test_k2_does_not_take_dr24_words(disposition):
    with pytest.raises(InvalidInputError) as raised:
        label_of("K2", disposition)
    assert raised.value.field == "disposition"


def test_tess_pc_stays_a_candidate():
    assert label_of("TESS", "PC") is None


# --- end to end, against the stand-ins ----------------------------------------------------------------------------

def catalog_of(dest: Path):  # noqa: ANN201
    from lightcurve_ingest.domain.catalog import Catalog
    from lightcurve_ingest.storage.backends import open_storage
    from lightcurve_ingest.storage.destination import parse_destination

    return Catalog(open_storage(parse_destination(str(dest))))


@pytest.mark.slow  # the stand-ins
def test_a_kepler_run_over_dr24_lands_its_stars_with_every_tce_labelled(standins, tmp_path):
    from tests.standins.tap import dr24_tce_rows

    rows = dr24_tce_rows(standins.universe)  # (kepid, tce_plnt_num, period, time0bk, duration, depth, label)
    labelled = {r[0] for r in rows if r[6] in ("PC", "AFP", "NTP")}
    assert {r[6] for r in rows} >= {"PC", "AFP", "NTP", "UNK"}, "the stand-in holds every kind of TCE"

    result = run_flow("kepler", {"destination": str(tmp_path), "object_table": DR24})

    assert not run_failed(result), result
    catalog = catalog_of(tmp_path)
    states = {s.target_id: s for s in catalog.target_states("Kepler")}
    assert set(states) == labelled
    objects = {(o.target_id, o.object): o for o in catalog.objects("Kepler")}
    expected = {(r[0], f"KIC {r[0]} TCE {r[1]}"): r for r in rows if r[0] in labelled}
    assert set(objects) == set(expected)  # a chosen star's UNK TCEs come too: a star's labels come from all its rows
    for key, (_, _, period, time0bk, duration, depth, word) in expected.items():
        obj = objects[key]
        assert (obj.disposition, obj.period_days, obj.epoch, obj.epoch_system) == (word, period, time0bk, "BKJD")
        assert (obj.duration_hours, obj.depth_ppm) == (duration, depth)
        label_of("Kepler", obj.disposition)  # every word is one the training set knows
    for target_id, state in states.items():
        words = {r[6] for r in rows if r[0] == target_id}
        assert state.disposition == next(w for w in ("PC", "AFP", "NTP", "UNK") if w in words)


@pytest.mark.slow  # the stand-ins
def test_a_scheduled_kepler_run_over_dr24_plans_every_labelled_star(standins, tmp_path):
    from lightcurve_ingest.tasks.ingest import RunInfo, plan_targets
    from lightcurve_ingest.wiring.connections import services_from_connections
    from tests.standins.tap import dr24_tce_rows

    labelled = {r[0] for r in dr24_tce_rows(standins.universe) if r[6] in ("PC", "AFP", "NTP")}
    run = RunInfo("scheduled", datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    plan = plan_targets(KEPLER, {"destination": str(tmp_path), "object_table": DR24}, run,
                        services_from_connections())
    assert plan.targets == len(labelled) and plan.mode.startswith("window ")
    assert {t.target_id for b in plan.batches for t in b.targets} == labelled
