"""Run the stand-ins until Ctrl-C / SIGTERM: ``python -m tests.standins [options]`` (from the repo root).

Prints one ``export NAME='value'`` line per Airflow connection (also written to ``--env-file``,
ready to ``source``), creates the destination bucket ``team-bucket`` and serves until stopped.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path

from . import Standins

DESTINATION_BUCKET = "team-bucket"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.standins", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20, help="number of K2 hosts known to MAST")
    parser.add_argument("--kepler-hosts", type=int, default=None, help="number of Kepler hosts (default: --hosts)")
    parser.add_argument("--tess-hosts", type=int, default=None, help="number of TESS hosts (default: --hosts)")
    parser.add_argument("--unknown-to-mast", type=int, default=0, help="extra hosts MAST does not know")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fits-rows", type=int, default=None,
                        help="rows per light curve, for many small files (200 ~ 50 KB); default: real sizes "
                             "(K2 ~0.4 MB, Kepler ~0.5 MB, TESS ~2 MB, TESS 20-s ~12 MB)")
    parser.add_argument("--mast-latency", type=float, default=0.0, help="seconds slept before each MAST reply")
    parser.add_argument("--tap-latency", type=float, default=0.0, help="seconds slept before each TAP reply")
    parser.add_argument("--s3-latency", type=float, default=0.0, help="seconds slept before each S3 reply")
    parser.add_argument("--hlsps", action="store_true",
                        help="MAST also lists QLP, TESS-SPOC, K2SFF and EVEREST light curves (some in the bucket)")
    parser.add_argument("--env-file", type=Path, help="also write the export lines to this file")
    return parser.parse_args(argv)


def export_lines(env: dict[str, str]) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Standins(n_hosts=args.hosts, seed=args.seed, fits_rows=args.fits_rows,
                  unknown_to_mast=args.unknown_to_mast, kepler_hosts=args.kepler_hosts,
                  tess_hosts=args.tess_hosts, mast_latency_s=args.mast_latency,
                  tap_latency_s=args.tap_latency, s3_latency_s=args.s3_latency, hlsps=args.hlsps) as standins:
        standins.s3.create_bucket(DESTINATION_BUCKET)
        lines = export_lines(standins.airflow_env())
        if args.env_file:
            args.env_file.write_text("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)
        print(f"# serving {len(standins.universe.hosts)} hosts, {len(standins.universe.files)} files; "
              f"destination bucket {DESTINATION_BUCKET}; Ctrl-C to stop", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
