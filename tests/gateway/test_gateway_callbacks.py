"""Status callbacks as Ark sends them (ark-api.md §4.5): a POST of the task object on each status
change, final statuses retried a bounded number of times, never holding up the API."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from local_gateway import GatewayConfig, LocalGateway
from local_gateway.faults import FaultKind, FaultPlan
from tests.conftest import http_served
from tests.gateway.support import LITE_T2V, TASKS, create, text_body, wait_for

KEY = "callback-key"


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    at: float


@dataclass
class Receiver:
    """A callback receiver on 127.0.0.1 that records every POST and answers with `answers` in turn
    (202 once they run out), after `delay` seconds."""

    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def statuses(self) -> list[str]:
        return [item.body["status"] for item in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(state.delay)
            with lock:
                state.received.append(Received(self.path, body, time.time()))
                status = state.answers.pop(0) if state.answers else 202
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with http_served(Handler) as origin:
        state.url = f"{origin}/callbacks/intent/token"
        yield state


def gateway(**options: Any) -> LocalGateway:
    config = {"api_key": KEY, "latency": 0.3, "callback_backoff": 0.05} | options
    return LocalGateway(GatewayConfig.model_validate(config))


def client(running: LocalGateway) -> httpx.Client:
    return httpx.Client(base_url=running.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)


def until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_each_status_change_is_posted_as_the_task_object_get_returns(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with gateway() as running, client(running) as api:
        task_id = create(api, text_body(LITE_T2V, callback_url=receiver.url))
        quiet_id = create(api, text_body(LITE_T2V, prompt="no callback"))
        final = wait_for(api, task_id)
        wait_for(api, quiet_id)
        until(lambda: len(receiver.received) == 3)

        assert receiver.statuses() == ["queued", "running", "succeeded"]
        assert {item.path for item in receiver.received} == {"/callbacks/intent/token"}
        assert all(item.body["id"] == task_id for item in receiver.received)
        assert receiver.received[-1].body == final
        video = httpx.get(receiver.received[-1].body["content"]["video_url"], timeout=10)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        tasks = httpx.get(f"{running.origin}/_local/tasks", timeout=5).json()["tasks"]
        succeeded_at = next(task["updated_at"] for task in tasks if task["id"] == task_id)
        assert receiver.received[-1].at - succeeded_at < 0.5  # sent as the status changes
    assert "acknowledged by 127.0.0.1" in caplog.text
    assert "/callbacks/intent/token" not in caplog.text  # the URL carries the receiver's secret


def test_a_failed_task_is_posted_with_its_error(receiver: Receiver) -> None:
    faults = FaultPlan(rates={FaultKind.TASK_FAILURE: 1.0}, task_failure_code="InternalServiceError")
    with gateway(faults=faults) as running, client(running) as api:
        task_id = create(api, text_body(LITE_T2V, callback_url=receiver.url))
        assert wait_for(api, task_id)["status"] == "failed"
        until(lambda: receiver.statuses()[-1:] == ["failed"])
    assert receiver.received[-1].body["error"]["code"] == "InternalServiceError"


def test_a_final_status_is_retried_until_acknowledged_the_others_are_not(receiver: Receiver) -> None:
    receiver.answers = [202, 500, 503, 404]  # queued ok, running refused, succeeded refused twice
    with gateway(callback_backoff=0.2) as running, client(running) as api:
        task_id = create(api, text_body(LITE_T2V, callback_url=receiver.url))
        wait_for(api, task_id)
        until(lambda: receiver.statuses().count("succeeded") == 3)
        time.sleep(1.0)  # room for a retry that should not come
    assert receiver.statuses() == ["queued", "running", "succeeded", "succeeded", "succeeded"]
    gaps = [later.at - earlier.at for earlier, later in zip(receiver.received[2:], receiver.received[3:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # backing off


def test_retries_are_bounded(receiver: Receiver) -> None:
    receiver.answers = [500] * 10
    with gateway(callback_retries=2) as running, client(running) as api:
        task_id = create(api, text_body(LITE_T2V, callback_url=receiver.url))
        wait_for(api, task_id)
        until(lambda: receiver.statuses().count("succeeded") == 3)
        time.sleep(0.6)
    assert receiver.statuses() == ["queued", "running", "succeeded", "succeeded", "succeeded"]


def test_a_slow_receiver_never_holds_up_the_api(receiver: Receiver) -> None:
    receiver.delay = 2.0
    with gateway(callback_timeout=0.5, callback_retries=0) as running, client(running) as api:
        started = time.monotonic()
        task_id = create(api, text_body(LITE_T2V, callback_url=receiver.url))
        api.get(f"{TASKS}/{task_id}").raise_for_status()
        assert time.monotonic() - started < 0.5
        assert wait_for(api, task_id)["status"] == "succeeded"


def test_cancelling_a_queued_task_sends_nothing_for_cancelled(receiver: Receiver) -> None:
    with gateway(latency=60, queue_seconds=30) as running, client(running) as api:
        task_id = create(api, text_body(LITE_T2V, callback_url=receiver.url))
        api.delete(f"{TASKS}/{task_id}").raise_for_status()
        assert api.get(f"{TASKS}/{task_id}").json()["status"] == "cancelled"
        until(lambda: len(receiver.received) == 1)
        time.sleep(0.3)
    assert receiver.statuses() == ["queued"]  # Ark does not list cancelled among the statuses it pushes
