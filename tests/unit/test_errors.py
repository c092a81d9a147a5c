"""Status + Ark code → exception class → retry decision, pinned in one table."""

from __future__ import annotations

import pytest

from seedance.errors import (
    ArkConnectionError,
    ArkTimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentModerationError,
    CreateOutcomeUnknownError,
    DownloadError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    SpecError,
    SpendLimitError,
    UnexpectedStatusError,
    api_error_class,
    is_retryable,
)

TABLE = [
    (400, "InvalidParameter", "", BadRequestError, False),
    (400, "MissingParameter.content", "", BadRequestError, False),
    (400, "InputImageSensitiveContentDetected.PrivacyInformation", "", ContentModerationError, False),
    (400, "InputTextSensitiveContentDetected", "", ContentModerationError, False),
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
