"""Status callbacks, sent the way Ark sends them (ark-api.md §4.5).

A task created with `callback_url` gets a POST there on every status change Ark pushes (queued,
running, succeeded, failed, expired; Ark does not list cancelled), its body the task object exactly
as GET returns it. Any 2xx answer within `timeout` seconds (Ark: 5) acknowledges it. The final
statuses are tried `retries` more times (Ark: 3) when not acknowledged, after `backoff`, 2 ×
`backoff`, 4 × `backoff`… seconds (Ark's spacing is not documented). Ark documents no retry of
queued and running, so neither are retried here: a waiter must not depend on them.

Deliveries run on a small pool of their own threads, never on the API's, so a slow or dead
receiver never delays an answer. One task's callbacks go out in order: each waits until the one
before it is acknowledged or given up. The callback URL carries the receiver's secret, so it is
never logged; log lines name only the receiver's host. That is also why the POSTs go through
urllib, not httpx: httpx logs every request's URL at INFO.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from local_gateway.scheduler import Scheduler
from local_gateway.store import TaskRecord
from seedance.ark.types import TaskStatus

log = logging.getLogger(__name__)

PUSHED: Final = frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.EXPIRED})
"""The statuses Ark sends callbacks for."""
WORKERS: Final = 4
"""Deliveries in progress at once (of different tasks)."""

RenderTask = Callable[[TaskRecord], dict[str, Any]]
"""The task object of a record, as GET would answer it."""


@dataclass(frozen=True)
class _Delivery:
    url: str
    record: TaskRecord

    @property
    def receiver(self) -> str:
        """The receiver's host and port: all a log line may show of the URL."""
        url = urlsplit(self.url)
        return f"{url.hostname}:{url.port}" if url.port else str(url.hostname)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is not an acknowledgement, and following it would resend the task elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class CallbackSender:
    """Sends the callbacks of every task; `status_changed` is the task store's change hook."""

    def __init__(self, render: RenderTask, *, timeout: float, retries: int, backoff: float) -> None:
        self._render = render
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="gateway-callback")
        self._scheduler = Scheduler()
        self._lock = threading.Lock()
        self._pending: dict[str, deque[_Delivery]] = {}
        """Task id → its callbacks not yet acknowledged or given up, the first one in progress."""
        self._closed = False

    def start(self) -> None:
        self._scheduler.start()

    def close(self) -> None:
        """Stop retrying and drop what is not yet sent; a POST in progress ends within `timeout`."""
        with self._lock:
            self._closed = True
        self._scheduler.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def status_changed(self, record: TaskRecord) -> None:
        """Queue the callback of `record`'s new status, if it has one. Never blocks."""
        url = record.request.callback_url
        if url is None or record.status not in PUSHED:
            return
        with self._lock:
            queue = self._pending.setdefault(record.id, deque())
            queue.append(_Delivery(url, record))
            if len(queue) == 1:
                self._submit(queue[0], 0)

    def _submit(self, delivery: _Delivery, attempt: int) -> None:
        """Hand a delivery to the pool; call with the lock held."""
        if not self._closed:
            self._pool.submit(self._deliver, delivery, attempt)

    def _deliver(self, delivery: _Delivery, attempt: int) -> None:
        record = delivery.record
        acknowledged = self._post(delivery)
        if not acknowledged and record.status.terminal and attempt < self._retries:
            delay = self._backoff * 2**attempt
            self._scheduler.call_later(delay, lambda: self._retry(delivery, attempt + 1))
            return
        if acknowledged:
            log.info("callback: task %s %s, acknowledged by %s", record.id, record.status.value, delivery.receiver)
        else:
            log.warning(
                "callback: task %s %s not acknowledged by %s after %d attempt(s); dropped",
                record.id,
                record.status.value,
                delivery.receiver,
                attempt + 1,
            )
        with self._lock:
            queue = self._pending[record.id]
            queue.popleft()
            if queue:
                self._submit(queue[0], 0)
            else:
                del self._pending[record.id]

    def _retry(self, delivery: _Delivery, attempt: int) -> None:
        with self._lock:
            self._submit(delivery, attempt)

    def _post(self, delivery: _Delivery) -> bool:
        """One delivery attempt: True when the receiver answered 2xx in time."""
        body = json.dumps(self._render(delivery.record), ensure_ascii=False).encode()
        request = urllib.request.Request(
            delivery.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "seedance-local-gateway"},
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return 200 <= response.status < 300
        except urllib.error.HTTPError as exc:
            exc.close()
            log.info("callback: %s answered %d", delivery.receiver, exc.code)
        except OSError as exc:  # refused, reset, timed out (URLError is an OSError)
            log.info("callback: %s unreachable (%s)", delivery.receiver, type(exc).__name__)
        return False
