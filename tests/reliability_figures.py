"""Figures of the reliability tests (issue 6): counters the fault, security, fuzz and crash tests add to,
printed once when the pytest session ends."""

from __future__ import annotations

from collections import Counter

import pytest


def figures(config: pytest.Config) -> Counter:
    if not hasattr(config, "k2_reliability_figures"):
        config.k2_reliability_figures = Counter()
        config.add_cleanup(lambda: _print_figures(config))
    return config.k2_reliability_figures


def _print_figures(config: pytest.Config) -> None:
    tally = config.k2_reliability_figures
    lines = ["", "k2ingest reliability figures (issue 6)", *(f"  {n:<62} {tally[n]:>6}" for n in sorted(tally))]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        reporter.write_line(line) if reporter is not None else print(line)
