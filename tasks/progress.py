"""A progress artifact that moves while one generation waits: queued → running, elapsed, expected time.

Seedance reports no percentage, so the bar is time: the task's age (from its `created_at`, so a
resumed task shows its true age) against what the model is expected to need (`expected_seconds`),
held below 95% until the task is terminal. The description says the rest in words.
"""

from __future__ import annotations

import time
from typing import cast
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from seedance.ark.types import ContentGenerationTask, TaskStatus

RUNNING_CAP = 95.0
"""Percent shown at most before the task is terminal: an estimate never claims completion."""


def duration(seconds: float) -> str:
    """`48 s`, `4 min 48 s`, `1 h 2 min`."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def describe(task: ContentGenerationTask, expected: float | None, now: float) -> tuple[float, str]:
    """The percentage and the words for `task` as seen at `now` (unix seconds).

    Queued shows 0%; running shows the share of the expected time gone by (half the cap when
    nothing is expected of the model); a terminal task shows 100%.
    """
    elapsed = max(0.0, now - task.created_at)
    if task.status.terminal:
        return 100.0, f"task {task.id} {task.status.value} after {duration(elapsed)}"
    words = f"task {task.id} {task.status.value}: {duration(elapsed)}" + (
        f" of about {duration(expected)} expected" if expected else ""
    )
    if task.status is TaskStatus.QUEUED:
        return 0.0, words
    return (min(RUNNING_CAP, 100.0 * elapsed / expected) if expected else RUNNING_CAP / 2), words


class WaitProgress:
    """The progress artifact of one wait; `update` it with the task on every poll."""

    def __init__(self, key: str, task_id: str, expected_seconds: float | None) -> None:
        self._expected = expected_seconds
        hint = f"; about {duration(expected_seconds)} expected" if expected_seconds else ""
        # called from a sync task, it returns the artifact's id (its type also allows the async form)
        self._id = cast(UUID, create_progress_artifact(progress=0.0, key=key, description=f"task {task_id} submitted{hint}"))

    def update(self, task: ContentGenerationTask) -> None:
        share, words = describe(task, self._expected, time.time())
        update_progress_artifact(self._id, progress=share, description=words)
