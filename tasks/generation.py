"""Creating a generation exactly once, and waiting for it."""

from __future__ import annotations

import time

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.resolve import load_gateway
from seedance.ark.types import ContentGenerationTask, CreateTaskRequest
from seedance.errors import ArkAPIError, ArkConnectionError, CreateOutcomeUnknownError
from seedance.intents import Intent, IntentState, IntentStore
from seedance.settings import get_settings
from seedance.waiting import wait_for_task
from tasks.policy import jittered_delays, retry_if_retryable


@task(
    name="submit-generation",
    retries=2,
    retry_delay_seconds=jittered_delays,
    retry_condition_fn=retry_if_retryable,
    cache_policy=NO_CACHE,
)
def submit_generation(request: CreateTaskRequest, intent_key: str, gateway: str | None) -> str:
    """Create the task for `intent_key`, or return the task id an earlier attempt already got.

    The intent is recorded as `submitting` before the POST and holds the task id the moment the
    response arrives, so no retry or re-run can pay for the same generation twice.

    Raises:
        CreateOutcomeUnknownError: this or an earlier attempt may have created a task without us
            seeing its id; nothing is created again until the intent is resolved.
        ArkAPIError: the gateway refused the request (the intent is dropped: nothing was created).
    """
    logger = get_run_logger()
    block = load_gateway(gateway)
    store = IntentStore(get_settings().state_dir / "intents")
    with store.locked(intent_key):
        intent = store.get(intent_key)
        if intent is not None and intent.task_id:
            logger.info("intent %s already has task %s; not creating again", intent_key, intent.task_id)
            return intent.task_id
        if intent is not None:
            raise CreateOutcomeUnknownError(
                f"intent {intent_key} is '{intent.state}' since an earlier attempt: a task may exist that "
                f"we never saw. Not creating again. Look for it in the gateway's task list "
                f"(model {intent.model}, around {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(intent.created_at))} UTC) "
                f"and remove {store.root / (intent_key + '.json')} only once you know no task was created.",
                gateway=block.label,
            )
        now = time.time()
        intent = store.put(
            Intent(key=intent_key, gateway=block.label, model=request.model, state=IntentState.SUBMITTING, created_at=now, updated_at=now)
        )
        with block.get_client() as client:
            try:
                response = client.create_task(request)
            except CreateOutcomeUnknownError as exc:
                store.put(intent.model_copy(update={"state": IntentState.UNKNOWN, "note": str(exc)}))
                raise
            except (ArkAPIError, ArkConnectionError):
                store.discard(intent_key)  # provably refused or never sent: a later attempt may create
                raise
        store.put(intent.model_copy(update={"state": IntentState.SUBMITTED, "task_id": response.id}))
    logger.info("created task %s on %s (intent %s)", response.id, block.label, intent_key)
    return response.id


@task(
    name="wait-for-generation",
    retries=3,
    retry_delay_seconds=jittered_delays,
    retry_condition_fn=retry_if_retryable,
    cache_policy=NO_CACHE,
)
def wait_for_generation(task_id: str, gateway: str | None, deadline_seconds: float) -> ContentGenerationTask:
    """Poll the task until it is terminal (logging each status change) and return it.

    Raises:
        WaitTimeoutError: still not finished at the deadline; the task id stays valid for 7 days.
    """
    logger = get_run_logger()
    settings = get_settings()
    block = load_gateway(gateway)
    with block.get_client() as client:
        return wait_for_task(
            client,
            task_id,
            deadline_seconds=deadline_seconds,
            initial_interval=settings.poll_initial_seconds,
            max_interval=settings.poll_max_seconds,
            growth=settings.poll_growth,
            on_change=lambda task: logger.info("task %s: %s", task.id, task.status.value),
        )
