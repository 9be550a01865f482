"""Sweep the ingest's knobs (targets per batch, copy threads, mast_api pool slots) on the stand-ins.

    .venv/bin/python -m benchmarks.knob_sweep --targets 300 --repeats 3 --json benchmarks/results/sweep.json

One knob varies at a time, the others stay at their defaults (lightcurve_ingest.settings). Each point is our
first run of one mission (``--mission``, K2 by default) into a fresh local folder, exactly as in
ingest_benchmark (``ours``: ``tasks.run_flow``); the median of the repeats is shown (repeats are interleaved
over the points). The figures chose the defaults: see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._paths import add_repo_paths
from benchmarks.ingest_benchmark import child_env, run_in_child
from benchmarks.standin_process import MISSIONS, TESS_MB, StandinProcess

add_repo_paths()

from lightcurve_ingest.settings import (  # noqa: E402  (after the path set-up)
    DEFAULT_COPY_THREADS,
    DEFAULT_MAST_POOL_SLOTS,
    DEFAULT_TARGETS_PER_BATCH,
)

SWEEPS = {
    "targets_per_batch": [25, 50, 75, 100, 150],
    "copy_threads": [2, 4, 8, 16],
    "pool_slots": [2, 4, 8],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.knob_sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--mission", choices=list(MISSIONS), default="k2", help="the mission's stand-in catalog (k2)")
    parser.add_argument("--targets", type=int, default=300, help="catalog size N (300)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--knobs", nargs="+", choices=list(SWEEPS), default=list(SWEEPS))
    parser.add_argument("--values", type=int, nargs="+", help="values to try (with a single --knobs)")
    parser.add_argument("--mast-latency", type=float, default=0.150)
    parser.add_argument("--s3-latency", type=float, default=0.020)
    parser.add_argument("--tap-latency", type=float, default=0.150)
    parser.add_argument("--tess-mb", type=float, default=TESS_MB, help=f"size of a TESS light curve in MB ({TESS_MB})")
    parser.add_argument("--json", type=Path)
    return parser.parse_args(argv)


def _run_point(standins: StandinProcess, env: dict, workdir: Path, knobs: dict[str, int], name: str) -> dict:
    """Our first run into a fresh folder with these knobs; the figures of one repeat."""
    destination = workdir / name
    standins.reset_counters()
    before = standins.counters()
    result = run_in_child("ours", {
        "env": env, "mission": standins.config["mission"], "pool_slots": knobs["pool_slots"],
        "run_id": f"sweep-{name}",
        "params": {"destination": str(destination), "targets_per_batch": knobs["targets_per_batch"],
                   "copy_threads": knobs["copy_threads"]}})
    after = standins.counters()
    shutil.rmtree(destination, ignore_errors=True)
    if result["copied"] != standins.info["files"] or result["failed"]:
        raise RuntimeError(f"{name}: copied {result['copied']} of {standins.info['files']} files")
    return {"wall_s": result["wall_s"], "cpu_s": result["cpu_s"], "standin_cpu_s": after["cpu_s"] - before["cpu_s"],
            "mast_requests": after["mast"], "batches": result["batches"], "peak_rss_mb": result["peak_rss_mb"]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sweeps = dict(SWEEPS)
    if args.values:
        if len(args.knobs) != 1:
            raise SystemExit("--values needs exactly one knob in --knobs")
        sweeps[args.knobs[0]] = args.values
    defaults = {"targets_per_batch": DEFAULT_TARGETS_PER_BATCH, "copy_threads": DEFAULT_COPY_THREADS,
                "pool_slots": DEFAULT_MAST_POOL_SLOTS}
    workdir = Path(tempfile.mkdtemp(prefix="lightcurve-sweep-"))
    points: list[dict[str, Any]] = []
    try:
        with StandinProcess(args.targets, mission=args.mission, mast_latency_s=args.mast_latency,
                            s3_latency_s=args.s3_latency, tap_latency_s=args.tap_latency,
                            tess_mb=args.tess_mb) as standins:
            info = standins.info
            env = child_env(info["env"], workdir / "airflow-home")
            grid = [(knob, value) for knob in args.knobs for value in sweeps[knob]]
            runs: dict[tuple[str, int], list[dict]] = {point: [] for point in grid}
            for repeat in range(args.repeats):  # interleaved, so that a change of machine load hits every point
                for knob, value in grid:
                    runs[knob, value].append(_run_point(standins, env, workdir, {**defaults, knob: value},
                                                        f"{knob}-{value}-{repeat}"))
                    print(f"repeat {repeat + 1}: {knob}={value}: {runs[knob, value][-1]['wall_s']:.2f} s",
                          file=sys.stderr, flush=True)
            for knob, value in grid:
                done = runs[knob, value]
                points.append({"knob": knob, "value": value, **defaults, knob: value, "runs": done,
                               "wall_s": statistics.median(r["wall_s"] for r in done),
                               "cpu_s": statistics.median(r["cpu_s"] for r in done),
                               "standin_cpu_s": statistics.median(r["standin_cpu_s"] for r in done),
                               "mast_requests": done[0]["mast_requests"], "batches": done[0]["batches"],
                               "peak_rss_mb": max(r["peak_rss_mb"] for r in done)})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nKnob sweep of {MISSIONS[args.mission][0]} at N={args.targets} ({info['files']} files), median of "
          f"{args.repeats}; defaults: {defaults}; {os.cpu_count()} CPUs\n")
    header = (f"{'knob':<18} {'value':>5} {'batches':>7} {'wall s':>7} {'MAST req':>8} {'MAST/tgt':>8} "
              f"{'worker CPU s':>12} {'stand-in CPU s':>14} {'peak RSS MB':>11}")
    print(header)
    print("-" * len(header))
    for p in points:
        mark = " (default)" if p["value"] == defaults[p["knob"]] else ""
        print(f"{p['knob']:<18} {p['value']:>5} {p['batches']:>7} {p['wall_s']:>7.2f} {p['mast_requests']:>8} "
              f"{p['mast_requests'] / args.targets:>8.3f} {p['cpu_s']:>12.1f} {p['standin_cpu_s']:>14.1f} "
              f"{p['peak_rss_mb']:>11.0f}{mark}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"mission": args.mission, "targets": args.targets, "files": info["files"],
                                         "defaults": defaults, "repeats": args.repeats, "points": points,
                                         "load_average_end": os.getloadavg()}, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
