"""The one retry policy every Prefect task here declares: retry only what `is_retryable` allows.

Delays double from `SEEDANCE_TASK_RETRY_BASE_SECONDS` (Prefect's `exponential_backoff`), and
Prefect itself draws a fresh jitter for every retry (`retry_jitter_factor`, applied by the pinned
3.8.8 task engine). Prefect computes the delays when a task is decorated, so the base is read
when `tasks` is imported.
"""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from seedance.errors import is_retryable
from seedance.settings import get_settings

RETRY_JITTER_FACTOR = 0.5
"""Each delay is drawn around its value, up to 1.5× it, so workers retrying together spread out."""


def retry_if_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """`retry_condition_fn` for every task: retry transient errors, never permanent ones."""
    try:
        state.result()
    except Exception as exc:  # the failed run's exception, re-raised by Prefect
        return is_retryable(exc)
    return False


def retrying(retries: int) -> dict[str, Any]:
    """Task options for `retries` retries of transient errors: `@task(name=..., **retrying(3))`.

    Also turns caching off: a task that talks to a gateway or S3 must run every time it is called.
    """
    return {
        "retries": retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=get_settings().task_retry_base_seconds),
        "retry_jitter_factor": RETRY_JITTER_FACTOR,
        "retry_condition_fn": retry_if_retryable,
        "cache_policy": NO_CACHE,
    }
