"""Benchmark: mirroring whole K2 campaigns S3 to S3 (issue 11), at 50,000 objects and more.

    .venv/bin/python -m benchmarks.mirror_benchmark --files 50000 --campaigns 1 5 8 13 16 --workers 2

A process of its own runs the stand-ins (tests/standins) with a public bucket holding ``--files`` light curves
under real K2 keys (``k2/public/lightcurves/c<N>/<EPIC[:4]>00000/<EPIC[4:6]>000/ktwo<EPIC>-c<NN>_llc.fits``),
spread over the campaigns, plus 10 % decoys beside them (short-cadence ``_slc.fits``), all small (one 2,880-byte
FITS block: a server-side copy costs the same whatever the size). They are stored straight into moto's
in-process backend (no HTTP request each), so 50,000 load in seconds.

This process then runs ``tasks.run_flow`` with the campaigns as a mirror run into the stand-in's destination
bucket, each shard task in a forked process (as Airflow runs a task instance) and ``--workers`` shard tasks at
a time, and reports: files per second, S3 requests per file by kind (from the stand-in's own request log), this
process's and its task processes' CPU milliseconds per file, and the bytes that passed through the worker
(object GETs of the public bucket, counted at the server; the goal is 0). A second run over the same
destination (``mirror rerun``) must copy nothing. It ends with the estimate for all of K2 on 8 workers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks._paths import add_repo_paths
from benchmarks.ingest_benchmark import _preload, child_env, cpu_seconds, in_task_process

add_repo_paths()

DESTINATION_BUCKET = "mirror-destination"
OBJECT_BYTES = 2880
K2_LIGHT_CURVES = 613_000  # all campaigns (data-sources.md)
ESTIMATE_WORKERS = 8
# Where a campaign's EPIC ids begin (roughly as in the EPIC catalog: C1 201..., C5 211..., C8 220...).
EPIC_BASES = {0: 202000000, 1: 201000000, 2: 203000000, 3: 205000000, 4: 210000000, 5: 211300000, 6: 212000000,
              7: 213000000, 8: 220000000, 12: 245000000, 13: 246000000, 14: 248000000, 15: 249000000,
              16: 211400000, 17: 211500000, 18: 211600000, 19: 245900000, 102: 228600000, 111: 229000000,
              112: 229100000, 91: 224000000, 92: 225000000}
EPICS_PER_CAMPAIGN_RANGE = 1_000_000  # ten first-level folders (EPIC[:4]) a campaign: ten shards


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=50_000, help="light curves in the bucket, over the campaigns")
    parser.add_argument("--campaigns", type=int, nargs="+", default=[1, 5, 8, 13, 16])
    parser.add_argument("--workers", type=int, default=2, help="shard tasks at once (worker slots)")
    parser.add_argument("--copy-threads", type=int, default=8)
    parser.add_argument("--copy-latency-ms", type=float, default=150.0,
                        help="assumed latency of one CopyObject on AWS, for the estimate (AWS's performance "
                             "guidelines: roughly 100-200 ms for small objects)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def bucket_objects(campaigns: list[int], files: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``files`` light curves (and a decoy for every tenth) under real K2 keys, spread over ``campaigns``."""
    rng = random.Random(seed)
    block = (b"SIMPLE  =                    T" + b" " * 50)[:80] * 36  # one FITS block
    for i, campaign in enumerate(campaigns):
        count = files // len(campaigns) + (i < files % len(campaigns))
        base = EPIC_BASES[campaign]
        for n, epic in enumerate(sorted(rng.sample(range(base, base + EPICS_PER_CAMPAIGN_RANGE), count))):
            folder = f"k2/public/lightcurves/c{campaign}/{str(epic)[:4]}00000/{str(epic)[4:6]}000"
            yield f"{folder}/ktwo{epic}-c{campaign:02d}_llc.fits", block
            if n % 10 == 0:
                yield f"{folder}/ktwo{epic}-c{campaign:02d}_slc.fits", block


# --- the stand-ins' process ---------------------------------------------------------------------------------

def _serve(conn: Any, config: dict[str, Any]) -> None:
    try:
        from tests.standins import Standins, build_universe

        started = time.perf_counter()
        # K2 hosts: the labels only; the bucket_objects below, tens of thousands, are what is mirrored
        universe = build_universe(30, fits_rows=200, kepler_hosts=0, tess_hosts=0, field_stars=False)
        standins = Standins(universe).start()
        standins.s3.create_bucket(DESTINATION_BUCKET)
        stored = standins.s3.load_directly(bucket_objects(config["campaigns"], config["files"], config["seed"]))
        conn.send(("ok", {"env": standins.airflow_env(), "stored": stored, "setup_s": time.perf_counter() - started}))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        return
    try:
        while True:
            command = conn.recv()
            if command == "stop":
                conn.send(("ok", None))
                return
            conn.send(("ok", _requests(standins.s3)))
            standins.s3.request_log.clear()
    finally:
        standins.stop()


def _requests(s3: Any) -> dict[str, Any]:
    """The S3 requests since the last call, by kind, and the object bytes GET read from the public bucket."""
    kinds: Counter[str] = Counter()
    for entry in list(s3.request_log):
        bucket, _, key = entry["path"].strip("/").partition("/")
        method = entry["method"]
        if method == "GET" and not key:
            kind = "ListObjectsV2"
        elif method == "PUT" and entry["copy_source"]:
            kind = "CopyObject"
        else:
            kind = {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject"}.get(method, method)
        where = "catalog" if key.startswith("_catalog/") or "/_catalog/" in key else bucket
        kinds[f"{kind} {where}"] += 1
    return {"by_kind": dict(kinds), "source_object_gets": kinds.get("GetObject stpubdata", 0)}


class Standins:
    def __init__(self, config: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, config), name="standins", daemon=True)

    def __enter__(self) -> Standins:
        self._process.start()
        self.info = self._receive()
        return self

    def requests(self) -> dict[str, Any]:
        self._conn.send("requests")
        return self._receive()

    def _receive(self) -> Any:
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"stand-in process failed:\n{value}")
        return value

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(timeout=30)


# --- the runs ----------------------------------------------------------------------------------------------

def mirror_run(args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    """One mirror run of the campaigns, shard tasks in forked processes, ``--workers`` at a time."""
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.ingest import RunInfo, run_flow
    from lightcurve_ingest.wiring.connections import services_from_connections

    params = {"destination": f"s3://{DESTINATION_BUCKET}/k2-mirror", "campaigns": args.campaigns,
              "copy_threads": args.copy_threads}

    def run_task(task_id: str, label: str, work: Callable[[], Any]) -> Any:
        return in_task_process(work, task_id)

    cpu_at_start, started = cpu_seconds(), time.perf_counter()
    summary = run_flow(get_mission("k2"), params, RunInfo(run_id=run_id), services_from_connections,
                       slots=args.workers, run_task=run_task)
    return {"wall_s": time.perf_counter() - started, "cpu_s": cpu_seconds() - cpu_at_start, "summary": summary}


def figures(run: dict[str, Any], requests: dict[str, Any]) -> dict[str, Any]:
    summary = run["summary"]
    files = summary["files_found"]
    by_kind = requests["by_kind"]
    return {
        "files": files, "shards": summary["shards"], "copied": summary["copied"],
        "already_present": summary["already_present"], "failed": summary["failed"],
        "other_objects_left_alone": summary["other_objects"], "wall_s": round(run["wall_s"], 2),
        "files_per_s": round(files / run["wall_s"], 1),
        "s3_requests_per_file": round(sum(by_kind.values()) / files, 4),
        "s3_requests_per_file_by_kind": {k: round(v / files, 4) for k, v in sorted(by_kind.items())},
        "s3_requests": dict(sorted(by_kind.items())),
        "worker_cpu_ms_per_file": round(1000 * run["cpu_s"] / files, 3),
        "bytes_through_worker_reported": summary["bytes_through_worker"],
        "source_object_gets_at_the_server": requests["source_object_gets"],
        "per_unit": summary["per_unit"],
    }


def estimate(first: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """All of K2 on 8 workers, from the measured per-file CPU and requests, under stated assumptions."""
    cpu_ms = first["worker_cpu_ms_per_file"]
    copy_latency_ms = args.copy_latency_ms  # assumed, not measured here
    concurrent_copies = args.copy_threads  # per worker: one shard task at a time, copy_threads copies each
    per_worker_latency_bound = concurrent_copies * 1000.0 / copy_latency_ms
    per_worker_cpu_bound = 1000.0 / cpu_ms  # one core a worker
    per_worker = min(per_worker_latency_bound, per_worker_cpu_bound)
    seconds = K2_LIGHT_CURVES / (ESTIMATE_WORKERS * per_worker)
    return {
        "files": K2_LIGHT_CURVES, "workers": ESTIMATE_WORKERS, "copy_threads": concurrent_copies,
        "assumed_copy_latency_ms": copy_latency_ms, "measured_cpu_ms_per_file": cpu_ms,
        "files_per_s_per_worker_latency_bound": round(per_worker_latency_bound, 1),
        "files_per_s_per_worker_cpu_bound": round(per_worker_cpu_bound, 1),
        "minutes": round(seconds / 60, 1),
        "s3_requests": round(K2_LIGHT_CURVES * first["s3_requests_per_file"]),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load = os.getloadavg()
    home = Path(tempfile.mkdtemp(prefix="mirror-benchmark-"))
    print(f"loading {args.files} objects under {len(args.campaigns)} campaigns into the stand-in ...",
          file=sys.stderr, flush=True)
    with Standins({"campaigns": args.campaigns, "files": args.files, "seed": args.seed}) as standins:
        print(f"stand-ins ready in {standins.info['setup_s']:.1f} s ({standins.info['stored']} objects)",
              file=sys.stderr, flush=True)
        os.environ.update(child_env(standins.info["env"], home))
        # A warm worker: what the tasks import is loaded before the task processes are forked (as in Airflow).
        _preload("pandas", "pyarrow.parquet", "airflow.providers.amazon.aws.hooks.s3", "lightcurve_ingest.tasks.ingest",
                 "lightcurve_ingest.wiring.connections")
        standins.requests()  # start counting from here
        results = {}
        for phase, run_id in (("mirror", "first"), ("mirror_rerun", "rerun")):
            print(f"{phase} ...", file=sys.stderr, flush=True)
            run = mirror_run(args, run_id)
            results[phase] = figures(run, standins.requests())
            print(f"{phase}: {results[phase]['wall_s']} s", file=sys.stderr, flush=True)
    report = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "objects_in_bucket": standins.info["stored"], "load_average_at_start": [round(x, 2) for x in load],
              "cpus": os.cpu_count(), **results, "estimate_all_k2_8_workers": estimate(results["mirror"], args)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
