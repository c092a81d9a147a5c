"""How the command line reports a mistake: one line per problem, then one hint, never a traceback.

A traceback is for a bug in this code; a wrong spec, a missing block, a refused key or a task that
failed upstream are the user's to fix, so each gets a line saying what is wrong and a hint saying
what to do. Nothing is printed after them: they are the last lines of the command.
"""

from __future__ import annotations

import logging
from typing import Final, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from seedance.ark.types import TaskStatus
from seedance.errors import (
    BUDGET,
    ArkAPIError,
    ArkConnectionError,
    AudioPolicyViolationError,
    AuthenticationError,
    BudgetExceededError,
    ConfigurationError,
    GenerationFailedError,
    PermissionDeniedError,
    SeedanceError,
    SpecError,
    StorageError,
    WaitTimeoutError,
)

stderr = Console(stderr=True, soft_wrap=True, highlight=False)
"""Where problems, hints and progress lines go: stdout holds only results (paths, tables, JSON)."""


class UsageError(SeedanceError):
    """A mistake the command line finds itself, before anything runs (a block that is not saved, …)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message)


def problem_lines(exc: BaseException) -> list[str]:
    """One line per problem: each of a SpecError's problems, else the message on one line.

    An API's message may hold line breaks; they become spaces, so one problem stays one line.
    """
    if isinstance(exc, SpecError):  # the source is left out where the field says it (`budget: …`)
        return [str(problem) if problem.field == exc.source else f"{exc.source}: {problem}" for problem in exc.problems]
    return [" ".join(str(exc).split())]


REFUSAL_HINTS: Final[dict[type[ArkAPIError], str]] = {
    AuthenticationError: (
        "the gateway refused the API key: save the right one with `seedance blocks save-gateway NAME`, or set ARK_API_KEY"
    ),
    PermissionDeniedError: "the account may be in arrears or lack access to this model: check it in the gateway's console",
}
"""What to do about a refusal of the account."""

STORAGE_HINT: Final = (
    "check the bucket's name, endpoint and credentials (`seedance blocks save-bucket NAME`, or SEEDANCE_BUCKET "
    "and the AWS_* variables) and that S3 answers; running the same command again resumes what was created"
)


def hint_for_type(error_type: object) -> str | None:
    """The hint for a batch item's error described by its class name (`describe()`'s "type"): a
    refusal of the account, or S3's; other errors' messages say what to do themselves."""
    if error_type == StorageError.__name__:
        return STORAGE_HINT
    return next((hint for refused, hint in REFUSAL_HINTS.items() if refused.__name__ == error_type), None)


def hint_for(exc: BaseException) -> str | None:
    """What to do about `exc`, or None when its message says it already."""
    if isinstance(exc, UsageError):
        return exc.hint
    if isinstance(exc, SpecError) and exc.source == BUDGET:
        return (
            "nothing was sent; a budget (--budget or SEEDANCE_BUDGET) is an amount in the prices' currency, e.g. '20 CNY', "
            "and checks only models the price file prices"
        )
    if isinstance(exc, SpecError):
        return "nothing was sent; fix the file and run again (`seedance models` lists what each model accepts)"
    if isinstance(exc, ConfigurationError):
        return (
            "save blocks with `seedance blocks save-gateway NAME` / `save-bucket NAME` and pass --gateway / --bucket, "
            "or set ARK_API_KEY (and ARK_BASE_URL) / SEEDANCE_BUCKET"
        )
    for refused, hint in REFUSAL_HINTS.items():
        if isinstance(exc, refused):
            return hint
    if isinstance(exc, BudgetExceededError):
        return "nothing was sent; `seedance estimate FILE` shows the cost: raise --budget (or SEEDANCE_BUDGET) to run it"
    if isinstance(exc, AudioPolicyViolationError):
        return None  # its message ends with the re-run without audio
    if isinstance(exc, GenerationFailedError) and exc.task.status is TaskStatus.CANCELLED:
        # not "running it again resumes": `seedance cancel` and Ctrl-C forget a task they cancel,
        # so that the same command makes a new (paid) one; cancelled elsewhere, it is resumed
        return (
            f"`seedance status {exc.task.id}` shows the task; a cancelled task is not billed. "
            "For the video after all, run the same command with --again: a new (paid) generation"
        )
    if isinstance(exc, GenerationFailedError):
        return (
            f"`seedance status {exc.task.id}` shows the task; running the same spec again resumes this failed task: "
            "add --again for a new (paid) generation"
        )
    if isinstance(exc, WaitTimeoutError):
        return "the task may still finish: run the same command again to resume waiting for it (nothing is paid twice)"
    if isinstance(exc, ArkConnectionError):
        return "check the gateway's address (ARK_BASE_URL or the block's base URL) and that it is up"
    if isinstance(exc, StorageError):
        return STORAGE_HINT
    return None


def exit_code(exc: BaseException) -> int:
    """2 when nothing was sent because the command's input is wrong (spec, configuration, usage) or
    does not fit the budget, else 1."""
    return 2 if isinstance(exc, (SpecError, ConfigurationError, UsageError, BudgetExceededError)) else 1


def fail(exc: BaseException, code: int | None = None) -> NoReturn:
    """Print `exc` as problem lines and a hint on stderr, and exit with `code` (default: `exit_code`).

    Lines are escaped, not read as markup: messages start with the gateway's name in brackets.
    """
    for line in problem_lines(exc):
        stderr.print(f"[bold red]error:[/] {escape(line)}")
    hint = hint_for(exc)
    if hint:
        print_hint(hint)
    raise typer.Exit(exit_code(exc) if code is None else code)


def print_hint(hint: str) -> None:
    """What to do, as a `hint:` line on stderr; escaped, not read as markup."""
    stderr.print(f"[yellow]hint:[/] {escape(hint)}")


class _NoDrainProgress(logging.Filter):
    """Drops Prefect's "Still processing items: N items remaining..." (its background services at
    exit, sending a block's `loaded` event or a run's last logs): it came after the error lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Still processing items")


def quiet_prefect_exit() -> None:
    """Keep the error the last thing printed: Prefect logs its services' progress at exit under
    loggers named after their classes, which its logging config leaves alone."""
    for name in ("EventsWorker", "APILogWorker"):
        logging.getLogger(name).addFilter(_NoDrainProgress())
