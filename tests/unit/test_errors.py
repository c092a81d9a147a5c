"""Status + Ark code → exception class → retry decision, pinned in one table (and a task's failure
code → exception class in a second one)."""

from __future__ import annotations

import pytest

from seedance.ark.types import ContentGenerationTask, TaskError, TaskStatus
from seedance.errors import (
    ArkConnectionError,
    ArkTimeoutError,
    AudioPolicyViolationError,
    AuthenticationError,
    BadRequestError,
    BatchStoppedError,
    ContentModerationError,
    CreateOutcomeUnknownError,
    DownloadError,
    GenerationFailedError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    SpecError,
    SpendLimitError,
    TaskTypeError,
    UnexpectedStatusError,
    api_error_class,
    describe,
    is_retryable,
)

TABLE = [
    (400, "InvalidParameter", "", BadRequestError, False),
    (400, "MissingParameter.content", "", BadRequestError, False),
    (400, "InputImageSensitiveContentDetected.PrivacyInformation", "", ContentModerationError, False),
    (400, "InputTextSensitiveContentDetected", "", ContentModerationError, False),
    (400, "InvalidParameter.TaskTypeConstraint", "", TaskTypeError, False),
    (400, "InvalidParameter.TaskTypeMismatch", "", TaskTypeError, False),
    (401, "AuthenticationError", "", AuthenticationError, False),
    (403, "AccountOverdueError", "", PermissionDeniedError, False),
    (403, "AccessDenied", "", PermissionDeniedError, False),
    (404, "InvalidEndpointOrModel.NotFound", "", NotFoundError, False),
    (404, "ModelNotOpen", "", NotFoundError, False),
    (429, "RateLimitExceeded.EndpointRPMExceeded", "", RateLimitError, True),
    (429, "ServerOverloaded", "", RateLimitError, True),
    (429, "QuotaExceeded", "The request has exceeded the quota.", QuotaExceededError, True),
    (429, "QuotaExceeded", "You have exhausted its free trial quota for the [x] model", SpendLimitError, False),
    (429, "SetLimitExceeded", "", SpendLimitError, False),
    (500, "InternalServiceError", "", ServerError, True),
    (502, "HTTP502", "", ServerError, True),
    (503, "ServiceUnavailable", "", ServerError, True),
    (504, "HTTP504", "", ServerError, True),
    (418, "HTTP418", "", UnexpectedStatusError, False),
]


@pytest.mark.parametrize(("status", "code", "message", "cls", "retryable"), TABLE)
def test_status_and_code_map_to_class_and_retry_decision(
    status: int, code: str, message: str, cls: type, retryable: bool
) -> None:
    found = api_error_class(status, code, message)
    assert found is cls
    error = found(gateway="gw", status_code=status, code=code, message=message)
    assert is_retryable(error) is retryable
    assert "[gw]" in str(error)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (ArkConnectionError("refused", gateway="gw"), True),
        (ArkTimeoutError("read timeout", gateway="gw"), True),
        (CreateOutcomeUnknownError("maybe", gateway="gw"), False),
        (DownloadError("cut"), True),
        (SpecError([]), False),
        (ValueError("not ours"), False),
    ],
)
def test_non_http_errors_retry_decision(error: BaseException, retryable: bool) -> None:
    assert is_retryable(error) is retryable


TASK_TABLE = [
    (TaskStatus.FAILED, "OutputAudioSensitiveContentDetected.PolicyViolation", AudioPolicyViolationError),
    (TaskStatus.FAILED, "OutputAudioSensitiveContentDetected", AudioPolicyViolationError),
    (TaskStatus.FAILED, "OutputVideoSensitiveContentDetected.PolicyViolation", GenerationFailedError),
    (TaskStatus.FAILED, "InternalServiceError", GenerationFailedError),
    (TaskStatus.EXPIRED, None, GenerationFailedError),
]


def ended(status: TaskStatus, code: str | None, message: str = "") -> ContentGenerationTask:
    """A task that ended without a video, with `code` as its error (None: no error object)."""
    return ContentGenerationTask(
        id="cgt-20261121120000-abcde",
        model="doubao-seedance-2-0-260128",
        status=status,
        error=TaskError(code=code, message=message) if code else None,
        created_at=1779336000,
        updated_at=1779336100,
    )


@pytest.mark.parametrize(("status", "code", "cls"), TASK_TABLE)
def test_task_failure_code_maps_to_class_and_is_never_retried(status: TaskStatus, code: str | None, cls: type) -> None:
    error = GenerationFailedError.for_task(ended(status, code), gateway="gw")
    assert type(error) is cls
    assert is_retryable(error) is False
    assert str(error).startswith(f"[gw] task cgt-20261121120000-abcde ended {status.value}")


@pytest.mark.parametrize(
    ("message", "joined"),
    [
        (
            "The generated audio may violate platform rules.",
            "PolicyViolation: The generated audio may violate platform rules. Only",
        ),
        ("", "PolicyViolation. Only"),
    ],
)
def test_refused_audio_is_one_line_ending_with_the_re_run_without_audio(message: str, joined: str) -> None:
    task = ended(TaskStatus.FAILED, "OutputAudioSensitiveContentDetected.PolicyViolation", message)
    text = str(GenerationFailedError.for_task(task, gateway="gw"))
    assert "\n" not in text and joined in text
    assert text.endswith(
        "set `generate_audio: false` in the spec and ask for a new generation "
        "(`seedance generate SPEC --out DIR --again`, or a new `salt` for the generate-video flow)"
    )


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        ("InvalidParameter.TaskTypeConstraint", "to fix: give the ratio and duration this task type allows"),
        ("InvalidParameter.TaskTypeMismatch", "to fix: make the prompt ask for the task omni_reference_task_type names"),
    ],
)
def test_a_task_type_refusal_says_what_to_change(code: str, fix: str) -> None:
    error = TaskTypeError(gateway="gw", status_code=400, code=code, message="Refused. Request id: 42", param="ratio")
    assert str(error).startswith(f"[gw] HTTP 400 {code}: Refused. Request id: 42 (param: ratio); {fix}")


@pytest.mark.parametrize(
    ("status", "code", "message", "every_request"),
    [
        (401, "AuthenticationError", "", True),
        (403, "AccountOverdueError", "", True),
        (403, "AccessDenied", "", False),  # may be one model's only
        (429, "QuotaExceeded", "You have exhausted its free trial quota for the [x] model", False),  # per model
        (429, "SetLimitExceeded", "", False),
        (400, "InvalidParameter", "", False),
        (404, "ModelNotOpen", "", False),
    ],
)
def test_only_a_refusal_of_the_key_or_account_refuses_every_request_and_is_described_so(
    status: int, code: str, message: str, every_request: bool
) -> None:
    error = api_error_class(status, code, message)(gateway="gw", status_code=status, code=code, message=message)
    assert error.refuses_every_request() is every_request
    assert describe(error).get("every_item", False) is every_request
    stopped = BatchStoppedError(error, "item-7")
    assert describe(stopped)["every_item"] is True
    assert str(stopped).startswith(f"not submitted: the gateway refused item item-7 with {code}, as it would every item")
