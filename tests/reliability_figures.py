"""Figures of the reliability tests (issue 6): counters the fault, security, fuzz and crash tests add to,
printed in pytest's terminal summary (see ``pytest_terminal_summary`` in conftest.py)."""

from __future__ import annotations

from collections import Counter

import pytest


def figures(config: pytest.Config) -> Counter:
    if not hasattr(config, "k2_reliability_figures"):
        config.k2_reliability_figures = Counter()
    return config.k2_reliability_figures


def summary_lines(config: pytest.Config) -> list[str]:
    tally = getattr(config, "k2_reliability_figures", None)
    if not tally:
        return []
    return ["lightcurve_ingest reliability figures (issue 6)", *(f"  {n:<62} {tally[n]:>6}" for n in sorted(tally))]


def count_run(config: pytest.Config, run, result: dict | None = None) -> None:  # noqa: ANN001
    """Count one DAG run (and the files it verified) in the figures."""
    tally = figures(config)
    tally["DAG runs"] += 1
    succeeded = str(run.state) == "success"
    tally["DAG runs succeeded" if succeeded else "DAG runs failed by design (bad conf, persistent faults)"] += 1
    if result is not None:
        tally["files verified and recorded (copied or adopted)"] += result["copied"] + result["adopted"]
