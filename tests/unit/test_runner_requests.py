"""The command runner's request and its refusals (`cli.runner`); the forking itself is tested end
to end in tests/e2e/test_cli_runner.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from cli import runner
from cli.runner import Request, Runner, RunnerFiles


def a_request(**changes: object) -> Request:
    request = Request(
        argv=["seedance", "generate", "spec.yaml", "--out", "out"],
        cwd="/somewhere",
        env={"ARK_API_KEY": "k" * 32, "PREFECT_HOME": "/home"},
        path=list(sys.path),
        python=runner.python_identity(),
        interpreter=runner.interpreter_options(),
        encoding=sys.stdout.encoding,
        buffering=[[False, False], [True, False]],
        ignored=[],
        process=runner.ProcessSettings.current(),
    )
    return replace(request, **changes)  # type: ignore[arg-type]


def test_a_request_arrives_whole_with_the_three_standard_descriptors() -> None:
    request = a_request(env={f"VARIABLE_{n}": "v" * 100 for n in range(2000)})  # beyond one read of the socket
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    message = request.encode()

    def send() -> None:  # as cli.launch does, from another thread: the message is larger than the socket's buffer
        sent = socket.send_fds(ours, [message], [null.fileno()] * 3)
        ours.sendall(message[sent:])

    with ours, theirs, open(os.devnull) as null, ThreadPoolExecutor(1) as pool:
        sending = pool.submit(send)
        received, fds = runner._receive(theirs)
        sending.result()
        for fd in fds:
            os.close(fd)
    assert received == request
    assert len(fds) == 3


def test_a_connection_that_sends_nothing_is_dropped_quietly() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.close()
    with theirs, pytest.raises(ConnectionAbortedError):
        runner._receive(theirs)


@pytest.fixture
def serving(tmp_path: Path) -> tuple[Runner, Path]:
    """A runner (not serving) that watches one file for changes."""
    watched = tmp_path / "module.py"
    watched.write_text("")
    serving = Runner(RunnerFiles(tmp_path))
    serving._watched = [watched]
    serving._fingerprint = runner._fingerprint([watched])
    return serving, watched


def test_a_request_like_its_own_process_is_taken(serving: tuple[Runner, Path]) -> None:
    assert serving[0]._refusal(a_request()) is None


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"python": ["/another/venv", sys.version]}, "another Python"),
        ({"interpreter": [["error"], False, 0, None]}, "other interpreter options"),
        ({"interpreter": [[], False, 0, "0"]}, "other interpreter options"),
        ({"encoding": "latin-1"}, "another encoding"),
        ({"process": replace(runner.ProcessSettings.current(), nice=-5)}, "a lower nice level"),
    ],
)
def test_a_command_the_runner_could_not_be_is_refused(
    serving: tuple[Runner, Path], changes: dict[str, object], refusal: str
) -> None:
    assert (serving[0]._refusal(a_request(**changes)) or "").startswith(refusal)


def test_a_changed_file_makes_the_runner_refuse(serving: tuple[Runner, Path]) -> None:
    taker, watched = serving
    stat = watched.stat()
    os.utime(watched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert (taker._refusal(a_request()) or "").startswith("changed since it started")


def test_the_launcher_imports_nothing_heavy() -> None:
    """A command through the runner pays only for Python and the launcher in its own process."""
    code = "import sys, cli.launch; print(sorted(m for m in ('typer', 'rich', 'prefect', 'pydantic') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
