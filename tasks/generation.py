"""Creating a generation exactly once, reading it, and waiting for it."""

from __future__ import annotations

import time

from prefect import get_run_logger, task
from prefect.runtime import flow_run

from blocks.gateway import SeedanceGateway
from blocks.state import open_intent_store
from seedance.ark.types import ContentGenerationTask, CreateTaskRequest
from seedance.settings import get_settings
from seedance.submit import Submitted, submit_once
from seedance.waiting import PollSchedule, StatusChange, Waited, wait_for_task
from tasks.callbacks import callback_request, callback_wake
from tasks.limits import pace_create
from tasks.policy import retrying
from tasks.progress import WaitProgress


@task(name="submit-generation", **retrying(2))
def submit_generation(request: CreateTaskRequest, intent_key: str, gateway: SeedanceGateway) -> Submitted:
    """Create the task for `intent_key`, or return the task id an earlier attempt already got.

    The intent is recorded before the POST and holds the task id the moment the response arrives;
    an unknown outcome is reconciled through the task list before anything is created again.
    Each attempt first waits for the gateway's create rate (`requests_per_minute`), if it has one.
    With callbacks set up (`SEEDANCE_CALLBACK_URL`), the request carries the intent's callback URL.

    Raises:
        CreateOutcomeUnknownError: a task may exist that cannot be identified; the message names
            the intent key. Nothing is created again until a person resolves it.
        ArkAPIError: the gateway refused the request (nothing was created).
    """
    settings = get_settings()
    request = callback_request(request, intent_key, gateway, get_run_logger())
    pace_create(gateway)
    with gateway.get_client() as client:
        submitted = submit_once(
            client,
            open_intent_store(settings),
            intent_key,
            request,
            settle_seconds=settings.reconcile_settle_seconds,
            owner=flow_run.get_id(),
        )
    verb = "resuming" if submitted.resumed else "created"
    get_run_logger().info("%s task %s on %s (intent %s)", verb, submitted.task_id, gateway.label, intent_key)
    return submitted


@task(name="read-generation", **retrying(3))
def read_generation(task_id: str, gateway: SeedanceGateway) -> ContentGenerationTask:
    """The task as the gateway shows it now: a resumed generation holds a task slot only while it is unfinished."""
    with gateway.get_client() as client:
        return client.get_task(task_id)


@task(name="wait-for-generation", **retrying(3))
def wait_for_generation(
    task_id: str,
    gateway: SeedanceGateway,
    deadline_seconds: float,
    expected_seconds: float | None = None,
    progress_key: str | None = None,
) -> Waited:
    """Poll the task until it is terminal, logging each status change; return it and its timeline.

    With callbacks set up, each of the task's callbacks (a `seedance.task.status` event) ends the
    current pause: the task is read at once, so a finished task is seen within moments, whatever
    the poll interval; without them, or when none comes, polling alone sees it.

    Args:
        expected_seconds: how long the model should need; pauses shorten as that time nears.
        progress_key: the key of a progress artifact that moves on every poll (none: no artifact).

    Raises:
        WaitTimeoutError: still not finished at the deadline; the task id stays valid for 7 days.
    """
    logger = get_run_logger()
    timeline: list[StatusChange] = []

    def changed(task: ContentGenerationTask) -> None:
        timeline.append(StatusChange(task_id=task.id, status=task.status, at=time.time()))
        logger.info("task %s: %s", task.id, task.status.value)

    settings = get_settings()
    progress = WaitProgress(progress_key, task_id, expected_seconds) if progress_key else None
    with gateway.get_client() as client, callback_wake(task_id, logger) as wake:
        task = wait_for_task(
            client,
            task_id,
            deadline_seconds=deadline_seconds,
            schedule=PollSchedule.from_settings(settings, expected_seconds),
            on_change=changed,
            wake=wake,
            on_poll=progress.update if progress else None,
        )
    return Waited(task=task, timeline=timeline)
