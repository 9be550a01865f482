"""Injectable faults and request counters shared by the stand-ins."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Fault:
    kind: str
    remaining: int
    match: str | None


class FaultQueue:
    """Faults that fire in the order they were added, each ``times`` times, on matching requests.

    The owning stand-in decides whether a fault applies to a request from its kind and
    ``match`` (a service name, a key substring...; ``None`` usually means "any request").
    """

    def __init__(self, kinds: frozenset[str]) -> None:
        self.kinds = kinds
        self.fired: Counter[str] = Counter()
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()

    def add(self, kind: str, times: int = 1, match: str | None = None) -> None:
        if kind not in self.kinds:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(self.kinds)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(_Fault(kind, times, match))

    def take(self, applies: Callable[[str, str | None], bool]) -> str | None:
        """Consume and return the kind of the first pending fault with ``applies(kind, match)``."""
        with self._lock:
            for fault in self._faults:
                if applies(fault.kind, fault.match):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    self.fired[fault.kind] += 1
                    return fault.kind
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)


class RequestCounter:
    """Thread-safe ``request_count`` plus a Counter of requests by a label."""

    def __init__(self) -> None:
        self.by_label: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, label: str) -> None:
        with self._lock:
            self.by_label[label] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.by_label.values())

    def reset(self) -> None:
        with self._lock:
            self.by_label.clear()


class Instrumented:
    """What every stand-in offers tests: its request count, the faults fired, and resets.

    A stand-in sets ``_counter`` and ``_faults``, and overrides ``_clear_logs`` to forget what it records.
    """

    _counter: RequestCounter
    _faults: FaultQueue

    @property
    def request_count(self) -> int:
        return self._counter.total

    @property
    def faults_fired(self) -> Counter[str]:
        return self._faults.fired

    def reset_counters(self) -> None:
        self._counter.reset()
        self._faults.fired.clear()
        self._clear_logs()

    def clear_faults(self) -> None:
        self._faults.clear()

    def _clear_logs(self) -> None:
        """Forget what the stand-in records of requests (queries, invocations...)."""
