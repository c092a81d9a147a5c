"""Submit-once: create the task of an intent at most once, whatever fails and whoever retries.

    no record ──► submitting ──create ok──► submitted (task id)      re-runs return the task id
                      │
                      └─outcome unknown──► unknown ──reconcile──► found: submitted
                                                        ├──► not created (settled): create again
                                                        │      (after 3 such creates: no record, retryable error)
                                                        └──► undecided: stop, a person decides

A run that finds `submitting` (a crash mid-create) or `unknown` reconciles the same way before it
would ever create again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import BaseModel

from seedance.ark.client import ArkClient
from seedance.ark.types import CreateTaskRequest
from seedance.errors import ArkAPIError, ArkConnectionError, CreateOutcomeUnknownError
from seedance.intents import Intent, IntentState, IntentStore
from seedance.reconcile import Verdict, reconcile_create

logger = logging.getLogger("seedance.submit")

MAX_CREATES = 3
"""Creates tried for one intent in one call, each after the last was proven not to have landed."""


class Submitted(BaseModel):
    task_id: str
    resumed: bool
    """True when the task id came from an earlier attempt or run."""


def submit_once(
    client: ArkClient,
    store: IntentStore,
    key: str,
    request: CreateTaskRequest,
    *,
    settle_seconds: float,
    owner: str | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Submitted:
    """The task id of intent `key`: recorded, recovered from the gateway, or newly created.

    `owner` (a flow run id) is recorded with the intent so that cancelling the run can find its tasks.

    Raises:
        CreateOutcomeUnknownError: a create may have made a task that cannot be identified; the
            message names the intent key and the candidates. Nothing is created again.
        ArkAPIError / ArkConnectionError: the gateway refused or could not be reached, or
            `MAX_CREATES` creates in a row went unanswered and each provably made no task; no task
            exists and the intent is dropped, so a later attempt may create.
    """
    with store.locked(key):
        intent = store.get(key)
        if intent is not None and intent.task_id:
            return Submitted(task_id=intent.task_id, resumed=True)
        if intent is not None:
            logger.warning("intent %s was left '%s' by an earlier attempt; checking the gateway", key, intent.state)
            found = _resolve(client, store, intent, request, settle_seconds, clock, sleep)
            if found is not None:
                return Submitted(task_id=found, resumed=True)
        for _ in range(MAX_CREATES):
            now = clock()
            intent = store.put(
                Intent(
                    key=key,
                    gateway=client.gateway,
                    model=request.model,
                    state=IntentState.SUBMITTING,
                    owner=owner,
                    created_at=now,
                    updated_at=now,
                )
            )
            try:
                response = client.create_task(request)
            except CreateOutcomeUnknownError as exc:
                intent = store.put(intent.model_copy(update={"state": IntentState.UNKNOWN, "note": str(exc)}))
                logger.warning("create for intent %s: outcome unknown (%s); reconciling", key, exc)
                # an accepted create made its task before answering: it is listed already
                found = _resolve(
                    client, store, intent, request, 0.0 if exc.accepted else settle_seconds, clock, sleep, accepted=exc.accepted
                )
                if found is not None:
                    return Submitted(task_id=found, resumed=True)
                continue
            except (ArkAPIError, ArkConnectionError):
                store.discard(key)
                raise
            assert response.id is not None  # the client raises CreateOutcomeUnknownError otherwise
            store.put(intent.model_copy(update={"state": IntentState.SUBMITTED, "task_id": response.id}))
            return Submitted(task_id=response.id, resumed=False)
        # Every create was proven not to have landed: nothing is unknown, the gateway is just unwell.
        store.discard(key)
        raise ArkConnectionError(
            f"intent {key}: {MAX_CREATES} creates in a row went unanswered and made no task; try again later",
            gateway=client.gateway,
        )


def _resolve(
    client: ArkClient,
    store: IntentStore,
    intent: Intent,
    request: CreateTaskRequest,
    settle_seconds: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    *,
    accepted: bool = False,
) -> str | None:
    """The task id the intent's uncertain create made, or None when it provably made none.

    After an `accepted` create a task exists, so finding none is a contradiction, not a proof.
    """
    wait = intent.updated_at + settle_seconds - clock()
    if wait > 0:
        logger.info("intent %s: waiting %.1f s for a late task to be listed, then searching the task list", intent.key, wait)
        sleep(wait)
    outcome = reconcile_create(
        client,
        request,
        window_start=intent.created_at,
        window_end=intent.updated_at,
        claimed=store.claimed_task_ids(),
    )
    if outcome.verdict is Verdict.FOUND and outcome.task is not None:
        store.put(intent.model_copy(update={"state": IntentState.SUBMITTED, "task_id": outcome.task.id, "note": outcome.reason}))
        logger.warning("intent %s: the uncertain create did make task %s; adopting it", intent.key, outcome.task.id)
        return outcome.task.id
    if outcome.verdict is Verdict.NOT_CREATED and not accepted:
        logger.warning("intent %s: the uncertain create made no task; creating again", intent.key)
        return None
    reason = (
        "the gateway accepted the create but lists no matching task" if outcome.verdict is Verdict.NOT_CREATED else outcome.reason
    )
    store.put(intent.model_copy(update={"state": IntentState.UNKNOWN, "note": reason}))
    raise CreateOutcomeUnknownError(
        f"intent {intent.key}: cannot tell which task was created ({reason}). Not creating again. "
        f"Check the gateway's task list (model {request.model}); then record the task id in "
        f"{store.record_of(intent.key)}, or delete that record if no task exists.",
        gateway=client.gateway,
    )
