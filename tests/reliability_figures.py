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
    return ["k2ingest reliability figures (issue 6)", *(f"  {n:<62} {tally[n]:>6}" for n in sorted(tally))]
