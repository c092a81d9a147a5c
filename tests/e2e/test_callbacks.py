"""Callbacks end to end, against `prefect server start`: the gateway posts each status change to
`seedance callbacks serve`, which emits a Prefect event that wakes the waiting flow run.

Tasks take 20 s and the flow polls every 30 s, so a run that finishes within a second of its task
can only have been woken by the callback; with the receiver down it still finishes, by polling.
"""

from __future__ import annotations

import logging
import secrets
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL
from pydantic import SecretStr

from blocks.gateway import SeedanceGateway
from flows.generate import generate_video
from local_gateway.devstack import free_port
from seedance.callbacks import SECRET_ENV, CallbackSigner
from seedance.results import GenerationResult
from seedance.spec import GenerationSpec
from tests.conftest import GatewayFactory, GatewayProcess
from tests.e2e.production import ROOT, base_env, wait_until
from tests.e2e.test_secrets import everything_visible

pytestmark = pytest.mark.e2e
logger = logging.getLogger(__name__)

SECRET = f"cb-{secrets.token_urlsafe(24)}"
"""Unguessable, so that finding it anywhere can only be a leak."""
GATEWAY_BLOCK = "callbacks-gateway"
LATENCY = 20.0
POLL_SECONDS = "30"


@dataclass
class Receiver:
    url: str
    process: subprocess.Popen[str]
    log_path: Path


@dataclass(frozen=True)
class SessionApi:
    """The session's Prefect API, as the receiver process and the checks reach it."""

    api_url: str

    def env(self, home: Path) -> dict[str, str]:
        return {**base_env(home), "PREFECT_API_URL": self.api_url}


@pytest.fixture(scope="module")
def prefect_server(prefect_api: None) -> SessionApi:
    """The session's Prefect API: a real server process whose events reach subscribers live. One API
    per test process: the flows' event and log workers must never point at a server that is gone."""
    return SessionApi(str(PREFECT_API_URL.value()))


@pytest.fixture(scope="module")
def slow_gateway(gateway_factory: GatewayFactory, prefect_server: SessionApi) -> GatewayProcess:
    """Tasks queued 10 s, running 10 s; saved as a block on the module's server."""
    gateway = gateway_factory(latency=LATENCY)
    SeedanceGateway(base_url=gateway.base_url, api_key=SecretStr(gateway.api_key)).save(GATEWAY_BLOCK, overwrite=True)
    return gateway


@pytest.fixture(scope="module")
def receiver(prefect_server: SessionApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    """`seedance callbacks serve --port 0` as a process, emitting to the module's server."""
    root = tmp_path_factory.mktemp("receiver")
    log_path = root / "receiver.log"
    env = {**prefect_server.env(root / "home"), SECRET_ENV: SECRET}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "callbacks", "serve", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 90)
    line = process.stdout.readline() if ready else ""
    prefix = "Seedance callback receiver listening on "
    if not line.startswith(prefix):
        process.kill()
        process.wait()
        raise RuntimeError(f"the receiver did not start: {line!r}; log:\n{log_path.read_text()}")
    try:
        yield Receiver(line.removeprefix(prefix).strip(), process, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        process.stdout.close()


@pytest.fixture
def slow_polls(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Poll every 30 s, sign callbacks with the module's secret; call it with the receiver's address."""
    monkeypatch.setenv("SEEDANCE_POLL_INITIAL_SECONDS", POLL_SECONDS)
    monkeypatch.setenv("SEEDANCE_POLL_MAX_SECONDS", POLL_SECONDS)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return lambda url: monkeypatch.setenv("SEEDANCE_CALLBACK_URL", url)


@dataclass
class Timed:
    result: GenerationResult
    flow_run_id: str
    succeeded_at: float
    """When the gateway marked the task succeeded (unix seconds, to the microsecond)."""
    wait_started: float
    wait_ended: float


def generate_and_time(gateway: GatewayProcess, prompt: str, out_dir: Path) -> Timed:
    spec = GenerationSpec(model="doubao-seedance-1-0-lite-t2v-250428", prompt=prompt, resolution="480p", duration=2)
    state = generate_video(spec=spec, out_dir=str(out_dir), gateway=GATEWAY_BLOCK, return_state=True)
    result: GenerationResult = state.result()
    flow_run_id = str(state.state_details.flow_run_id)
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    [wait] = [run for run in runs if run.name.startswith("wait-for-generation")]
    assert isinstance(wait.start_time, datetime) and isinstance(wait.end_time, datetime)
    tasks = httpx.get(f"{gateway.origin}/_local/tasks", timeout=5).json()["tasks"]
    succeeded_at = next(task["updated_at"] for task in tasks if task["id"] == result.task_id)
    return Timed(result, flow_run_id, succeeded_at, wait.start_time.timestamp(), wait.end_time.timestamp())


def events_about(server: SessionApi, task_id: str) -> list[dict[str, Any]]:
    """The receiver's status events about a task (the pipeline's own `seedance.generation.*` events
    are about the same resource and are left out)."""
    body = {"filter": {"resource": {"id": [f"seedance.task.{task_id}"]}, "event": {"prefix": ["seedance.task.status"]}}}
    response = httpx.post(f"{server.api_url}/events/filter", json=body, timeout=10)
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def test_a_callback_finishes_the_wait_within_a_second_of_the_task(
    prefect_server: SessionApi,
    slow_gateway: GatewayProcess,
    receiver: Receiver,
    slow_polls: Callable[[str], None],
    tmp_path: Path,
) -> None:
    slow_polls(receiver.url)
    timed = generate_and_time(slow_gateway, "a lantern wakes the harbour", tmp_path)

    assert timed.result.video.size_bytes > 0
    assert timed.wait_started < timed.succeeded_at - LATENCY / 2  # the wait really had a long way to go
    lag = timed.wait_ended - timed.succeeded_at
    logger.info("task succeeded -> wait finished: %.3f s", lag)
    assert 0 < lag <= 1.0
    wait_until(lambda: len(events_about(prefect_server, timed.result.task_id)) == 3, 30, "the task's three events")
    statuses = [event["payload"]["status"] for event in events_about(prefect_server, timed.result.task_id)]
    assert sorted(statuses) == ["queued", "running", "succeeded"]

    token = CallbackSigner(SecretStr(SECRET)).url(receiver.url, timed.result.intent_key).rsplit("/", 1)[1]
    visible = everything_visible([timed.flow_run_id]) + str(events_about(prefect_server, timed.result.task_id))
    visible += receiver.log_path.read_text() + slow_gateway.log_path.read_text()
    assert SECRET not in visible and token not in visible


def test_a_callback_without_the_right_token_is_refused_and_makes_no_event(prefect_server: SessionApi, receiver: Receiver) -> None:
    signer = CallbackSigner(SecretStr(SECRET))
    key = secrets.token_hex(16)
    forged_id, genuine_id = f"cgt-forged-{key[:8]}", f"cgt-genuine-{key[:8]}"
    forged = {"id": forged_id, "model": "m", "status": "succeeded", "created_at": 1, "updated_at": 2}
    genuine = forged | {"id": genuine_id}
    wrong_secret = CallbackSigner(SecretStr("a-guess")).url(receiver.url, key)
    for url in (wrong_secret, f"{receiver.url}/callbacks/{key}", f"{receiver.url}/callbacks/{key}/{'0' * 64}"):
        assert httpx.post(url, json=forged, timeout=5).status_code == 403
    assert httpx.post(signer.url(receiver.url, key), json=genuine, timeout=5).status_code == 202

    wait_until(lambda: bool(events_about(prefect_server, genuine_id)), 30, "the genuine callback's event")
    assert events_about(prefect_server, forged_id) == []  # sent before the genuine one, never emitted
    log = receiver.log_path.read_text()
    assert log.count(f"refused a callback from 127.0.0.1: no valid token for intent {key}") == 3
    assert wrong_secret.rsplit("/", 1)[1] not in log


def test_with_the_receiver_down_the_run_finishes_by_polling(
    prefect_server: SessionApi, slow_gateway: GatewayProcess, slow_polls: Callable[[str], None], tmp_path: Path
) -> None:
    slow_polls(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    timed = generate_and_time(slow_gateway, "a lantern nobody calls back about", tmp_path)

    assert timed.result.video.size_bytes > 0
    lag = timed.wait_ended - timed.succeeded_at
    logger.info("task succeeded -> wait finished, by polling: %.3f s", lag)
    assert 1.0 < lag <= float(POLL_SECONDS)  # seen by the next poll
    assert events_about(prefect_server, timed.result.task_id) == []
    assert f"callback: task {timed.result.task_id} queued not acknowledged" in slow_gateway.log_path.read_text()
