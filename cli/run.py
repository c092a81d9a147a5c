"""Running a flow from the command line, in this process.

- Prefect's console handler prints every failure with rich tracebacks, before the command's own
  line; here it is replaced by one line per warning, and Prefect's error records (the flow's
  failure, already in the Prefect UI) are left to the command, which reports them as the last
  lines it prints.
- Progress is shown while the flow runs (`cli.progress`).
- Ctrl-C: Ark bills a task that runs to the end, so queued tasks of the interrupted run are
  cancelled upstream, and a task already running is named, with the command that collects it.
- No flow-run heartbeats unless asked for (`heartbeats_only_if_asked`).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from types import FrameType
from typing import TYPE_CHECKING, Final, TypeVar

import typer
from rich.markup import escape

from cli.errors import fail, hint_for_type, print_hint, stderr
from cli.progress import Mode, Progress, Row, choose_mode, shown
from cli.server import is_shared
from cli.serverwatch import CONFIGURED_PATIENCE_SECONDS, SHARED_PATIENCE_SECONDS, ServerWatch
from seedance.errors import ArkError, SeedanceError

if TYPE_CHECKING:
    from blocks.gateway import SeedanceGateway
    from cli.prepare import Generation
    from flows.batch import BatchItem
    from seedance.intents import IntentStore
    from seedance.results import GenerationResult

T = TypeVar("T")

CTRL_C_AGAIN_SECONDS: Final = 1.0
"""How often a Ctrl-C is delivered again until the command acts on it (see `_RepeatedInterrupt`)."""


class _OneLineWarnings(logging.Handler):
    """Warnings as one line each, without tracebacks; Prefect's error records are left out."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("prefect") and record.levelno >= logging.ERROR:
            return  # the flow's failure: the command prints it, last, as one line and a hint
        message = " ".join(record.getMessage().split())
        stderr.print(f"[yellow]{record.levelname.lower()}:[/] {escape(message)}")


@contextmanager
def heartbeats_only_if_asked() -> Iterator[None]:
    """Run flows in this process without Prefect's flow-run heartbeats, unless the user set
    `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` (in the environment or the profile).

    Prefect's heartbeat thread sleeps in 1 s steps, and the end of a flow run waits for it to wake:
    measured, one `seedance batch` item exited 4.72-4.82 s after it started with heartbeats and
    4.07-4.31 s without. Heartbeats feed zombie detection (an automation that marks a run crashed
    when they stop: `automations.yaml`), which Prefect documents for deployment runs; those run on
    workers and keep Prefect's setting. A CLI run that fails, crashes or gets a Ctrl-C ends its flow
    run itself (Failed, Crashed, Cancelled); one killed outright stays Running in the UI unless the
    user asked for heartbeats.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def quiet_prefect_console() -> None:
    """Swap Prefect's console handler on the root logger for one-line warnings.

    Call after Prefect is imported (it configures logging then). Run logs still reach the Prefect
    API, so the UI shows every line and traceback.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    # Prefect's log worker writes "--- Error logging to API ---" and the error, without a newline,
    # to stderr when the API refuses a batch of run logs (the stdlib's handlers do the same with
    # tracebacks): the command says what went wrong itself, as its last lines.
    logging.raiseExceptions = False
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, (PrefectConsoleHandler, _OneLineWarnings)):
            root.removeHandler(handler)
    root.addHandler(_OneLineWarnings())


STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP)
"""Taken as Ctrl-C while a flow runs (`kill`, `timeout`, a closed terminal): a task left queued
upstream would run and be billed, and nobody would be told. Not when the command was started with
one of them ignored (`nohup`)."""


class _RepeatedInterrupt:
    """While it is entered, Ctrl-C raises KeyboardInterrupt as usual and is then delivered again every
    `CTRL_C_AGAIN_SECONDS` until the block is left; left on a KeyboardInterrupt, Ctrl-C is ignored.
    SIGTERM and SIGHUP do the same (`STOP_SIGNALS`); `signum` is the signal that came first.

    Python drops a KeyboardInterrupt raised while the main thread runs a finalizer or a weakref
    callback: it prints "Exception ignored in ..." and carries on, and the command would go on
    waiting as if no Ctrl-C had come (seen once in a `make test` run, on `seedance generate`).

    A repeat is not raised while the main thread handles the last KeyboardInterrupt: Prefect's
    engine marks the run crashed as one passes through it, and a second one cut that short (with
    repeats every 3 ms, 3 of 10 interrupted commands ended on "coroutine
    'exception_to_crashed_state' was never awaited"; 0 of 30 with this check).

    Inside a flow run Prefect swaps SIGTERM for its own handler: it marks the run crashed, then
    sends the signal again to the handler it found, this one. A TerminationSignal that Python drops
    as it drops a KeyboardInterrupt is not sent again: that SIGTERM is lost, and a second one acts.
    """

    def __init__(self) -> None:
        self._left = threading.Event()
        self._repeating = False
        self.signum = signal.SIGINT

    def __enter__(self) -> _RepeatedInterrupt:
        self._previous = {
            signum: signal.signal(signum, self._interrupt)
            for signum in (signal.SIGINT, *STOP_SIGNALS)
            if signum == signal.SIGINT or signal.getsignal(signum) is not signal.SIG_IGN
        }
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        # Left on an interrupt, the command now acts on it: neither a repeat still on its way nor a
        # second signal may stop that halfway. Otherwise each signal is what it was before.
        from prefect.exceptions import TerminationSignal  # loaded: a flow ran in this block

        interrupted = exc_type is not None and issubclass(exc_type, (KeyboardInterrupt, TerminationSignal))
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_IGN if interrupted else previous)
        self._left.set()

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        if not self._repeating:
            self._repeating = True
            self.signum = signal.Signals(signum)
            threading.Thread(target=self._repeat, name="ctrl-c-again", daemon=True).start()
        elif _handling_interrupt():
            return  # the last one is on its way up: another would cut short the clean-up it runs
        raise KeyboardInterrupt

    def _repeat(self) -> None:
        main = threading.main_thread().ident
        assert main is not None, "the main thread has started: it is the one that got the first Ctrl-C"
        while not self._left.wait(CTRL_C_AGAIN_SECONDS):
            signal.pthread_kill(main, signal.SIGINT)  # a real signal: it also ends a sleep in progress


def _handling_interrupt() -> bool:
    """Whether the main thread is handling a KeyboardInterrupt: in an `except` or `finally` block,
    or a context manager's exit, that it passes through on its way up, or handling an exception
    raised there."""
    exc, seen = sys.exc_info()[1], set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__
    return False


def run_flow(call: Callable[[], T], progress: Progress, mode: Mode, gateway: SeedanceGateway) -> T:
    """Run `call` (a flow call) with its progress shown; on Ctrl-C, SIGTERM or SIGHUP cancel its
    queued tasks and exit 128 + the signal's number (130, 143, 129)."""
    from prefect.exceptions import TerminationSignal

    quiet_prefect_console()
    interrupt = _RepeatedInterrupt()
    try:
        with heartbeats_only_if_asked(), shown(progress, mode) as stop_display, interrupt, _watched(progress, stop_display):
            return call()
    except (KeyboardInterrupt, TerminationSignal) as stop:  # the signals are ignored from here on (see __exit__)
        # A TerminationSignal comes out of the flow when Prefect's SIGTERM handler ran and the signal it
        # then sends again was lost (a KeyboardInterrupt that Python dropped): it is that SIGTERM.
        signum = stop.signal if isinstance(stop, TerminationSignal) else interrupt.signum
        _cancel_after_interrupt(progress, gateway)
        raise typer.Exit(128 + signum) from None


def _watched(progress: Progress, stop_display: Callable[[], None]) -> AbstractContextManager[object]:
    """A watch on the flow's Prefect server that ends the command, one error and a hint last, once
    the server has gone away (see `cli.serverwatch`); none without an API URL (a unit test's)."""
    from prefect.settings import get_current_settings

    from blocks.state import open_intent_store
    from seedance.stores.postgres import mask

    api_url = get_current_settings().api.url
    if not api_url:
        return nullcontext()
    shown_url = mask(api_url)
    shared = is_shared(api_url)

    def lost() -> None:
        stop_display()
        # from here on only these lines reach the command's stderr: Prefect's threads are still retrying
        stderr.file = os.fdopen(os.dup(2), "w")
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        say = stderr.print
        say(f"[bold red]error:[/] the Prefect server at {escape(shown_url)} stopped accepting connections while the run went on")
        progress.sync_task_ids()
        upstream = [f"{row.task_id} ({row.name})" for row in progress.rows if row.task_id and row.ended is None]
        if len(upstream) == 1:
            say(escape(f"task {upstream[0]} goes on upstream: it is billed when it runs"))
        elif upstream:
            say(escape(f"{len(upstream)} tasks go on upstream and are billed when they run: {_first_few(upstream)}"))
        for row in _being_created(progress, open_intent_store()):
            say(escape(f"{row.name} was being created: a task may exist (intent {row.intent_key})"))
        first = "start it again (`seedance server start`), then" if shared else "once it answers again,"
        print_hint(f"{first} run `{resume_command()}`: it resumes the run's tasks instead of paying again")
        stderr.file.flush()
        os._exit(1)  # Prefect's client and services would retry for minutes, then print tracebacks

    return ServerWatch(api_url, SHARED_PATIENCE_SECONDS if shared else CONFIGURED_PATIENCE_SECONDS, lost)


def run_generations(planned: list[Generation], gateway: SeedanceGateway, as_json: bool, call: Callable[[], T]) -> T:
    """Run a flow that makes the `planned` generations, their progress shown by intent key; a
    SeedanceError it raises is printed as the command's last lines (and exits)."""
    from blocks.state import open_intent_store

    store = open_intent_store()

    def task_id_of(key: str) -> str | None:
        intent = store.get(key)
        return intent.task_id if intent is not None else None

    progress = Progress([generation.row() for generation in planned], task_id_of=task_id_of)
    try:
        return run_flow(call, progress, choose_mode(as_json), gateway)
    except SeedanceError as exc:
        fail(exc)


def print_summary(name: str, result: GenerationResult) -> None:
    """One line on stderr for a finished generation: its task, what it took and what it cost."""
    billed = f", ≈{result.billed_cost:.4f} {result.currency} billed" if result.billed_cost is not None else ""
    tokens = f"{result.completion_tokens:,} tokens" if result.completion_tokens is not None else "no token count"
    verb = "resumed" if result.resumed else "created"
    total = result.timings.get("total")
    took = f" in {total:.0f} s" if total is not None else ""
    stderr.print(escape(f"{name}: task {result.task_id} ({verb}) {result.status}{took}: {tokens}{billed}"))


def print_failures(failed: list[BatchItem]) -> None:
    """One line on stderr per failed item; items refused the same way whatever they asked for (a
    wrong key, an account in arrears, and the items a batch then did not submit) share one line
    per error and code. Each hint once, after the lines it is for: the shared refusal's last."""
    shared: dict[tuple[object, object], list[BatchItem]] = {}
    hints: list[str] = []
    for item in failed:
        error = item.error or {}
        if error.get("every_item"):
            shared.setdefault((error.get("type"), error.get("code")), []).append(item)
        else:
            stderr.print(f"[bold red]failed:[/] {escape(f'{item.name}: {_one_line(error)}')}")
            hint = hint_for_type(error.get("type"))
            if hint and hint not in hints:
                hints.append(hint)
    for hint in hints:
        print_hint(hint)
    # those not submitted first: the refusal that stopped them, and its hint, are printed last
    for (error_type, _), items in sorted(shared.items(), key=lambda group: group[0][0] != "BatchStoppedError"):
        who = items[0].name if len(items) == 1 else f"{len(items)} items ({_first_few([item.name for item in items])})"
        stderr.print(f"[bold red]failed:[/] {escape(f'{who}: {_one_line(items[0].error or {})}')}")
        hint = hint_for_type(error_type)
        if hint:
            print_hint(hint)


SHOWN_NAMES: Final = 3
"""Items named on a line about many (a shared failure, the tasks a lost server leaves); the count gives the rest."""


def _first_few(names: list[str]) -> str:
    """The first `SHOWN_NAMES` of `names`, and "…" when there are more."""
    return ", ".join(names[:SHOWN_NAMES]) + (", …" if len(names) > SHOWN_NAMES else "")


def _one_line(error: dict[str, object]) -> str:
    return " ".join(str(error.get("message", "not generated")).split())


def resume_command() -> str:
    """This command as typed, without `--again`: the command that collects its tasks."""
    return shlex.join(["seedance", *(arg for arg in sys.argv[1:] if arg != "--again")])


def _being_created(progress: Progress, store: IntentStore) -> list[Row]:
    """The rows whose create was sent, or about to be, with no task id back in `store`: a task may exist."""
    return [
        row
        for row in progress.rows
        if row.task_id is None and row.intent_key is not None and (intent := store.get(row.intent_key)) is not None
        if intent.task_id is None
    ]


def _cancel_after_interrupt(progress: Progress, gateway: SeedanceGateway) -> None:
    from blocks.state import open_intent_store, open_ledger
    from seedance.cancel import cancel_tasks, forget_cancelled

    store = open_intent_store()
    task_ids = progress.task_ids()
    creating = _being_created(progress, store)

    def say(line: str) -> None:
        with suppress(OSError):  # the terminal has gone (SIGHUP): the cancelling goes on unseen
            stderr.print(line)

    def hint(text: str) -> None:
        with suppress(OSError):
            print_hint(text)

    if not task_ids and not creating:
        say("interrupted: no task had been created; nothing is billed")
        return
    try:
        with gateway.get_client() as client:
            report = cancel_tasks(client, task_ids)
    except ArkError as exc:
        say(f"[bold red]interrupted:[/] could not cancel {', '.join(task_ids)} upstream: {escape(str(exc))}")
        hint(f"cancel a queued task with `seedance cancel TASK_ID`, or collect it with `{resume_command()}`")
        return
    keys = {row.task_id: row.intent_key for row in progress.rows if row.task_id and row.intent_key}
    for task_id in report.cancelled:
        if task_id in keys:
            forget_cancelled(keys[task_id], store, open_ledger())  # the same command then creates it afresh
    for task_id in report.cancelled:
        say(f"interrupted: cancelled queued task {task_id} upstream; it will not be billed")
    for task_id in report.running:
        say(f"interrupted: task {task_id} is already running upstream and cannot be cancelled: it will finish and be billed")
    for task_id in report.finished:
        say(f"interrupted: task {task_id} had already finished upstream")
    for row in creating:
        say(f"interrupted: {escape(row.name)} was being created: a task may exist (intent {row.intent_key})")
    if report.running or report.finished or creating:
        hint(f"collect it with `{resume_command()}`: the same command resumes its task instead of paying again")
