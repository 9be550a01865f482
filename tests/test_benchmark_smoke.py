"""Smoke test of the benchmark (benchmarks/ingest_benchmark.py): it completes at a tiny N and writes well-formed
JSON. Speed is not checked here; the targets are read from a real run's output.

K2 only: the copy paths it runs (local, S3 server-side, read back, streamed) do not depend on the mission, and
every mission's copies are checked end to end by test_missions_e2e.py and test_run_modes.py. This test is here so
that the benchmark itself keeps working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
MISSIONS = ("k2",)
PHASES = ("baseline", "ours", "ours_rerun", "ours_s3", "ours_s3_read_back")
COPY_MODES = ("local", "s3-server-side", "s3-read-back", "s3-streamed")
NUMBER = (int, float)
# Five phases plus the memory check: about a minute on an idle 2-CPU machine, most of it the imports of its
# child processes; 600 s leaves room for a loaded one.
TIMEOUT_S = 600


def _check_types(data: dict, expected: dict, where: str) -> None:
    for key, kind in expected.items():
        assert key in data, f"{where}: missing {key!r}"
        value = data[key]
        if kind is bool:
            well_typed = isinstance(value, bool)
        else:
            well_typed = isinstance(value, kind) and not isinstance(value, bool)
        assert well_typed, f"{where}.{key} is {type(value).__name__}, expected {kind}"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """One run of the benchmark at N = 4, with tiny latencies and a 2 MB memory check."""
    tmp_path = tmp_path_factory.mktemp("benchmark")
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    command = [sys.executable, "-m", "benchmarks.ingest_benchmark", "--missions", *MISSIONS, "--targets", "4",
               "--mast-latency", "0.005", "--s3-latency", "0.001", "--tap-latency", "0.005", "--memory-mb", "2",
               "--json", str(out), "--workdir", str(tmp_path / "work")]
    completed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "baseline/this" in completed.stdout and "mission" in completed.stdout  # the table was printed
    return json.loads(out.read_text())


def test_the_report_is_well_formed(report):
    _check_types(report, {"benchmark": str, "created": str, "config": dict, "runs": list, "scaling": dict,
                          "memory": dict, "elapsed_s": NUMBER}, "report")
    _check_types(report["config"], {"mast_latency_s": NUMBER, "s3_latency_s": NUMBER, "targets_per_batch": int,
                                    "copy_threads": int, "pool_slots": int, "targets": list, "missions": list,
                                    "tess_mb": NUMBER, "light_curve_mb": dict}, "config")
    assert [run["mission"] for run in report["runs"]] == list(MISSIONS)
    assert set(report["scaling"]) == set(MISSIONS)


@pytest.mark.parametrize("mission", MISSIONS)
def test_each_mission_copies_every_file_on_each_path(report, mission):
    [run] = [r for r in report["runs"] if r["mission"] == mission]
    _check_types(run, {"n_targets": int, "files": int, "bytes": int, "phases": dict, "checks": dict}, "run")
    assert run["n_targets"] == 4 and run["files"] >= 8
    assert set(run["phases"]) == set(PHASES)
    for name, phase in run["phases"].items():
        _check_types(phase, {"wall_s": NUMBER, "files": NUMBER, "mast_requests": int, "s3_requests": int,
                             "bytes_through_worker": int, "peak_rss_mb": NUMBER, "cpu_s": NUMBER,
                             "mast_by_service": dict}, f"{mission} {name}")
        assert phase["wall_s"] > 0 and phase["peak_rss_mb"] > 0
    phases = run["phases"]
    assert (phases["baseline"]["files"] == phases["ours"]["copied"] == phases["ours_s3"]["copied"]
            == phases["ours_s3_read_back"]["copied"] == run["files"])
    assert phases["ours_rerun"]["bytes_through_worker"] == 0 and phases["ours_rerun"]["mast_requests"] == 0
    checks = run["checks"]
    _check_types(checks, {"speedup": NUMBER, "mast_requests_per_target": NUMBER, "rerun_fraction": NUMBER,
                          "speedup_ok": bool, "rerun_ok": bool, "s3_server_side": bool,
                          "s3_zero_bytes_through_worker": bool, "s3_read_back_destination_bytes_read": int}, "checks")
    assert checks["rerun_bytes"] == 0 and checks["rerun_mast_requests"] == 0
    # server-side copies: no byte through the worker, as counted by the S3 stand-in and as the run reports it
    assert checks["s3_zero_bytes_through_worker"] and phases["ours_s3"]["bytes_through_worker"] == 0
    # the read-back reads each copy once, and the run reports those bytes
    assert (checks["s3_read_back_destination_bytes_read"] == phases["ours_s3_read_back"]["bytes_through_worker"]
            == run["bytes"])


def test_the_memory_check_copies_in_every_mode(report):
    memory = report["memory"]
    _check_types(memory, {"object_mb": NUMBER, "limit_mb": NUMBER, "copies": dict, "checks": dict}, "memory")
    for mode in COPY_MODES:
        for size in ("large", "llc"):
            copy = memory["copies"][f"{mode}/{size}"]
            _check_types(copy, {"peak_rss_mb": NUMBER, "bytes_through_worker": int, "status": str, "method": str},
                         f"memory {mode}/{size}")
            assert copy["status"] == "copied", copy
    assert memory["copies"]["s3-server-side/large"]["bytes_through_worker"] == 0
    assert memory["copies"]["s3-server-side/large"]["method"] == "server-side"
    assert memory["copies"]["s3-read-back/large"]["method"] == "server-side-read-back"
    assert memory["copies"]["s3-streamed/large"]["method"] == "streamed"
    assert memory["copies"]["local/large"]["bytes_through_worker"] == memory["copies"]["local/large"]["size"]
