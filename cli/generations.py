"""`seedance status`, `seedance cancel` and `seedance list`: generations after they were started.

A generation is named by its upstream task id, or by its intent key (what `seedance list` shows,
and error messages name), which the intent store resolves to the task id it recorded. A prefix of
a key is enough when it is unique.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from cli.errors import UsageError, fail, print_hint, stderr
from cli.output import print_table
from seedance.errors import SeedanceError

if TYPE_CHECKING:
    from blocks.gateway import SeedanceGateway
    from seedance.intents import Intent
    from seedance.ledger import LedgerEntry

KEY_PREFIX: Final = re.compile(r"[0-9a-f]{6,32}")
"""What may be an intent key, or a prefix of one (a task id never is: Ark's start `cgt-`)."""

Reference = Annotated[
    str, typer.Argument(help="A task id, or an intent key (`seedance list` shows them; a unique prefix is enough).")
]
GatewayOption = Annotated[
    str | None,
    typer.Option(
        "--gateway", help="Saved SeedanceGateway block; default: ARK_API_KEY / ARK_BASE_URL, else the intent's gateway block."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="As JSON.")]


def find_intent(reference: str) -> Intent | None:
    """The intent `reference` names (its key, a unique prefix of it, or its task id), or None.

    Raises:
        UsageError: the prefix fits several intents.
    """
    from blocks.state import open_intent_store

    store = open_intent_store()
    if not KEY_PREFIX.fullmatch(reference):
        return next((intent for intent in store.all() if intent.task_id == reference), None)
    exact = store.get(reference) if len(reference) == 32 else None
    if exact is not None:
        return exact
    matches = [intent for intent in store.all() if intent.key.startswith(reference)]
    if len(matches) > 1:
        raise UsageError(f"{reference!r} is the start of {len(matches)} intent keys", "give more of the key (`seedance list`)")
    return matches[0] if matches else None


def _target(reference: str, gateway: str | None) -> tuple[str, SeedanceGateway, Intent | None]:
    """The task id `reference` names, the gateway to ask about it, and its intent when known."""
    from cli.resolve import gateway_block
    from cli.server import connect

    intent = find_intent(reference)
    if intent is not None and intent.task_id is None:
        raise UsageError(
            f"intent {intent.key} has no task id (state {intent.state.value}): its create's outcome is unknown"
            + (f" ({intent.note})" if intent.note else ""),
            "run the command that started it again: it searches the gateway's task list before it would create again",
        )
    task_id = intent.task_id if intent is not None and intent.task_id else reference
    if gateway:
        connect()
        return task_id, gateway_block(gateway), intent
    if os.environ.get("ARK_API_KEY") or intent is None:
        return task_id, gateway_block(None), intent
    connect()
    return task_id, gateway_block(intent.gateway), intent


def status(reference: Reference, gateway: GatewayOption = None, as_json: JsonOption = False) -> None:
    """The upstream status of a generation's task (asked of the gateway now)."""
    try:
        task_id, block, _ = _target(reference, gateway)
        with block.get_client() as client:
            task = client.get_task(task_id)
    except SeedanceError as exc:
        fail(exc)
    if as_json:
        typer.echo(task.model_dump_json(indent=2, exclude_none=True))
        return
    facts = [("task", task.id), ("status", task.status.value), ("model", task.model)]
    facts += [("created", _when(task.created_at)), ("updated", _when(task.updated_at))]
    if task.usage is not None:
        facts.append(("tokens", f"{task.usage.completion_tokens:,}"))
    if task.content is not None and task.content.video_url:
        facts.append(("video", task.content.video_url))
    if task.error is not None:
        facts.append(("error", f"{task.error.code}: {task.error.message}"))
    typer.echo("\n".join(f"{label:<8} {value}" for label, value in facts))


def cancel(reference: Reference, gateway: GatewayOption = None, as_json: JsonOption = False) -> None:
    """Cancel a queued task upstream. Ark cannot cancel a running one: it finishes and is billed."""
    from blocks.state import open_intent_store, open_ledger
    from seedance.cancel import cancel_tasks, forget_cancelled

    try:
        task_id, block, intent = _target(reference, gateway)
        with block.get_client() as client:
            report = cancel_tasks(client, [task_id])
    except SeedanceError as exc:
        fail(exc)
    outcome = next(name for name in ("cancelled", "running", "finished", "missing") if task_id in getattr(report, name))
    if outcome == "cancelled" and intent is not None:
        forget_cancelled(intent.key, open_intent_store(), open_ledger())  # running its spec again creates a new task
    if as_json:
        typer.echo(json.dumps({"task_id": task_id, "outcome": outcome}))
    elif outcome == "cancelled":
        typer.echo(f"cancelled task {task_id}: it was queued and will not be billed")
    else:
        stderr.print(f"[bold red]error:[/] {escape(_NOT_CANCELLED[outcome].format(task_id=task_id))}")
        if outcome == "running":
            print_hint("collect it by running the command that started it again: it resumes the task")
        elif outcome == "finished":
            print_hint(f"`seedance status {task_id}` shows how it ended")
    if outcome != "cancelled":
        raise typer.Exit(1)


_NOT_CANCELLED: Final = {
    "running": "task {task_id} is already running upstream: Ark cannot cancel it; it will finish and be billed",
    "finished": "task {task_id} has already ended upstream; nothing to cancel",
    "missing": "the gateway knows no task {task_id}",
}


def list_generations(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20, as_json: JsonOption = False
) -> None:
    """Recent generations: each intent (its key's first 12 characters: `status` and `cancel` take a
    prefix), gateway, model, how it ended, its cost, task id and when it was created.

    How it ended and the cost come from the spending ledger: `succeeded` with what was billed once
    the run collected it, `failed`, `cancelled` or `expired` at 0, else the intent's own state
    (`submitted`: in flight, or finished and not collected yet) and the estimate (≈). A task
    `seedance cancel` or Ctrl-C cancelled is no longer an intent (running its spec again makes a new
    one); the ledger keeps it, listed as `released` at 0.
    """
    from blocks.state import open_intent_store, open_ledger

    intents = {intent.key: intent for intent in open_intent_store().all()}
    ledger = open_ledger().entries()
    rows = [Listed(intent=intent, entry=ledger.get(key)) for key, intent in intents.items()]
    rows += [Listed(intent=None, entry=entry) for key, entry in ledger.items() if key not in intents and entry.task_id]
    rows = sorted(rows, key=lambda row: row.created_at, reverse=True)[:limit]
    if as_json:
        typer.echo(json.dumps([row.as_json() for row in rows], indent=2))
        return
    # the gateway only when they differ: ids, state and cost first, whole, on a terminal 100 columns wide
    several_gateways = len({row.gateway for row in rows}) > 1
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("intent", "state", "cost", "task id", "created"):
        table.add_column(header, no_wrap=True)
    table.add_column("model", overflow="fold")  # read, not copied: folded, never cut short
    if several_gateways:
        table.add_column("gateway")
    for row in rows:
        cells = [row.key[:12], row.state, row.cost, row.task_id or "—", _when(row.created_at, short=True), row.model]
        table.add_row(*cells, *([row.gateway] if several_gateways else []))
    if not rows:
        table.caption = "no generations recorded yet"
    print_table(table)


@dataclass(frozen=True)
class Listed:
    """One row of `seedance list`: an intent and its ledger entry, or a ledger entry whose intent was
    forgotten (its queued task was cancelled)."""

    intent: Intent | None
    entry: LedgerEntry | None

    @property
    def key(self) -> str:
        return self.intent.key if self.intent else self.entry.intent_key if self.entry else ""

    @property
    def gateway(self) -> str:
        return self.intent.gateway if self.intent else "—"

    @property
    def model(self) -> str:
        return self.intent.model if self.intent else self.entry.model if self.entry else "—"

    @property
    def task_id(self) -> str | None:
        return self.intent.task_id if self.intent and self.intent.task_id else self.entry.task_id if self.entry else None

    @property
    def created_at(self) -> float:
        return self.intent.created_at if self.intent else self.entry.reserved_at if self.entry else 0.0

    @property
    def state(self) -> str:
        if self.entry is not None and (self.entry.status.settled or self.intent is None):
            return self.entry.status.value
        return self.intent.state.value if self.intent else "—"

    @property
    def cost(self) -> str:
        from seedance.ledger import EntryStatus

        entry = self.entry
        if entry is None:
            return "—"
        if entry.billed_cost is not None:
            return f"{entry.billed_cost} {entry.currency}"
        if entry.status in (EntryStatus.RESERVED, EntryStatus.SUCCEEDED):  # a success without a token count: its estimate
            return f"≈{entry.estimated_cost} {entry.currency}"
        return f"0 {entry.currency}"

    def as_json(self) -> dict[str, object]:
        """The intent's record (for a forgotten one, the same keys from its ledger entry) and its ledger entry."""
        found: dict[str, object] = (
            self.intent.model_dump(mode="json")
            if self.intent
            else {"key": self.key, "gateway": None, "model": self.model, "state": self.state, "task_id": self.task_id}
            | {"created_at": self.created_at}
        )
        return found | {"ledger": self.entry.model_dump(mode="json") if self.entry else None}


def _when(timestamp: float, *, short: bool = False) -> str:
    return time.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S", time.localtime(timestamp))
