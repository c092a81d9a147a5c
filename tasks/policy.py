"""The one retry policy every Prefect task here declares: retry only what `is_retryable` allows.

Delays double from `SEEDANCE_TASK_RETRY_BASE_SECONDS` (Prefect's `exponential_backoff`), and
Prefect itself draws a fresh jitter for every retry (`retry_jitter_factor`, applied by the pinned
3.8.8 task engine). Prefect computes the delays when a task is decorated, so the base is read
when `tasks` is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prefect import get_run_logger
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from seedance import retry
from seedance.errors import SeedanceError, is_retryable
from seedance.settings import get_settings

T = TypeVar("T")

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


def retried(step: Callable[[int], T], retries: int, what: str) -> T:
    """Run `step(attempt)` (1-based) under the policy above without a task run of its own: again up
    to `retries` times while it raises what `is_retryable` allows, after the same doubling delays
    (jittered between half and all of each), each retry a warning in the run's logs.

    For a step a flow repeats per item where a task run buys nothing the run's logs do not show: a
    task run costs the Prefect server and the flow more CPU than a download (see `flows.steps.ItemSteps`).
    """
    base = get_settings().task_retry_base_seconds

    def warn(attempt: int, exc: SeedanceError, delay: float) -> None:
        get_run_logger().warning("%s failed (%s); retry %d of %d in %.1f s", what, exc, attempt, retries, delay)

    return retry.retried(
        step, retries, lambda attempt: retry.backoff_delay(attempt, base=base, cap=base * 2 ** (retries - 1)), warn
    )
