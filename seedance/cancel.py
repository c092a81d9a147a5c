"""Cancelling tasks upstream. Ark cancels queued tasks only; running ones finish (and are billed)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from seedance.ark.client import ArkClient
from seedance.ark.types import TaskStatus
from seedance.errors import BadRequestError, NotFoundError
from seedance.intents import IntentStore
from seedance.ledger import Ledger


class CancelReport(BaseModel):
    cancelled: list[str] = Field(default_factory=list, description="Were queued; now cancelled, never billed.")
    running: list[str] = Field(default_factory=list, description="Could not be cancelled; their results can still be collected.")
    finished: list[str] = Field(default_factory=list, description="Already terminal; left as they are.")
    missing: list[str] = Field(default_factory=list, description="Unknown to the gateway.")


def cancel_tasks(client: ArkClient, task_ids: Iterable[str]) -> CancelReport:
    """DELETE every queued task of `task_ids`; report what could not be cancelled and why."""
    report = CancelReport()
    for task_id in task_ids:
        try:
            task = client.get_task(task_id)
            if task.status is TaskStatus.QUEUED:
                try:
                    client.delete_task(task_id)
                except BadRequestError:
                    pass  # it started running between the GET and the DELETE: the GET below tells
                task = client.get_task(task_id)
        except NotFoundError:
            report.missing.append(task_id)
            continue
        if task.status is TaskStatus.CANCELLED:
            report.cancelled.append(task_id)
        elif task.status is TaskStatus.RUNNING or task.status is TaskStatus.QUEUED:
            report.running.append(task_id)
        else:
            report.finished.append(task_id)
    return report


def forget_cancelled(intent_key: str, store: IntentStore, ledger: Ledger) -> None:
    """Forget a generation whose queued task was cancelled: its intent and its ledger reservation.

    A cancelled task is never billed and never makes a video; kept, its intent would make the same
    spec resume the cancelled task and fail, and its reservation would count against the budget.
    """
    store.discard(intent_key)
    ledger.release(intent_key, note="its queued task was cancelled upstream")
