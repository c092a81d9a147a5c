"""Submit-once: a durable record of every generation we intend to create.

Before the create POST a record in state `submitting` is written; after the response it holds the
task id. A task retry, a flow re-run or a run after a crash finds the record and resumes with that
task id instead of paying again. A record left in `submitting` or `unknown` means a create may have
reached the gateway without us seeing the answer: nothing creates again until that is resolved.

Records are JSON files in a state folder (`SEEDANCE_STATE_DIR`), written to a temporary file and
renamed (never half written), and an exclusive `flock` per intent key serialises workers, so two
processes starting the same generation cannot both reach the create call.

Why files and flock, not the alternatives: the lock must be held across the create call itself
(check, write `submitting`, POST, write the id) and released by the kernel if the holder dies —
`flock` does exactly that, with no lease to expire mid-call and no service to run. Prefect
transaction locks need a lock manager service (Redis) for more than one process; S3 conditional
writes cannot be held across a call, so a crashed holder would need a lease and a clock. The cost:
workers must share the state folder on one host, or on a shared file system whose `flock` works
across hosts (NFSv4 does; some network file systems do not). Workers on separate machines without
such a folder would each keep their own records; the task-list reconciliation still stops them
from adopting each other's tasks, but not from creating the same generation twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from seedance.files import atomic_write_text
from seedance.locking import file_lock


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


class IntentStore:
    """Intent records under `root`, one JSON file per key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the exclusive lock of one intent key (blocks until other holders release it)."""
        with file_lock(self.root / f"{key}.lock"):
            yield

    def get(self, key: str) -> Intent | None:
        try:
            return Intent.model_validate_json(self._path(key).read_bytes())
        except FileNotFoundError:
            return None

    def put(self, intent: Intent) -> Intent:
        """Write a record atomically (temporary file, fsync, rename)."""
        intent = intent.model_copy(update={"updated_at": time.time()})
        atomic_write_text(self._path(intent.key), intent.model_dump_json(indent=2))
        return intent

    def all(self) -> list[Intent]:
        return [Intent.model_validate_json(path.read_bytes()) for path in self.root.glob("*.json")]

    def claimed_task_ids(self) -> set[str]:
        """Task ids recorded by any intent here: never adopted by another one."""
        return {intent.task_id for intent in self.all() if intent.task_id}

    def owned_by(self, owner: str) -> list[Intent]:
        """Intents whose task was created by the flow run `owner`."""
        return [intent for intent in self.all() if intent.owner == owner and intent.task_id]

    def discard(self, key: str) -> None:
        """Forget an intent whose create was provably refused, so a later run may try again."""
        self._path(key).unlink(missing_ok=True)
