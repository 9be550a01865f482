"""Benchmark: CPU of ``verify_file`` alone on each genuine MAST light curve of ``tests/fixtures/real_fits/``.

    .venv/bin/python -m benchmarks.verify_cpu                       # this tree's verify_file
    .venv/bin/python -m benchmarks.verify_cpu --plugins ../old/plugins   # another tree's, for a before/after

Each file is verified ``--verifies`` times in a row; the best of ``--repeats`` such runs is printed, a file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REAL_FITS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "real_fits"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.verify_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=Path, default=Path(__file__).resolve().parent.parent / "plugins",
                        help="the plugins folder whose lightcurve_ingest.domain.verify is measured")
    parser.add_argument("--verifies", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.plugins))
    from lightcurve_ingest.domain.verify import verify_file

    for path in sorted(REAL_FITS.glob("*.fits")):
        sizes = {"mast": path.stat().st_size}
        verify_file(path, sizes)
        runs = []
        for _ in range(args.repeats):
            started = time.process_time()
            for _ in range(args.verifies):
                verify_file(path, sizes)
            runs.append((time.process_time() - started) / args.verifies)
        print(f"{path.name[:56]:56s} {sizes['mast'] / 1e6:5.2f} MB  {1000 * min(runs):6.2f} ms CPU")


if __name__ == "__main__":
    main()
