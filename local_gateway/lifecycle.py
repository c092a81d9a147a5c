"""Moves tasks through their states on time, and renders them on a worker pool.

A task stays `queued` for `queue_seconds`, then waits for a free render worker (Ark keeps tasks
queued when the account's concurrency is used up), turns `running` and renders. It becomes
`succeeded` no earlier than `latency` seconds after creation, later if rendering takes longer.
A failed render makes it `failed`, and so does an injected failure (without rendering, after the
same latency); a task still queued or running after `execution_expires_after` becomes `expired`
(or `failed` with `overdue_error`, in a dialect without the expired state).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from local_gateway.plan import OutputPlan
from local_gateway.render import RenderResult
from local_gateway.scheduler import Scheduler
from local_gateway.store import DeleteOutcome, TaskRecord, TaskStore
from seedance.ark.types import TaskError

log = logging.getLogger(__name__)

RenderFunction = Callable[[OutputPlan, Path], RenderResult]
"""Renders a plan into a directory: `Renderer.render`, or a stand-in in tests."""


class Lifecycle:
    """Owns the timers, the render pool and each task's directory under `tasks_dir`."""

    def __init__(
        self,
        store: TaskStore,
        render: RenderFunction,
        *,
        tasks_dir: Path,
        latency: float,
        queue_seconds: float,
        render_workers: int,
        overdue_error: TaskError | None = None,
    ) -> None:
        self._store = store
        self._overdue_error = overdue_error
        self._render = render
        self._tasks_dir = tasks_dir
        self._latency = latency
        self._queue_seconds = queue_seconds
        self._scheduler = Scheduler()
        self._pool = ThreadPoolExecutor(max_workers=render_workers, thread_name_prefix="gateway-render")

    def start(self) -> None:
        self._scheduler.start()

    def close(self) -> None:
        """Stop timers and renders; tasks in flight stay where they are."""
        self._scheduler.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def task_dir(self, task_id: str) -> Path:
        return self._tasks_dir / task_id

    def submit(self, record: TaskRecord) -> None:
        """Start the clock of a task just stored as queued."""
        task_id = record.id
        self._scheduler.call_later(self._queue_seconds, lambda: self._pool.submit(self._run, task_id))
        self._scheduler.call_later(record.execution_expires_after, lambda: self._expire(task_id))

    def delete(self, task_id: str) -> tuple[DeleteOutcome, TaskRecord | None]:
        """DELETE: cancel a queued task, or drop a finished one together with its files."""
        outcome, record = self._store.delete(task_id)
        if outcome is DeleteOutcome.DELETED:
            shutil.rmtree(self.task_dir(task_id), ignore_errors=True)
        return outcome, record

    def _run(self, task_id: str) -> None:
        record = self._store.start(task_id)
        if record is None:
            return
        log.info("task %s running", task_id)
        if record.fail_with is not None:
            error = record.fail_with
            self._scheduler.call_later(self._remaining(record), lambda: self._fail(task_id, error))
            return
        try:
            result = self._render(record.plan, self.task_dir(task_id))
        except Exception as exc:
            log.warning("task %s failed to render: %s", task_id, exc)
            self._store.fail(task_id, TaskError(code="InternalServiceError", message=f"The video could not be rendered: {exc}"))
            return
        self._scheduler.call_later(self._remaining(record), lambda: self._succeed(task_id, result))

    def _remaining(self, record: TaskRecord) -> float:
        """Seconds until the task may finish: `latency` after its creation."""
        return self._latency - (time.monotonic() - record.created_mono)

    def _succeed(self, task_id: str, result: RenderResult) -> None:
        if self._store.succeed(task_id, result):
            log.info("task %s succeeded", task_id)

    def _fail(self, task_id: str, error: TaskError) -> None:
        if self._store.fail(task_id, error):
            log.info("task %s failed (%s)", task_id, error.code)

    def _expire(self, task_id: str) -> None:
        if self._store.expire(task_id, error=self._overdue_error):
            log.info(
                "task %s expired%s", task_id, "" if self._overdue_error is None else f" (failed: {self._overdue_error.code})"
            )
