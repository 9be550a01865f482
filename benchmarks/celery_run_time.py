"""Benchmark: trigger-to-success of a full k2_lightcurve_ingest run on the real stack, against the serial loop.

    .venv/bin/python -m benchmarks.celery_run_time                          # N = 300, 1 then 2 worker processes
    .venv/bin/python -m benchmarks.celery_run_time --targets 300 1000 --workers 1 2 --repeats 2 --serial \
        --json benchmarks/results/celery.json

For each N it starts the stand-ins in a process of their own (``benchmarks/standin_process.py``: N confirmed K2
hosts, their light curves at real sizes, the latencies below), and, with ``--serial``, first runs the seed's
serial loop (``benchmarks/seed_baseline.py``) on them in a fresh process, as ``ingest_benchmark`` does. Then for
each number of worker processes it starts the production stack of tests/integration/stack.py (api-server,
scheduler, dag-processor, one Celery worker; PostgreSQL and Redis of this machine) with
``airflow celery worker --concurrency W``, waits for the scheduled run that unpausing creates to end, and
triggers full runs (every confirmed K2 target of the archive, into a fresh local folder, default batch size and
copy threads) through the REST API, as the trigger form does. Each is timed from the trigger (POST) to the
run's success, seen by polling the REST API every 0.2 s.

Per task it reports (JSON ``runs[].tasks``): Airflow's queued, start and end times (REST API), and the task
process's own figures, which each task logs when it ends (``lightcurve_ingest.wiring.task_usage``): start-up (from the
fork of the task process to the first line of the task's code, and the CPU spent in it), total CPU of the task
process (``RUSAGE_SELF``), peak RSS. ``worker_cpu_s`` is the CPU of the whole Celery worker (its main process,
pool processes, task supervisors and task processes, read from /proc before and after the run): what the
deployment pays, Airflow's machinery included. ``copy CPU/file`` is the copy tasks' CPU divided by the files.

The serial loop's time can come from an earlier JSON of this benchmark (``--serial-from``), since it does not
depend on this project's code; ``--serial-max-targets M`` runs it on the first M targets only and extrapolates
linearly (marked ``*``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from benchmarks._paths import add_repo_paths
from benchmarks.ingest_benchmark import _extrapolate, child_env, run_in_child
from benchmarks.standin_process import StandinProcess

add_repo_paths()

from lightcurve_ingest.wiring.task_usage import MARKER  # noqa: E402  (after the path set-up)
from tests.integration.stack import DAG_ID, AirflowStack, Deadline, StackError  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.celery_run_time", description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[300], help="catalog sizes N (confirmed K2 hosts)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="Celery worker processes (worker --concurrency) to measure, one stack each")
    parser.add_argument("--repeats", type=int, default=1, help="runs measured per stack")
    parser.add_argument("--per-batch", type=int, help="targets_per_batch (default: the DAG's)")
    parser.add_argument("--copy-threads", type=int, help="copy_threads (default: the DAG's)")
    parser.add_argument("--serial", action="store_true", help="also run the seed's serial loop on the stand-ins")
    parser.add_argument("--serial-max-targets", type=int, default=0, metavar="M",
                        help="run the serial loop on the first M targets only and extrapolate to N")
    parser.add_argument("--serial-from", type=Path, help="the serial loop's figures from an earlier JSON")
    parser.add_argument("--mast-latency", type=float, default=0.15, help="seconds before each MAST reply")
    parser.add_argument("--tap-latency", type=float, default=0.15, help="seconds before each TAP reply")
    parser.add_argument("--s3-latency", type=float, default=0.02, help="seconds before each S3 reply")
    parser.add_argument("--timeout", type=float, default=1800, help="limit in seconds for each stack, all included")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def _time(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def _seconds(start: str | None, end: str | None) -> float | None:
    return round((_time(end) - _time(start)).total_seconds(), 3) if start and end else None


def wait_idle(stack: AirflowStack, deadline: Deadline) -> None:
    """Until every run of the DAG so far has ended (the scheduled run that unpausing creates)."""
    while True:
        runs = stack.dag_runs(DAG_ID)
        if runs and all(r["state"] in ("success", "failed") for r in runs):
            return
        if deadline.remaining <= 0:
            raise StackError(f"runs still going: {[(r['dag_run_id'], r['state']) for r in runs]}")
        time.sleep(0.5)


def worker_cpu_seconds(stack: AirflowStack) -> float:
    """CPU of the Celery worker's process tree so far, reaped children included (task processes are reaped by
    their supervisors, which live in the worker's pool processes)."""
    root = psutil.Process(stack.process("celery-worker").popen.pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def task_usages(stack: AirflowStack, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    """What each task process logged about itself (``task_usage``), by (task id, map index); last try wins."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    run_dir = next((p for p in (stack.home / "logs").rglob("run_id=*") if p.name == f"run_id={run_id}"), None)
    for path in sorted(run_dir.rglob("*.log")) if run_dir else []:
        task_id = next(p.split("=", 1)[1] for p in path.parts if p.startswith("task_id="))
        index = next((int(p.split("=", 1)[1]) for p in path.parts if p.startswith("map_index=")), -1)
        for line in path.read_text(errors="replace").splitlines():
            match = re.search(re.escape(MARKER) + r"(\{.*?\})", line.replace('\\"', '"'))
            if match:
                found[(task_id, index)] = json.loads(match.group(1))
    return found


def task_timeline(stack: AirflowStack, run_id: str, triggered: datetime) -> list[dict[str, Any]]:
    usages = task_usages(stack, run_id)
    rows = []
    for ti in stack.task_instances(DAG_ID, run_id):
        usage = usages.get((ti["task_id"], ti["map_index"]), {})
        rows.append({
            "task": ti["task_id"], "map_index": ti["map_index"], "state": ti["state"], "try": ti["try_number"],
            "queued_at_s": _offset(ti.get("queued_when"), triggered),
            "start_at_s": _offset(ti["start_date"], triggered), "end_at_s": _offset(ti["end_date"], triggered),
            "wall_s": ti["duration"],
            "queued_s": _seconds(ti.get("queued_when"), ti["start_date"]), **usage,
        })
    return sorted(rows, key=lambda r: (r["start_at_s"] or 0, r["task"]))


def _offset(stamp: str | None, origin: datetime) -> float | None:
    return round((_time(stamp) - origin).total_seconds(), 3) if stamp else None


def timed_run(stack: AirflowStack, conf: dict, expected_files: int, deadline: Deadline) -> dict:
    """Trigger one run and poll it to its end; the run must succeed and copy ``expected_files``."""
    cpu_before = worker_cpu_seconds(stack)
    triggered = datetime.now().astimezone()
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
    time.sleep(1.0)  # the last task process's supervisor reaps it and reports; its CPU is then counted
    worker_cpu = worker_cpu_seconds(stack) - cpu_before
    if run["state"] != "success":
        raise StackError(f"run failed:\n{stack.run_report(DAG_ID, run_id)}")
    summary = stack.xcom(DAG_ID, run_id, "summarize_run")
    if summary["copied"] != expected_files or summary["failed"]:
        raise StackError(f"expected {expected_files} files copied, got {summary}")
    tasks = task_timeline(stack, run_id, triggered)
    return {
        "run_id": run_id, "trigger_to_success_s": round(wall_s, 2),
        "queued_to_end_s": _seconds(run["queued_at"], run["end_date"]),
        "worker_cpu_s": round(worker_cpu, 2), "files": summary["copied"], "bytes": summary["bytes_copied"],
        "batches": summary["batches"], "load_average": [round(x, 2) for x in os.getloadavg()],
        "by_task": by_task(tasks, summary["copied"]), "tasks": tasks,
    }


def by_task(tasks: list[dict[str, Any]], files: int) -> dict[str, Any]:
    """Per task id: instances, mean wall (Airflow's duration), mean start-up and CPU (the task's own log)."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys(t["task"] for t in tasks):
        mine = [t for t in tasks if t["task"] == name and t["state"] == "success"]
        measured = [t for t in mine if "cpu_s" in t]
        out[name] = {"instances": len(mine), "wall_s": _mean([t["wall_s"] for t in mine]),
                     "queued_s": _mean([t["queued_s"] for t in mine]),
                     **{key: _mean([t[key] for t in measured]) for key in ("startup_s", "startup_cpu_s", "cpu_s")},
                     "cpu_total_s": round(sum(t["cpu_s"] for t in measured), 2)}
    copy = out.get("copy_light_curves")
    if copy and files:
        out["copy_cpu_ms_per_file"] = round(1000 * copy["cpu_total_s"] / files, 2)
    return out


def _mean(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.mean(values), 3) if values else None


def serial_loop(standins: StandinProcess, n: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The seed's loop on the same stand-ins, in a fresh process (``ingest_benchmark``'s baseline phase)."""
    info = standins.info
    cap = args.serial_max_targets if 0 < args.serial_max_targets < n else 0
    config = {"env": child_env(info["env"], workdir / "serial-airflow-home"), "mission": "k2",
              "mast_url": info["mast_url"], "tap_url": info["tap_url"], "s3_endpoint": info["s3_endpoint"],
              "destination": str(workdir / "serial"), "max_targets": cap}
    standins.reset_counters()
    result = run_in_child("baseline", config)
    counters = standins.counters()
    result.update(mast_requests=counters["mast"], s3_requests=counters["s3"], s3_bytes_read=counters["s3_bytes_read"],
                  bytes_read_from_s3=sum(counters["s3_bytes_read"].values()))
    return _extrapolate(result, n) if cap else result


def earlier_serial(path: Path, n: int) -> dict[str, Any] | None:
    earlier = json.loads(path.read_text())
    return next((s["serial"] for s in earlier["sizes"] if s["n_targets"] == n and s.get("serial")), None)


def measure_stack(workers: int, standins: StandinProcess, args: argparse.Namespace) -> dict[str, Any]:
    """One stack with ``workers`` Celery worker processes; ``args.repeats`` timed full runs on it."""
    started = time.monotonic()
    deadline = Deadline(args.timeout)
    stack = AirflowStack(standins.info["env"], worker_concurrency=workers, unpause=(DAG_ID,))
    runs = []
    try:
        stack.start(deadline)
        startup_s = time.monotonic() - started
        wait_idle(stack, deadline)
        worker_rss_mb = psutil.Process(stack.process("celery-worker").popen.pid).memory_info().rss / 1e6
        for repeat in range(args.repeats):
            conf = {"destination": str(stack.home / f"bench-destination-{repeat}"), "full_refresh": False}
            conf.update({k: v for k, v in (("targets_per_batch", args.per_batch),
                                            ("copy_threads", args.copy_threads)) if v})
            standins.reset_counters()
            result = timed_run(stack, conf, standins.info["files"], deadline)
            counters = standins.counters()
            result.update(mast_requests=counters["mast"], tap_requests=counters["tap"], s3_requests=counters["s3"])
            print(f"  workers={workers} repeat {repeat + 1}: trigger->success {result['trigger_to_success_s']:.1f} s"
                  f" (queued->end {result['queued_to_end_s']:.1f} s; {len(result['tasks'])} tasks; worker CPU "
                  f"{result['worker_cpu_s']:.1f} s; {result['files']} files, {result['bytes'] / 1e6:.1f} MB; "
                  f"load {result['load_average'][0]})", flush=True)
            runs.append(result)
    finally:
        stack.stop()
    return {"worker_processes": workers, "stack_start_s": round(startup_s, 1), "runs": runs,
            "worker_main_rss_mb": round(worker_rss_mb, 1),
            "median_trigger_to_success_s": round(statistics.median(r["trigger_to_success_s"] for r in runs), 2)}


def measure_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    print(f"N = {n}: starting the stand-ins ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="celery-bench-") as scratch, \
            StandinProcess(n, mission="k2", mast_latency_s=args.mast_latency, s3_latency_s=args.s3_latency,
                           tap_latency_s=args.tap_latency) as standins:
        serial = earlier_serial(args.serial_from, n) if args.serial_from else None
        if serial is None and args.serial:
            print(f"N = {n}: the serial loop ...", flush=True)
            serial = serial_loop(standins, n, args, Path(scratch))
            print(f"N = {n}: the serial loop took {serial['wall_s']:.1f} s", flush=True)
        stacks = []
        for workers in args.workers:
            print(f"N = {n}: stack with `airflow celery worker --concurrency {workers}` ...", flush=True)
            stacks.append(measure_stack(workers, standins, args))
    return {"n_targets": n, "files": standins.info["files"], "bytes": standins.info["bytes"], "serial": serial,
            "stacks": stacks}


def format_table(sizes: list[dict[str, Any]]) -> str:
    header = (f"{'N':>5} {'files':>6} {'W':>2} {'trigger->success s':>22} {'serial s':>9} {'ratio':>6} "
              f"{'start-up s':>10} {'plan s':>7} {'find s':>7} {'copy s':>7} {'copy CPU s':>10} "
              f"{'ms/file':>8} {'worker CPU s':>12}")
    lines = [header, "-" * len(header)]
    for size in sizes:
        serial = size["serial"]
        serial_s = serial["wall_s"] if serial else None
        mark = "*" if serial and serial.get("extrapolated_from_targets") else ""
        for stack in size["stacks"]:
            runs, median = stack["runs"], stack["median_trigger_to_success_s"]
            each = "/".join(f"{r['trigger_to_success_s']:.1f}" for r in runs)
            tasks = [r["by_task"] for r in runs]
            lines.append(
                f"{size['n_targets']:>5} {size['files']:>6} {stack['worker_processes']:>2} {each:>22} "
                f"{_fmt(serial_s, '.1f') + mark:>9} {_fmt(serial_s / median if serial_s else None, '.1f') + 'x':>6} "
                f"{_fmt(_avg(tasks, 'startup_s'), '.2f'):>10} {_fmt(_avg(tasks, 'wall_s', 'plan_targets'), '.1f'):>7} "
                f"{_fmt(_avg(tasks, 'wall_s', 'find_light_curves'), '.1f'):>7} "
                f"{_fmt(_avg(tasks, 'wall_s', 'copy_light_curves'), '.1f'):>7} "
                f"{_fmt(_avg(tasks, 'cpu_s', 'copy_light_curves'), '.1f'):>10} "
                f"{_fmt(statistics.mean(t.get('copy_cpu_ms_per_file', 0) for t in tasks), '.1f'):>8} "
                f"{_fmt(statistics.mean(r['worker_cpu_s'] for r in runs), '.1f'):>12}")
    lines.append("W: worker processes; each run's trigger->success, ratio = serial / median; start-up: mean over "
                 "every task (fork to the task's code); plan/find/copy s: mean wall of one instance (Airflow); "
                 "copy CPU s: mean CPU of one copy task; ms/file: copy tasks' CPU a file")
    return "\n".join(lines)


def _avg(tasks: list[dict[str, Any]], key: str, task: str | None = None) -> float | None:
    if task:
        values = [t[task][key] for t in tasks if task in t and t[task][key] is not None]
    else:
        values = [v[key] for t in tasks for name, v in t.items() if isinstance(v, dict) and v[key] is not None]
    return statistics.mean(values) if values else None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"k2_lightcurve_ingest full runs, N = {args.targets}, latency MAST {args.mast_latency} s / TAP "
          f"{args.tap_latency} s / S3 {args.s3_latency} s; {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    sizes = [measure_size(n, args) for n in args.targets]
    print()
    print(format_table(sizes))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v)
                                                  for k, v in vars(args).items()}, "sizes": sizes}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
