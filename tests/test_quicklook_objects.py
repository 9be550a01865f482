"""Quick-looks of stars with known objects (issue 21): each object folded at its archive period in the PNG, the
objects without a usable ephemeris listed with their reason, and the gallery naming them with their labels.

On the genuine TESS sector-1 file of WASP-126 (TIC 25155310): TOI-114.01 (WASP-126 b), P = 3.28880 d, epoch
BJD 2458327.5207 (BTJD 1327.5207), a transit of about 3.2 h and 0.66 % (Maxted et al. 2016; the TOI table).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from lightcurve_ingest.domain.catalog import Catalog
from lightcurve_ingest.domain.catalog_records import CatalogFile, ObjectState, TargetState, TargetStatus
from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.domain.payloads import PlotBatch
from lightcurve_ingest.quicklook.lightcurve import read_light_curve
from lightcurve_ingest.quicklook.periodogram import strongest_period, transit_search
from lightcurve_ingest.quicklook.plot import (
    FOLDED_METADATA_KEY,
    OBJECTS_METADATA_KEY,
    Title,
    quicklook_figure,
    render_png,
)
from lightcurve_ingest.tasks import quicklook as qt
from lightcurve_ingest.wiring.connections import dest_s3_hook, open_destination_storage
from tests.real_fits import K2_C13, TESS_S1_WASP_126, RealFile
from tests.test_quicklook import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

NOW = datetime(2025, 1, 1, tzinfo=UTC)
WASP_126_B = dict(period_days=3.28880, epoch=2458327.5207 - 2457000, duration_hours=3.2)
NO_PERIOD = "no pl_orbper in the archive's row"


def known(real: RealFile, name: str, disposition: str, *, period_days: float | None = None,
          epoch: float | None = None, duration_hours: float | None = None, reason: str = "",
          epoch_system: str | None = None) -> ObjectState:
    return ObjectState(mission=real.mission, target_id=real.target_id, object=name, disposition=disposition,
                       period_days=period_days, epoch=epoch,
                       epoch_system=epoch_system or ("BTJD" if real.mission == "TESS" else "BKJD"),
                       duration_hours=duration_hours, depth_ppm=None, ephemeris_reason=reason, run_id="test",
                       updated_at=NOW)


TOI_114_01 = known(TESS_S1_WASP_126, "TOI-114.01", "CP", **WASP_126_B)


@pytest.fixture(scope="module")
def wasp_126():  # noqa: ANN201
    curve = read_light_curve(TESS_S1_WASP_126.path, get_mission("tess").light_curve_format)
    return curve, strongest_period(curve.time, curve.pdcsap), transit_search(curve.time, curve.pdcsap)


TITLE = Title("WASP-126", "TIC 25155310", "TESS", "sector 1", "CP")


def png_text(path: Path) -> dict[str, str]:
    image = Image.open(path)
    image.load()
    assert image.format == "PNG" and image.size[0] == 800
    return dict(image.text)


def test_the_folded_view_of_wasp_126_b_has_its_transit_at_the_centre(wasp_126, tmp_path):
    curve, periodogram, transits = wasp_126
    png = tmp_path / "wasp126.png"

    (folded,) = render_png(curve, periodogram, TITLE, png, transits, [TOI_114_01])

    duration = WASP_126_B["duration_hours"]
    view, hours = folded.local_view, folded.phase_hours
    assert folded.note == "" and folded.label == 1 and len(view) == 201
    assert folded.transits == 8  # the sector's eight transits, every 3.29 d over 27 d
    assert folded.depth_ppm == pytest.approx(6600, rel=0.25)
    assert hours[0] == pytest.approx(-4 * duration, rel=0.1) and hours[-1] == pytest.approx(4 * duration, rel=0.1)
    in_transit = view < -0.5
    assert abs(hours[int(np.argmin(view))]) < duration / 2  # the bottom near the centre
    assert abs(hours[in_transit].mean()) < 0.05 * duration  # and the whole dip centred on it
    assert hours[in_transit].max() - hours[in_transit].min() == pytest.approx(duration, rel=0.25)
    assert np.all(np.abs(view[np.abs(hours) > duration]) < 0.25)  # flat outside the transit
    meta = png_text(png)
    assert json.loads(meta[OBJECTS_METADATA_KEY]) == ["TOI-114.01"]
    (summary,) = json.loads(meta[FOLDED_METADATA_KEY])
    assert summary | {"depth_ppm": None} == {"object": "TOI-114.01", "disposition": "CP", "label": 1,
                                             "period_days": 3.2888, "transits": 8, "depth_ppm": None, "note": ""}
    assert Image.open(png).size[1] > 480  # a row of folded views below the plot without objects


def test_the_figure_draws_each_folded_view_with_its_name_disposition_and_label(wasp_126):
    curve, periodogram, transits = wasp_126
    from lightcurve_ingest.quicklook.folded import fold_objects

    folded = fold_objects(curve, [TOI_114_01])
    figure = quicklook_figure(curve, periodogram, TITLE, transits, folded)

    (panel,) = [a for a in figure.axes if "TOI-114.01" in a.get_title()]
    assert panel.get_title() == "TOI-114.01\nCP · label 1 (planet)"
    (points,) = [line for line in panel.get_lines() if line.get_linestyle() == "None"]
    assert np.array_equal(points.get_ydata(), folded[0].local_view)
    assert np.array_equal(points.get_xdata(), folded[0].phase_hours)


def test_objects_without_a_view_say_why_in_the_plot_and_its_metadata(wasp_126, tmp_path):
    curve, periodogram, transits = wasp_126
    no_period = known(TESS_S1_WASP_126, "TOI-9001.01", "PC", reason=NO_PERIOD)
    other_time = known(TESS_S1_WASP_126, "TOI-9002.01", "FP", epoch_system="BKJD", **WASP_126_B)
    # a 100-day period whose transits fall 45 days after the sector (BTJD 1325-1353) and 55 before it
    no_transit = known(TESS_S1_WASP_126, "TOI-9003.01", "KP", period_days=100.0, epoch=1400.0, duration_hours=5.0)
    png = tmp_path / "notes.png"

    folded = render_png(curve, periodogram, TITLE, png, transits, [no_transit, TOI_114_01, other_time, no_period])

    notes = {f["object"]: f for f in json.loads(png_text(png)[FOLDED_METADATA_KEY])}
    assert notes["TOI-9001.01"]["note"] == NO_PERIOD and notes["TOI-9001.01"]["label"] is None
    assert notes["TOI-9002.01"]["note"] == "its epoch is in BKJD, this light curve in BTJD"
    assert notes["TOI-9002.01"]["label"] == 0
    assert notes["TOI-9003.01"]["note"] == "no transit in this light curve" and notes["TOI-9003.01"]["label"] == 1
    assert notes["TOI-114.01"]["note"] == "" and notes["TOI-114.01"]["transits"] == 8
    assert [f.object for f in folded if f.local_view is not None] == ["TOI-114.01"]
    # panels for the objects with a usable ephemeris (a note in the one without transits), a list for the others
    figure = quicklook_figure(curve, periodogram, TITLE, transits, folded)
    titles = [a.get_title() for a in figure.axes]
    assert sum("TOI-114.01" in t for t in titles) == 1 and sum("TOI-9003.01" in t for t in titles) == 1
    texts = "\n".join(t.get_text() for a in figure.axes for t in a.texts)
    assert f"TOI-9001.01 (PC · no label): {NO_PERIOD}" in texts
    assert "TOI-9002.01 (FP · label 0 (false positive)): its epoch is in BKJD" in texts
    assert "no transit in this light curve" in " ".join(texts.split())  # wrapped in its panel


def test_the_plot_draws_the_training_sets_local_view(wasp_126):
    """The folded view is the training set's local view of the same light curve and ephemeris."""
    from lightcurve_ingest.quicklook.folded import fold_one
    from lightcurve_ingest.training.detrend import detrend
    from lightcurve_ingest.training.views import Ephemeris, ViewSettings, build_views

    curve, _, _ = wasp_126
    flat = detrend(curve.time, curve.pdcsap, np.zeros(len(curve.time), dtype=int), **WASP_126_B)
    views = build_views(flat.time, flat.flux, Ephemeris(**WASP_126_B), ViewSettings())

    assert np.array_equal(fold_one(curve, TOI_114_01).local_view, views.local_view)


# --- the task and the gallery ------------------------------------------------------------------------------------

EPIC_FP = known(K2_C13, "EPIC 247887989.01", "FALSE POSITIVE", reason=NO_PERIOD)


def catalog_file(storage, real: RealFile, key: str) -> CatalogFile:  # noqa: ANN001
    return CatalogFile(destination_uri=storage.uri(key), mission=real.mission, target_id=real.target_id, target="",
                       observing_unit=real.unit, source_key=key, data_uri=f"mast:{real.name}", obs_id=real.name,
                       obsid="1", product_filename=real.name, mast_size=real.path.stat().st_size,
                       size=real.path.stat().st_size, sha256="0" * 64, fits_checksum_verified=True,
                       copy_method="test", ingested_at=NOW, run_id="test",
                       product=real.product, cadence_s=120.0, source="bucket")


@pytest.fixture
def destination(tmp_path):  # noqa: ANN201
    """A local destination with the genuine WASP-126 and EPIC 247887989 files in its catalog and their objects
    (and an object of a star it holds no file of)."""
    storage = open_destination_storage(str(tmp_path), "aws_default")
    files, states = [], []
    for real, disposition, objects in ((TESS_S1_WASP_126, "CP", ("TOI-114.01",)),
                                       (K2_C13, "FALSE POSITIVE", ("EPIC 247887989.01",))):
        key = f"genuine/{real.name}"
        (tmp_path / "genuine").mkdir(exist_ok=True)
        shutil.copy(real.path, tmp_path / key)
        files.append(catalog_file(storage, real, key))
        states.append(TargetState(mission=real.mission, target_id=real.target_id, target="", disposition=disposition,
                                  objects=objects, status=TargetStatus.COMPLETE, files=1, run_id="test",
                                  updated_at=NOW))
    elsewhere = ObjectState(mission="Kepler", target_id=11442793, object="K00351.01 (Kepler-90 h)",
                            disposition="CONFIRMED", period_days=None, epoch=None, epoch_system="BKJD",
                            duration_hours=None, depth_ppm=None, ephemeris_reason=NO_PERIOD, run_id="test",
                            updated_at=NOW)
    Catalog(storage).record(files=files, states=states, objects=[TOI_114_01, EPIC_FP, elsewhere])
    return tmp_path, storage


def draw_all(dest: Path) -> PlotBatch:
    storage = open_destination_storage(str(dest), "aws_default")
    jobs = qt.missing_plots(qt.PlotRequest(str(dest), "aws_default"), storage)
    batch = PlotBatch(label="test", destination=str(dest), dest_aws_conn_id="aws_default", jobs=tuple(jobs))
    result = qt.render_batch(batch, dest_s3_hook)
    assert len(result.rendered) == 2 and result.unreadable == []
    return batch


def test_a_batch_reads_its_targets_objects_once(destination, monkeypatch):
    dest, _ = destination
    calls = []
    read = Catalog.objects

    def counted(self, mission=None, target_ids=None):  # noqa: ANN001, ANN202
        calls.append((mission, None if target_ids is None else sorted(target_ids)))
        return read(self, mission, target_ids)

    monkeypatch.setattr(Catalog, "objects", counted)

    batch = draw_all(dest)

    assert calls == [(None, sorted(j.target_id for j in batch.jobs))]  # two missions: filtered on the targets
    tess = png_text(dest / qt.png_key(f"genuine/{TESS_S1_WASP_126.name}"))
    k2 = png_text(dest / qt.png_key(f"genuine/{K2_C13.name}"))
    assert json.loads(tess[OBJECTS_METADATA_KEY]) == ["TOI-114.01"]
    assert json.loads(tess[FOLDED_METADATA_KEY])[0]["transits"] == 8
    assert json.loads(k2[FOLDED_METADATA_KEY]) == [
        {"object": "EPIC 247887989.01", "disposition": "FALSE POSITIVE", "label": 0, "period_days": None,
         "transits": 0, "depth_ppm": None, "note": NO_PERIOD}]


@pytest.mark.slow  # headless Chromium
def test_the_gallery_in_chromium_shows_the_objects_their_labels_and_the_folded_views(destination):
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: `apt-get update && apt-get install -y chromium`"
    from playwright.sync_api import sync_playwright

    dest, _ = destination
    draw_all(dest)
    qt.write_gallery(str(dest), "aws_default", dest_s3_hook)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto((dest / "_quicklook" / "index.html").as_uri())
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            if SCREENSHOTS:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=SCREENSHOTS / "gallery_objects.png")
            objects = page.locator("li.object").evaluate_all(
                "os => os.map(o => [o.closest('tr').dataset.mission, o.dataset.object, o.dataset.label, "
                "o.innerText])")
            images = page.locator("tbody tr").evaluate_all(
                "rs => rs.map(r => { const i = r.querySelector('img'); "
                "return [r.dataset.mission, i.naturalWidth, i.naturalHeight, i.width, i.src]; })")
        finally:
            browser.close()

    assert [o[:3] for o in objects] == [["K2", "EPIC 247887989.01", "0"], ["TESS", "TOI-114.01", "1"]]
    texts = {o[1]: o[3] for o in objects}
    assert "FALSE POSITIVE · label 0 (false positive)" in texts["EPIC 247887989.01"]
    assert f"not folded: {NO_PERIOD}" in texts["EPIC 247887989.01"]
    assert "TOI-114.01 · CP · label 1 (planet)" in texts["TOI-114.01"] and "not folded" not in texts["TOI-114.01"]
    assert "Kepler-90" not in str(objects)  # a star without a file here has no row
    shown = {mission: (width, height, drawn, src) for mission, width, height, drawn, src in images}
    width, height, drawn, src = shown["TESS"]
    assert (width, drawn) == (800, 320) and height > 480  # the PNG with its row of folded views, loaded and shown
    assert shown["K2"][2] == 200  # nothing to fold there: the usual thumbnail
    folded = json.loads(png_text(Path(unquote(urlparse(src).path)))[FOLDED_METADATA_KEY])
    assert folded[0]["object"] == "TOI-114.01" and folded[0]["transits"] == 8


def test_the_gallery_escapes_object_names():
    from lightcurve_ingest.quicklook.gallery import GalleryObject, GalleryPlot, GalleryRow, render_gallery

    row = GalleryRow(mission="TESS", target_id=1, target_label="TIC 1", host="", disposition="PC",
                     unit_name="sector", plots=(GalleryPlot(unit=1, png_href="a.png", fits_href="../a.fits"),),
                     objects=(GalleryObject(name="<img src=x>", disposition="<b>", label=None, reason="<i>"),))
    page = render_gallery([row], "now")
    assert "<img src=x>" not in page and "&lt;img src=x&gt;" in page
    assert "&lt;b&gt;" in page and "&lt;i&gt;" in page
