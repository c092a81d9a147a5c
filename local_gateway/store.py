"""The gateway's tasks and their state machine (ark-api.md §1.3, §4.4), safe to share between threads.

    queued ──start──▶ running ──succeed──▶ succeeded
      │                  ├──────fail─────▶ failed
      │                  └─────expire────▶ expired
      ├──expire──▶ expired
      └──DELETE──▶ cancelled

DELETE of a succeeded, failed or expired task removes the record; running and cancelled tasks
refuse it. Records are handed out as copies, so a reader never sees a half-made transition, and
so is every new status to `on_change` (the callbacks).

A dialect without the cancelled and expired states (aiid) changes two arrows: DELETE of a queued
task removes it like a finished one (`cancel_queued=False`), and an overdue task ends `failed`
with the error given to `expire`.
"""

from __future__ import annotations

import builtins
import dataclasses
import itertools
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from local_gateway import ids
from local_gateway.plan import OutputPlan
from local_gateway.render import RenderResult
from seedance.ark.types import CreateTaskRequest, TaskError, TaskStatus

RETENTION_SECONDS: Final = 7 * 24 * 3600
"""Task ids are kept 7 days from creation; GET and list see nothing older."""
CANCELLED_RETENTION_SECONDS: Final = 24 * 3600
"""Cancelled records are deleted after 24 hours."""
DEFAULT_EXPIRES_AFTER: Final = 172_800


@dataclass
class TaskRecord:
    """One task as the gateway keeps it."""

    id: str
    seq: int
    """Creation order, to sort tasks created within the same second."""
    request: CreateTaskRequest
    plan: OutputPlan
    created_at: float
    """Wall-clock seconds (reported as an int)."""
    created_mono: float
    """`time.monotonic()` at creation, for the lifecycle's timers."""
    updated_at: float
    status: TaskStatus = TaskStatus.QUEUED
    error: TaskError | None = None
    result: RenderResult | None = None
    fail_with: TaskError | None = None
    """An injected fault: the task ends `failed` with this error instead of rendering."""
    origin: str = ""
    """`http://host:port` as the creating client reached us: result URLs in callbacks are built on it,
    as those of a GET are on its own Host."""

    @property
    def service_tier(self) -> str:
        return self.request.service_tier or "default"

    @property
    def execution_expires_after(self) -> int:
        return self.request.execution_expires_after or DEFAULT_EXPIRES_AFTER


class DeleteOutcome(StrEnum):
    CANCELLED = "cancelled"
    """The task was queued and is now cancelled."""
    DELETED = "deleted"
    """The task was finished; its record is gone."""
    REFUSED = "refused"
    """The task is running or cancelled: neither can be deleted."""
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class TaskFilter:
    """The `filter.*` parameters of the list endpoint."""

    status: TaskStatus | None = None
    task_ids: Collection[str] = ()
    model: str | None = None
    service_tier: str = "default"


class TaskStore:
    """Thread-safe task records with guarded state transitions.

    `clock` returns wall-clock seconds; tests may pass their own. `on_in_flight` hears the number
    of tasks queued or running after every change of it (the stats keep its peak).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        id_prefix: str = ids.ARK_PREFIX,
        cancel_queued: bool = True,
        on_in_flight: Callable[[int], None] | None = None,
        on_change: Callable[[TaskRecord], None] | None = None,
    ) -> None:
        self._clock = clock
        self._on_change = on_change
        self._id_prefix = id_prefix
        self._cancel_queued = cancel_queued
        self._on_in_flight = on_in_flight
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskRecord] = {}
        self._reserved: set[str] = set()
        self._seq = itertools.count()
        self._in_flight = 0

    def create(
        self,
        task_id: str,
        request: CreateTaskRequest,
        plan: OutputPlan,
        created_at: float,
        created_mono: float,
        *,
        fail_with: TaskError | None = None,
        origin: str = "",
    ) -> TaskRecord:
        """Store a new queued task under an id from `reserve_id`."""
        with self._lock:
            record = TaskRecord(
                id=task_id,
                seq=next(self._seq),
                request=request,
                plan=plan,
                created_at=created_at,
                created_mono=created_mono,
                updated_at=created_at,
                fail_with=fail_with,
                origin=origin,
            )
            self._reserved.discard(task_id)
            self._tasks[task_id] = record
            self._count_in_flight(+1)
            self._changed(record)
            return dataclasses.replace(record)

    def reserve_id(self, created_at: float) -> str:
        """A fresh task id for a task about to be created at `created_at`; `create` or `release_id` it."""
        with self._lock:
            while True:
                task_id = ids.task_id(created_at, self._id_prefix)
                if task_id not in self._tasks and task_id not in self._reserved:
                    self._reserved.add(task_id)
                    return task_id

    def release_id(self, task_id: str) -> None:
        """Give back a reserved id whose task was refused."""
        with self._lock:
            self._reserved.discard(task_id)

    def get(self, task_id: str) -> TaskRecord | None:
        """A copy of the task, or None when it does not exist or is past retention."""
        with self._lock:
            record = self._tasks.get(task_id)
            if record is None or not self._visible(record):
                return None
            return dataclasses.replace(record)

    def list(self, task_filter: TaskFilter, page_num: int, page_size: int) -> tuple[builtins.list[TaskRecord], int]:
        """One page of matching tasks, newest first, and the number of matches."""
        with self._lock:
            matches = [r for r in self._tasks.values() if self._visible(r) and _matches(r, task_filter)]
            matches.sort(key=lambda r: (r.created_at, r.seq), reverse=True)
            start = (page_num - 1) * page_size
            return [dataclasses.replace(r) for r in matches[start : start + page_size]], len(matches)

    def all(self) -> builtins.list[TaskRecord]:
        """Copies of every visible task, of every tier, oldest first."""
        with self._lock:
            records = [dataclasses.replace(r) for r in self._tasks.values() if self._visible(r)]
        return sorted(records, key=lambda r: (r.created_at, r.seq))

    def start(self, task_id: str) -> TaskRecord | None:
        """queued → running; None when the task is no longer queued (cancelled, expired, deleted)."""
        with self._lock:
            record = self._move(task_id, (TaskStatus.QUEUED,), TaskStatus.RUNNING)
            return dataclasses.replace(record) if record else None

    def succeed(self, task_id: str, result: RenderResult) -> bool:
        """running → succeeded with its files; False when the task moved on meanwhile (expired, …)."""
        with self._lock:
            return self._move(task_id, (TaskStatus.RUNNING,), TaskStatus.SUCCEEDED, result=result) is not None

    def fail(self, task_id: str, error: TaskError) -> bool:
        """running → failed with an error."""
        with self._lock:
            return self._move(task_id, (TaskStatus.RUNNING,), TaskStatus.FAILED, error=error) is not None

    def expire(self, task_id: str, *, error: TaskError | None = None) -> bool:
        """queued or running → expired (the task outlived `execution_expires_after`); → failed with
        `error` instead when one is given (a dialect without the expired state)."""
        with self._lock:
            target = TaskStatus.EXPIRED if error is None else TaskStatus.FAILED
            return self._move(task_id, (TaskStatus.QUEUED, TaskStatus.RUNNING), target, error=error) is not None

    def delete(self, task_id: str) -> tuple[DeleteOutcome, TaskRecord | None]:
        """DELETE semantics by status (ark-api.md §1.3), with a copy of the task as it was."""
        with self._lock:
            record = self._tasks.get(task_id)
            if record is None or not self._visible(record):
                return DeleteOutcome.NOT_FOUND, None
            before = dataclasses.replace(record)
            if record.status is TaskStatus.QUEUED and self._cancel_queued:
                self._move(task_id, (TaskStatus.QUEUED,), TaskStatus.CANCELLED)
                return DeleteOutcome.CANCELLED, before
            if record.status is TaskStatus.QUEUED:
                # Never started: the lifecycle's `start` finds no record and renders nothing.
                del self._tasks[task_id]
                self._count_in_flight(-1)
                return DeleteOutcome.DELETED, before
            if record.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.EXPIRED):
                del self._tasks[task_id]
                return DeleteOutcome.DELETED, before
            return DeleteOutcome.REFUSED, before

    def _move(
        self,
        task_id: str,
        sources: tuple[TaskStatus, ...],
        target: TaskStatus,
        *,
        error: TaskError | None = None,
        result: RenderResult | None = None,
    ) -> TaskRecord | None:
        """Move a task from one of `sources` to `target`, with its error or files, all before `on_change` hears of it."""
        record = self._tasks.get(task_id)
        if record is None or record.status not in sources:
            return None
        leaves_flight = target.terminal and not record.status.terminal
        record.status = target
        record.updated_at = self._clock()
        if error is not None:
            record.error = error
        if result is not None:
            record.result = result
        if leaves_flight:
            self._count_in_flight(-1)
        self._changed(record)
        return record

    def _changed(self, record: TaskRecord) -> None:
        """Tell `on_change` of a task's new status; call with the lock held."""
        if self._on_change is not None:
            self._on_change(dataclasses.replace(record))

    def _count_in_flight(self, change: int) -> None:
        """Count tasks joining or leaving queued+running, and tell `on_in_flight`; call with the lock held."""
        self._in_flight += change
        if self._on_in_flight is not None:
            self._on_in_flight(self._in_flight)

    def _visible(self, record: TaskRecord) -> bool:
        now = self._clock()
        if now - record.created_at >= RETENTION_SECONDS:
            return False
        return not (record.status is TaskStatus.CANCELLED and now - record.updated_at >= CANCELLED_RETENTION_SECONDS)


def _matches(record: TaskRecord, task_filter: TaskFilter) -> bool:
    return (
        (task_filter.status is None or record.status is task_filter.status)
        and (not task_filter.task_ids or record.id in task_filter.task_ids)
        and (task_filter.model is None or record.request.model == task_filter.model)
        and record.service_tier == task_filter.service_tier
    )
