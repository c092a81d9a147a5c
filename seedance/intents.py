"""Submit-once: a durable record of every generation we intend to create.

Before the create POST a record in state `submitting` is written; after the response it holds the
task id. A task retry, a flow re-run or a run after a crash finds the record and resumes with that
task id instead of paying again. A record left in `submitting` or `unknown` means a create may have
reached the gateway without us seeing the answer: nothing creates again until that is resolved.

An `IntentStore` keeps the records and an exclusive lock per intent key, held across the create
call itself (check, write `submitting`, POST, write the id), so two workers starting the same
generation cannot both reach the create. The lock must be released by the system, not by a lease
and a clock, if its holder dies mid-call. Two backends do that (`seedance/stores/`), and
`seedance/state.py` picks one:

* files with `flock` under a state folder (`SEEDANCE_STATE_DIR`): the kernel drops a dead holder's
  lock. Workers must share that folder on one host (or a network file system whose `flock` works
  across hosts; NFSv4 does, some do not);
* PostgreSQL (`SEEDANCE_STATE_URL`) for workers on many machines: a session advisory lock, which
  the server drops when the holder's connection closes.

Prefect transaction locks need a lock manager service (Redis) for more than one process, and S3
conditional writes cannot be held across a call, so neither is used. Workers that do not share a
store each keep their own records; the task-list reconciliation still stops them from adopting
each other's tasks, but not from creating the same generation twice.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel


class IntentState(StrEnum):
    SUBMITTING = "submitting"
    """The create call is about to be or is being made."""
    SUBMITTED = "submitted"
    """The gateway answered with a task id."""
    UNKNOWN = "unknown"
    """The create call's outcome is unknown: the task may or may not exist."""


class Intent(BaseModel):
    key: str
    gateway: str
    model: str
    state: IntentState
    task_id: str | None = None
    created_at: float
    updated_at: float
    note: str | None = None
    owner: str | None = None
    """The flow run that created the task, so cancelling that run can cancel the task."""


def intent_key(gateway_url: str, body: dict[str, Any], salt: str | None = None) -> str:
    """Deterministic key of a generation: the normalised request body plus the gateway.

    Local files must already be replaced by their content digest in `body`, so presigned URLs
    (which change every run) never change the key. `salt` deliberately asks for a new generation.
    """
    canonical = json.dumps(
        {"gateway": gateway_url.rstrip("/"), "body": body, "salt": salt}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def intent_seed(key: str) -> int:
    """A seed drawn from the intent key, for specs that leave the seed random.

    The task list echoes the seed but not the prompt, so a seed of our own is what tells this
    generation's task apart from look-alikes when a create's outcome is unknown. The same intent
    always gets the same seed (a re-run resumes, it never re-rolls); a new salt draws another.
    Below 2^31, inside both documented seed ranges.
    """
    return int(key[:8], 16) % 2**31


class IntentStore(Protocol):
    """The intent records every worker that may start the same generation shares, and their locks.

    Implemented by `FileIntentStore` and `PostgresIntentStore` (`seedance/stores/`); open one with
    `seedance.state.intent_store()`.
    """

    def locked(self, key: str) -> AbstractContextManager[None]:
        """Hold the exclusive lock of one intent key, blocking until other holders release it.

        Released when the block ends, and by the system (never by a timeout) if the holder dies.
        """
        ...

    def get(self, key: str) -> Intent | None: ...

    def put(self, intent: Intent) -> Intent:
        """Write a whole record (never half of one), stamped with the time of writing; returns what was written."""
        ...

    def all(self) -> list[Intent]: ...

    def claimed_task_ids(self) -> set[str]:
        """Task ids recorded by any intent here: never adopted by another one."""
        ...

    def owned_by(self, owner: str) -> list[Intent]:
        """Intents whose task was created by the flow run `owner`."""
        ...

    def discard(self, key: str) -> None:
        """Forget an intent whose create was provably refused, so a later run may try again."""
        ...

    def record_of(self, key: str) -> str:
        """Where a person finds the record of `key` to correct it by hand (no secret in it)."""
        ...
