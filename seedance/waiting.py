"""Waiting for tasks to finish: one engine for one task or hundreds.

- Intervals start short and grow toward a cap, and shrink again once a task is near the time the
  model is expected to need, so completion is seen soon after it happens.
- One deadline per call, on the monotonic clock.
- Many tasks in flight cost one list request per round (`filter.task_ids`), not one GET each; a
  single task uses GET, which every gateway serves. The list shows one service tier at a time, so
  flex tasks get their own list request (`filter.service_tier=flex`) rather than a GET each.
- Status changes are reported once each; a status call that fails is retried by the client, and
  one that still fails loses nothing: the task id is kept and the next round asks again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from pydantic import BaseModel

from seedance.ark.client import ArkClient
from seedance.ark.types import ContentGenerationTask, TaskStatus
from seedance.catalog import FPS, find_model
from seedance.cost.tokens import billed_tokens
from seedance.errors import WaitTimeoutError
from seedance.settings import Settings

logger = logging.getLogger("seedance.wait")

LIST_CHUNK: Final = 100
"""Task ids per list request (the list endpoint pages at 500; URLs stay short)."""
SERVICE_TIERS: Final = ("default", "flex")
"""The list endpoint's `filter.service_tier` values (ark-api.md §4.3); `default` is what it assumes."""

SECONDS_PER_MEGATOKEN: Final = 2645.0
"""Rough generation speed: a 5 s 720p 2.0 task (108,900 tokens) took 288 s (ark-api.md §4.4)."""
FAST_SPEEDUP: Final = 3.0
"""The fast variants are "up to ~3×" faster (ark-api.md §4.4)."""


def expected_seconds(model: str, resolution: str | None, ratio: str | None, duration: float | None) -> float | None:
    """A rough prior for how long a generation takes, from its token count; None when unknown."""
    spec = find_model(model)
    if spec is None:
        return None
    resolution = resolution if resolution in spec.resolutions else spec.default_resolution
    width, height = spec.output_size(resolution, ratio if ratio and ":" in ratio else "16:9")
    seconds = duration if duration and duration > 0 else spec.max_duration
    megatokens = billed_tokens(width, height, round(seconds * FPS), 0.0, spec) / 1e6
    return megatokens * SECONDS_PER_MEGATOKEN / (FAST_SPEEDUP if "fast" in spec.id else 1.0)


class PollSchedule(BaseModel):
    """How long to pause between status checks."""

    initial: float
    maximum: float
    growth: float = 1.5
    expected: float | None = None
    """Seconds the task is expected to need; near it, pauses fall back to `initial`."""

    @classmethod
    def from_settings(cls, settings: Settings, expected_seconds: float | None = None) -> PollSchedule:
        """The schedule `SEEDANCE_POLL_*` describe, tightening near `expected_seconds`."""
        return cls(
            initial=settings.poll_initial_seconds,
            maximum=settings.poll_max_seconds,
            growth=settings.poll_growth,
            expected=expected_seconds,
        )

    def pause(self, round_number: int, elapsed: float) -> float:
        pause = min(self.maximum, self.initial * self.growth**round_number)
        if self.expected is not None:
            until_expected = 0.8 * self.expected - elapsed
            if until_expected < pause:
                pause = max(self.initial, until_expected)
        return pause


class StatusChange(BaseModel):
    task_id: str
    status: TaskStatus
    at: float
    """Unix time the change was seen."""


class Waited(BaseModel):
    """A terminal task and the status changes seen on the way."""

    task: ContentGenerationTask
    timeline: list[StatusChange]


def watch(
    client: ArkClient,
    task_ids: Iterable[str],
    *,
    schedule: PollSchedule,
    deadline_seconds: float,
    on_change: Callable[[ContentGenerationTask], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[ContentGenerationTask]:
    """Yield each task once it is terminal (any final status), in the order they finish.

    Raises:
        WaitTimeoutError: the deadline passed with tasks still queued or running (the first of them is named).
        ArkError: a status call failed after the client's own retries.
    """
    pending = dict.fromkeys(task_ids)
    last: dict[str, TaskStatus] = {}
    tiers: dict[str, str] = {}
    start = clock()
    round_number = 0
    while pending:
        for task in _fetch(client, list(pending), tiers):
            if task.id not in pending:
                continue  # a gateway whose list ignores the filter
            if task.service_tier is not None:
                tiers[task.id] = task.service_tier
            if last.get(task.id) != task.status:
                last[task.id] = task.status
                logger.debug("task %s is %s", task.id, task.status.value)
                if on_change is not None:
                    on_change(task)
            if task.status.terminal:
                pending.pop(task.id, None)
                yield task
        if not pending:
            return
        elapsed = clock() - start
        if elapsed >= deadline_seconds:
            first = next(iter(pending))
            raise WaitTimeoutError(first, last.get(first, TaskStatus.QUEUED).value, elapsed, gateway=client.gateway)
        sleep(min(schedule.pause(round_number, elapsed), deadline_seconds - elapsed))
        round_number += 1


def _fetch(client: ArkClient, task_ids: list[str], tiers: dict[str, str]) -> list[ContentGenerationTask]:
    """The current state of `task_ids`. `tiers` holds the service tier of the tasks seen so far; a
    task not seen yet is looked for in the default tier's list, then in flex's."""
    if len(task_ids) == 1:
        return [client.get_task(task_ids[0])]
    found: dict[str, ContentGenerationTask] = {}
    for tier in SERVICE_TIERS:
        wanted = [task_id for task_id in task_ids if task_id not in found and tiers.get(task_id, tier) == tier]
        for start in range(0, len(wanted), LIST_CHUNK):
            chunk = wanted[start : start + LIST_CHUNK]
            listing = client.list_tasks(task_ids=chunk, page_size=len(chunk), service_tier=None if tier == "default" else tier)
            found |= {task.id: task for task in listing.items}
    # a task no list returns (deleted, or a gateway whose list ignores the filters) is asked for directly
    return list(found.values()) + [client.get_task(task_id) for task_id in task_ids if task_id not in found]


def wait_for_task(
    client: ArkClient,
    task_id: str,
    *,
    schedule: PollSchedule,
    deadline_seconds: float,
    on_change: Callable[[ContentGenerationTask], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ContentGenerationTask:
    """Poll one task until it is terminal and return it, whatever its final status."""
    return next(
        watch(
            client, [task_id], schedule=schedule, deadline_seconds=deadline_seconds, on_change=on_change, clock=clock, sleep=sleep
        )
    )
