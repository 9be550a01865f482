"""Make ``lightcurve_ingest`` (plugins/) and ``tests`` (repo root) importable, as tests/conftest.py does."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def add_repo_paths() -> None:
    for path in (str(REPO), str(REPO / "plugins")):
        if path not in sys.path:
            sys.path.insert(0, path)
