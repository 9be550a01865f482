"""Benchmark: trigger-to-success time of one k2_lightcurve_ingest run on the real stack, by Celery worker processes.

    .venv/bin/python -m benchmarks.celery_run_time                       # 1 then 2 worker processes
    .venv/bin/python -m benchmarks.celery_run_time --workers 1 2 4 --repeats 3 --json benchmarks/results/celery.json

For each N it starts the stand-ins (tests/standins, in this process, with the injected latency below) and the
production stack of tests/integration/stack.py (api-server, scheduler, dag-processor, one Celery worker;
PostgreSQL and Redis of this machine), with ``airflow celery worker --concurrency N``. Then it waits for the
scheduled run that unpausing creates to end, triggers a run of ``--targets`` named targets with
``targets_per_batch=--per-batch`` into a fresh local folder through the REST API, as the trigger form does, and
measures the time from the trigger (POST) to the run's success, seen by polling the REST API every 0.2 s; it
also prints the run's own queued-to-end time from Airflow. Each repeat copies into a new folder, so each does
the same work.

"Worker processes": one Celery worker node whose prefork pool has N child processes (``--concurrency N``).
Each child takes one Airflow task at a time from the queue and runs it (through the task SDK's supervisor,
which forks the task's own process), so N is the number of tasks of the run that can execute at once on this
machine; the ``mast_api`` pool (4 slots) and ``max_active_tasks`` (32) do not bind below 4. A run of 20 targets
in batches of 5 has 11 tasks: plan_targets, 4 x batch.find_light_curves, 4 x batch.copy_light_curves,
publish_catalog and summarize_run.

The lightcurve_catalog_consumer DAG stays paused here (its asset-triggered runs would compete for the same
slots). The stand-ins hold K2 hosts only: the Kepler and TESS DAGs have nothing to do with this run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

from benchmarks._paths import add_repo_paths
from benchmarks.standin_process import hosts_for_confirmed

add_repo_paths()

from tests.integration.stack import DAG_ID, AirflowStack, Deadline, StackError  # noqa: E402  (after the path set-up)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.celery_run_time", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="Celery worker processes (worker --concurrency) to measure, one stack each")
    parser.add_argument("--targets", type=int, default=20, help="targets of the measured run")
    parser.add_argument("--per-batch", type=int, default=5, help="targets_per_batch of the measured run")
    parser.add_argument("--repeats", type=int, default=2, help="runs measured per stack")
    parser.add_argument("--mast-latency", type=float, default=0.15, help="seconds before each MAST reply")
    parser.add_argument("--tap-latency", type=float, default=0.15, help="seconds before each TAP reply")
    parser.add_argument("--s3-latency", type=float, default=0.02, help="seconds before each S3 reply")
    parser.add_argument("--fits-rows", type=int, default=3900, help="rows per light curve (3900 ~ 0.40 MB)")
    parser.add_argument("--timeout", type=float, default=900, help="limit in seconds for each stack, all included")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def _time(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def wait_idle(stack: AirflowStack, deadline: Deadline) -> None:
    """Until every run of the DAG so far has ended (the scheduled run that unpausing creates)."""
    while True:
        runs = stack.dag_runs(DAG_ID)
        if runs and all(r["state"] in ("success", "failed") for r in runs):
            return
        if deadline.remaining <= 0:
            raise StackError(f"runs still going: {[(r['dag_run_id'], r['state']) for r in runs]}")
        time.sleep(0.5)


def timed_run(stack: AirflowStack, conf: dict, expected_files: int, deadline: Deadline) -> dict:
    """Trigger one run and poll it to its end; the run must succeed and copy ``expected_files``."""
    t0 = time.monotonic()
    run_id = stack.trigger(DAG_ID, conf, note="benchmark")["dag_run_id"]
    while True:
        run = stack.dag_run(DAG_ID, run_id)
        if run["state"] in ("success", "failed"):
            break
        if deadline.remaining <= 0:
            raise StackError(f"run {run_id} still {run['state']} at the deadline")
        time.sleep(0.2)
    wall_s = time.monotonic() - t0
    if run["state"] != "success":
        raise StackError(f"run failed:\n{stack.run_report(DAG_ID, run_id)}")
    summary = stack.xcom(DAG_ID, run_id, "summarize_run")
    if summary["copied"] != expected_files or summary["failed"]:
        raise StackError(f"expected {expected_files} files copied, got {summary}")
    tasks = stack.task_instances(DAG_ID, run_id)
    return {
        "run_id": run_id,
        "trigger_to_success_s": round(wall_s, 2),
        "queued_to_end_s": round((_time(run["end_date"]) - _time(run["queued_at"])).total_seconds(), 2),
        "tasks": len(tasks),
        "task_seconds": round(sum(t["duration"] or 0 for t in tasks), 2),
        "files": summary["copied"], "bytes": summary["bytes_copied"], "batches": summary["batches"],
    }


def measure(workers: int, args: argparse.Namespace) -> dict:
    """One stack with ``workers`` Celery worker processes; ``args.repeats`` timed runs on it."""
    from tests.standins import Standins

    started = time.monotonic()
    deadline = Deadline(args.timeout)
    with Standins(n_hosts=hosts_for_confirmed(args.targets), kepler_hosts=0, tess_hosts=0, fits_rows=args.fits_rows,
                  mast_latency_s=args.mast_latency, tap_latency_s=args.tap_latency,
                  s3_latency_s=args.s3_latency) as standins:
        targets = [h.hostname for h in standins.universe.confirmed_hosts()][:args.targets]
        expected_files = sum(len(standins.universe.host_by_name(t).light_curves()) for t in targets)
        stack = AirflowStack(standins.airflow_env(), worker_concurrency=workers, unpause=(DAG_ID,))
        try:
            stack.start(deadline)
            startup_s = time.monotonic() - started
            wait_idle(stack, deadline)
            runs = []
            for repeat in range(args.repeats):
                conf = {"destination": str(stack.home / f"bench-destination-{repeat}"),
                        "dest_aws_conn_id": "aws_default", "targets": targets, "full_refresh": False,
                        "targets_per_batch": args.per_batch, "copy_threads": 8}
                result = timed_run(stack, conf, expected_files, deadline)
                print(f"  workers={workers} repeat {repeat + 1}: trigger->success "
                      f"{result['trigger_to_success_s']:.1f} s (Airflow: queued->end {result['queued_to_end_s']:.1f} s;"
                      f" {result['tasks']} tasks, {result['task_seconds']:.1f} task-seconds; "
                      f"{result['files']} files, {result['bytes'] / 1e6:.1f} MB)", flush=True)
                runs.append(result)
        finally:
            stack.stop()
    return {"worker_processes": workers, "startup_s": round(startup_s, 1), "runs": runs,
            "median_trigger_to_success_s": round(statistics.median(r["trigger_to_success_s"] for r in runs), 2)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    print(f"k2_lightcurve_ingest, {args.targets} targets in batches of {args.per_batch}, latency MAST "
          f"{args.mast_latency} s / TAP {args.tap_latency} s / S3 {args.s3_latency} s", flush=True)
    for workers in args.workers:
        print(f"stack with `airflow celery worker --concurrency {workers}` ...", flush=True)
        results.append(measure(workers, args))
    print("\nworker processes | trigger -> success (s), each run | median")
    for r in results:
        each = ", ".join(f"{run['trigger_to_success_s']:.1f}" for run in r["runs"])
        print(f"{r['worker_processes']:>16} | {each:<31} | {r['median_trigger_to_success_s']:.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v)
                                                  for k, v in vars(args).items()}, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
