"""Timed callbacks on one thread: how tasks leave `queued`, wait out the latency and expire."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Scheduler:
    """Runs callbacks at monotonic-clock deadlines on a single daemon thread.

    Callbacks must be quick (a state change, a hand-off to a worker pool); a slow one delays the rest.
    """

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="gateway-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def call_later(self, delay: float, callback: Callable[[], object]) -> None:
        """Run `callback` once, `delay` seconds from now (at once when `delay` <= 0)."""
        with self._wake:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), callback))
            self._wake.notify()

    def stop(self) -> None:
        """Drop every pending callback and end the thread."""
        with self._wake:
            self._stopped = True
            self._queue.clear()
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._wake.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._queue)
            try:
                callback()
            except Exception:
                log.exception("scheduled callback failed")
