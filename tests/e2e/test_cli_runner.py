"""The command runner (`cli.runner`): beside the shared server, commands run in a fork of a process
that has Prefect imported, and behave as they do in their own process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.runner import RunnerFiles
from local_gateway.devstack import DevStack
from seedance.media import probe
from seedance.state import intent_store
from tests.e2e.production import wait_until
from tests.e2e.support import generating, prefect_env, seedance, stack_env

pytestmark = pytest.mark.e2e

SPEC = "model: doubao-seedance-1-0-lite-t2v-250428\nprompt: a lighthouse through the runner\nresolution: 480p\nduration: 2\n"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Prefect home whose shared server and command runner run for the module, stopped at its end."""
    home = tmp_path_factory.mktemp("runner") / "prefect-home"
    yield home
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    seedance("server", "stop", env=env, timeout=60)
    for record in (home / "seedance-server.json", RunnerFiles(home).record):
        if record.exists():  # the stop failed: end what this module started, by pid
            os.kill(json.loads(record.read_text())["pid"], signal.SIGKILL)


def env_for(home: Path, stack: DevStack, tmp_path: Path) -> dict[str, str]:
    return prefect_env(tmp_path) | stack_env(stack) | {"PREFECT_HOME": str(home), "SEEDANCE_POLL_INITIAL_SECONDS": "0.1"}


def runner_pid(env: dict[str, str]) -> int:
    """Start the shared server and the runner when they are not running; the runner's pid once it answers."""
    started = seedance("server", "start", env=env, timeout=240)
    assert started.returncode == 0, started.stderr[-2000:]

    def answering() -> int | None:
        runner = json.loads(seedance("server", "status", "--json", env=env).stdout)["command_runner"]
        return runner["pid"] if runner else None

    wait_until(lambda: answering() is not None, 90, "the command runner")
    pid = answering()
    assert pid is not None
    return pid


def served(home: Path) -> list[tuple[int, str]]:
    """The commands the runner's log says it forked: (child pid, command)."""
    return [
        (int(match.group(1)), match.group(2))
        for line in RunnerFiles(home).log.read_text().splitlines()
        if (match := re.search(r" (\d+): seedance (\w*)$", line))
    ]


def gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie not yet reaped has)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_command_through_the_runner_behaves_as_in_its_own_process(home: Path, stack: DevStack, tmp_path: Path) -> None:
    env = env_for(home, stack, tmp_path)
    runner = runner_pid(env)
    environment = Path(f"/proc/{runner}/environ").read_bytes()
    assert stack.api_key.encode() not in environment and b"ARK_API_KEY" not in environment  # no secret stays in it

    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "spec.yaml").write_text(SPEC)
    before = len(served(home))
    command = [sys.executable, "-m", "cli", "generate", "spec.yaml", "--out", "out", "--json"]
    done = subprocess.run(  # with its own umask, which its folders keep, not the runner's
        command, cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False, umask=0o077
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (work / "out").stat().st_mode & 0o777 == 0o700
    assert [name for _, name in served(home)[before:]] == ["generate"]
    result = json.loads(done.stdout)  # relative paths are the command's, from its own folder
    assert Path(result["locations"]["video"]).is_relative_to(work / "out")
    assert probe(Path(result["locations"]["video"])).width == 864

    (work / "bad.yaml").write_text(SPEC.replace("480p", "4k").replace("duration: 2", "duration: 99"))
    bad = [sys.executable, "-m", "cli", "generate", "bad.yaml", "--out", "out"]
    through = subprocess.run(bad, cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False)
    alone = subprocess.run(
        bad, cwd=work, env=env | {"SEEDANCE_CLI_RUNNER": "off"}, capture_output=True, text=True, timeout=120, check=False
    )
    assert [name for _, name in served(home)[before:]] == ["generate", "generate"]
    assert (through.returncode, through.stdout, through.stderr) == (alone.returncode, alone.stdout, alone.stderr)
    assert through.returncode == 2 and through.stderr.count("\n") >= 3 and "Traceback" not in through.stderr


def test_ctrl_c_reaches_the_command_and_cancels_its_queued_task(home: Path, queue_stack: DevStack, tmp_path: Path) -> None:
    env = env_for(home, queue_stack, tmp_path)
    runner_pid(env)
    (tmp_path / "spec.yaml").write_text(SPEC)
    with generating(tmp_path / "spec.yaml", env) as run:
        [task_id] = [intent.task_id for intent in intent_store().all() if intent.task_id]
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130
    assert stderr.strip().splitlines()[-1] == f"interrupted: cancelled queued task {task_id} upstream; it will not be billed"
    assert served(home)[-1][1] == "generate"


def test_a_command_killed_outright_takes_its_child_with_it(home: Path, queue_stack: DevStack, tmp_path: Path) -> None:
    env = env_for(home, queue_stack, tmp_path)
    runner_pid(env)
    (tmp_path / "spec.yaml").write_text(SPEC.replace("lighthouse", "killed lighthouse"))
    before = len(served(home))
    with generating(tmp_path / "spec.yaml", env) as run:
        [(child, name)] = served(home)[before:]
        assert name == "generate"
        run.kill()
        run.communicate()
    wait_until(lambda: gone(child), 10, "the child's end", interval=0.1)


def test_stop_ends_the_runner_and_commands_run_in_their_own_process_after(home: Path, stack: DevStack, tmp_path: Path) -> None:
    env = env_for(home, stack, tmp_path)
    runner = runner_pid(env)
    stopped = seedance("server", "stop", env=env, timeout=60)
    assert stopped.stdout.splitlines()[0] == (f"stopping the command runner (pid {runner}) once the commands it runs have ended")
    wait_until(lambda: gone(runner), 30, "the runner's end", interval=0.1)
    assert not RunnerFiles(home).socket.exists()
    before = len(served(home))
    listed = seedance("models", "--json", env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout)
    assert len(served(home)) == before


def state_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_signals_reach_the_child_as_a_shell_would_deliver_them(home: Path, queue_stack: DevStack, tmp_path: Path) -> None:
    """Started under `nohup` (SIGHUP ignored), a command survives a hangup; Ctrl-Z stops its child
    until SIGCONT; Ctrl-C then ends it."""
    env = env_for(home, queue_stack, tmp_path)
    runner_pid(env)
    (tmp_path / "spec.yaml").write_text(SPEC.replace("lighthouse", "suspended lighthouse"))
    before = len(served(home))
    # nohup ignores SIGHUP; a group of its own in this session, as a shell's job control gives a
    # command (in an orphaned group the kernel would discard the stop, for both processes)
    as_a_job = {"preexec_fn": lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN), "process_group": 0}
    with generating(tmp_path / "spec.yaml", env, **as_a_job) as run:
        [(child, _)] = served(home)[before:]
        run.send_signal(signal.SIGHUP)
        run.send_signal(signal.SIGTSTP)
        wait_until(lambda: state_of(child) == state_of(run.pid) == "T", 10, "the command and its child stopped", interval=0.1)
        run.send_signal(signal.SIGCONT)
        wait_until(lambda: state_of(child) != "T", 10, "the child going on", interval=0.1)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr[-2000:]
    assert stderr.strip().splitlines()[-1].startswith("interrupted: cancelled queued task")


def test_a_server_stopped_under_a_command_ends_it_in_seconds_with_the_command_that_resumes_it(
    home: Path, queue_stack: DevStack, tmp_path: Path
) -> None:
    """Prefect's client would retry for minutes and end in tracebacks (209 s and 398 lines, measured)."""
    env = env_for(home, queue_stack, tmp_path)
    runner_pid(env)
    api_url = json.loads(seedance("server", "status", "--json", env=env).stdout)["api_url"]
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("lighthouse", "orphaned lighthouse"))
    with generating(spec, env) as run:
        [task_id] = [intent.task_id for intent in intent_store().all() if intent.task_id]
        assert seedance("server", "stop", env=env, timeout=60).returncode == 0
        _, stderr = run.communicate(timeout=60)
    resume = f"seedance generate {spec} --out {tmp_path / 'out'}"
    assert run.returncode == 1
    assert stderr.strip().splitlines()[-3:] == [
        f"error: the Prefect server at {api_url} stopped accepting connections while the run went on",
        f"task {task_id} (spec) goes on upstream: it is billed when it runs",
        f"hint: start it again (`seedance server start`), then run `{resume}`: it resumes the run's tasks instead of paying again",
    ]
    assert "Traceback" not in stderr
    dry = seedance(*resume.split()[1:], "--dry-run", env=env)
    assert f"resumes task {task_id}" in dry.stdout, dry.stdout
