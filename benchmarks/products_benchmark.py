"""Products (issue 22): MAST requests per target with the HLSPs on; files per second and worker CPU per file over
HTTPS against the bucket, the stand-ins at the same latency; the HTTPS pool's effect on MAST's request rate.

    python -m benchmarks.products_benchmark --tess-hosts 40 --latency 0.05

1. Discovery: every TESS host of the stand-ins (with HLSPs: QLP in each sector, TESS-SPOC in every other) asked
   of MAST in batches of ``--batch`` targets, once for SPOC alone and once for SPOC, TESS-SPOC and QLP; MAST's
   requests (as the stand-in counts them) per target.
2. Copy: the same SPOC light curves copied by ``run_flow`` into a fresh local folder from the bucket
   (``source: bucket``) and over HTTPS (``source: mast``), the stand-ins in a process of their own with the same
   latency before every reply; wall time, files per second and this process's CPU per file.
3. Pool: the TESS-SPOC files (none in the bucket) fetched over HTTPS with 1, 2 and 4 download slots (the
   ``mast_download`` pool's slots; ``run_flow`` holds its HTTPS steps to them as the pool holds the tasks), the
   stand-ins in this process to count MAST's downloads; MAST's download requests per second.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._paths import add_repo_paths

add_repo_paths()

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tess-hosts", type=int, default=40)
    parser.add_argument("--batch", type=int, default=100, help="targets per batch (the DAG's default)")
    parser.add_argument("--rows", type=int, default=2000, help="rows of each light curve (2000: ~0.2 MB)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds before every stand-in reply")
    return parser.parse_args(argv)


def params(destination: Path, **extra: object) -> dict:
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.params import param_specs

    defaults = {name: spec["default"] for name, spec in param_specs(get_mission("tess")).items()}
    return {**defaults, "destination": str(destination), "dispositions": ["CP", "KP", "PC", "APC", "FP", "FA"],
            **extra}


def run(destination: Path, download_slots: int | None = None, **extra: object) -> dict:
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.ingest import RunInfo, run_flow
    from lightcurve_ingest.wiring.connections import services_from_connections

    return run_flow(get_mission("tess"), params(destination, **extra), RunInfo(run_id="bench"),
                    services_from_connections, download_slots=download_slots)


def discovery(args: argparse.Namespace) -> None:
    from lightcurve_ingest.clients.mast import MastClient
    from lightcurve_ingest.domain.discovery import find_light_curves
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.domain.payloads import Batch, Target
    from tests.standins import Standins

    print("\n1. MAST requests per target, batches of", args.batch)
    print("| products | targets | batches | MAST requests | per target | light curves found |")
    print("|---|---|---|---|---|---|")
    with Standins(n_hosts=0, kepler_hosts=0, tess_hosts=args.tess_hosts, fits_rows=300, hlsps=True) as standins:
        hosts = [h for h in standins.universe.hosts_of("TESS") if h.known_to_mast]
        mast = MastClient(standins.mast.base_url)
        warm_up = Batch(label="warm-up", targets=(Target(hosts[0].target_id),))
        find_light_curves(get_mission("tess"), warm_up, mast)  # astroquery fetches its column config once
        for products in (("SPOC",), ("SPOC", "TESS-SPOC", "QLP")):
            before, found = sum(standins.mast.requests_by_service.values()), 0
            chunks = [hosts[i:i + args.batch] for i in range(0, len(hosts), args.batch)]
            for chunk in chunks:
                batch = Batch(label="bench", targets=tuple(Target(h.target_id) for h in chunk))
                found += len(find_light_curves(get_mission("tess"), batch, mast, products=products).files)
            requests = sum(standins.mast.requests_by_service.values()) - before
            print(f"| {', '.join(products)} | {len(hosts)} | {len(chunks)} | {requests} | "
                  f"{requests / len(hosts):.2f} | {found} |")


def copy_by_source(args: argparse.Namespace) -> None:
    print(f"\n2. Copying the SPOC light curves, the stand-ins in their own process, {args.latency * 1000:.0f} ms "
          "before every reply")
    print("| source | files | wall s | files/s | CPU ms per file (this process) |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "standins.env"
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.standins", "--hosts", "0", "--kepler-hosts", "0", "--tess-hosts",
             str(args.tess_hosts), "--fits-rows", str(args.rows), "--mast-latency", str(args.latency),
             "--s3-latency", str(args.latency), "--env-file", str(env_file)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not env_file.exists():
                time.sleep(0.2)
            for line in env_file.read_text().splitlines():
                name, value = line.removeprefix("export ").split("=", 1)
                os.environ[name] = value.strip("'")
            for source in ("bucket", "mast"):
                cpu, wall = time.process_time(), time.perf_counter()
                summary = run(Path(tmp) / source, source=source)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                files = summary["copied"]
                print(f"| {source} | {files} | {wall:.1f} | {files / wall:.1f} | {1000 * cpu / max(files, 1):.1f} |")
        finally:
            server.terminate()
            server.wait()


def pool(args: argparse.Namespace) -> None:
    from tests.standins import Standins

    print(f"\n3. TESS-SPOC over HTTPS ({args.latency * 1000:.0f} ms before every reply), by download slots")
    print("| download slots | files | wall s | MAST downloads per second |\n|---|---|---|---|")
    with Standins(n_hosts=0, kepler_hosts=0, tess_hosts=args.tess_hosts, fits_rows=args.rows, hlsps=True,
                  mast_latency_s=args.latency, s3_latency_s=args.latency) as standins, \
            tempfile.TemporaryDirectory() as tmp:
        os.environ.update(standins.airflow_env())
        for slots in (1, 2, 4):
            before, wall = standins.mast.download_count, time.perf_counter()
            summary = run(Path(tmp) / str(slots), download_slots=slots, products=["TESS-SPOC"],
                          targets_per_batch=max(1, args.tess_hosts // 8))
            wall = time.perf_counter() - wall
            downloads = standins.mast.download_count - before
            print(f"| {slots} | {summary['copied']} | {wall:.1f} | {downloads / wall:.1f} |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"load before: {os.getloadavg()[0]:.2f}")
    discovery(args)
    copy_by_source(args)
    pool(args)
    print(f"\nload after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
