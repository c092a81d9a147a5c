"""Finding out whether a create whose answer we never saw made a task.

Ark has no idempotency key, and a task object does not echo its prompt or media, so the list
endpoint is searched for tasks that match everything a task does echo (model, resolution, ratio,
duration, seed, audio, tier, expiry) and that were created while the uncertain create was in
flight. Exactly one unclaimed match is adopted; none, once the settle time has passed, proves the
create did not land; anything else cannot be decided and is left to a person.

Ordering and default page size of the list endpoint are not established (ark-api.md §4.3), so every
page is read up to a cap instead of stopping at the first task older than the window. The list
shows one service tier at a time (`filter.service_tier`, default `default`), so the request's own
tier is asked for: a flex task would otherwise never be found, and its create repeated.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import Final

from pydantic import BaseModel

from seedance.ark.client import ArkClient
from seedance.ark.types import ContentGenerationTask, CreateTaskRequest

PAGE_SIZE: Final = 500
MAX_PAGES: Final = 20
CLOCK_SLACK_SECONDS: Final = 120
"""Tolerated difference between our clock and the gateway's `created_at`."""


class Verdict(StrEnum):
    FOUND = "found"
    NOT_CREATED = "not-created"
    UNDECIDED = "undecided"


class Reconciliation(BaseModel):
    verdict: Verdict
    task: ContentGenerationTask | None = None
    candidates: list[str] = []
    reason: str


def _echoes(task: ContentGenerationTask, request: CreateTaskRequest) -> bool:
    """Whether every field the task echoes agrees with what the request asked for."""
    pairs = [
        (request.resolution, task.resolution),
        (request.ratio if request.ratio != "adaptive" else None, task.ratio),
        (request.duration if request.duration not in (None, -1) else None, task.duration),
        (request.frames, task.frames),
        (request.seed if request.seed not in (None, -1) else None, task.seed),
        (request.generate_audio, task.generate_audio),
        (request.service_tier, task.service_tier),
        (request.execution_expires_after, task.execution_expires_after),
        (request.safety_identifier, task.safety_identifier),
    ]
    return all(asked is None or echoed is None or asked == echoed for asked, echoed in pairs)


def reconcile_create(
    client: ArkClient,
    request: CreateTaskRequest,
    *,
    window_start: float,
    window_end: float,
    claimed: Collection[str],
) -> Reconciliation:
    """Decide whether `request`, sent between `window_start` and `window_end` (unix seconds), made a task.

    Call it only once the settle time has passed since the uncertain create: before that, a task
    it made may not be listed yet, and finding nothing would prove nothing.

    Args:
        claimed: task ids already recorded for other intents (never adopted twice).
    """
    low, high = window_start - CLOCK_SLACK_SECONDS, window_end + CLOCK_SLACK_SECONDS
    candidates: list[ContentGenerationTask] = []
    for page in range(1, MAX_PAGES + 1):
        listing = client.list_tasks(page_num=page, page_size=PAGE_SIZE, service_tier=request.service_tier)
        candidates += [
            task
            for task in listing.items
            if low <= task.created_at <= high
            and task.id not in claimed
            and _same_model(task.model, request.model)
            and _echoes(task, request)
        ]
        if len(listing.items) < PAGE_SIZE or page * PAGE_SIZE >= listing.total:
            break
    else:
        return Reconciliation(verdict=Verdict.UNDECIDED, reason=f"more than {MAX_PAGES * PAGE_SIZE} tasks in the last 7 days")
    ids = [task.id for task in candidates]
    if len(candidates) == 1:
        return Reconciliation(verdict=Verdict.FOUND, task=candidates[0], candidates=ids, reason="one matching task")
    if candidates:
        return Reconciliation(verdict=Verdict.UNDECIDED, candidates=ids, reason=f"{len(ids)} tasks match: {', '.join(ids)}")
    return Reconciliation(verdict=Verdict.NOT_CREATED, reason="no matching task after the settle time")


def _same_model(echoed: str, requested: str) -> bool:
    # GET echoes "name-version" even when the request used an ep- endpoint id (ark-api.md §3.1):
    # an endpoint id cannot be compared, so it matches any model.
    return requested.startswith("ep-") or echoed == requested
