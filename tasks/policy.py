"""The retry policy every Prefect task here declares: retry only what `is_retryable` allows."""

from __future__ import annotations

from typing import Any

from seedance.errors import is_retryable
from seedance.retry import backoff_delay
from seedance.settings import get_settings


def retry_if_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """`retry_condition_fn` for every task: retry transient errors, never permanent ones."""
    try:
        state.result()
    except Exception as exc:  # the failed run's exception, re-raised by Prefect
        return is_retryable(exc)
    return False


def jittered_delays(retries: int) -> list[float]:
    """Delays for Prefect task retries. Jitter is ours: Prefect's `retry_jitter_factor` is not relied on."""
    base = get_settings().task_retry_base_seconds
    return [backoff_delay(attempt, base=base, cap=base * 16) for attempt in range(1, retries + 1)]
