"""What the gateway may do wrong on purpose: the fault kinds, where each applies, and the plan.

`FaultPlan.rate` is the probability that a request a fault can touch gets one; its kind is drawn
evenly from the kinds that apply to that request. `FaultPlan.rates` gives a kind its own
probability instead of its even share. The admin endpoints (`/_local/stats`, `reset`, `faults`,
`tasks`) are never touched; result files (`/_local/files/…`, standing in for Ark's TOS URLs) are.

    kind                 requests                 what happens
    rate-limit           create get list delete   429 + Retry-After (seconds or an HTTP date)
    server-error         create get list delete   500, 502 or 503 in the Ark envelope; nothing done
    drop-before-create   create                   connection closed unanswered; no task
    drop-after-create    create                   task created; connection closed before or mid answer
    slow                 create get list          done at once, answered `slow_seconds` late
    late-create          create                   held `slow_seconds`, then the task is created
    completion-500       get list                 500 on the first read that would show a success
    task-failure         create                   accepted, but the task ends `failed` (an Ark code of
                                                  `TASK_FAILURES` that fits the task, or the plan's own)
    truncated-download   files                    full Content-Length, part of the bytes, closed
    expired-url          files                    403 AccessDenied "Request has expired."
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from seedance.ark import _constants as client_defaults

Endpoint = Literal["create", "get", "list", "delete", "files"]
"""What a request is for: an Ark endpoint, or `files` (result URLs). See `routes.endpoint_of`."""
ENDPOINTS: Final[tuple[Endpoint, ...]] = get_args(Endpoint)


class FaultKind(StrEnum):
    RATE_LIMIT = "rate-limit"
    SERVER_ERROR = "server-error"
    DROP_BEFORE_CREATE = "drop-before-create"
    DROP_AFTER_CREATE = "drop-after-create"
    SLOW = "slow"
    LATE_CREATE = "late-create"
    COMPLETION_500 = "completion-500"
    TASK_FAILURE = "task-failure"
    TRUNCATED_DOWNLOAD = "truncated-download"
    EXPIRED_URL = "expired-url"


APPLIES_TO: Final[dict[Endpoint, tuple[FaultKind, ...]]] = {
    "create": (
        FaultKind.RATE_LIMIT,
        FaultKind.SERVER_ERROR,
        FaultKind.DROP_BEFORE_CREATE,
        FaultKind.DROP_AFTER_CREATE,
        FaultKind.SLOW,
        FaultKind.LATE_CREATE,
        FaultKind.TASK_FAILURE,
    ),
    "get": (FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, FaultKind.SLOW, FaultKind.COMPLETION_500),
    "list": (FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, FaultKind.SLOW, FaultKind.COMPLETION_500),
    "delete": (FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR),
    "files": (FaultKind.TRUNCATED_DOWNLOAD, FaultKind.EXPIRED_URL),
}
"""The kinds each endpoint can suffer; see `applicable`."""

TASK_FAILURES: Final[dict[str, str]] = {
    "OutputVideoSensitiveContentDetected": "The generated video may contain sensitive content",
    "OutputVideoSensitiveContentDetected.PolicyViolation": "The generated video may violate platform rules",
    "OutputAudioSensitiveContentDetected.PolicyViolation": "The generated audio may violate platform rules",
    "InternalServiceError": "The service encountered an unexpected internal error",
}
"""The Ark codes a `task-failure` ends a task with, and their messages (ark-api.md §4.2, §5.3)."""
_AUDIO_FAILURE_PREFIX: Final = "OutputAudio"


def task_failure_codes(*, audio: bool) -> tuple[str, ...]:
    """The codes of `TASK_FAILURES` a task can end with: audio moderation only if it generates audio."""
    return tuple(code for code in TASK_FAILURES if audio or not code.startswith(_AUDIO_FAILURE_PREFIX))


DEFAULT_SLOW_SECONDS: Final = (client_defaults.API_TIMEOUT.read or 0.0) + 5.0
"""Longer than the Ark client's default read timeout, so a default client gives up."""


def applicable(endpoint: Endpoint, *, shows_success: bool = False) -> tuple[FaultKind, ...]:
    """The kinds a request can suffer; completion-500 only on a read that would show a new success."""
    kinds = APPLIES_TO[endpoint]
    return kinds if shows_success else tuple(kind for kind in kinds if kind is not FaultKind.COMPLETION_500)


class FaultPlan(BaseModel):
    """Which faults to inject, how often, and how they behave. The default injects nothing.

    Example:
        >>> FaultPlan(rate=0.2, rates={FaultKind.SLOW: 0.0}, slow_seconds=2, seed=7)
        >>> FaultPlan(rates={FaultKind.SLOW: 1.0}, limit=1)  # only the next request it can touch
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(0.0, ge=0, le=1, description="Probability that a request a fault can touch gets one.")
    rates: dict[FaultKind, float] = Field(
        default_factory=dict, description="Per-kind probabilities, replacing the kind's even share of `rate`."
    )
    slow_seconds: float = Field(DEFAULT_SLOW_SECONDS, gt=0, description="How late `slow` answers and `late-create` creates.")
    retry_after_seconds: int = Field(1, ge=0, description="The pause a 429 (and a 503) asks for.")
    truncate_at: float | None = Field(
        None, gt=0, lt=1, description="Share of the body a `truncated-download` sends before closing; none: a random share."
    )
    task_failure_code: str | None = Field(
        None, description="The code every `task-failure` ends with; none: one drawn from those that fit the task."
    )
    limit: int | None = Field(None, ge=0, description="Faults injected at most (since the plan was set); none: no limit.")
    seed: int | None = Field(None, description="Seed of the draws, for reproducible runs; none: a random one.")

    @field_validator("task_failure_code")
    @classmethod
    def _known_task_failure(cls, code: str | None) -> str | None:
        if code is not None and code not in TASK_FAILURES:
            raise ValueError(f"{code!r} is not a task failure code; allowed: {', '.join(TASK_FAILURES)}")
        return code

    @model_validator(mode="after")
    def _probabilities_add_up(self) -> FaultPlan:
        for kind, probability in self.rates.items():
            if not 0 <= probability <= 1:
                raise ValueError(f"the rate of {kind.value} is {probability}; allowed: 0-1")
        for endpoint in APPLIES_TO:
            for shows_success in (False, True):
                kinds = applicable(endpoint, shows_success=shows_success)
                total = sum(self.probability(kind, kinds) for kind in kinds)
                if total > 1 + 1e-9:
                    raise ValueError(f"the fault rates of a {endpoint} request add up to {total:.3g}, more than 1")
        return self

    @property
    def active(self) -> bool:
        return self.rate > 0 or any(self.rates.values())

    def probability(self, kind: FaultKind, kinds: tuple[FaultKind, ...]) -> float:
        """The chance of `kind` on a request that `kinds` (see `applicable`) could touch."""
        return self.rates.get(kind, self.rate / len(kinds))


def parse_rates(options: Iterable[str]) -> dict[FaultKind, float]:
    """`["slow=0.1", "expired-url=0"]` (the repeatable `--fault-rate KIND=P`) as a dict.

    Raises:
        ValueError: an option is not `KIND=P`, or names no fault kind.
    """
    rates: dict[FaultKind, float] = {}
    for option in options:
        name, _, value = option.partition("=")
        try:
            rates[FaultKind(name.strip())] = float(value)
        except ValueError:
            kinds = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"--fault-rate {option!r}: expected KIND=P, KIND one of {kinds}, P a probability") from None
    return rates
