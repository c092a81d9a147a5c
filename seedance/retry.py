"""Backoff delays and `Retry-After` parsing for the Ark client's own read retries, and `retried`,
a step run again while it fails in a way `is_retryable` allows.

(Prefect tasks retry through `tasks.policy`, with Prefect's own backoff and jitter.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, TypeVar

from seedance.errors import SeedanceError, is_retryable

T = TypeVar("T")

MAX_RETRY_AFTER: Final = 120.0
"""A server asking for a longer pause than this gets this: we would rather ask again than hang."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date; None if absent or unreadable.

    >>> parse_retry_after("3")
    3.0
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Delay before retry number `attempt` (1-based): exponential backoff with equal jitter (between half and all of the step).

    A server's `Retry-After` is a floor, never shortened by jitter.
    """
    ceiling = min(cap, base * 2 ** (attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def retried(
    step: Callable[[int], T],
    retries: int,
    delay: Callable[[int], float],
    on_retry: Callable[[int, SeedanceError, float], None] | None = None,
) -> T:
    """Run `step(attempt)` (attempts count from 1), again up to `retries` times while it raises a
    SeedanceError that `is_retryable` allows, `delay(attempt)` seconds after failed attempt number
    `attempt`; `on_retry(attempt, error, delay)` is told of each retry before its pause."""
    attempt = 1
    while True:
        try:
            return step(attempt)
        except SeedanceError as exc:
            if attempt > retries or not is_retryable(exc):
                raise
            pause = delay(attempt)
            if on_retry is not None:
                on_retry(attempt, exc, pause)
        time.sleep(pause)
        attempt += 1
