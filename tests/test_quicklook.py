"""Quick-look plots and the gallery, end to end: the ingest DAGs copy stand-in light curves that carry a planted
sinusoid, then the ``lightcurve_quicklook`` DAG (``dag.test()``) draws them at the destination, local or S3.

The gallery is opened in headless Chromium (Debian's package, through playwright): filters hide the rows they
should and every link leads to a file that exists.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from lightcurve_ingest import quicklook_tasks as qt
from lightcurve_ingest.quicklook.plot import PERIOD_METADATA_KEY
from tests.helpers import read_local_catalog, run_dag, task_states, xcom
from tests.standins import Standins, build_universe
from tests.standins.fits_factory import LONG_CADENCE_DAYS, planted_period_days

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CADENCE_DAYS = {"K2": LONG_CADENCE_DAYS, "Kepler": LONG_CADENCE_DAYS, "TESS": 120 / 86400}
SCREENSHOTS = Path(os.environ.get("QUICKLOOK_SCREENSHOT_DIR", "")) if os.environ.get("QUICKLOOK_SCREENSHOT_DIR") \
    else None


@pytest.fixture(scope="module")
def standins():  # noqa: ANN201
    """Few stars of each mission, every light curve with a planted period (its bytes' sizes are the usual)."""
    universe = build_universe(4, kepler_hosts=4, tess_hosts=4, planted_signal=True)
    with Standins(universe) as running, pytest.MonkeyPatch.context() as patch:
        for name, value in running.airflow_env().items():
            patch.setenv(name, value)
        yield running


@pytest.fixture(scope="module")
def quicklook_dag(dag_bag):  # noqa: ANN001, ANN201
    return dag_bag.dags["lightcurve_quicklook"]


@pytest.fixture(scope="module")
def ingested(dags, standins, tmp_path_factory):  # noqa: ANN001, ANN201
    """A local destination holding every mission's light curves, and the ingest runs' Asset events."""
    dest = tmp_path_factory.mktemp("quicklook")
    events = []
    for slug in ("k2", "kepler", "tess"):
        run = run_dag(dags[slug], {"destination": str(dest)})
        assert str(run.state) == "success", task_states(run)
        events += asset_events_of(run.run_id)
    return dest, events


def asset_events_of(run_id: str) -> list:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(select(AssetEvent).where(AssetEvent.source_run_id == run_id)).all()
        session.expunge_all()
        return events


def run_quicklook(dag, conf: dict):  # noqa: ANN001, ANN201
    from lightcurve_ingest.quicklook_dag import param_specs

    return dag.test(run_conf={**{n: s["default"] for n, s in param_specs().items()}, **conf})


def png_period(data: bytes) -> float:
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes every pixel: a truncated PNG fails here
    assert image.format == "PNG" and image.size == (800, 480)
    return float(image.text[PERIOD_METADATA_KEY])


def planted(row) -> float:  # noqa: ANN001
    return planted_period_days(int(row.target_id), int(row.observing_unit), CADENCE_DAYS[row.mission])


# --- the DAG -----------------------------------------------------------------------------------------------------

def test_events_of_the_ingest_runs_plan_exactly_their_new_files(ingested):
    dest, events = ingested
    files = read_local_catalog(dest)

    requests = qt.requests_of_events(events)
    batches = qt.plan_plots(requests, per_batch=7)

    assert {e.extra["mission"] for e in events} == {"K2", "Kepler", "TESS"}
    assert [(r.destination, len(r.run_ids)) for r in requests] == [(str(dest), 3)]
    assert sorted(j.source_key for b in batches for j in b.jobs) == sorted(files["source_key"])
    assert max(len(b.jobs) for b in batches) == 7


def test_every_light_curve_gets_a_png_whose_strongest_period_is_the_planted_one(quicklook_dag, ingested):
    dest, _ = ingested
    files = read_local_catalog(dest)

    run = run_quicklook(quicklook_dag, {"destination": str(dest), "plots_per_batch": 10})

    assert str(run.state) == "success", task_states(run)
    result = xcom(run, "write_gallery")
    assert (result["rendered"], result["unreadable"], result["failed_batches"]) == (len(files), [], [])
    assert set(files["mission"]) == {"K2", "Kepler", "TESS"}
    for row in files.itertuples():
        found = png_period((dest / "_quicklook" / f"{row.source_key}.png").read_bytes())
        assert abs(found / planted(row) - 1) < 0.01, (row.source_key, found, planted(row))
    assert not list(dest.rglob(".*.part-*"))
    assert result["galleries"][0]["targets"] == files.groupby(["mission", "target_id"]).ngroups


def test_a_second_run_draws_nothing_again(quicklook_dag, ingested):
    dest, _ = ingested
    pngs = {p: p.stat().st_mtime_ns for p in (dest / "_quicklook").rglob("*.png")}

    run = run_quicklook(quicklook_dag, {"destination": str(dest)})

    assert str(run.state) == "success", task_states(run)
    assert xcom(run, "write_gallery")["rendered"] == 0
    assert pngs and {p: p.stat().st_mtime_ns for p in (dest / "_quicklook").rglob("*.png")} == pngs


def test_a_manual_run_without_a_destination_fails_naming_it(quicklook_dag):
    run = run_quicklook(quicklook_dag, {})
    assert str(run.state) == "failed" and task_states(run)["plan_plots"] == "failed"


def test_damaged_and_unexpected_fits_get_no_png_and_the_run_succeeds(dags, quicklook_dag, tmp_path, caplog):
    run = run_dag(dags["kepler"], {"destination": str(tmp_path)})
    assert str(run.state) == "success", task_states(run)
    keys = sorted(read_local_catalog(tmp_path)["source_key"])
    truncated, no_flux, gone, *good = keys
    (tmp_path / truncated).write_bytes((tmp_path / truncated).read_bytes()[:5000])
    table = fits.BinTableHDU.from_columns([fits.Column(name="TIME", format="D", array=np.arange(100.0))],
                                          name="LIGHTCURVE")
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / no_flux, overwrite=True)
    (tmp_path / gone).unlink()

    with caplog.at_level("ERROR"):
        quick = run_quicklook(quicklook_dag, {"destination": str(tmp_path)})

    assert str(quick.state) == "success", task_states(quick)
    drawn = {p.relative_to(tmp_path / "_quicklook").as_posix()[:-4] for p in (tmp_path / "_quicklook").rglob("*.png")}
    assert drawn == set(good)
    unreadable = xcom(quick, "write_gallery")["unreadable"]
    assert sorted(u.split(":")[0] for u in unreadable) == sorted([truncated, no_flux, gone])
    why = {u.split(":")[0]: u for u in unreadable}
    assert "LIGHTCURVE table has no column" in why[no_flux] and "PDCSAP_FLUX" in why[no_flux]
    assert "truncated or damaged" in why[truncated] and "no such file" in why[gone]
    page = (tmp_path / "_quicklook" / "index.html").read_text()
    assert all(f"{k}.png" in page for k in good) and f"{no_flux}.png" not in page


def test_s3_destination_gets_pngs_and_a_gallery_served_as_html(dags, quicklook_dag, standins):
    standins.s3.create_bucket("quicklook-bucket")
    dest = "s3://quicklook-bucket/team"
    assert str(run_dag(dags["tess"], {"destination": dest}).state) == "success"

    run = run_quicklook(quicklook_dag, {"destination": dest})

    assert str(run.state) == "success", task_states(run)
    client = standins.s3.client(signed=True)
    files = qt.open_storage(dest, "aws_default")
    keys = files.keys("_quicklook")
    catalog = read_catalog_keys(files)
    assert keys == {f"_quicklook/{k}.png" for k in catalog} | {"_quicklook/index.html"}
    some = sorted(catalog)[0]
    head = client.get_object(Bucket="quicklook-bucket", Key=f"team/_quicklook/{some}.png")
    assert head["ContentType"] == "image/png" and png_period(head["Body"].read()) > 0
    page = client.get_object(Bucket="quicklook-bucket", Key="team/_quicklook/index.html")
    assert page["ContentType"].startswith("text/html")


def read_catalog_keys(storage) -> set[str]:  # noqa: ANN001
    from lightcurve_ingest import catalog as cat
    from lightcurve_ingest.catalog import Catalog

    return set(Catalog(storage).read(cat.FILES_TABLE)["source_key"])


# --- the gallery in Chromium --------------------------------------------------------------------------------------

def test_gallery_in_chromium_filters_sorts_and_links_only_to_files_that_exist(quicklook_dag, ingested, tmp_path):
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: `apt-get update && apt-get install -y chromium`"
    from playwright.sync_api import sync_playwright

    dest, _ = ingested
    run_quicklook(quicklook_dag, {"destination": str(dest)})  # the gallery, whatever ran before
    index = dest / "_quicklook" / "index.html"
    targets = read_local_catalog(dest, "targets")
    held = read_local_catalog(dest).groupby("mission")["target_id"].nunique().to_dict()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(index.as_uri())
            shot = page.screenshot(full_page=False)
            if SCREENSHOTS:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                (SCREENSHOTS / "gallery.png").write_bytes(shot)
            rows = page.locator("tbody tr")
            assert rows.count() == sum(held.values())

            page.select_option("#mission", "Kepler")
            visible = page.locator("tbody tr:visible")
            assert visible.count() == held["Kepler"]
            assert set(visible.evaluate_all("rs => rs.map(r => r.dataset.mission)")) == {"Kepler"}
            assert page.locator("#count").inner_text() == f"{held['Kepler']} of {rows.count()} targets"

            page.select_option("#mission", "")
            page.select_option("#disposition", "CONFIRMED")
            shown = page.locator("tbody tr:visible").evaluate_all("rs => rs.map(r => r.dataset.id)")
            confirmed = targets[targets["disposition"] == "CONFIRMED"]
            assert sorted(map(int, shown)) == sorted(confirmed[confirmed["files"] > 0]["target_id"])

            page.select_option("#disposition", "")
            page.click("th[data-key=id]")
            ids = [int(i) for i in rows.evaluate_all("rs => rs.map(r => r.dataset.id)")]
            assert ids == sorted(ids)
            page.click("th[data-key=id]")
            assert [int(i) for i in rows.evaluate_all("rs => rs.map(r => r.dataset.id)")] == sorted(ids, reverse=True)

            links = page.eval_on_selector_all("a[href], img[src]", "es => es.map(e => e.href || e.src)")
            images = page.eval_on_selector_all("img", "es => es.length")
        finally:
            browser.close()

    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000
    assert images == len(read_local_catalog(dest))
    assert links and all(link.startswith("file://") for link in links)
    missing = [link for link in links if not Path(unquote(urlparse(link).path)).is_file()]
    assert missing == []
    assert {Path(unquote(urlparse(link).path)).suffix for link in links} == {".png", ".fits"}
    assert all(url.startswith("file://") for url in requests), "the page loads nothing from elsewhere"


# --- the pieces ---------------------------------------------------------------------------------------------------

def test_the_reader_keeps_good_cadences_and_tells_pdcsap_from_sap(tmp_path):
    from lightcurve_ingest.quicklook.lightcurve import read_light_curve
    from tests.standins.fits_factory import make_kepler_llc_fits

    path = tmp_path / "kplr011904151-2010078095331_llc.fits"
    path.write_bytes(make_kepler_llc_fits(11904151, 5, 4400, 0, planted=True))
    table = fits.getdata(path, "LIGHTCURVE")
    good = table["QUALITY"] == 0
    curve = read_light_curve(path)
    assert len(curve.time) == good.sum() < len(table)  # flagged cadences left out
    pdcsap, sap = table["PDCSAP_FLUX"][good], table["SAP_FLUX"][good]
    assert np.allclose(curve.pdcsap, pdcsap / np.median(pdcsap))
    assert np.allclose(curve.sap, sap / np.median(sap))
    assert not np.allclose(curve.pdcsap, curve.sap, atol=1e-3)  # SAP drifts in planted files: the two differ


def test_long_light_curves_are_drawn_as_a_bounded_number_of_bins():
    from lightcurve_ingest.quicklook.plot import MAX_PLOT_POINTS, binned

    time = np.arange(123_457, dtype=float)
    t, v = binned(time, 2 * time)
    assert len(t) == MAX_PLOT_POINTS and np.allclose(v, 2 * t) and t[0] < t[-1]
    assert len(binned(time[:100], time[:100])[0]) == 100  # short ones stay as they are


def test_the_periodogram_grid_is_capped_and_still_places_the_peak():
    from lightcurve_ingest.quicklook.periodogram import MAX_FREQUENCIES, strongest_period

    time = np.arange(75_000) * 0.020434  # 17 Kepler quarters' worth of long cadences: 1,532 days
    flux = 1 + 0.01 * np.sin(2 * np.pi * time / 2.3456) + np.random.default_rng(1).normal(0, 1e-3, len(time))
    result = strongest_period(time, flux)
    assert len(result.frequency) == MAX_FREQUENCIES  # 125,000 at 5 samples a peak: capped
    assert abs(result.best_period / 2.3456 - 1) < 0.001


def test_the_gallery_escapes_what_the_archive_says():
    from lightcurve_ingest.quicklook.gallery import GalleryPlot, GalleryRow, render_gallery

    row = GalleryRow(mission="K2", target_id=1, target_label="EPIC 1", host='<script>alert("x")</script>',
                     disposition="CONFIRMED", unit_name="campaign",
                     plots=(GalleryPlot(unit=5, png_href='a"b.png', fits_href="../a.fits"),))
    page = render_gallery([row], "now")
    assert "<script>alert" not in page and "&lt;script&gt;" in page and 'href="a&quot;b.png"' in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
