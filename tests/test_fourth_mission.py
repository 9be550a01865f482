"""A fourth mission is one module: a toy mission registered in ``MISSIONS`` gets its ingest DAG, its params, its
catalog Asset and its place in the quick-look and consumer schedules, with no product code changed.

The toy is defined here and added to the registry dict (the extension point), then the repository's DAG folder
is parsed as Airflow parses it. Parse only: nothing runs.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lightcurve_ingest.clients.tap import TapClient
from lightcurve_ingest.domain.formats import KEPLER_LLC
from lightcurve_ingest.domain.missions import (
    MISSIONS,
    ArchiveObject,
    ArchiveTable,
    KeyInfo,
    Mission,
    ProductKind,
    get_mission,
)
from lightcurve_ingest.domain.missions.base import full_match
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.tasks.params import RunParams

REPO = Path(__file__).resolve().parents[1]
# s<season>/toy<id>-s<season>_lc.fits below the key prefix
_RELATIVE_PATH = re.compile(r"s(?P<season>[0-9]{2})/toy(?P<id>[0-9]{6})-s(?P=season)_lc\.fits")
SEASONS = range(1, 13)
COMMON_PARAMS = {"destination", "dest_aws_conn_id", "targets", "dispositions", "full_refresh", "targets_per_batch",
                 "copy_threads", "read_back_server_side_copies", "products", "source"}
CATALOGS = ["k2_lightcurve_catalog", "kepler_lightcurve_catalog", "tess_lightcurve_catalog", "toy_lightcurve_catalog"]


class Toy(Mission):
    name = "Toy"
    slug = "toy"
    id_prefix = "TOY"
    id_prefixes = ("TOY",)
    id_example = "TOY 123456"
    id_range = (1, 999_999)
    id_digits = (1, 6)
    target_examples = "host names (Toy-1) or TOY ids (TOY 123456, 123456)"
    unit_name = "season"
    light_curves = "toy light curves, one a season"
    collection = "TOY"
    table = ArchiveTable(name="toy_objects", id_column="toy_id", columns=("toy_id", "host", "name", "status"),
                         disposition_column="status", dispositions=("REAL", "MAYBE"), default_dispositions=("REAL",),
                         date_columns=("updated",), labels=(("REAL", 1), ("MAYBE", None)))
    products = (ProductKind(cadence_s=600.0, subgroup="LC", suffix="_lc.fits"),)
    own_product = "Toy"
    light_curve_format = replace(KEPLER_LLC, name="Toy light curve", telescope="Toy", mission="Toy")
    asset_uri = "lightcurve-ingest://catalog/toy"
    key_prefix = "toy/public/lightcurves/"
    data_uri_prefix = "mast:TOY/lightcurves/"
    unit_param = "seasons"
    unit_examples = "[1, 12]"

    def resolve_names(self, names: list[str], tap: TapClient) -> dict[str, set[int]]:
        return {}

    def object_of_row(self, row: dict[str, str]) -> ArchiveObject:
        return ArchiveObject(target_id=self.id_of_row(row), host=row["host"], name=row["name"],
                             disposition=row["status"])

    def mast_target_name(self, target_id: int) -> str:
        return f"toy{target_id:06d}"

    def parse_relative_path(self, relative_path: str, field: str) -> KeyInfo:
        match = full_match(_RELATIVE_PATH, relative_path)
        if not match:
            raise InvalidInputError(field, f"{relative_path!r} is not the path of a Toy light curve")
        return KeyInfo(target_id=int(match.group("id")), unit=int(match.group("season")))

    def check_unit(self, unit: Any, field: str) -> int:
        if isinstance(unit, bool) or not isinstance(unit, int) or unit not in SEASONS:
            raise InvalidInputError(field, f"{unit!r} is not a Toy season (1-12)")
        return unit


@pytest.fixture(scope="module")
def toy_bag() -> Any:
    """The repository's DAG folder, parsed with the toy in the registry (the registry is restored after)."""
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(MISSIONS, "toy", Toy())
        return DagBag(dag_folder=str(REPO / "dags"))


def test_the_toy_gets_its_ingest_dag_from_the_registry(toy_bag):
    assert toy_bag.import_errors == {}
    assert sorted(toy_bag.dags) == ["k2_lightcurve_ingest", "kepler_lightcurve_ingest", "lightcurve_catalog_consumer",
                                    "lightcurve_quicklook", "lightcurve_training_set", "tess_lightcurve_ingest",
                                    "toy_lightcurve_ingest"]
    dag = toy_bag.dags["toy_lightcurve_ingest"]
    assert Path(dag.fileloc).name == "other_missions_lightcurve_ingest.py"  # no DAG file of its own
    assert Path(toy_bag.dags["k2_lightcurve_ingest"].fileloc).name == "k2_lightcurve_ingest.py"
    assert "toy" in dag.tags and "toy_objects" in dag.doc_md
    [asset] = {t.task_id: t for t in dag.tasks}["publish_catalog"].outlets
    assert (asset.name, asset.uri) == ("toy_lightcurve_catalog", "lightcurve-ingest://catalog/toy")


def test_the_toys_params_name_its_unit_and_its_table(toy_bag):
    params = toy_bag.dags["toy_lightcurve_ingest"].params
    assert set(params) == COMMON_PARAMS | {"seasons"}
    seasons = params.get_param("seasons")
    assert seasons.value is None and seasons.schema["title"] == "Whole seasons"
    assert seasons.description.startswith("Mirror every Toy light curve of these seasons (e.g. [1, 12]), ")
    assert params.get_param("dispositions").value == ["REAL"]
    assert params.get_param("dispositions").schema["items"]["enum"] == ["REAL", "MAYBE"]
    assert "toy_objects" in params.get_param("targets").description
    assert params.get_param("destination").value.endswith("/data/toy_lightcurves")


@pytest.mark.parametrize("dag_id", ["lightcurve_quicklook", "lightcurve_catalog_consumer", "lightcurve_training_set"])
def test_the_downstream_dags_schedule_on_the_toys_catalog(toy_bag, dag_id):
    objects = toy_bag.dags[dag_id].timetable.asset_condition.objects
    assert [a.name for a in objects] == CATALOGS  # any of them
    assert objects[-1].uri == "lightcurve-ingest://catalog/toy"


def test_the_toys_units_are_checked_by_the_toy(monkeypatch):
    monkeypatch.setitem(MISSIONS, "toy", Toy())
    toy = get_mission("Toy")
    assert RunParams.parse({"seasons": [3, 12, 3]}, toy).units == [3, 12]
    with pytest.raises(InvalidInputError, match="13 is not a Toy season") as bad_unit:
        RunParams.parse({"seasons": [13]}, toy)
    assert bad_unit.value.field == "seasons"
    with pytest.raises(InvalidInputError, match="cannot be combined with targets") as with_targets:
        RunParams.parse({"seasons": [1], "targets": ["TOY 123456"]}, toy)
    assert with_targets.value.field == "seasons"
    with pytest.raises(InvalidInputError) as foreign:
        RunParams.parse({"campaigns": [5]}, toy)
    assert foreign.value.field == "campaigns"


def test_the_scripts_take_the_missions_of_the_registry():
    script = ('source scripts/_env.sh; mission_slugs; pick_mission kepler "{}"; echo "$MISSION ${ARGS[*]}"; '
              'pick_mission "{}"; echo "$MISSION ${ARGS[*]}"; pick_mission toy "{}"')
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [*MISSIONS, "kepler {}", "k2 {}"]
    assert list(MISSIONS) == ["k2", "kepler", "tess"]  # the toy is not registered in the script's process
    assert proc.stderr.strip() == "'toy' is neither a mission (k2, kepler, tess) nor a JSON conf"


def test_the_toys_labels_come_from_its_table(monkeypatch):
    from lightcurve_ingest.training.labels import label_of, split_of

    monkeypatch.setitem(MISSIONS, "toy", Toy())
    assert (label_of("Toy", "REAL"), label_of("toy", "maybe")) == (1, None)
    assert split_of("Toy", 7) in ("train", "validation", "test")
