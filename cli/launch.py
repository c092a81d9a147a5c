"""The `seedance` console script: the command runs in a child of the command runner when one
serves this Prefect home folder (`cli.runner`), else in this process.

Standard library only until it knows which: a command through the runner never imports typer,
rich or Prefect in this process, whose only work is to hand its terminal over, pass signals on and
exit with the child's status.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import sys
import time
from types import FrameType
from typing import BinaryIO, NoReturn, TextIO, cast

from cli import runner
from cli.exiting import exit_status, exit_within_grace
from cli.home import prefect_home
from cli.processes import alive

SEND_TIMEOUT_SECONDS = 5.0
"""Connecting and sending the request: past it, the command runs in this process."""
ANSWER_TIMEOUT_SECONDS = 30.0
"""From the request sent to the runner's first answer (it answers as it forks: milliseconds)."""

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH, signal.SIGCONT)
"""Signals the command passes on to its child as they come (Ctrl-Z is passed on, then obeyed)."""


def main() -> None:
    """Run the command line (`sys.argv`): through the runner when it takes the command, else here."""
    status = _through_runner() if runner.enabled() else None
    if status is None:
        _in_process_then_exit()
    else:
        _exit_as(status)


def _in_process_then_exit() -> None:
    """Run the command line here; once it returns, the process ends within the exit's grace."""
    status = 1  # an uncaught exception's
    try:
        in_process()
        status = 0
    except SystemExit as exc:
        status = exit_status(exc)
        raise
    except KeyboardInterrupt:
        status = 128 + signal.SIGINT  # Python then ends by the signal; on a hang, this status
        raise
    finally:
        exit_within_grace(status)


def in_process() -> None:
    """Run the command line in this process."""
    from cli.main import app

    app(prog_name="seedance")


def _through_runner() -> int | None:
    """The child's exit status (negative: the signal that ended it), or None when no runner took
    the command (none serves this home folder, it refused, or the request could not be sent)."""
    ignored = [int(signum) for signum in (*FORWARDED, signal.SIGTSTP) if signal.getsignal(signum) == signal.SIG_IGN]
    # held back until they can be passed on (or handled here, when the command runs here)
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        status = _ask(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), ignored)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    return status


def _ask(connection: socket.socket, ignored: list[int]) -> int | None:
    path = runner.RunnerFiles(prefect_home()).socket
    try:
        connection.settimeout(SEND_TIMEOUT_SECONDS)
        connection.connect(str(path))
        request = runner.Request(
            argv=list(sys.argv),
            cwd=os.getcwd(),
            env=dict(os.environ),
            path=list(sys.path),
            python=runner.python_identity(),
            interpreter=runner.interpreter_options(),
            encoding=sys.stdout.encoding,
            buffering=[_buffering(sys.stdout), _buffering(sys.stderr)],
            ignored=ignored,
            process=runner.ProcessSettings.current(),
        )
        message = request.encode()
        sent = socket.send_fds(connection, [message], [_usable(fd) for fd in (0, 1, 2)])
        connection.sendall(message[sent:])  # a large environment does not go in one piece
    except (OSError, ValueError, AttributeError):  # AttributeError: started without a stdout (None)
        connection.close()
        return None
    # sent: from here on the runner may have forked the command, which must not then run here too
    replies = connection.makefile("rb")
    try:
        connection.settimeout(ANSWER_TIMEOUT_SECONDS)
        first = json.loads(replies.readline() or b"{}")
    except (OSError, ValueError):
        _say(f"the command runner at {path} did not answer; run the command again with SEEDANCE_CLI_RUNNER=off")
        return 1
    if "pid" not in first:
        connection.close()
        return None
    connection.settimeout(None)
    return _wait(int(first["pid"]), replies, ignored)


def _buffering(stream: TextIO) -> list[bool]:
    """[line_buffering, write_through] of a standard stream (`-u`, PYTHONUNBUFFERED, a terminal)."""
    wrapper = cast(io.TextIOWrapper, stream)
    return [wrapper.line_buffering, wrapper.write_through]


def _usable(fd: int) -> int:
    """`fd`, or /dev/null in its place when this process was started without it."""
    try:
        os.fstat(fd)
    except OSError:
        return os.open(os.devnull, os.O_RDWR)
    return fd


def _wait(child: int, replies: BinaryIO, ignored: list[int]) -> int:
    """Pass signals on to `child`'s process group until the runner says how it ended."""

    def forward(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signum)

    def suspend(signum: int, frame: FrameType | None) -> None:
        forward(signal.SIGTSTP, frame)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        # stopped here until SIGCONT; in an orphaned process group (a command a shell exec'd: `script
        # -c`, `ssh host cmd`) the kernel discards the stop and this goes on at once
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, suspend)
        forward(signal.SIGCONT, frame)  # going on: so does the child, whichever way

    for signum in FORWARDED:
        if signum not in ignored:
            signal.signal(signum, forward)
    if signal.SIGTSTP not in ignored:
        signal.signal(signal.SIGTSTP, suspend)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    try:
        return int(json.loads(replies.readline())["exit"])
    except (OSError, ValueError, KeyError, TypeError):
        # the runner is gone: the command may still run; wait for it (passing signals on), as
        # its status is lost
        while alive(child):
            time.sleep(0.2)
        _say(f"the command runner stopped before command {child} ended; its exit status is lost")
        return 1


def _say(problem: str) -> None:
    sys.stderr.write(f"error: {problem}\n")


def _exit_as(status: int) -> NoReturn:
    """Exit with the child's code, or die of the signal that ended it."""
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    sys.exit(status if status >= 0 else 128 - status)
