"""A long task's progress in its log: files done of the total, bytes, rate; every few seconds, from a thread."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 30.0


class ProgressLog:
    """``with ProgressLog("c5 2113", total) as progress: ... progress.add(size)``: a line every ``interval``
    seconds while the work goes on (whatever a single file takes), and one at the end."""

    def __init__(self, label: str, total: int, interval: float = PROGRESS_INTERVAL_S) -> None:
        self.label = label
        self.total = total
        self.interval = interval
        self.done = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._report_until_stopped, name="progress", daemon=True)

    def add(self, size: int) -> None:
        with self._lock:
            self.done += 1
            self.bytes += size

    def line(self) -> str:
        with self._lock:
            done, size = self.done, self.bytes
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return (f"{self.label}: {done}/{self.total} files, {size / 1e6:.1f} MB, {done / elapsed:.1f} files/s, "
                f"{size / 1e6 / elapsed:.2f} MB/s, {elapsed:.0f} s")

    def _report_until_stopped(self) -> None:
        while not self._stop.wait(self.interval):
            log.info("Progress %s", self.line())

    def __enter__(self) -> ProgressLog:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        log.info("Done %s", self.line())
