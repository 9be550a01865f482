"""CPU time and peak memory of one object's training rows, for the three shapes of star the missions give.

A K2 campaign (one 80-day LLC file), a Kepler star of 17 quarters (long cadence) and a TESS sector at 20-second
cadence, each with a planted transit under a 0.3 % wave. For each: ``object_views`` (stitch, detrend with the
transit masked, the five views) and ``light_curve_series`` (one series), timed with ``time.process_time`` over
``--repeat`` runs (the median), and the peak of Python allocations (``tracemalloc``, numpy's arrays included).
From the Kepler figure, the time to build the whole KOI set on ``--workers`` workers.

    python -m benchmarks.training_cost --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from lightcurve_ingest.domain.catalog_records import CatalogFile, ObjectState
from lightcurve_ingest.training import dataset as ds

AT = datetime(2026, 12, 7, tzinfo=UTC)
KOIS, KOI_STARS = 9_600, 8_000  # the cumulative table: about 9,600 KOIs on about 8,000 stars


@dataclass(frozen=True)
class Shape:
    name: str
    mission: str
    segments: int
    cadences: int  # per segment
    cadence_days: float


SHAPES = (
    Shape("K2 campaign (LLC)", "K2", 1, 3_800, 0.0204),
    Shape("Kepler star, 17 quarters (LLC)", "Kepler", 17, 4_400, 0.0204),
    Shape("TESS sector, 20-second", "TESS", 1, 110_000, 20 / 86400),
)


def curves(shape: Shape) -> list[ds.Curve]:
    rng = np.random.default_rng(0)
    made = []
    for number in range(shape.segments):
        time = 100.0 + number * 93.0 + np.arange(shape.cadences) * shape.cadence_days
        flux = 1 + 0.003 * np.sin(2 * np.pi * time / 7.0) + rng.normal(0, 2e-4, time.size)
        flux[np.abs((time - 101.3 + 2.45) % 4.9 - 2.45) < 0.06] -= 0.001
        file = CatalogFile(destination_uri=f"/d/{number}", mission=shape.mission, target_id=1, target="t",
                           observing_unit=number, source_key="", data_uri="", obs_id="", obsid="", product_filename="",
                           mast_size=0, size=0, sha256="0" * 64, fits_checksum_verified=True, copy_method="",
                           ingested_at=AT, run_id="", product=shape.mission,
                           cadence_s=shape.cadence_days * 86400, source="bucket")
        made.append(ds.Curve(file=file, time=time, flux=flux * (1 + number)))
    return made


def measure(shape: Shape, repeat: int) -> dict[str, float]:
    made = curves(shape)
    obj = ObjectState(mission=shape.mission, target_id=1, object="x", disposition="CONFIRMED" if shape.mission !=
                      "TESS" else "CP", period_days=4.9, epoch=101.3, epoch_system="BKJD", duration_hours=2.9,
                      depth_ppm=1000.0, ephemeris_reason="", run_id="", updated_at=AT)
    star = ds.Star(shape.mission, 1, "t", obj.disposition, tuple(c.file for c in made), (obj,))
    views, series = [], []
    for _ in range(repeat):
        start = time.process_time()
        row = ds.object_views(star, obj, made, [], ds.Settings(), AT)
        views.append(time.process_time() - start)
        start = time.process_time()
        ds.light_curve_series(star, 0, star.files[:1], made[:1], [], ds.Settings(), AT)
        series.append(time.process_time() - start)
    assert row.local_view.size == 201, row.skipped_reason
    tracemalloc.start()
    ds.object_views(star, obj, made, [], ds.Settings(), AT)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    cadences = shape.segments * shape.cadences
    return {"cadences": cadences, "views_s": statistics.median(views), "series_s": statistics.median(series),
            "peak_mb": peak / 1e6}


def read_seconds(repeat: int) -> float:
    """CPU seconds to read one genuine Kepler long-cadence file (a quarter) as the build task reads it."""
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.quicklook.lightcurve import read_light_curve
    from lightcurve_ingest.tasks.training import QUALITY_MASK
    from tests.real_fits import KEPLER_90_Q3

    fmt = get_mission("kepler").light_curve_format
    spent = []
    for _ in range(repeat):
        start = time.process_time()
        read_light_curve(KEPLER_90_Q3.path, fmt, QUALITY_MASK)
        spent.append(time.process_time() - start)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    print("| star | cadences | CPU s per object (views) | CPU µs per cadence | CPU s per series | peak MB |")
    print("|---|---|---|---|---|---|")
    found = {}
    for shape in SHAPES:
        m = measure(shape, args.repeat)
        found[shape.mission] = m
        print(f"| {shape.name} | {m['cadences']:,} | {m['views_s']:.3f} | {1e6 * m['views_s'] / m['cadences']:.1f} "
              f"| {m['series_s']:.3f} | {m['peak_mb']:.0f} |")
    kepler, read = found["Kepler"], read_seconds(args.repeat)
    # every KOI: its views; every star: its 17 files read once and 17 series of one quarter each
    cpu = KOIS * kepler["views_s"] + KOI_STARS * 17 * (kepler["series_s"] + read)
    print(f"\nReading one genuine Kepler quarter (Kepler-90 Q3): {read * 1000:.0f} ms CPU")
    print(f"Kepler KOI set: {KOIS:,} objects on {KOI_STARS:,} stars of 17 quarters: {cpu / 3600:.1f} CPU hours "
          f"(views, series, reading); on {args.workers} workers {cpu / args.workers / 60:.0f} minutes")


if __name__ == "__main__":
    main()
