"""Submit-once against a scripted gateway: unknown outcomes are reconciled, never blindly repeated."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from seedance.ark.client import ArkClient
from seedance.ark.types import CreateTaskRequest, TextContent
from seedance.errors import BadRequestError, CreateOutcomeUnknownError
from seedance.intents import Intent, IntentState, IntentStore
from seedance.stores.files import FileIntentStore
from seedance.submit import Submitted, submit_once

REQUEST = CreateTaskRequest(
    model="doubao-seedance-1-0-pro-250528", content=[TextContent(text="t")], resolution="480p", duration=5
)


class ScriptedGateway:
    """Answers creates from a script; lists the tasks that 'exist' on the server."""

    def __init__(self, creates: list[str]) -> None:
        self.creates = creates
        self.tasks: list[dict] = []
        self.create_calls = 0

    def task(self, task_id: str, **fields: object) -> dict:
        return {
            "id": task_id,
            "model": REQUEST.model,
            "status": "queued",
            "created_at": int(time.time()),
            "updated_at": int(time.time()),
            "resolution": "480p",
            "ratio": "16:9",
            "duration": 5,
            **fields,
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"items": self.tasks, "total": len(self.tasks)})
        self.create_calls += 1
        action = self.creates.pop(0)
        task_id = f"cgt-{self.create_calls}"
        if action == "ok":
            self.tasks.append(self.task(task_id))
            return httpx.Response(200, json={"id": task_id})
        if action == "made-then-500":
            self.tasks.append(self.task(task_id))
            return httpx.Response(500, json={"error": {"code": "InternalServiceError", "message": "boom"}})
        if action == "lost-then-500":
            return httpx.Response(502, text="bad gateway")
        if action == "refused":
            return httpx.Response(400, json={"error": {"code": "InvalidParameter", "message": "no", "param": "ratio"}})
        raise AssertionError(action)


def run(gateway: ScriptedGateway, store: IntentStore, key: str = "key1") -> Submitted:
    client = ArkClient("http://gw/api/v3", "k", gateway="scripted", transport=httpx.MockTransport(gateway), sleep=lambda _: None)
    return submit_once(client, store, key, REQUEST, settle_seconds=0)


def test_create_once_then_resume(tmp_path: Path) -> None:
    gateway, store = ScriptedGateway(["ok"]), FileIntentStore(tmp_path)
    first = run(gateway, store)
    second = run(gateway, store)
    assert (first.task_id, first.resumed, second.task_id, second.resumed) == ("cgt-1", False, "cgt-1", True)
    assert gateway.create_calls == 1


def test_unknown_outcome_that_made_a_task_is_adopted(tmp_path: Path) -> None:
    gateway, store = ScriptedGateway(["made-then-500"]), FileIntentStore(tmp_path)
    result = run(gateway, store)
    assert (result.task_id, gateway.create_calls) == ("cgt-1", 1)
    assert store.get("key1").state is IntentState.SUBMITTED  # type: ignore[union-attr]


def test_unknown_outcome_that_made_nothing_creates_again_once(tmp_path: Path) -> None:
    gateway, store = ScriptedGateway(["lost-then-500", "ok"]), FileIntentStore(tmp_path)
    assert run(gateway, store).task_id == "cgt-2"
    assert gateway.create_calls == 2 and len(gateway.tasks) == 1


def test_a_crash_mid_create_is_reconciled_before_creating(tmp_path: Path) -> None:
    gateway, store = ScriptedGateway([]), FileIntentStore(tmp_path)
    gateway.tasks.append(gateway.task("cgt-made-before-crash"))
    now = time.time()
    store.put(
        Intent(key="key1", gateway="scripted", model=REQUEST.model, state=IntentState.SUBMITTING, created_at=now, updated_at=now)
    )
    assert run(gateway, store).task_id == "cgt-made-before-crash"
    assert gateway.create_calls == 0


def test_ambiguity_stops_and_names_the_intent(tmp_path: Path) -> None:
    gateway, store = ScriptedGateway([]), FileIntentStore(tmp_path)
    gateway.tasks += [gateway.task("cgt-a"), gateway.task("cgt-b")]
    now = time.time()
    store.put(
        Intent(key="key1", gateway="scripted", model=REQUEST.model, state=IntentState.UNKNOWN, created_at=now, updated_at=now)
    )
    with pytest.raises(CreateOutcomeUnknownError, match="intent key1: cannot tell which task .*cgt-a, cgt-b"):
        run(gateway, store)
    assert gateway.create_calls == 0


def test_tasks_claimed_by_other_intents_or_with_other_settings_are_not_adopted(tmp_path: Path) -> None:
    gateway, store = ScriptedGateway(["lost-then-500", "ok"]), FileIntentStore(tmp_path)
    gateway.tasks.append(gateway.task("cgt-other-resolution", resolution="720p"))
    gateway.tasks.append(gateway.task("cgt-claimed"))
    now = time.time()
    store.put(
        Intent(
            key="other",
            gateway="scripted",
            model=REQUEST.model,
            state=IntentState.SUBMITTED,
            task_id="cgt-claimed",
            created_at=now,
            updated_at=now,
        )
    )
    assert run(gateway, store).task_id == "cgt-2"


def test_a_refused_create_drops_the_intent(tmp_path: Path) -> None:
    gateway, store = ScriptedGateway(["refused"]), FileIntentStore(tmp_path)
    with pytest.raises(BadRequestError):
        run(gateway, store)
    assert store.get("key1") is None
    assert json.loads(json.dumps(gateway.tasks)) == []


class AcceptsWithoutId(ScriptedGateway):
    """kkiai documents `{}` as its create answer: the task exists, its id is only in the list."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.create_calls += 1
            if self.creates.pop(0) == "listed":
                self.tasks.append(self.task("cgt-listed"))
            return httpx.Response(200, json={})
        return super().__call__(request)


def test_an_accepted_create_without_id_is_found_in_the_list(tmp_path: Path) -> None:
    gateway, store = AcceptsWithoutId(["listed"]), FileIntentStore(tmp_path)
    assert run(gateway, store).task_id == "cgt-listed"
    assert gateway.create_calls == 1


def test_an_accepted_create_that_is_not_listed_is_never_repeated(tmp_path: Path) -> None:
    gateway, store = AcceptsWithoutId(["unlisted"]), FileIntentStore(tmp_path)
    with pytest.raises(CreateOutcomeUnknownError, match="accepted the create but lists no matching task"):
        run(gateway, store)
    assert gateway.create_calls == 1
