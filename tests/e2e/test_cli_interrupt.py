"""Ctrl-C (and SIGTERM, SIGHUP) and `seedance cancel`: a queued task is cancelled upstream; a running one is
named, billed, collectable."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from pydantic import SecretStr

from blocks.gateway import SeedanceGateway
from local_gateway.devstack import DevStack
from seedance.ark.client import ArkClient
from seedance.ark.types import CreateTaskRequest, TextContent
from seedance.state import intent_store
from tests.conftest import GatewayFactory
from tests.e2e.production import wait_until
from tests.e2e.support import ROOT, gateway_stats, generating, prefect_env, seedance, stack_env

pytestmark = pytest.mark.e2e

MODEL = "doubao-seedance-1-0-lite-t2v-250428"
SPEC = f"model: {MODEL}\nprompt: a lighthouse in fog\nresolution: 480p\nduration: 2\n"


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """Tasks are queued for half a second, then run for twelve."""
    with DevStack(
        api_key="running-key", latency=12, gateway_args=("--queue-seconds", "0.5"), log_dir=tmp_path_factory.mktemp("running")
    ) as stack:
        yield stack


def status_of(stack: DevStack, task_id: str) -> str:
    with ArkClient(stack.gateway_url, stack.api_key) as client:
        return client.get_task(task_id).status.value


def interrupted_generate(
    stack: DevStack, env: dict[str, str], spec: Path, until: Callable[[str], bool], signum: signal.Signals = signal.SIGINT
) -> tuple[str, str, int]:
    """Start `seedance generate SPEC`, send it `signum` once its task's status satisfies `until`;
    return the task id, its stderr and its exit code."""
    with generating(spec, env) as run:
        [task_id] = created()
        wait_until(lambda: until(status_of(stack, task_id)), 60, "the task's status", interval=0.1)
        run.send_signal(signum)
        _, stderr = run.communicate(timeout=60)
    return task_id, stderr, run.returncode


def cli_env(stack: DevStack, prefect_api_url: str, tmp_path: Path) -> dict[str, str]:
    return prefect_env(tmp_path, prefect_api_url) | stack_env(stack) | {"SEEDANCE_POLL_INITIAL_SECONDS": "0.2"}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda signum: signum.name)
def test_ctrl_c_while_queued_cancels_the_task_upstream_and_a_rerun_starts_afresh(
    signum: signal.Signals, queue_stack: DevStack, prefect_api_url: str, tmp_path: Path
) -> None:
    """`kill` and a closed terminal stop the command as Ctrl-C does, with the shell's 128 + N."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    env = cli_env(queue_stack, prefect_api_url, tmp_path)
    task_id, stderr, code = interrupted_generate(
        queue_stack, env, tmp_path / "spec.yaml", lambda status: status == "queued", signum
    )
    assert code == 128 + signum, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == f"interrupted: cancelled queued task {task_id} upstream; it will not be billed"
    assert "Traceback" not in stderr
    assert status_of(queue_stack, task_id) == "cancelled"
    dry = seedance("generate", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"), "--dry-run", env=env)
    assert "resumes task" not in dry.stdout and "POST " in dry.stdout  # a cancelled task is never resumed


def test_a_closed_terminal_cancels_the_queued_task(queue_stack: DevStack, prefect_api_url: str, tmp_path: Path) -> None:
    """The command draws its live table on a terminal that then goes away: the kernel sends SIGHUP and
    every later write to it fails, the live table's last one included."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    env = cli_env(queue_stack, prefect_api_url, tmp_path) | {"TERM": "xterm"}
    terminal, command_side = pty.openpty()
    run = subprocess.Popen(
        [sys.executable, "-m", "cli", "generate", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        stdin=command_side,
        stdout=command_side,
        stderr=command_side,
        start_new_session=True,  # a session of its own, whose controlling terminal this is
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(command_side)
    drawn: list[bytes] = []
    hang_up = threading.Event()

    def draw_until_hung_up() -> None:  # the terminal: it takes what the command draws, then closes
        while not hang_up.is_set():
            if select.select([terminal], [], [], 0.1)[0]:
                try:
                    drawn.append(os.read(terminal, 4096))
                except OSError:
                    break
        os.close(terminal)

    terminal_thread = threading.Thread(target=draw_until_hung_up, daemon=True)
    terminal_thread.start()
    try:
        wait_until(lambda: bool(created()), 120, "the create", interval=0.1)
        [task_id] = created()
        wait_until(lambda: b"queued" in b"".join(drawn), 30, "the live table")
    finally:
        hang_up.set()
        terminal_thread.join(10)
    assert run.wait(timeout=60) == 128 + signal.SIGHUP
    assert status_of(queue_stack, task_id) == "cancelled"


def test_ctrl_c_while_running_says_it_is_billed_and_the_command_that_collects_it(
    running_stack: DevStack, prefect_api_url: str, tmp_path: Path
) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    env = cli_env(running_stack, prefect_api_url, tmp_path)
    creates = gateway_stats(running_stack)["requests"]["create"]
    task_id, stderr, code = interrupted_generate(running_stack, env, tmp_path / "spec.yaml", lambda status: status == "running")
    assert code == 130
    running, hint = stderr.strip().splitlines()[-2:]
    assert running == (
        f"interrupted: task {task_id} is already running upstream and cannot be cancelled: it will finish and be billed"
    )
    resume = f"seedance generate {tmp_path / 'spec.yaml'} --out {tmp_path / 'out'}"
    assert hint == f"hint: collect it with `{resume}`: the same command resumes its task instead of paying again"

    collected = seedance(*resume.split()[1:], "--json", env=env)
    assert collected.returncode == 0, collected.stderr[-2000:]
    assert json.loads(collected.stdout)["task_id"] == task_id
    assert gateway_stats(running_stack)["requests"]["create"] - creates == 1


def test_a_batch_stopped_halfway_reports_what_it_made_and_what_it_did_not(
    gateway_factory: GatewayFactory, prefect_api_url: str, tmp_path: Path
) -> None:
    """One task at a time, 3 s each: Ctrl-C once a first video is made and a second task runs, the
    third item waiting for its slot. The run's report and summary show all three."""
    gateway = gateway_factory(latency=3)
    SeedanceGateway(base_url=gateway.base_url, api_key=SecretStr(gateway.api_key), max_concurrent_tasks=1).save(
        "one-by-one", overwrite=True
    )
    manifest = tmp_path / "batch.yaml"
    manifest.write_text(
        f"defaults: {{model: {MODEL}, resolution: 480p, duration: 2}}\n"
        "items:\n  - {name: stop-a, prompt: one}\n  - {name: stop-b, prompt: two}\n  - {name: stop-c, prompt: three}\n"
    )
    env = prefect_env(tmp_path, prefect_api_url) | {
        "SEEDANCE_STATE_DIR": str(tmp_path / "state"),
        "SEEDANCE_POLL_INITIAL_SECONDS": "0.2",
    }
    command = [sys.executable, "-m", "cli", "batch", str(manifest), "--out", str(tmp_path / "out"), "--gateway", "one-by-one"]
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    videos = lambda: list((tmp_path / "out").glob("*/*/*.mp4"))  # noqa: E731  (<out>/<item>/<task id>/<item>.mp4)
    try:
        wait_until(lambda: bool(videos()) or run.poll() is not None, 120, "the first video", interval=0.1)
        assert run.poll() is None, run.communicate()[1][-3000:]
        wait_until(lambda: len(created()) == 2, 30, "the second create", interval=0.05)  # its task takes 3 s
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 130, stderr[-2000:]

    [video] = videos()
    made, made_task = video.parent.parent.name, video.parent.name
    [running] = [task_id for task_id in created() if task_id != made_task]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
    [report] = [a for a in artifacts if a.key == "batch-report" and made_task in str(a.data)]
    [summary] = [a for a in artifacts if a.key == "batch-summary" and a.flow_run_id == report.flow_run_id]
    assert report.description == "1 of 3 videos"
    rows = [line for line in str(report.data).splitlines() if "| stop-" in line]
    assert len(rows) == 3
    assert (
        sum(f"![poster of {made_task}](data:image/jpeg;base64," in row and f"| {made} | succeeded |" in row for row in rows) == 1
    )
    assert sum(row.endswith(f"| not finished: the run stopped (task {running}) | | | | |") for row in rows) == 1
    assert sum(row.endswith("| not finished: the run stopped | | | | |") for row in rows) == 1
    statuses = sorted((row["task id"], row["status"]) for row in json.loads(str(summary.data)))
    stopped = "not finished: the run stopped"
    assert statuses == sorted([(made_task, "succeeded"), (running, stopped), ("—", stopped)])


def created() -> list[str]:
    """The task ids of the intent store's generations (the test's `SEEDANCE_STATE_DIR`)."""
    return [intent.task_id for intent in intent_store().all() if intent.task_id]


def create_task(stack: DevStack) -> str:
    with ArkClient(stack.gateway_url, stack.api_key) as client:
        created = client.create_task(CreateTaskRequest(model=MODEL, content=[TextContent(text="a queue")], duration=2))
    assert created.id is not None
    return created.id


def test_cancel_cancels_a_queued_task_once_and_for_all(queue_stack: DevStack, tmp_path: Path) -> None:
    env = prefect_env(tmp_path) | stack_env(queue_stack)
    task_id = create_task(queue_stack)
    done = seedance("cancel", task_id, env=env)
    assert (done.returncode, done.stdout.strip()) == (0, f"cancelled task {task_id}: it was queued and will not be billed")
    assert status_of(queue_stack, task_id) == "cancelled"
    again = seedance("cancel", task_id, "--json", env=env)
    assert again.returncode == 0 and json.loads(again.stdout) == {"task_id": task_id, "outcome": "cancelled"}

    missing = seedance("cancel", "cgt-20260101000000-nosuch", env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: the gateway knows no task cgt-20260101000000-nosuch"


@pytest.mark.parametrize(
    ("stack_fixture", "status", "lines"),
    [
        (
            "running_stack",
            "running",
            [
                "error: task {task_id} is already running upstream: Ark cannot cancel it; it will finish and be billed",
                "hint: collect it by running the command that started it again: it resumes the task",
            ],
        ),
        (
            "stack",
            "succeeded",
            [
                "error: task {task_id} has already ended upstream; nothing to cancel",
                "hint: `seedance status {task_id}` shows how it ended",
            ],
        ),
    ],
)
def test_cancel_of_a_task_no_longer_queued_says_why_not_and_what_to_do(
    stack_fixture: str, status: str, lines: list[str], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    stack: DevStack = request.getfixturevalue(stack_fixture)
    env = prefect_env(tmp_path) | stack_env(stack)
    task_id = create_task(stack)
    wait_until(lambda: status_of(stack, task_id) == status, 60, f"the task to be {status}", interval=0.1)
    done = seedance("cancel", task_id, env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [line.format(task_id=task_id) for line in lines]
    assert status_of(stack, task_id) == status  # a running task is left running


def test_status_of_an_unknown_task_is_one_line(queue_stack: DevStack, tmp_path: Path) -> None:
    done = seedance("status", "cgt-20260101000000-nosuch", env=prefect_env(tmp_path) | stack_env(queue_stack))
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: [{queue_stack.gateway_url.split('/')[2]}] HTTP 404")
