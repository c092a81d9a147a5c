"""Every exception seedance raises, in one tree.

    SeedanceError
    ├── SpecError ........................ the user's input is wrong; nothing was sent      (permanent)
    ├── ConfigurationError ............... no gateway, bucket or state database configured  (permanent)
    ├── StateStoreError .................. the state database failed or is unreachable      (transient)
    ├── BudgetExceededError .............. an estimate would pass the budget; not sent      (permanent)
    ├── ArkError ......................... talking to a gateway went wrong
    │   ├── ArkAPIError .................. the gateway answered with an error status
    │   │   ├── BadRequestError .......... 400: invalid or missing parameter               (permanent)
    │   │   │   ├── ContentModerationError   400 Input*SensitiveContentDetected            (permanent)
    │   │   │   └── TaskTypeError ........   400 InvalidParameter.TaskType*, with the fix  (permanent)
    │   │   ├── AuthenticationError ...... 401: key missing or wrong                       (permanent)
    │   │   ├── PermissionDeniedError .... 403: arrears, no access                         (permanent)
    │   │   ├── NotFoundError ............ 404: unknown model, model not open, no such task (permanent)
    │   │   ├── RateLimitError ........... 429: requests per minute, overload              (transient)
    │   │   │   ├── QuotaExceededError ...   429 QuotaExceeded: too many queued tasks       (retry later)
    │   │   │   └── SpendLimitError ......   429 free quota used up / spend cap reached     (permanent)
    │   │   ├── ServerError .............. 5xx                                             (transient)
    │   │   └── UnexpectedStatusError .... any other status                                (permanent)
    │   ├── ArkConnectionError ........... no response: refused, reset, DNS                (transient for reads)
    │   │   └── ArkTimeoutError .......... a phase timed out                               (transient for reads)
    │   ├── CreateOutcomeUnknownError .... a create may or may not have reached the server (never retried blindly)
    │   └── ProtocolError ................ the response could not be understood            (permanent)
    ├── GenerationFailedError ............ the task ran and ended failed/expired/cancelled  (permanent)
    │   └── AudioPolicyViolationError .... only the generated audio was refused             (permanent)
    ├── WaitTimeoutError ................. we gave up waiting; the task may still finish    (permanent)
    ├── BatchStoppedError ................ a batch item not sent: the account was refused   (permanent)
    ├── DownloadError .................... a result could not be fetched or verified       (transient)
    │   ├── ResultURLExpiredError ........ 403 on a result URL: GET the task for a fresh one (transient)
    │   └── ResultGoneError .............. never collected, and past the URLs' 24 h: pay again (permanent)
    └── PostprocessError ................. an ffmpeg step on a finished video failed       (permanent)
                                           (defined in seedance.postprocess)

A refusal that every request with the same key would get (a wrong key, an account in arrears)
says so: `ArkAPIError.refuses_every_request()`; a batch then stops submitting its other items. A
used-up free quota is not one: it is per model ("for the [%s] model", ark-api.md §5.3). Whether
the "safe experience mode" spend cap is per model is not established; a refused create spends
nothing, so the batch goes on trying its other items.

Each class carries `retryable`; `is_retryable()` reads it, and every retry decision (the client's
read retries and the Prefect tasks' `retry_condition_fn`) goes through it. `api_error_class()` picks
the class of an HTTP error, `GenerationFailedError.for_task()` the class of a task's failure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from pydantic import BaseModel, ConfigDict

from seedance.ark.types import ContentGenerationTask


class SeedanceError(Exception):
    """Base class of every error seedance raises."""

    retryable: ClassVar[bool] = False


class Problem(BaseModel):
    """One thing wrong with a request."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str
    code: str = "InvalidParameter"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


BUDGET: Final = "budget"
"""The field and the source of a SpecError about a budget (how it is written, its currency)."""


class SpecError(SeedanceError):
    """The spec or request is invalid; raised before anything is uploaded or sent."""

    def __init__(self, problems: list[Problem], source: str = "spec") -> None:
        self.problems = problems
        self.source = source
        lines = "; ".join(str(problem) for problem in problems)
        super().__init__(f"{source}: {lines}")


class ConfigurationError(SeedanceError):
    """A gateway or bucket is neither saved as a block nor given in the environment, or the state
    database is named twice or by something that is not a PostgreSQL URL."""


class StateStoreError(SeedanceError):
    """The PostgreSQL database holding intent records and the ledger failed a call or could not be reached.

    Retryable: a failed ledger change is rolled back whole, and an intent record that did not get
    its task id is reconciled through the task list on the next attempt, as after a crash. The
    message names the database with its password masked.
    """

    retryable = True


class BudgetExceededError(SeedanceError):
    """Reserving this item's estimated cost would take the committed spend past the budget; nothing was sent."""


class ArkError(SeedanceError):
    """Talking to a gateway went wrong. `gateway` names it (never the key)."""

    def __init__(self, message: str, *, gateway: str) -> None:
        self.gateway = gateway
        super().__init__(f"[{gateway}] {message}")


class ArkAPIError(ArkError):
    """The gateway answered with an error status and (usually) the Ark error envelope."""

    def __init__(
        self,
        *,
        gateway: str,
        status_code: int,
        code: str,
        message: str,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.api_message = message
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after
        where = f" (param: {param})" if param else ""
        advice = self.advice()
        super().__init__(f"HTTP {status_code} {code}: {message}{where}{f'; {advice}' if advice else ''}", gateway=gateway)

    def advice(self) -> str:
        """What to change before trying again, appended to the message; empty when the API's message is enough."""
        return ""

    def refuses_every_request(self) -> bool:
        """Whether any request with the same key would be refused the same way, whatever it asks for."""
        return False


class BadRequestError(ArkAPIError):
    pass


class ContentModerationError(BadRequestError):
    pass


TASK_TYPE_CONSTRAINT: Final = "InvalidParameter.TaskTypeConstraint"
TASK_TYPE_MISMATCH: Final = "InvalidParameter.TaskTypeMismatch"


class TaskTypeError(BadRequestError):
    """The create was refused because the request contradicts its `omni_reference_task_type`.

    Checked at submit time only when the type is set explicitly (ark-api-updates.md §1.3). The same
    request is refused again, so the message ends with what to change.
    """

    _FIXES: ClassVar[dict[str, str]] = {
        TASK_TYPE_CONSTRAINT: "to fix: give the ratio and duration this task type allows "
        "(edit: ratio adaptive, duration -1; first_last_frame: ratio adaptive), or change omni_reference_task_type",
        TASK_TYPE_MISMATCH: "to fix: make the prompt ask for the task omni_reference_task_type names, "
        "or set the type the prompt asks for (or leave it out to let the model decide)",
    }

    def advice(self) -> str:
        return self._FIXES.get(self.code, "")


ACCOUNT_OVERDUE: Final = "AccountOverdue"
"""The code prefix of a 403 for an account in arrears (ark-api.md: `AccountOverdueError`)."""


class AuthenticationError(ArkAPIError):
    def refuses_every_request(self) -> bool:
        return True


class PermissionDeniedError(ArkAPIError):
    def refuses_every_request(self) -> bool:
        return self.code.startswith(ACCOUNT_OVERDUE)  # arrears; `AccessDenied` may be one model's only


class NotFoundError(ArkAPIError):
    pass


class RateLimitError(ArkAPIError):
    retryable = True


class QuotaExceededError(RateLimitError):
    """Too many queued tasks on the account: retry, but later than for a rate limit."""


class SpendLimitError(RateLimitError):
    """The free quota or the account's spend cap is used up; retrying cannot help."""

    retryable = False


class ServerError(ArkAPIError):
    retryable = True


class UnexpectedStatusError(ArkAPIError):
    pass


class ArkConnectionError(ArkError):
    """No response arrived. Safe to retry for reads; for a create see CreateOutcomeUnknownError."""

    retryable = True


class ArkTimeoutError(ArkConnectionError):
    pass


class CreateOutcomeUnknownError(ArkError):
    """The create request may have reached the server; creating again could pay twice.

    The pipeline reconciles through the list endpoint before it would ever create again.
    `accepted` is True when the gateway answered 200 without a readable task id: the task exists.
    """

    def __init__(self, message: str, *, gateway: str, accepted: bool = False) -> None:
        self.accepted = accepted
        super().__init__(message, gateway=gateway)


class ProtocolError(ArkError):
    """The gateway's response could not be understood (not JSON, or missing required fields)."""


OUTPUT_AUDIO_MODERATION: Final = "OutputAudioSensitiveContentDetected"
"""The task-level code (bare or with a sub-code such as `.PolicyViolation`) for refused generated audio."""


class GenerationFailedError(SeedanceError):
    """The task ran and ended without a video: `failed`, `expired` or `cancelled`.

    Raise `GenerationFailedError.for_task(task, gateway=...)`: it picks the subclass the task's
    failure code calls for.
    """

    def __init__(self, task: ContentGenerationTask, *, gateway: str) -> None:
        self.task = task
        self.gateway = gateway
        error = f": {task.error.code}: {task.error.message}" if task.error else ""
        advice = self.advice()
        message = f"[{gateway}] task {task.id} ended {task.status.value}{error}"
        super().__init__(f"{message.rstrip(' .:')}. {advice}" if advice else message)

    @staticmethod
    def for_task(task: ContentGenerationTask, *, gateway: str) -> GenerationFailedError:
        """The error for `task`, which ended without a video: `AudioPolicyViolationError` when only
        its generated audio was refused, else a plain `GenerationFailedError`."""
        if task.error is not None and task.error.code.partition(".")[0] == OUTPUT_AUDIO_MODERATION:
            return AudioPolicyViolationError(task, gateway=gateway)
        return GenerationFailedError(task, gateway=gateway)

    def advice(self) -> str:
        """What to do next, appended to the message; empty when the task's error is all there is to say."""
        return ""


class AudioPolicyViolationError(GenerationFailedError):
    """The task failed because its generated audio was refused (`OutputAudioSensitiveContentDetected…`).

    Never retried automatically: a retry is a new paid task, and the same request would be refused
    again. The message ends with the re-run that can succeed: the same spec without audio, as a new
    generation.
    """

    def advice(self) -> str:
        return (
            "Only its generated audio was refused. To re-run without audio (a new paid task): "
            "set `generate_audio: false` in the spec and ask for a new generation "
            "(`seedance generate SPEC --out DIR --again`, or a new `salt` for the generate-video flow)"
        )


class WaitTimeoutError(SeedanceError):
    """The deadline passed while the task was still queued or running. Nothing is cancelled."""

    def __init__(self, task_id: str, status: str, waited_seconds: float, *, gateway: str) -> None:
        self.task_id = task_id
        self.status = status
        super().__init__(
            f"[{gateway}] gave up waiting for task {task_id} after {waited_seconds:.0f} s (still {status}); "
            "its result can still be collected later with the same task id"
        )


class BatchStoppedError(SeedanceError):
    """A batch item that was not submitted: an earlier item's create was refused in a way every
    item would be (`ArkAPIError.refuses_every_request`), so sending the rest could only be refused again."""

    def __init__(self, refused: ArkAPIError, item: str) -> None:
        super().__init__(
            f"not submitted: the gateway refused item {item} with {refused.code}, as it would every item; "
            "fix that and run the batch again (what finished is kept, nothing is paid twice)"
        )


class StorageError(SeedanceError):
    """S3 refused a request or could not be reached: a wrong bucket, endpoint or credentials, or S3 down.

    Not retried: botocore has already retried throttling, 5xx answers and broken connections inside
    the call (`seedance.storage.s3_errors` makes these from what boto3 raises after that).
    """


class DownloadError(SeedanceError):
    """A result file could not be fetched, or it failed verification."""

    retryable = True


class ResultURLExpiredError(DownloadError):
    """The result URL refused access (403): presigned URLs expire (Ark's after 24 h).

    Retrying the same URL cannot help; GET the task again for a fresh URL, then download that.
    """

    def __init__(self, message: str, *, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(message)


class ResultGoneError(DownloadError):
    """The task succeeded but its video was never collected, and its result URLs have expired for good.

    Ark's result URLs last 24 h after the task finishes and a fresh GET of the task hands out the same
    expired link, so no retry can fetch it: the message names the task and how to pay for a new one.
    """

    retryable = False

    def __init__(self, task_id: str, finished_at: int, *, gateway: str) -> None:
        self.task_id = task_id
        finished = datetime.fromtimestamp(finished_at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(
            f"[{gateway}] task {task_id} succeeded at {finished}, but its video was never collected and Ark's "
            "result URLs last 24 h after a task finishes: it cannot be downloaded any more. To get a video, "
            "pay for a new generation: `seedance generate SPEC --out DIR --again`, or run the flow with a new "
            "`salt` (a scheduled deployment with `new_generation_per_run` makes a new one on its next run)"
        )


_MODERATION_PREFIXES = (
    "InputTextSensitiveContentDetected",
    "InputImageSensitiveContentDetected",
    "InputVideoSensitiveContentDetected",
    "InputAudioSensitiveContentDetected",
)


def api_error_class(status_code: int, code: str, message: str = "") -> type[ArkAPIError]:
    """The exception class for an HTTP status and Ark error code (ark-api.md §5.3)."""
    if status_code == 400:
        if code in (TASK_TYPE_CONSTRAINT, TASK_TYPE_MISMATCH):
            return TaskTypeError
        return ContentModerationError if code.startswith(_MODERATION_PREFIXES) else BadRequestError
    if status_code == 401:
        return AuthenticationError
    if status_code in (402, 403):
        return PermissionDeniedError
    if status_code == 404:
        return NotFoundError
    if status_code == 429:
        if code == "SetLimitExceeded" or (code == "QuotaExceeded" and "free" in message.lower()):
            return SpendLimitError
        if code == "QuotaExceeded":
            return QuotaExceededError
        return RateLimitError
    if status_code == 408:
        return ServerError
    if 500 <= status_code <= 599:
        return ServerError
    return UnexpectedStatusError


def is_retryable(exc: BaseException) -> bool:
    """Whether retrying the same call may succeed. Anything not raised by seedance is not retried."""
    return isinstance(exc, SeedanceError) and exc.retryable


def describe(exc: BaseException) -> dict[str, Any]:
    """A small JSON-safe summary of an error for result files and artifacts."""
    summary: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, ArkAPIError):
        summary |= {"status_code": exc.status_code, "code": exc.code, "param": exc.param}
    if isinstance(exc, BatchStoppedError) or (isinstance(exc, ArkAPIError) and exc.refuses_every_request()):
        summary |= {"every_item": True}  # the same for any item: a batch's items share one line
    if isinstance(exc, GenerationFailedError) and exc.task.error:
        summary |= {"code": exc.task.error.code}
    return summary
