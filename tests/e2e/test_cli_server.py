"""The local Prefect server every `seedance` command shares when `PREFECT_API_URL` is not set."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from cli.server import ServerState
from local_gateway.devstack import DevStack
from seedance.media import probe
from tests.e2e.production import wait_until
from tests.e2e.support import prefect_env, seedance, stack_env

pytestmark = pytest.mark.e2e

RUNS = 8
AT_A_TIME = 4


@pytest.fixture
def home_env(stack: DevStack, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Prefect home of its own, no `PREFECT_API_URL` and no telemetry settings (the CLI sets its own); its
    shared server is stopped at the end, whatever happens."""
    env = prefect_env(tmp_path) | stack_env(stack) | {"SEEDANCE_POLL_INITIAL_SECONDS": "0.1", "SEEDANCE_POLL_MAX_SECONDS": "0.5"}
    for telemetry in ("PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK"):
        env.pop(telemetry)
    yield env
    seedance("server", "stop", env=env, timeout=60)
    state_file = tmp_path / "prefect-home" / "seedance-server.json"
    if state_file.exists():  # the stop command failed: end the server this test started, by its pid
        os.kill(ServerState.model_validate_json(state_file.read_text()).pid, signal.SIGKILL)


def test_concurrent_commands_start_one_server_and_all_finish_then_it_stops(home_env: dict[str, str], tmp_path: Path) -> None:
    assert seedance("server", "status", env=home_env).stdout.startswith("no shared server running")
    home_env["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL"] = "2"  # a setting of the user's: kept

    def generate(number: int) -> tuple[int, str, str]:
        spec = tmp_path / f"spec-{number}.yaml"
        spec.write_text(
            f"model: doubao-seedance-1-0-lite-t2v-250428\nprompt: lighthouse number {number}\nresolution: 480p\nduration: 2\n"
        )
        done = seedance("generate", str(spec), "--out", str(tmp_path / f"out-{number}"), env=home_env, timeout=600)
        return done.returncode, done.stdout, done.stderr

    with ThreadPoolExecutor(AT_A_TIME) as pool:
        runs = list(pool.map(generate, range(RUNS)))
    assert [code for code, _, _ in runs] == [0] * RUNS, [stderr[-1500:] for code, _, stderr in runs if code]
    assert all(probe(Path(stdout.strip().splitlines()[-1])).width == 864 for _, stdout, _ in runs)
    assert not any("Traceback" in stderr for _, _, stderr in runs)
    assert sum("starting a local Prefect server for seedance's commands" in stderr for _, _, stderr in runs) == 1

    status = json.loads(seedance("server", "status", "--json", env=home_env).stdout)
    server = status["shared_server"]
    assert status["api_url"] == server["url"] and not status["configured"]
    assert server["url"].startswith("http://127.0.0.1:") and Path(server["log"]).is_file()
    environment = Path(f"/proc/{server['pid']}/environ").read_bytes().split(b"\0")
    assert {b"PREFECT_SERVER_ANALYTICS_ENABLED=false", b"DO_NOT_TRACK=1"} <= set(environment)
    assert not any(variable.startswith((b"ARK_", b"AWS_")) for variable in environment)  # the command's credentials stay its own
    recorder = {
        b"PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE=20",
        b"PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL=2",
    }
    assert recorder <= set(environment)
    # recorded in batches, every generation's task runs are there (each has a submit-generation task run)
    body = {"task_runs": {"name": {"like_": "submit-generation"}}}
    wait_until(lambda: httpx.post(f"{server['url']}/task_runs/count", json=body).json() == RUNS, 10, "the task runs")
    assert not any("telemetry" in stderr.lower() for _, _, stderr in runs)

    stopped = seedance("server", "stop", env=home_env, timeout=60)
    assert stopped.stdout.splitlines()[-1] == f"stopped the shared server (pid {server['pid']})"
    with pytest.raises(ProcessLookupError):
        os.kill(server["pid"], 0)
    assert seedance("server", "status", env=home_env).stdout.startswith("no shared server running")


def test_a_configured_api_is_used_and_no_server_is_started(home_env: dict[str, str], prefect_api_url: str) -> None:
    env = home_env | {"PREFECT_API_URL": prefect_api_url}
    done = seedance("server", "status", env=env)
    assert done.stdout.splitlines()[0] == f"PREFECT_API_URL is set: commands use {prefect_api_url}, not a shared server"
    assert not (Path(env["PREFECT_HOME"]) / "seedance-server.json").exists()
