"""The Ark client's error paths, one at a time, through httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from seedance.ark.client import ArkClient
from seedance.ark.types import CreateTaskRequest, TaskStatus, TextContent
from seedance.errors import (
    ArkConnectionError,
    AuthenticationError,
    CreateOutcomeUnknownError,
    NotFoundError,
    QuotaExceededError,
)

KEY = "sk-unit-test-secret"
REQUEST = CreateTaskRequest(model="doubao-seedance-2-0-260128", content=[TextContent(text="a boat")], duration=5)
TASK: dict[str, Any] = {
    "id": "cgt-20261121120000-abcde",
    "model": "doubao-seedance-2-0-260128",
    "status": "succeeded",
    "created_at": 1779336000,
    "updated_at": 1779336100,
    "content": {"video_url": "http://x/v.mp4"},
    "usage": {"completion_tokens": 108000, "total_tokens": 108000},
    "a_field_from_the_future": {"nested": True},
}


def envelope(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": f"{code} happened. Request id: 42", "param": "", "type": "X"}}
    return httpx.Response(status, json=body, headers=headers)


def client_with(
    handler: Callable[[httpx.Request], httpx.Response], sleeps: list[float] | None = None
) -> tuple[ArkClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = ArkClient(
        "http://gw.test/api/v3",
        KEY,
        gateway="unit-gw",
        transport=httpx.MockTransport(record),
        sleep=(sleeps.append if sleeps is not None else lambda _: None),
    )
    return client, seen


def test_create_sends_body_without_unset_fields_and_returns_id() -> None:
    client, seen = client_with(lambda r: httpx.Response(200, json={"id": "cgt-1", "status": "submitted"}))
    assert client.create_task(REQUEST).id == "cgt-1"
    body = json.loads(seen[0].content)
    assert body == {"model": REQUEST.model, "content": [{"type": "text", "text": "a boat"}], "duration": 5}
    assert seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert len(seen[0].headers["X-Client-Request-Id"]) == 34


def test_a_built_create_is_the_request_create_sends() -> None:
    client, seen = client_with(lambda request: httpx.Response(200, json={"id": "cgt-1"}))
    built = client.build_create(REQUEST)
    client.create_task(REQUEST)
    assert (built.method, built.url, built.content) == (seen[0].method, seen[0].url, seen[0].content)
    assert {key: value for key, value in built.headers.items() if key != "x-client-request-id"} == {
        key: value for key, value in seen[0].headers.items() if key != "x-client-request-id"
    }
    assert built.headers["x-client-request-id"] != seen[0].headers["x-client-request-id"]  # new for every attempt


@pytest.mark.parametrize(("task_type", "sent"), [("edit", {"omni_reference_task_type": "edit"}), ("auto", {}), (None, {})])
def test_create_sends_the_task_type_and_output_format_as_set_but_never_auto(task_type: str | None, sent: dict) -> None:
    client, seen = client_with(lambda r: httpx.Response(200, json={"id": "cgt-1"}))
    request = CreateTaskRequest(
        model=REQUEST.model, content=REQUEST.content, duration=5, omni_reference_task_type=task_type, output_format="mov"
    )
    client.create_task(request)
    assert json.loads(seen[0].content) == REQUEST.to_body() | {"output_format": "mov"} | sent


def test_an_unknown_task_type_is_refused_before_sending() -> None:
    with pytest.raises(ValidationError, match="omni_reference_task_type"):
        CreateTaskRequest(model=REQUEST.model, content=REQUEST.content, omni_reference_task_type="remix")


def test_the_task_object_reads_output_format_and_does_without_it() -> None:
    answers = iter([httpx.Response(200, json=TASK | {"output_format": "mov"}), httpx.Response(200, json=TASK)])
    client, _ = client_with(lambda r: next(answers))
    assert client.get_task(TASK["id"]).output_format == "mov"
    assert client.get_task(TASK["id"]).output_format is None


@pytest.mark.parametrize(
    "fault",
    [
        lambda r: envelope(500, "InternalServiceError"),
        lambda r: envelope(502, "BadGateway"),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.RemoteProtocolError("dropped", request=r)),
        lambda r: httpx.Response(200, text="<html>proxy</html>"),
    ],
    ids=["500", "502", "read-timeout", "dropped-mid-response", "unreadable-200"],
)
def test_create_with_unknown_outcome_is_never_retried(fault: Callable[[httpx.Request], httpx.Response]) -> None:
    client, seen = client_with(fault)
    with pytest.raises(CreateOutcomeUnknownError) as caught:
        client.create_task(REQUEST)
    assert len(seen) == 1
    assert "[unit-gw]" in str(caught.value)


def test_create_is_retried_when_no_connection_was_made() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, seen = client_with(refuse)
    with pytest.raises(ArkConnectionError):
        client.create_task(REQUEST)
    assert len(seen) == 3  # the first try and create_retries=2


def test_create_honours_retry_after_on_429() -> None:
    answers = iter(
        [envelope(429, "RateLimitExceeded.EndpointRPMExceeded", {"Retry-After": "7"}), httpx.Response(200, json={"id": "cgt-2"})]
    )
    sleeps: list[float] = []
    client, seen = client_with(lambda r: next(answers), sleeps)
    assert client.create_task(REQUEST).id == "cgt-2"
    assert len(seen) == 2
    assert sleeps[0] >= 7


def test_quota_exceeded_is_typed() -> None:
    client, _ = client_with(lambda r: envelope(429, "QuotaExceeded"))
    with pytest.raises(QuotaExceededError):
        client.create_task(REQUEST)


def test_wrong_key_raises_authentication_error_naming_gateway_without_key() -> None:
    client, seen = client_with(lambda r: envelope(401, "AuthenticationError"))
    with pytest.raises(AuthenticationError) as caught:
        client.get_task("cgt-1")
    assert len(seen) == 1
    assert "unit-gw" in str(caught.value) and KEY not in str(caught.value)
    assert KEY not in repr(client)


def test_reads_retry_transient_errors_then_succeed() -> None:
    answers = iter([envelope(503, "ServiceUnavailable"), envelope(429, "ServerOverloaded"), httpx.Response(200, json=TASK)])
    client, seen = client_with(lambda r: next(answers))
    task = client.get_task(TASK["id"])
    assert len(seen) == 3
    assert task.status is TaskStatus.SUCCEEDED and task.usage and task.usage.completion_tokens == 108000


def test_not_found_is_not_retried() -> None:
    client, seen = client_with(lambda r: envelope(404, "NotFound"))
    with pytest.raises(NotFoundError):
        client.get_task("cgt-gone")
    assert len(seen) == 1


def test_list_repeats_task_id_filter() -> None:
    client, seen = client_with(lambda r: httpx.Response(200, json={"items": [TASK], "total": 1}))
    result = client.list_tasks(page_size=50, status="running", task_ids=["a", "b"])
    assert result.total == 1
    assert seen[0].url.params.get_list("filter.task_ids") == ["a", "b"]
    assert seen[0].url.params["filter.status"] == "running"
