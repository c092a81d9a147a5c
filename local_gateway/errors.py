"""Ark's error envelope and the HTTP status behind each error type (ark-api.md §5).

Every refusal the gateway sends is an `ArkError` turned into
`{"error": {"code", "message", "param", "type"}}`, the message ending in "Request id: <id>" like
Ark's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from seedance.errors import Problem

ERROR_TYPES: Final[dict[int, str]] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    411: "LengthRequired",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
}
"""The `type` field for each HTTP status the gateway can send."""

NOT_FOUND_CODES: Final = frozenset({"InvalidEndpointOrModel.NotFound"})
"""Validation codes that Ark sends as 404 rather than 400."""


class ArkError(Exception):
    """A refusal, sent to the client as an HTTP error in the Ark envelope."""

    def __init__(self, status: int, code: str, message: str, param: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param

    @property
    def type(self) -> str:
        return ERROR_TYPES[self.status]

    def envelope(self, request_id: str) -> dict[str, Any]:
        """The JSON body Ark sends for this error."""
        message = self.message.rstrip()
        if not message.endswith("."):
            message += "."
        return {
            "error": {
                "code": self.code,
                "message": f"{message} Request id: {request_id}",
                "param": self.param,
                "type": self.type,
            }
        }


def invalid_parameter(param: str, message: str) -> ArkError:
    """400 InvalidParameter about one request parameter."""
    return ArkError(400, "InvalidParameter", message, param)


def not_found(code: str, message: str, param: str = "") -> ArkError:
    return ArkError(404, code, message, param)


def from_problems(problems: Sequence[Problem]) -> ArkError:
    """One error for everything wrong with a request: the first problem's code and field, all messages.

    Ark reports one parameter at a time; listing them all costs a client nothing and saves round trips.
    """
    first = problems[0]
    status = 404 if first.code in NOT_FOUND_CODES else 400
    if len(problems) == 1:
        message = f"The parameter `{first.field}` specified in the request is not valid: {first.message}"
    else:
        listed = "; ".join(f"`{p.field}` {p.message}" for p in problems)
        message = f"The request has {len(problems)} invalid parameters: {listed}"
    return ArkError(status, first.code, message, first.field)
