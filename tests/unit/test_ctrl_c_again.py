"""A Ctrl-C that Python drops (raised while the main thread ran a finalizer, say) is delivered
again, so the command still acts on it: it cancels what it can and exits 130."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from prefect.exceptions import TerminationSignal

from cli.progress import Mode, Progress
from cli.run import STOP_SIGNALS, run_flow


def test_a_ctrl_c_that_python_drops_is_delivered_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDANCE_STATE_DIR", str(tmp_path))
    dropped: list[str] = []

    def flow_call() -> str:
        try:
            time.sleep(30)
        except KeyboardInterrupt:
            dropped.append("the first Ctrl-C")  # what a finalizer does with it: nothing
        time.sleep(30)
        return "ran on, as if no Ctrl-C had come"

    assert exit_code_of(flow_call) == 130
    assert dropped == ["the first Ctrl-C"]


def test_the_clean_up_of_a_ctrl_c_is_not_cut_short_by_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect's engine marks the run crashed as the KeyboardInterrupt passes through it: a repeat
    raised meanwhile would end that halfway."""
    monkeypatch.setenv("SEEDANCE_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("cli.run.CTRL_C_AGAIN_SECONDS", 0.01)
    cleaned: list[str] = []

    def flow_call() -> None:
        try:
            time.sleep(30)
        except KeyboardInterrupt:
            time.sleep(0.3)  # thirty repeats' worth
            try:
                raise OSError("the API refused the state")
            except OSError:
                time.sleep(0.3)  # handled in the handling of the interrupt, which is its context
            cleaned.append("the run marked crashed")
            raise

    assert exit_code_of(flow_call) == 130
    assert cleaned == ["the run marked crashed"]


def test_a_sigterm_whose_resend_was_lost_still_ends_the_command_as_a_kill_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's SIGTERM handler ends the flow with a TerminationSignal and sends the signal again; when
    that one is lost (a KeyboardInterrupt Python dropped), the TerminationSignal is what comes out."""
    monkeypatch.setenv("SEEDANCE_STATE_DIR", str(tmp_path))

    def flow_call() -> None:
        try:
            time.sleep(30)
        except KeyboardInterrupt:
            raise TerminationSignal(signal.SIGTERM) from None

    assert exit_code_of(flow_call) == 128 + signal.SIGTERM


def exit_code_of(flow_call: Callable[[], object]) -> int:
    """Run `flow_call` as a command runs its flow, with a Ctrl-C 0.2 s into it; the code it exits with."""

    def interrupted() -> object:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        return flow_call()

    no_gateway: Any = None  # nothing was created, so nothing is cancelled upstream
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, *STOP_SIGNALS)}
    try:
        with pytest.raises(typer.Exit) as exited:
            run_flow(interrupted, Progress([], task_id_of=lambda key: None), Mode.OFF, no_gateway)
    finally:  # run_flow leaves them ignored, as a command that acts on a Ctrl-C then exits: this worker goes on
        # once the repeating thread has ended: a repeat it sends after the handlers are back would
        # interrupt whatever test this worker runs next (a `make test` worker died of one, once)
        for thread in threading.enumerate():
            if thread.name == "ctrl-c-again":
                thread.join(10)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return exited.value.exit_code
