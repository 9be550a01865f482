"""Benchmark: quick-look plots of K2-, Kepler- and TESS-sized light curves, and the gallery at 1,000 targets.

    .venv/bin/python -m benchmarks.quicklook_benchmark --json benchmarks/results/quicklook.json

For each size it writes one stand-in FITS file (tests/standins/fits_factory, with a planted period) into a
local destination and, in a fresh child process, draws it ``--repeat`` times through the task layer's
``render_one`` (FITS read with memmap, Lomb-Scargle, matplotlib Agg, the storage's atomic put), deleting the
PNG in between. It prints milliseconds per plot (median), the child's RSS after the imports and its peak RSS
while drawing (the difference is what drawing that light curve costs: the baseline is taken after drawing a
200-cadence file, so imports, fonts and caches are in it), and whether the planted period came back within 1 %.

Then it writes a gallery of ``--gallery-targets`` targets of three light curves each (every PNG a hard link of
one real plot) and opens it in headless Chromium (/usr/bin/chromium): the page's size, the time to its load
event, and the time a mission filter takes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._paths import add_repo_paths

add_repo_paths()

CASES = (  # name, mission, rows, cadence in seconds
    ("K2 campaign (LLC)", "K2", 3_500, 1765.5),
    ("Kepler quarter (LLC)", "Kepler", 4_400, 1765.5),
    ("TESS sector (2-min)", "TESS", 19_000, 120),
    ("Kepler, 17 quarters' worth in one file", "Kepler", 75_000, 1765.5),
    ("TESS sector (20-s fast)", "TESS", 115_000, 20),
)
CHROMIUM = "/usr/bin/chromium"


def _fits(mission: str, rows: int, cadence_s: float) -> tuple[bytes, int, int, float]:
    from tests.standins.fits_factory import (
        LONG_CADENCE_DAYS,
        make_kepler_llc_fits,
        make_llc_fits,
        make_tess_lc_fits,
        planted_period_days,
    )

    if mission == "K2":
        target, unit = 201367065, 5
        return make_llc_fits(target, unit, rows, 0, planted=True), target, unit, planted_period_days(
            target, unit, LONG_CADENCE_DAYS)
    if mission == "Kepler":
        target, unit = 11904151, 5
        return make_kepler_llc_fits(target, unit, rows, 0, planted=True), target, unit, planted_period_days(
            target, unit, LONG_CADENCE_DAYS)
    target, unit = 261136679, 5
    return (make_tess_lc_fits(target, unit, rows, 0, int(cadence_s), planted=True), target, unit,
            planted_period_days(target, unit, cadence_s / 86400))


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS (ru_maxrss cannot be reset, and it keeps
    the parent's peak across the exec of a spawned child)."""
    Path("/proc/self/clear_refs").write_text("5")


def _draw(root: str, key: str, job: dict, warm: dict, repeat: int, queue: multiprocessing.Queue) -> None:
    import astropy.timeseries  # noqa: F401
    import matplotlib.figure  # noqa: F401  (imports before the baseline RSS)

    from lightcurve_ingest.domain.payloads import PlotJob
    from lightcurve_ingest.tasks import quicklook as qt
    from lightcurve_ingest.wiring.connections import open_destination_storage

    storage = open_destination_storage(root, "aws_default")
    plot = PlotJob.from_dict(job)
    qt.render_one(PlotJob.from_dict(warm), storage)  # a 200-cadence file first: fonts, caches
    _reset_peak_rss()
    after_imports = _status_mb("VmRSS")
    times, period = [], 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        period = qt.render_one(plot, storage)
        times.append(1000 * (time.perf_counter() - started))
        size = storage.size(qt.png_key(key))
        storage.delete(qt.png_key(key))
    queue.put({"ms": statistics.median(times), "ms_min": min(times), "rss_after_imports_mb": after_imports,
               "peak_rss_mb": _status_mb("VmHWM"), "period": period, "png_bytes": size})


def bench_plots(repeat: int) -> list[dict]:
    results = []
    context = multiprocessing.get_context("spawn")
    for name, mission, rows, cadence in CASES:
        data, target, unit, planted = _fits(mission, rows, cadence)
        with tempfile.TemporaryDirectory() as root:
            key = f"bench/{mission.lower()}_{rows}.fits"
            Path(root, key).parent.mkdir(parents=True)
            Path(root, key).write_bytes(data)
            job = {"source_key": key, "mission": mission, "target_id": target, "target": "bench",
                   "observing_unit": unit, "disposition": "CONFIRMED"}
            Path(root, "bench/warm.fits").write_bytes(_fits("K2", 200, 1765.5)[0])
            warm = {**job, "source_key": "bench/warm.fits", "mission": "K2"}
            queue = context.Queue()
            child = context.Process(target=_draw, args=(root, key, job, warm, repeat, queue))
            child.start()
            row = queue.get(timeout=600)
            child.join()
        row.update(case=name, cadences=rows, fits_mb=len(data) / 1e6, planted=planted,
                   recovered=abs(row["period"] / planted - 1) < 0.01)
        results.append(row)
        print(f"{name:40s} {rows:>7,d} cadences {row['fits_mb']:5.1f} MB FITS: {row['ms']:7.0f} ms/plot "
              f"(min {row['ms_min']:.0f}), RSS {row['rss_after_imports_mb']:.0f} -> {row['peak_rss_mb']:.0f} MB, "
              f"PNG {row['png_bytes'] / 1e3:.0f} KB, period {row['period']:.5f} d (planted {planted:.5f}, "
              f"{'ok' if row['recovered'] else 'MISSED'})", flush=True)
    return results


def bench_gallery(targets: int) -> dict:
    from playwright.sync_api import sync_playwright

    from lightcurve_ingest.quicklook.gallery import GalleryPlot, GalleryRow
    from lightcurve_ingest.tasks import quicklook as qt
    from lightcurve_ingest.wiring.connections import open_destination_storage

    missions = (("K2", "EPIC", "campaign", "CONFIRMED"), ("Kepler", "KIC", "quarter", "CANDIDATE"),
                ("TESS", "TIC", "sector", "CP"))
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root, "_quicklook")
        folder.mkdir()
        sample = folder / "sample.png"
        data, target, unit, _ = _fits("Kepler", 4_400, 1765.5)
        Path(root, "sample.fits").write_bytes(data)
        qt.render_one(qt.PlotJob("sample.fits", "Kepler", target, "Kepler-10", unit, "CONFIRMED"),
                      open_destination_storage(root, "aws_default"))
        os.replace(folder / "sample.fits.png", sample)
        rows = []
        for i in range(targets):
            mission, prefix, unit_name, disposition = missions[i % 3]
            plots = []
            for u in range(3):
                name = f"t{i}_{u}.png"
                os.link(sample, folder / name)
                plots.append(GalleryPlot(unit=u + 1, png_href=name, fits_href="../sample.fits"))
            rows.append(GalleryRow(mission=mission, target_id=100000 + i, target_label=f"{prefix} {100000 + i}",
                                   host=f"Host-{i}", disposition=disposition, unit_name=unit_name,
                                   plots=tuple(plots)))
        started = time.perf_counter()
        page_text = qt.render_page(rows)
        render_ms = 1000 * (time.perf_counter() - started)
        png_bytes = sample.stat().st_size
        index = folder / "index.html"
        index.write_text(page_text, encoding="utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            loads = []
            for _ in range(3):
                started = time.perf_counter()
                page.goto(index.as_uri(), wait_until="load")
                loads.append(1000 * (time.perf_counter() - started))
            started = time.perf_counter()
            page.select_option("#mission", "Kepler")
            shown = page.locator("tbody tr:visible").count()
            filter_ms = 1000 * (time.perf_counter() - started)
            browser.close()
    result = {"targets": targets, "plots": 3 * targets, "html_bytes": len(page_text.encode()),
              "render_ms": render_ms, "load_ms": statistics.median(loads), "load_ms_all": loads,
              "filter_ms": filter_ms, "rows_shown_after_filter": shown, "png_bytes_each": png_bytes}
    print(f"gallery of {targets} targets ({3 * targets} plots): {result['html_bytes'] / 1e6:.2f} MB HTML, written in "
          f"{render_ms:.0f} ms; Chromium load event {result['load_ms']:.0f} ms (median of 3: "
          f"{', '.join(f'{x:.0f}' for x in loads)}), filter by mission {filter_ms:.0f} ms ({shown} rows shown)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--gallery-targets", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = {"load_average": os.getloadavg(), "plots": bench_plots(args.repeat),
              "gallery": bench_gallery(args.gallery_targets)}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
