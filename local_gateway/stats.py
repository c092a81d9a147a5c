"""Counters for tests: how often each endpoint was called, how often each body created a task, how
many faults of each kind were injected, and the most tasks queued or running at once."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from typing import Any

from local_gateway.faults import ENDPOINTS, Endpoint, FaultKind


def body_key(body: Any) -> str:
    """sha256 of the canonical JSON of a create body (sorted keys, no whitespace, nulls already dropped)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Stats:
    """Thread-safe counters behind `GET /_local/stats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._creates: Counter[str] = Counter()
        self._faults: Counter[FaultKind] = Counter()
        self._in_flight = 0
        self._peak_in_flight = 0

    def request(self, endpoint: Endpoint) -> None:
        """Count one request to an endpoint, whatever its outcome."""
        with self._lock:
            self._requests[endpoint] += 1

    def created(self, body: Any) -> None:
        """Count one task created from `body`."""
        key = body_key(body)
        with self._lock:
            self._creates[key] += 1

    def fault(self, kind: FaultKind) -> None:
        """Count one injected fault."""
        with self._lock:
            self._faults[kind] += 1

    def in_flight(self, tasks: int) -> None:
        """Note how many tasks are queued or running now (the task store calls it on every change)."""
        with self._lock:
            self._in_flight = tasks
            self._peak_in_flight = max(self._peak_in_flight, tasks)

    def snapshot(self) -> dict[str, Any]:
        """`{"requests": {endpoint: n}, "creates": {body sha256: tasks}, "tasks_created": n,
        "duplicate_creates": n, "faults": {kind: n}, "in_flight": n, "peak_in_flight": n}`.

        `peak_in_flight` is the most tasks queued or running at once since the gateway started or
        the stats were last reset, which is how tests see that a concurrency limit held.
        """
        with self._lock:
            return {
                "requests": {name: self._requests[name] for name in ENDPOINTS},
                "creates": dict(self._creates),
                "tasks_created": sum(self._creates.values()),
                "duplicate_creates": sum(count - 1 for count in self._creates.values()),
                "faults": {kind.value: self._faults[kind] for kind in FaultKind},
                "in_flight": self._in_flight,
                "peak_in_flight": self._peak_in_flight,
            }

    def reset(self) -> None:
        """Zero the counters; the peak starts again from the tasks in flight now."""
        with self._lock:
            self._requests.clear()
            self._creates.clear()
            self._faults.clear()
            self._peak_in_flight = self._in_flight
