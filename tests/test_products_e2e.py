"""Products end to end against the stand-ins (issue 22): MAST asked once more per batch for the HLSPs, never per
target; each product's files found at their keys; a mirror of a product and unit the bucket lacks refused naming
both; quick-look draws an HLSP file."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # the stand-ins with HLSPs

HLSP_FITS_ROWS = 300  # small files: the stand-ins upload every bucket object at start


@pytest.fixture(scope="module")
def standins():  # noqa: ANN201
    from tests.standins import Standins

    with Standins(n_hosts=6, fits_rows=HLSP_FITS_ROWS, hlsps=True) as running, \
            pytest.MonkeyPatch.context() as patch:
        for name, value in running.airflow_env().items():
            patch.setenv(name, value)
        yield running


def find(standins, slug: str, hosts, products: tuple[str, ...]):  # noqa: ANN001, ANN201
    from lightcurve_ingest.clients.mast import MastClient
    from lightcurve_ingest.domain.discovery import find_light_curves
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.domain.payloads import Batch, Target

    batch = Batch(label="test", targets=tuple(Target(h.target_id, h.hostname) for h in hosts))
    return find_light_curves(get_mission(slug), batch, MastClient(standins.mast.base_url), products=products)


@pytest.mark.parametrize(("slug", "products"), [
    ("tess", ("SPOC", "TESS-SPOC", "QLP")), ("tess", ("QLP",)), ("k2", ("K2SFF", "EVEREST")), ("k2", ("K2",))])
def test_one_batch_finds_every_file_of_the_products_asked_in_a_fixed_number_of_requests(standins, slug, products):
    universe = standins.universe
    mission_name = {"tess": "TESS", "k2": "K2"}[slug]
    hosts = [h for h in universe.hosts_of(mission_name) if h.known_to_mast]
    before = sum(standins.mast.requests_by_service.values())
    listing = find(standins, slug, hosts, products)
    requests = sum(standins.mast.requests_by_service.values()) - before

    own = {"tess": "SPOC", "k2": "K2"}[slug]
    expected = {f.key for h in hosts for f in h.light_curves()} if own in products else set()
    expected |= {f.key for f in universe.hlsp_files if f.provenance in products and f.mission == mission_name
                 and f.target_id in {h.target_id for h in hosts}}
    assert {f.source_key for f in listing.files} == expected and expected
    assert {f.product for f in listing.files} == set(products)
    for file in listing.files:
        assert file.cadence_s in (20.0, 120.0, 200.0, 600.0, 1800.0)
    # one observation query per kind of collection and one product query, whatever the number of targets
    queries = (own in products) + any(p != own for p in products) + 1
    assert requests <= queries * 3, standins.mast.requests_by_service  # astroquery: a query is 1-3 requests


def test_an_ffi_only_star_is_found_only_through_its_hlsps(standins):
    from tests.standins.missions_tess import FFI_ONLY_TOI

    star = next(h for h in standins.universe.hosts_of("TESS") if h.hostname == f"TOI-{FFI_ONLY_TOI}")
    assert {f.source_key for f in find(standins, "tess", [star], ("SPOC",)).files} == set()
    found = find(standins, "tess", [star], ("QLP", "TESS-SPOC")).files
    assert found and {f.product for f in found} == {"QLP", "TESS-SPOC"}
    assert {f.cadence_s for f in found if f.product == "QLP"} == {1800.0, 600.0, 200.0}


def test_a_mirror_of_a_product_and_unit_the_bucket_lacks_is_refused_naming_both(standins):
    from lightcurve_ingest.domain import mirror
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.errors import InvalidInputError
    from lightcurve_ingest.wiring.connections import services_from_connections

    tess, source = get_mission("tess"), services_from_connections().source()
    sector = min(f.unit for f in standins.universe.hlsp_files if f.provenance == "QLP" and f.in_bucket)
    shards = mirror.plan_shards(tess, [sector], source, 100, ("QLP",))
    assert shards and all(s.product == "QLP" and s.prefix.startswith(f"mast/hlsp/qlp/s{sector:04d}/") for s in shards)
    listed = [o for s in shards for o in source.list_objects(s.prefix)]
    files, _ = mirror.light_curves(tess, listed, {})
    assert {f.source_key for f in files} == {f.key for f in standins.universe.hlsp_files
                                             if f.provenance == "QLP" and f.unit == sector and f.in_bucket}
    with pytest.raises(InvalidInputError) as refused:
        mirror.plan_shards(tess, [sector], source, 100, ("TESS-SPOC",))
    assert refused.value.field == "sectors" and f"TESS-SPOC sector {sector} is not in the public bucket" in str(
        refused.value)


def test_quicklook_draws_an_hlsp_file(standins, tmp_path):
    from PIL import Image

    from lightcurve_ingest.domain.payloads import PlotJob
    from lightcurve_ingest.storage.backends import open_storage
    from lightcurve_ingest.storage.destination import parse_destination
    from lightcurve_ingest.tasks.quicklook import png_key, render_one

    storage = open_storage(parse_destination(str(tmp_path)))
    for provenance in ("QLP", "TESS-SPOC", "K2SFF", "EVEREST"):
        file = next(f for f in standins.universe.hlsp_files if f.provenance == provenance)
        (tmp_path / file.key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file.key).write_bytes(standins.universe.fits_bytes(file))
        job = PlotJob(source_key=file.key, mission=file.mission, target_id=file.target_id, target="",
                      observing_unit=file.unit, disposition="", product=provenance)
        period = render_one(job, storage)
        image = Image.open(tmp_path / png_key(file.key))
        image.load()
        assert image.format == "PNG" and period > 0, provenance


def test_a_run_of_other_products_leaves_the_pipelines_own_to_the_next_run(standins, tmp_path):
    from lightcurve_ingest.domain.catalog_records import TargetStatus
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.params import param_specs
    from tests.helpers import run_flow
    from tests.test_training_set import catalog_of

    tess = get_mission("tess")
    host = next(h for h in standins.universe.hosts_of("TESS") if h.light_curves() and h.has_confirmed_planet)
    conf = {**{n: s["default"] for n, s in param_specs(tess).items()}, "destination": str(tmp_path),
            "targets": [f"TIC {host.target_id}"]}
    qlp = run_flow("tess", {**conf, "products": ["QLP"]})
    assert qlp["copied"] == len(standins.universe.hlsps_of(host, "QLP")) > 0 and not qlp["failed_batches"]
    [state] = catalog_of(tmp_path).target_states("TESS", [host.target_id])
    assert state.status == TargetStatus.PENDING  # its SPOC light curves were not looked for

    spoc = run_flow("tess", conf)
    assert spoc["copied"] == len(host.light_curves())
    [state] = catalog_of(tmp_path).target_states("TESS", [host.target_id])
    assert state.status == TargetStatus.COMPLETE and state.files == spoc["copied"] + qlp["copied"]
    products = {f.product for f in catalog_of(tmp_path).files("TESS", target_ids=[host.target_id])}
    assert products == {"QLP", "SPOC"}
