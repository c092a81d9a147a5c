"""Waiting for tasks to finish: one engine for one task or hundreds.

- Intervals start short and grow toward a cap, and shrink again once a task is near the time the
  model is expected to need, so completion is seen soon after it happens.
- A deadline per task, on the monotonic clock.
- `watch` waits for a fixed set of tasks; a `Watchlist` takes new tasks while others are watched,
  so a batch under a concurrency limit starts one as another finishes.
- Many tasks in flight cost one list request per round (`filter.task_ids`), not one GET each; a
  single task uses GET, which every gateway serves. The list shows one service tier at a time, so
  flex tasks get their own list request (`filter.service_tier=flex`) rather than a GET each.
- A `wake` event (set when the task's callback arrives) ends the current pause at once, so a
  callback is acted on within moments while polling stays the fallback when none comes.
- Status changes are reported once each; a status call that fails is retried by the client, and
  one that still fails loses nothing: the task id is kept and the next round asks again.
"""

from __future__ import annotations

import logging
import math
import threading
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


LATE_SHARE: Final = 0.25
"""A task that finishes is seen finished at most this share of its time late (or `initial` seconds,
early on). With the default settings a 30 s task is seen at 30.5 s, where pauses that only grew to
15 s saw it at 41.4 s; a 288 s task (a 720p 5 s 2.0 generation) takes 29 polls instead of 23."""


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
        """The pause after poll `round_number` (0-based), `elapsed` seconds after the task started:
        growing by `growth` up to `maximum`, never longer than `LATE_SHARE` of `elapsed` (nor shorter
        than `initial`), and back to `initial` near 0.8 × the expected time."""
        pause = min(self.maximum, self.initial * self.growth**round_number, max(self.initial, LATE_SHARE * elapsed))
        if self.expected is not None:
            until_expected = 0.8 * self.expected - elapsed
            if until_expected < pause:
                pause = max(self.initial, until_expected)
        return pause


SHARED_POLL_FLOOR_SECONDS: Final = 1.0
"""The shortest pause `shared_pause` gives: one list request a second, whatever the number of tasks
(Ark allows an account 30 List calls a second: ark-api-updates.md, inferred)."""


def shared_pause(pause: float, tasks: int) -> float:
    """The pause before a poll that answers for `tasks` tasks at once (one list request), given the
    shortest pause their own schedules ask for: that pause divided by √tasks, never under
    `SHARED_POLL_FLOOR_SECONDS` (nor above `pause`). Each task is seen finishing sooner than on its
    own, while the requests grow more slowly than the tasks they answer for."""
    return min(pause, max(SHARED_POLL_FLOOR_SECONDS, pause / math.sqrt(max(tasks, 1))))


class StatusChange(BaseModel):
    task_id: str
    status: TaskStatus
    at: float
    """Unix time the change was seen."""


class Waited(BaseModel):
    """A terminal task and the status changes seen on the way."""

    task: ContentGenerationTask
    timeline: list[StatusChange]


class Watchlist:
    """Tasks being waited for, each with its own deadline, asked about together: one list request
    per `poll` however many there are (see `_fetch`). Tasks may join at any time, so a batch can
    start tasks as others finish.

    `on_change` hears of each status change once; `on_poll` of every task on every poll, so that
    what shows the wait (elapsed time, a progress bar) moves while the status stays the same.
    """

    def __init__(
        self,
        client: ArkClient,
        *,
        on_change: Callable[[ContentGenerationTask], None] | None = None,
        on_poll: Callable[[ContentGenerationTask], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._on_change = on_change
        self._on_poll = on_poll
        self._clock = clock
        self._pending: dict[str, tuple[float, float]] = {}
        """Task id → (when it joined, its deadline), on `clock`."""
        self._last: dict[str, TaskStatus] = {}
        self._tiers: dict[str, str] = {}

    def __len__(self) -> int:
        """How many tasks are still queued or running, as far as the last poll saw."""
        return len(self._pending)

    def add(self, task_id: str, deadline_seconds: float) -> None:
        """Watch `task_id` until it is terminal or `deadline_seconds` have passed."""
        now = self._clock()
        self._pending[task_id] = (now, now + deadline_seconds)

    def poll(self) -> list[ContentGenerationTask]:
        """Ask about every watched task once; return those now terminal (and stop watching them).

        Raises:
            ArkError: the status call failed after the client's own retries; nothing is lost, the
                next poll asks again.
        """
        finished: list[ContentGenerationTask] = []
        for task in _fetch(self._client, list(self._pending), self._tiers):
            if task.id not in self._pending:
                continue  # a gateway whose list ignores the filter
            if task.service_tier is not None:
                self._tiers[task.id] = task.service_tier
            if self._on_poll is not None:
                self._on_poll(task)
            if self._last.get(task.id) != task.status:
                self._last[task.id] = task.status
                logger.debug("task %s is %s", task.id, task.status.value)
                if self._on_change is not None:
                    self._on_change(task)
            if task.status.terminal:
                del self._pending[task.id]
                finished.append(task)
        return finished

    def seconds_left(self) -> float:
        """Time until the nearest deadline (0 when one has passed, infinite when nothing is watched)."""
        return max(0.0, min((deadline for _, deadline in self._pending.values()), default=math.inf) - self._clock())

    def drop_overdue(self) -> list[WaitTimeoutError]:
        """Stop watching the tasks past their deadline; an error for each, naming the status last seen."""
        now = self._clock()
        overdue = [task_id for task_id, (_, deadline) in self._pending.items() if now >= deadline]
        errors = [
            WaitTimeoutError(
                task_id,
                self._last.get(task_id, TaskStatus.QUEUED).value,
                now - self._pending[task_id][0],
                gateway=self._client.gateway,
            )
            for task_id in overdue
        ]
        for task_id in overdue:
            del self._pending[task_id]
        return errors


def watch(
    client: ArkClient,
    task_ids: Iterable[str],
    *,
    schedule: PollSchedule,
    deadline_seconds: float,
    on_change: Callable[[ContentGenerationTask], None] | None = None,
    on_poll: Callable[[ContentGenerationTask], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wake: threading.Event | None = None,
) -> Iterator[ContentGenerationTask]:
    """Yield each task once it is terminal (any final status), in the order they finish.

    With `wake`, pauses are waits on it instead of `sleep`: setting it (from another thread) makes
    the next status check happen at once.

    Raises:
        WaitTimeoutError: the deadline passed with tasks still queued or running (the first of them is named).
        ArkError: a status call failed after the client's own retries.
    """
    watchlist = Watchlist(client, on_change=on_change, on_poll=on_poll, clock=clock)
    for task_id in task_ids:
        watchlist.add(task_id, deadline_seconds)
    start = clock()
    round_number = 0
    while True:
        yield from watchlist.poll()
        if not watchlist:
            return
        overdue = watchlist.drop_overdue()
        if overdue:
            raise overdue[0]
        pause = min(schedule.pause(round_number, clock() - start), watchlist.seconds_left())
        if wake is None:
            sleep(pause)
        elif wake.wait(pause):
            wake.clear()
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
    on_poll: Callable[[ContentGenerationTask], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wake: threading.Event | None = None,
) -> ContentGenerationTask:
    """Poll one task until it is terminal and return it, whatever its final status; `wake` as in `watch`."""
    return next(
        watch(
            client,
            [task_id],
            schedule=schedule,
            deadline_seconds=deadline_seconds,
            on_change=on_change,
            clock=clock,
            sleep=sleep,
            wake=wake,
            on_poll=on_poll,
        )
    )
