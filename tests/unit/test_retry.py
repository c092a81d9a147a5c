from __future__ import annotations

from datetime import UTC, datetime

import pytest

from seedance.errors import DownloadError, SeedanceError, SpecError
from seedance.retry import MAX_RETRY_AFTER, backoff_delay, parse_retry_after, retried

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("Sat, 21 Nov 2026 12:00:10 GMT", 10.0),
        ("Sat, 21 Nov 2026 11:59:00 GMT", 0.0),
        ("100000", MAX_RETRY_AFTER),
        ("-4", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_http_date_capped(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_backoff_grows_with_jitter_and_respects_retry_after() -> None:
    delays = [backoff_delay(attempt, base=1.0, cap=8.0) for attempt in range(1, 7)]
    for attempt, delay in enumerate(delays, start=1):
        step = min(8.0, 2 ** (attempt - 1))
        assert step / 2 <= delay <= step
    assert len({backoff_delay(3, base=1.0, cap=8.0) for _ in range(20)}) > 1, "no jitter"
    assert backoff_delay(1, base=0.1, cap=1.0, retry_after=5.0) == 5.0


def test_a_step_is_run_again_while_its_error_is_retryable_then_the_last_error_is_raised() -> None:
    attempts: list[int] = []
    told: list[tuple[int, str, float]] = []

    def step(attempt: int) -> str:
        attempts.append(attempt)
        if attempt < 3:
            raise DownloadError(f"cut #{attempt}")
        return "done"

    def on_retry(attempt: int, error: SeedanceError, pause: float) -> None:
        told.append((attempt, str(error), pause))

    assert retried(step, 2, lambda attempt: attempt / 1000, on_retry) == "done"
    assert attempts == [1, 2, 3] and told == [(1, "cut #1", 0.001), (2, "cut #2", 0.002)]

    attempts.clear()
    with pytest.raises(DownloadError, match="cut #2"):
        retried(step, 1, lambda attempt: 0.0)
    assert attempts == [1, 2]


def test_a_permanent_error_is_raised_at_once() -> None:
    attempts: list[int] = []

    def step(attempt: int) -> None:
        attempts.append(attempt)
        raise SpecError([])

    with pytest.raises(SpecError):
        retried(step, 3, lambda attempt: 0.0)
    assert attempts == [1]
