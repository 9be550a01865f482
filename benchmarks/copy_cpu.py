"""Benchmark: worker CPU a file of the copy, S3 to a local folder (GET, verification, sha256, write).

    .venv/bin/python -m benchmarks.copy_cpu                    # 300 copies of the genuine light curves, 8 threads
    .venv/bin/python -m benchmarks.copy_cpu --files 300 --threads 1 --profile 25

The files copied are the genuine MAST light curves of ``tests/fixtures/real_fits/`` (``SPOC_LAYOUT_FILES``:
Kepler and K2 0.13-0.47 MB, TESS SPOC about 2 MB, TESS-SPOC 0.16 MB), byte for byte, so that verification
meets MAST's layout (a CHECKSUM in every HDU, no DATASUM). ``--files`` copies in all are shared among them.

The stand-ins run in a process of their own (``benchmarks/standin_process.py``, no latency: only CPU is
measured). This process lists K2 light curves with MAST (not measured) for their keys, and stores one
genuine file at each of these keys in a bucket of its own, which the copy reads as its public bucket; the
copy does not read what a key names, only its bytes. It builds the package's ``Copier`` into a fresh local
folder and copies a few files to warm up (imports, the botocore client); then, for each genuine file in
turn, it copies it its share of ``--files`` times, ``--repeats`` times into a new folder, and reports this
process's CPU time (user + system, every thread) a file and a MB. With ``--profile N`` it also prints the N
functions with the most cumulative time (cProfile; one thread gives a readable profile).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks._paths import add_repo_paths
from benchmarks.standin_process import StandinProcess, hosts_for_confirmed

WARM_UP_FILES = 10
GENUINE_BUCKET = "bench-genuine"  # the copy's public bucket here: genuine files at listed keys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.copy_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300,
                        help="copies measured in all (after the warm-up), shared among the genuine files")
    parser.add_argument("--threads", type=int, default=8, help="copy threads (the DAG's default: 8)")
    parser.add_argument("--repeats", type=int, default=3, help="measured copies of the files, each to a new folder")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N functions (cProfile)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def listed_files(info: dict, count: int) -> list:
    """Light curves MAST lists for enough hosts, in batches of 100 targets, as find_light_curves asks."""
    from lightcurve_ingest.clients.mast import MastClient
    from lightcurve_ingest.domain.discovery import find_light_curves
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.domain.payloads import Batch, Target

    files, ids = [], info["targets"]
    for start in range(0, len(ids), 100):
        batch = Batch(label="bench", targets=tuple(Target(i, "") for i in ids[start:start + 100]))
        files += find_light_curves(get_mission("k2"), batch, MastClient(info["mast_url"]), False).files
        if len(files) >= count:
            break
    return files[:count]


def genuine_bucket(info: dict):  # noqa: ANN201  (a boto3 S3 client)
    """A signed client of the stand-in S3, after creating ``GENUINE_BUCKET`` readable anonymously, as the
    public bucket is (the copy's source client never signs)."""
    import boto3

    client = boto3.client("s3", endpoint_url=info["s3_endpoint"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=GENUINE_BUCKET)
    client.put_bucket_policy(Bucket=GENUINE_BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:HeadObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{GENUINE_BUCKET}", f"arn:aws:s3:::{GENUINE_BUCKET}/*"]}]}))
    return client


def stored(client, content: bytes, files: list) -> list:  # noqa: ANN001
    """``content`` stored at each file's key; the files, with ``content``'s size as MAST's."""
    for file in files:
        client.put_object(Bucket=GENUINE_BUCKET, Key=file.source_key, Body=content)
    return [replace(file, mast_size=len(content)) for file in files]


def copier_into(folder: Path):  # noqa: ANN201  (a lightcurve_ingest.domain.copying.Copier)
    from lightcurve_ingest.domain.copying import Copier
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.storage.destination import parse_destination
    from lightcurve_ingest.storage.source_bucket import SourceBucket
    from lightcurve_ingest.wiring.connections import services_from_connections, source_s3_hook

    services = services_from_connections()
    storage = services.storage(parse_destination(str(folder)), "aws_default")
    source = SourceBucket(source_s3_hook(), GENUINE_BUCKET)
    return Copier(get_mission("k2"), storage, source, cataloged={})


def measure(files: list, threads: int, folder: Path, profile: cProfile.Profile | None) -> dict:
    copier = copier_into(folder)
    cpu, started = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    # one thread: in this thread, so that cProfile sees the work
    results = [copier.copy_one(f) for f in files] if threads == 1 else copier.copy_all(files, threads)
    if profile:
        profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - started
    failed = [r.error for r in results if r.status != "copied"]
    if failed:
        raise RuntimeError(f"{len(failed)} copies failed: {failed[0]}")
    if not all(r.fits_checksum for r in results):
        raise RuntimeError("a copy was not verified by its FITS sums")
    shutil.rmtree(folder)  # the next run writes as much again
    megabytes = sum(r.size for r in results) / 1e6
    return {"files": len(results), "mb": round(megabytes, 1), "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "cpu_ms_per_file": round(1000 * cpu / len(results), 2), "cpu_ms_per_mb": round(1000 * cpu / megabytes, 2)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    add_repo_paths()
    from tests.real_fits import SPOC_LAYOUT_FILES

    each = math.ceil(args.files / len(SPOC_LAYOUT_FILES))
    needed = max(each, WARM_UP_FILES)
    results = {}
    with StandinProcess(hosts_for_confirmed(needed // 3 + 1), mission="k2", mast_latency_s=0, s3_latency_s=0,
                        tap_latency_s=0) as standins, tempfile.TemporaryDirectory(prefix="copy-cpu-") as scratch:
        os.environ.update(standins.info["env"])
        keys, client = listed_files(standins.info, needed), genuine_bucket(standins.info)
        warm = stored(client, SPOC_LAYOUT_FILES[0].path.read_bytes(), keys[:WARM_UP_FILES])
        copier_into(Path(scratch, "warm")).copy_all(warm, args.threads)
        profile = cProfile.Profile(time.process_time) if args.profile else None  # CPU time, not wall
        for genuine in SPOC_LAYOUT_FILES:
            files = stored(client, genuine.path.read_bytes(), keys[:each])
            runs = [measure(files, args.threads, Path(scratch, f"run-{i}"), profile) for i in range(args.repeats)]
            results[genuine.name] = runs
            best = min(runs, key=lambda r: r["cpu_ms_per_file"])
            print(f"{genuine.name} ({files[0].mast_size / 1e6:.2f} MB), {best['files']} copies, {args.threads} "
                  f"threads: CPU a file {', '.join(str(r['cpu_ms_per_file']) for r in runs)} ms (best "
                  f"{best['cpu_ms_per_file']} ms, {best['cpu_ms_per_mb']} ms a MB)")
    print(f"S3 to a local folder; load {os.getloadavg()[0]:.2f}")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": results,
                                         "load_average": os.getloadavg()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
