"""A task's own start-up and CPU time, logged when it ends (one line; ``benchmarks/celery_run_time`` reads it).

Start-up is the time from the task process's birth (Airflow's supervisor forks it) to the first line of the
task's own code: the task runner's set-up, the DAG file's parse and the imports done so far. CPU is the task
process's own (``RUSAGE_SELF``: a forked process starts at zero), at that point and at the end.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)
MARKER = "Task usage: "


def process_age_seconds() -> float:
    """Seconds since this process started (Linux: /proc; 10 ms resolution)."""
    with open("/proc/self/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of proc(5), "starttime"
    with open("/proc/uptime") as uptime:
        return float(uptime.read().split()[0]) - started


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def measured(task: str) -> Iterator[None]:
    """Log ``task``'s start-up (wall and CPU) and its total CPU, wall time and peak RSS when it ends."""
    startup_s, startup_cpu_s, started = process_age_seconds(), cpu_seconds(), time.monotonic()
    try:
        yield
    finally:
        usage = {"task": task, "startup_s": round(startup_s, 3), "startup_cpu_s": round(startup_cpu_s, 3),
                 "work_s": round(time.monotonic() - started, 3), "cpu_s": round(cpu_seconds(), 3),
                 "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        log.info("%s%s", MARKER, json.dumps(usage))
