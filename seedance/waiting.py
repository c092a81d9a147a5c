"""Waiting for a task to finish: growing intervals, a monotonic deadline, a log line per change."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from seedance.ark.client import ArkClient
from seedance.ark.types import ContentGenerationTask, TaskStatus
from seedance.errors import WaitTimeoutError

logger = logging.getLogger("seedance.wait")


def wait_for_task(
    client: ArkClient,
    task_id: str,
    *,
    deadline_seconds: float,
    initial_interval: float,
    max_interval: float,
    growth: float = 1.5,
    on_change: Callable[[ContentGenerationTask], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ContentGenerationTask:
    """Poll until the task is terminal and return it, whatever its final status.

    Args:
        deadline_seconds: give up after this long (monotonic clock), raising WaitTimeoutError.
        initial_interval / max_interval / growth: pauses start at `initial_interval` and grow by
            `growth` per check, up to `max_interval`; never past the deadline.
        on_change: called with the task each time its status changes (and once at the start).

    Raises:
        WaitTimeoutError: the deadline passed; the task may still finish and can be collected later.
        ArkError: a status call failed after the client's own retries.
    """
    start = clock()
    interval = initial_interval
    last_status: TaskStatus | None = None
    while True:
        task = client.get_task(task_id)
        if task.status != last_status:
            last_status = task.status
            logger.debug("task %s is %s", task_id, task.status.value)
            if on_change is not None:
                on_change(task)
        if task.status.terminal:
            return task
        remaining = deadline_seconds - (clock() - start)
        if remaining <= 0:
            raise WaitTimeoutError(task_id, task.status.value, clock() - start, gateway=client.gateway)
        sleep(min(interval, remaining))
        interval = min(interval * growth, max_interval)
