"""Real parts for end-to-end tests: a temporary Prefect API, moto's S3 server and the local gateway
as processes on 127.0.0.1, and saved blocks pointing at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness

from cli.demo import save_local_blocks
from local_gateway.devstack import DevStack

API_KEY = "e2e-gateway-key-5f2c9a"


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect API for the session (starting one costs ~10 s)."""
    with prefect_test_harness(server_startup_timeout=90):
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield


@pytest.fixture(scope="session")
def prefect_api_url(prefect_api: None) -> str:
    """The session Prefect API's URL, for subprocesses (`PREFECT_API_URL`)."""
    return str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with DevStack(api_key=API_KEY, latency=0.3, log_dir=tmp_path_factory.mktemp("stack-logs")) as running:
        yield running


@pytest.fixture(scope="module")
def queue_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """A stack of the module's own whose tasks stay queued for two minutes: time to cancel them, or to
    interrupt a command while they wait."""
    with DevStack(
        api_key="queue-key", latency=130, gateway_args=("--queue-seconds", "120"), log_dir=tmp_path_factory.mktemp("queue")
    ) as stack:
        yield stack


@pytest.fixture(scope="session")
def local_blocks(prefect_api: None, stack: DevStack) -> DevStack:
    save_local_blocks(stack)
    return stack


@pytest.fixture(autouse=True)
def fast_pipeline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Near-zero poll intervals, and intent records private to the test."""
    state = tmp_path / "state"
    monkeypatch.setenv("SEEDANCE_STATE_DIR", str(state))
    monkeypatch.setenv("SEEDANCE_POLL_INITIAL_SECONDS", "0.05")
    monkeypatch.setenv("SEEDANCE_POLL_MAX_SECONDS", "0.3")
    return state
