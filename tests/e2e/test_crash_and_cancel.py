"""A run killed mid-wait resumes its task; a cancelled run cancels its queued task upstream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelling

from local_gateway.devstack import DevStack
from seedance.media import probe
from tests.e2e.production import wait_until
from tests.e2e.support import gateway_stats, prefect_env

pytestmark = pytest.mark.e2e

SEEDANCE = str(Path(sys.executable).with_name("seedance"))
ROOT = Path(__file__).resolve().parents[2]
SPEC = """
model: doubao-seedance-1-0-lite-t2v-250428
prompt: a lighthouse in fog
resolution: 480p
duration: 2
"""


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """Tasks stay queued 3 s and finish after 8 s: time to kill a run mid-wait."""
    with DevStack(
        api_key="slow-key", latency=8, gateway_args=("--queue-seconds", "3"), log_dir=tmp_path_factory.mktemp("slow")
    ) as stack:
        yield stack


def cli_env(stack: DevStack, tmp_path: Path, api_url: str) -> dict[str, str]:
    return prefect_env(tmp_path, api_url) | {
        "ARK_BASE_URL": stack.gateway_url,
        "ARK_API_KEY": stack.api_key,
        "SEEDANCE_STATE_DIR": str(tmp_path / "state"),
        "SEEDANCE_POLL_INITIAL_SECONDS": "0.2",
        "SEEDANCE_POLL_MAX_SECONDS": "0.5",
    }


def tasks_on(stack: DevStack) -> list[dict]:
    response = httpx.get(
        f"{stack.gateway_url}/contents/generations/tasks",
        params={"page_size": 100},
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=5,
    )
    return response.json()["items"]


def test_a_run_killed_while_waiting_resumes_the_same_task(slow_stack: DevStack, prefect_api_url: str, tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    command = [SEEDANCE, "generate", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out")]
    env = cli_env(slow_stack, tmp_path, prefect_api_url)
    creates_before = gateway_stats(slow_stack)["requests"]["create"]
    # its own session, so SIGKILL takes whatever it started with it
    run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: gateway_stats(slow_stack)["requests"]["create"] > creates_before, 120, "the create", interval=0.2)
        time.sleep(0.5)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    created = [task for task in tasks_on(slow_stack) if task["status"] in ("queued", "running")]
    assert len(created) == 1

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    video = Path(again.stdout.strip().splitlines()[-1])
    assert probe(video).width == 864
    assert gateway_stats(slow_stack)["requests"]["create"] - creates_before == 1
    assert video.parent == (tmp_path / "out" / "spec" / created[0]["id"]).resolve()  # <out>/<name>/<task id>/
    assert created[0]["id"] in (video.parent / "result.json").read_text()


def test_cancelling_the_flow_run_cancels_its_queued_task(prefect_api: None, queue_stack: DevStack, tmp_path: Path) -> None:
    """A deployment served by a real runner; cancelling its run kills the run and the hook cancels upstream."""
    env = cli_env(queue_stack, tmp_path, str(PREFECT_API_URL.value())) | {"PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    serve = "from flows.generate import generate_video; generate_video.serve(name='cancel-test')"
    with (tmp_path / "runner.log").open("w") as log:
        runner = subprocess.Popen(
            [sys.executable, "-c", serve], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            spec = {
                "model": "doubao-seedance-1-0-lite-t2v-250428",
                "prompt": "a queue that never moves",
                "resolution": "480p",
                "duration": 2,
            }
            wait_until(lambda: _deployment_exists("generate-video/cancel-test"), 90, "the served deployment", interval=0.2)
            flow_run = run_deployment(
                "generate-video/cancel-test", parameters={"spec": spec, "out_dir": str(tmp_path / "out")}, timeout=0
            )
            assert isinstance(flow_run, FlowRun)  # sync context: run_deployment returns the run, not a coroutine
            wait_until(
                lambda: any(task["status"] == "queued" for task in tasks_on(queue_stack)),
                120,
                "the task to be queued",
                interval=0.2,
            )
            [task] = tasks_on(queue_stack)
            with get_client(sync_client=True) as client:
                client.set_flow_run_state(flow_run.id, Cancelling(), force=True)
            wait_until(lambda: tasks_on(queue_stack)[0]["status"] == "cancelled", 90, "the upstream cancel", interval=0.2)
            assert tasks_on(queue_stack)[0]["id"] == task["id"]
        finally:
            os.killpg(runner.pid, signal.SIGTERM)
            try:
                runner.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(runner.pid, signal.SIGKILL)
                runner.wait()


def _deployment_exists(name: str) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(name)
        except ObjectNotFound:
            return False
    return True
