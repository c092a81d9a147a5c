"""Counters for tests: how often each endpoint was called, how often each body created a task, and
how many faults of each kind were injected."""

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

    def snapshot(self) -> dict[str, Any]:
        """`{"requests": {endpoint: n}, "creates": {body sha256: tasks}, "tasks_created": n,
        "duplicate_creates": n, "faults": {kind: n}}`."""
        with self._lock:
            return {
                "requests": {name: self._requests[name] for name in ENDPOINTS},
                "creates": dict(self._creates),
                "tasks_created": sum(self._creates.values()),
                "duplicate_creates": sum(count - 1 for count in self._creates.values()),
                "faults": {kind.value: self._faults[kind] for kind in FaultKind},
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._creates.clear()
            self._faults.clear()
