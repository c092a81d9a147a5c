"""Live progress of the generations a command runs: status, elapsed, expected time, cost so far.

The flow runs in this process, so its progress is read in this process, from two sources that need
nothing of the flow's code: `seedance.wait` logs every status change of a task it watches (DEBUG,
`task %s is %s` with the task id and status), and the intent store holds each generation's task id
under the intent key the command planned before the flow started (`seedance.plan`).

At a terminal the progress is a table that redraws itself (rich Live, on stderr); piped, it is one
line per status change, for logs; with `--json` it is off, so stdout holds only the JSON.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Final

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from cli.errors import stderr

STATUS_LOGGER: Final = "seedance.wait"
STATUS_MESSAGE: Final = "task %s is %s"
"""The status-change record `seedance.waiting` logs, with args (task id, status)."""

SYNC_INTERVAL_SECONDS: Final = 1.0
"""How often the table looks up task ids in the intent store."""

PREPARING: Final = "preparing"
"""A generation's status until its task exists: estimate, uploads, checks, create."""


class Mode(Enum):
    LIVE = "live"
    LINES = "lines"
    OFF = "off"


def choose_mode(as_json: bool) -> Mode:
    """A live table at a terminal, lines when piped, nothing under `--json`."""
    if as_json:
        return Mode.OFF
    return Mode.LIVE if Console().is_terminal and stderr.is_terminal else Mode.LINES


@dataclass
class Row:
    """One generation as the progress shows it."""

    name: str
    intent_key: str | None = None
    """Its planned intent key; None when it cannot be planned (a storyboard shot opens on an earlier shot's frame)."""
    expected_seconds: float | None = None
    cost: Decimal | None = None
    currency: str | None = None
    task_id: str | None = None
    status: str = PREPARING
    ended: float | None = None
    """`time.monotonic()` when its task reached a terminal status."""


@dataclass
class Progress:
    """What the generations of one command have reached; updated from the flow's threads, read by the display."""

    rows: list[Row]
    """Planned rows claim their task by intent key; a task no planned row claims goes to the first
    unplanned row without one (storyboard shots, made in order); a task neither claims is not shown."""
    task_id_of: Callable[[str], str | None]
    """The task id the intent store holds for an intent key, if any yet."""
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _synced: float = 0.0

    def sync_task_ids(self) -> None:
        """Look up the task id of every planned row that has none yet."""
        with self._lock:
            waiting = [row for row in self.rows if row.task_id is None and row.intent_key is not None]
        found = {id(row): self.task_id_of(row.intent_key) for row in waiting if row.intent_key is not None}
        with self._lock:
            for row in waiting:
                row.task_id = row.task_id or found[id(row)]
            self._synced = time.monotonic()

    def task_status(self, task_id: str, status: str) -> Row | None:
        """Record a status change; the row it belongs to, or None when no row claims the task."""
        row = self._row_of(task_id)
        if row is None:
            self.sync_task_ids()
            row = self._row_of(task_id)
        with self._lock:
            if row is None:
                row = next((row for row in self.rows if row.intent_key is None and row.task_id is None), None)
            if row is None:
                return None
            row.task_id = task_id
            row.status = status
            if status not in ("queued", "running"):
                row.ended = time.monotonic()
            return row

    def task_ids(self) -> list[str]:
        """The task ids known so far."""
        self.sync_task_ids()
        with self._lock:
            return [row.task_id for row in self.rows if row.task_id]

    def _row_of(self, task_id: str) -> Row | None:
        with self._lock:
            return next((row for row in self.rows if row.task_id == task_id), None)

    def line(self, row: Row) -> str:
        """One row as a line: `boat: task cgt-…: running · 0:42 elapsed · expected ~1:20 · ≈0.97 CNY`."""
        parts = [f"{row.status}", f"{_clock(self._elapsed(row))} elapsed"]
        if row.expected_seconds is not None:
            parts.append(f"expected ~{_clock(row.expected_seconds)}")
        if row.cost is not None:
            parts.append(f"≈{row.cost:.2f} {row.currency}")
        return f"{row.name}: task {row.task_id or '—'}: " + " · ".join(parts)

    def committed(self) -> dict[str, Decimal]:
        """Cost so far: the estimates of the generations whose task exists, per currency."""
        totals: dict[str, Decimal] = {}
        with self._lock:
            for row in self.rows:
                if row.task_id and row.cost is not None and row.currency:
                    totals[row.currency] = totals.get(row.currency, Decimal(0)) + row.cost
        return totals

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if time.monotonic() - self._synced >= SYNC_INTERVAL_SECONDS:
            self.sync_task_ids()
        table = Table("item", "task", "status", "elapsed", "expected", "cost (est.)", box=None, padding=(0, 2, 0, 0))
        with self._lock:
            rows = list(self.rows)
        for row in rows:
            table.add_row(
                escape(row.name),
                row.task_id or "—",
                row.status,
                _clock(self._elapsed(row)),
                f"~{_clock(row.expected_seconds)}" if row.expected_seconds is not None else "—",
                f"≈{row.cost:.2f} {row.currency}" if row.cost is not None else "—",
            )
        so_far = ", ".join(f"≈{amount:.2f} {currency}" for currency, amount in self.committed().items()) or "nothing yet"
        table.caption = f"cost so far (tasks created): {so_far}"
        table.caption_justify = "left"
        yield table

    def _elapsed(self, row: Row) -> float:
        return (row.ended or time.monotonic()) - self.started


class _StatusRecords(logging.Handler):
    """Feeds `seedance.wait`'s status-change records into a Progress."""

    def __init__(self, progress: Progress, on_change: Callable[[Row], None]) -> None:
        super().__init__(logging.DEBUG)
        self.progress = progress
        self.on_change = on_change

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg != STATUS_MESSAGE or not isinstance(record.args, tuple) or len(record.args) != 2:
            return
        task_id, status = record.args
        row = self.progress.task_status(str(task_id), str(status))
        if row is not None:
            self.on_change(row)


@contextmanager
def shown(progress: Progress, mode: Mode) -> Iterator[Callable[[], None]]:
    """Show `progress` while the block runs: a live table, lines, or nothing. Yields what stops the
    live table early (from any thread), so that lines printed then come below it."""
    if mode is Mode.OFF:
        yield lambda: None
        return

    def print_line(row: Row) -> None:
        stderr.print(escape(progress.line(row)))

    handler = _StatusRecords(progress, print_line if mode is Mode.LINES else lambda row: None)
    logger = logging.getLogger(STATUS_LOGGER)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        if mode is Mode.LIVE:
            live = Live(progress, console=stderr, refresh_per_second=4, transient=False, redirect_stdout=False)
            live.start()
            try:
                yield live.stop
            finally:
                with suppress(OSError):  # the terminal has gone (SIGHUP): what the block raised must go on
                    live.stop()
        else:
            yield lambda: None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _clock(seconds: float) -> str:
    """`1:05` for 65 s, `1:02:03` past an hour."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
