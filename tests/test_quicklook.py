"""Quick-look plots and the gallery, end to end: the ingest DAGs copy stand-in light curves that carry a planted
sinusoid, then the ``lightcurve_quicklook`` DAG (``dag.test()``) draws them at the destination, local or S3.

The gallery is opened in headless Chromium (Debian's package, through playwright): filters hide the rows they
should and every link leads to a file that exists.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from lightcurve_ingest.domain.payloads import PlotJob
from lightcurve_ingest.quicklook.plot import PERIOD_METADATA_KEY
from lightcurve_ingest.tasks import quicklook as qt
from lightcurve_ingest.wiring.connections import dest_s3_hook, open_destination_storage
from tests.helpers import read_local_catalog, run_dag, task_states, xcom
from tests.real_fits import KEPLER_90_Q3, KEPLER_90_Q4_PART, SPOC_LAYOUT_FILES, TESS_S1_WASP_126, RealFile
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


@pytest.fixture(scope="module")
def first_drawing(quicklook_dag, ingested):  # noqa: ANN001, ANN201
    """The first quick-look run on the ingested destination (every test that needs its plots drawn asks for it, so
    it comes before any other run there, whichever test runs first)."""
    dest, _ = ingested
    return run_quicklook(quicklook_dag, {"destination": str(dest), "plots_per_batch": 10})


def asset_events_of(run_id: str) -> list:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(select(AssetEvent).where(AssetEvent.source_run_id == run_id)).all()
        session.expunge_all()
        return events


def run_quicklook(dag, conf: dict):  # noqa: ANN001, ANN201
    from lightcurve_ingest.wiring.quicklook_dag import param_specs

    return dag.test(run_conf={**{n: s["default"] for n, s in param_specs().items()}, **conf})


def png_period(data: bytes) -> float:
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes every pixel: a truncated PNG fails here
    # 800 x 480, and taller by a row of folded views per four known objects of the star (test_quicklook_objects.py)
    assert image.format == "PNG" and image.size[0] == 800 and image.size[1] >= 480
    return float(image.text[PERIOD_METADATA_KEY])


def planted(row) -> float:  # noqa: ANN001
    return planted_period_days(int(row.target_id), int(row.observing_unit), CADENCE_DAYS[row.mission])


# --- the DAG -----------------------------------------------------------------------------------------------------

def test_events_of_the_ingest_runs_plan_exactly_their_new_files(ingested):
    dest, events = ingested
    files = read_local_catalog(dest)

    requests = qt.requests_of_events(events)
    batches = qt.plan_plots(requests, per_batch=7, hook_factory=dest_s3_hook)

    assert {e.extra["mission"] for e in events} == {"K2", "Kepler", "TESS"}
    assert [(r.destination, len(r.run_ids)) for r in requests] == [(str(dest), 3)]
    assert sorted(j.source_key for b in batches for j in b.jobs) == sorted(files["source_key"])
    assert max(len(b.jobs) for b in batches) == 7


def test_every_light_curve_gets_a_png_whose_strongest_period_is_the_planted_one(first_drawing, ingested):
    dest, _ = ingested
    files = read_local_catalog(dest)
    run = first_drawing

    assert str(run.state) == "success", task_states(run)
    result = xcom(run, "write_gallery")
    assert (result["rendered"], result["unreadable"], result["failed_batches"]) == (len(files), [], [])
    assert set(files["mission"]) == {"K2", "Kepler", "TESS"}
    for row in files.itertuples():
        found = png_period((dest / "_quicklook" / f"{row.source_key}.png").read_bytes())
        assert abs(found / planted(row) - 1) < 0.01, (row.source_key, found, planted(row))
    assert not list(dest.rglob(".*.part-*"))
    assert result["galleries"][0]["targets"] == files.groupby(["mission", "target_id"]).ngroups


def test_a_second_run_draws_nothing_again(quicklook_dag, ingested, first_drawing):
    dest, _ = ingested
    assert xcom(first_drawing, "write_gallery")["rendered"] == len(read_local_catalog(dest)), "no first run drew"
    pngs = {p: p.stat().st_mtime_ns for p in (dest / "_quicklook").rglob("*.png")}

    run = run_quicklook(quicklook_dag, {"destination": str(dest)})

    assert str(run.state) == "success", task_states(run)
    assert xcom(run, "write_gallery")["rendered"] == 0
    assert pngs and {p: p.stat().st_mtime_ns for p in (dest / "_quicklook").rglob("*.png")} == pngs


def test_a_manual_run_without_a_destination_fails_naming_it(quicklook_dag, capfd, caplog):
    capfd.readouterr()
    caplog.clear()
    run = run_quicklook(quicklook_dag, {})
    assert str(run.state) == "failed" and task_states(run)["plan_plots"] == "failed"
    printed = capfd.readouterr()
    logs = printed.out + printed.err + caplog.text
    assert "InvalidInputError: destination: give one: a manual run draws a destination's plots" in logs


def test_damaged_and_unexpected_fits_get_no_png_and_the_run_succeeds(dags, quicklook_dag, tmp_path, caplog):
    run = run_dag(dags["kepler"], {"destination": str(tmp_path)})
    assert str(run.state) == "success", task_states(run)
    keys = sorted(read_local_catalog(tmp_path)["source_key"])
    truncated, no_flux, gone, *good = keys
    (tmp_path / truncated).write_bytes((tmp_path / truncated).read_bytes()[:5000])
    table = fits.BinTableHDU.from_columns([fits.Column(name="TIME", format="D", array=np.arange(100.0))],
                                          name="LIGHTCURVE")
    table.header.update({"BJDREFI": 2454833, "BJDREFF": 0.0})  # a Kepler file's header, without its flux columns
    primary = fits.PrimaryHDU()
    primary.header.update({"TELESCOP": "Kepler", "MISSION": "Kepler"})
    fits.HDUList([primary, table]).writeto(tmp_path / no_flux, overwrite=True)
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
    files = open_destination_storage(dest, "aws_default")
    keys = files.keys("_quicklook")
    catalog = read_catalog_keys(files)
    assert keys == {f"_quicklook/{k}.png" for k in catalog} | {"_quicklook/index.html"}
    some = sorted(catalog)[0]
    head = client.get_object(Bucket="quicklook-bucket", Key=f"team/_quicklook/{some}.png")
    assert head["ContentType"] == "image/png" and png_period(head["Body"].read()) > 0
    page = client.get_object(Bucket="quicklook-bucket", Key="team/_quicklook/index.html")
    assert page["ContentType"].startswith("text/html")


def read_catalog_keys(storage) -> set[str]:  # noqa: ANN001
    from lightcurve_ingest.domain import catalog as cat
    from lightcurve_ingest.domain.catalog import Catalog

    return set(Catalog(storage).read(cat.FILES_TABLE)["source_key"])


# --- genuine MAST light curves ---------------------------------------------------------------------------------

@pytest.mark.parametrize("real", SPOC_LAYOUT_FILES, ids=lambda r: r.name)
def test_the_quicklook_of_every_genuine_light_curve_is_drawn(real: RealFile, tmp_path):
    storage = open_destination_storage(str(tmp_path), "aws_default")
    job = PlotJob(source_key=f"genuine/{real.name}", mission=real.mission, target_id=real.target_id, target="",
                  observing_unit=real.unit, disposition="")
    (tmp_path / "genuine").mkdir()
    shutil.copy(real.path, tmp_path / job.source_key)

    period = qt.render_one(job, storage)

    png = (tmp_path / qt.png_key(job.source_key)).read_bytes()
    assert period > 0 and png_period(png) == pytest.approx(period, rel=1e-7)
    assert len(png) > 20_000


@dataclass(frozen=True)
class Drawn:
    """The light-curve panel of a quick-look figure built as the PNG writer builds it, and its PDCSAP points."""

    axes: object
    time: np.ndarray
    flux: np.ndarray
    cadences: int  # good cadences of the light curve


def draw(real: RealFile, unit: str, png: Path) -> Drawn:
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.quicklook.lightcurve import read_light_curve
    from lightcurve_ingest.quicklook.periodogram import strongest_period
    from lightcurve_ingest.quicklook.plot import Title, quicklook_figure, render_png

    curve = read_light_curve(real.path, get_mission(real.mission).light_curve_format)
    periodogram = strongest_period(curve.time, curve.pdcsap)
    title = Title(target="Kepler-90", target_id="KIC 11442793", mission="Kepler", unit=unit, disposition="CONFIRMED")
    render_png(curve, periodogram, title, png)
    figure = quicklook_figure(curve, periodogram, title)
    axes = figure.axes[0]
    (line,) = [line for line in axes.get_lines() if line.get_label() == "PDCSAP"]
    return Drawn(axes, np.asarray(line.get_xdata()), np.asarray(line.get_ydata()), len(curve.time))


def assert_png(path: Path) -> None:
    assert path.stat().st_size > 20_000
    png_period(path.read_bytes())  # decodes, 800 x 480


# Kepler-90 (KIC 11442793, KOI-351). The first file of its Q4 (BKJD 352.4-373.2) holds one transit of Kepler-90 g:
# google-research/exoplanet-ml's README, which these files come from, plots it ("You can see a planet transit ---
# that's Kepler-90 g!"). In this file it lies at BKJD 357.2-357.9 and is 0.4 % deep.
KEPLER_90_G_TRANSIT_BKJD = (357.2, 357.9)


def test_the_quicklook_of_kepler_90_shows_the_transit_of_kepler_90_g(tmp_path):
    drawn = draw(KEPLER_90_Q4_PART, "quarter 4", tmp_path / "q4.png")

    start, end = KEPLER_90_G_TRANSIT_BKJD
    in_transit = (drawn.time > start) & (drawn.time < end)
    bottom = drawn.flux[in_transit].min()
    depth = np.median(drawn.flux) - bottom
    low, high = drawn.axes.get_ylim()
    assert len(drawn.time) == drawn.cadences and in_transit.sum() >= 10  # every cadence drawn, the transit's too
    assert depth > 0.003  # the transit as drawn, not averaged away
    assert low < bottom and depth > 0.5 * (high - low)  # inside the panel, over half its height
    assert drawn.axes.get_xlabel() == "time [BKJD = BJD - 2454833]"
    assert "default quality mask" in drawn.axes.get_title(loc="left")
    assert_png(tmp_path / "q4.png")
    if SCREENSHOTS:  # the README's example plot
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "q4.png", SCREENSHOTS / "plot.png")


# The two deepest dips of Kepler-90's Q3 file (medians over 0.3 d: 0.07 % and 0.064 %, five times the scatter of
# such a median), transits of its smaller planets: their centres in BKJD.
KEPLER_90_Q3_DIPS_BKJD = (319.74, 340.02)


# WASP-126 b (TIC 25155310, TOI-114) in the genuine TESS sector-1 file: eight transits, 0.6 % deep, every 3.2888 d
# (Maxted et al. 2016). Lomb-Scargle's strongest peak in this file is 1.644 d, half the period.
WASP_126_B_PERIOD_DAYS = 3.2888


def test_the_quicklook_of_wasp_126_names_its_transit_period_not_a_harmonic(tmp_path):
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.quicklook.lightcurve import read_light_curve
    from lightcurve_ingest.quicklook.periodogram import strongest_period, transit_search
    from lightcurve_ingest.quicklook.plot import TRANSIT_METADATA_KEY, Title, render_png

    curve = read_light_curve(TESS_S1_WASP_126.path, get_mission("tess").light_curve_format)
    periodogram, transits = strongest_period(curve.time, curve.pdcsap), transit_search(curve.time, curve.pdcsap)
    png = tmp_path / "wasp126.png"
    render_png(curve, periodogram, Title("WASP-126", "TIC 25155310", "TESS", "sector 1", "CP"), png, transits)

    image = Image.open(png)
    assert float(image.text[TRANSIT_METADATA_KEY]) == pytest.approx(WASP_126_B_PERIOD_DAYS, rel=0.005)
    assert float(image.text[PERIOD_METADATA_KEY]) == pytest.approx(WASP_126_B_PERIOD_DAYS / 2, rel=0.01)
    assert transits.depth == pytest.approx(0.0066, rel=0.25) and 0.05 < transits.duration_days < 0.2
    # the epoch falls on a transit: the flux there is in the dip
    phase = ((curve.time - transits.epoch) / transits.best_period + 0.5) % 1 - 0.5
    in_transit = np.abs(phase * transits.best_period) < transits.duration_days / 4
    assert np.median(curve.pdcsap[in_transit]) < np.median(curve.pdcsap) - transits.depth / 2


def test_the_quicklook_of_kepler_90_q3_keeps_its_shallow_dips_in_view_at_full_scale(tmp_path):
    drawn = draw(KEPLER_90_Q3, "quarter 3", tmp_path / "q3.png")

    low, high = drawn.axes.get_ylim()
    assert len(drawn.time) == drawn.cadences  # 4,134 good cadences: drawn as they are
    assert low < drawn.flux.min()  # no dip below the panel
    for centre in KEPLER_90_Q3_DIPS_BKJD:
        dip = drawn.flux[np.abs(drawn.time - centre) < 0.1]
        assert len(dip) >= 8 and np.median(drawn.flux) - np.median(dip) > 0.0005, centre
        assert low < dip.min()
    # Q3 holds no transit of g or h; its dips are under 0.1 %. The panel spans the PDCSAP points (0.3 %), not the
    # SAP flux's 0.9 % swing drawn behind them, so such a dip takes a fifth of its height.
    assert high - low < 0.004
    assert_png(tmp_path / "q3.png")


# --- the gallery in Chromium --------------------------------------------------------------------------------------

def test_gallery_in_chromium_filters_sorts_and_links_only_to_files_that_exist(quicklook_dag, ingested,
                                                                              first_drawing):
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
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.quicklook.lightcurve import read_light_curve
    from tests.standins.fits_factory import make_kepler_llc_fits

    fmt = get_mission("kepler").light_curve_format
    path = tmp_path / "kplr011904151-2010078095331_llc.fits"
    path.write_bytes(make_kepler_llc_fits(11904151, 5, 4400, 0, planted=True))
    table = fits.getdata(path, "LIGHTCURVE")
    quality = table[fmt.quality_column]
    assert (quality != 0).any()
    for mask in ("default", "hardest"):
        good = (quality & fmt.quality_flags.mask(mask).bits) == 0
        curve = read_light_curve(path, fmt, mask)
        assert len(curve.time) == good.sum() and curve.quality_mask.name == mask
    assert len(curve.time) < len(table)  # under the hardest mask every flagged cadence is left out
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
