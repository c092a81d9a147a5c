"""A gateway's limits, shared by every worker, kept as Prefect global concurrency limits.

    block field             limit                          what takes a slot, and for how long
    max_concurrent_tasks    seedance-tasks-<label>         each task of a run, from just before its create
                                                           (or its resumption) until it is terminal
    requests_per_minute     seedance-creates-<label>       each create; slots decay at rpm / 60 per second

`<label>` is the block's name (the host for a gateway from the environment), slugified. Flows call
`ensure_limits` when they start, so the limits exist, hold the block's values and show on the UI's
Concurrency page. Taking a slot is strict: a missing limit is an error, never "no limit".

Task slots are leases of `LEASE_SECONDS`, renewed while held, so the slots of a worker killed before
it could release them free themselves when their leases run out (the server sweeps every 15 s).
They are taken through the Prefect client's lease calls rather than `prefect.concurrency.sync.concurrency`:
a wait for a slot must end when the run stops (a batch's submitting threads), and when the run itself
holds every slot it must wait for one of its own to come back rather than ask the server; and each
acquisition that Prefect's service gives up on is logged as an ERROR.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import math
import threading
import time
from types import TracebackType
from typing import Final
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectAlreadyExists
from prefect.runtime import flow_run
from prefect.utilities.slugify import slugify

from blocks.gateway import SeedanceGateway

logger = logging.getLogger("seedance.limits")

LEASE_SECONDS: Final = 60.0
"""The shortest lease Prefect grants: a killed worker's task slots free within about a minute."""
LAPSED_WITHIN_SECONDS: Final = LEASE_SECONDS + 15.0
"""When the slot of a lease no longer renewed is free at the latest: the server sweeps every 15 s."""
RENEW_EVERY_SECONDS: Final = 20.0
"""How often held leases are renewed: two renewals in a row may fail before a slot is lost."""
LOCKED: Final = 423
"""Prefect's answer when no slot is free; its `Retry-After` says when to ask again."""
GONE: Final = 410
"""Prefect's answer to renewing a lease that has already expired: its slot is lost."""


def tasks_limit(gateway: SeedanceGateway) -> str:
    """The name of the gateway's task limit (it exists only when the block sets `max_concurrent_tasks`)."""
    return slugify(f"seedance-tasks-{gateway.label}")


def creates_limit(gateway: SeedanceGateway) -> str:
    """The name of the gateway's create rate limit (it exists only when the block sets `requests_per_minute`)."""
    return slugify(f"seedance-creates-{gateway.label}")


def ensure_limits(gateway: SeedanceGateway) -> None:
    """Create the gateway's limits when missing, and give them the block's values when these changed.

    A limit the block no longer sets is left alone: runs still holding its slots release them there.
    """
    wanted: list[tuple[str, int, float | None]] = []
    if gateway.max_concurrent_tasks is not None:
        wanted.append((tasks_limit(gateway), gateway.max_concurrent_tasks, None))
    if gateway.requests_per_minute is not None:
        wanted.append((creates_limit(gateway), gateway.requests_per_minute, gateway.requests_per_minute / 60))
    if not wanted:
        return
    with get_client(sync_client=True) as client:
        for name, limit, decay in wanted:
            try:
                client.upsert_global_concurrency_limit_by_name(name, limit, decay)
            except ObjectAlreadyExists:  # another worker created it between this one's read and create
                client.upsert_global_concurrency_limit_by_name(name, limit, decay)


def pace_create(gateway: SeedanceGateway) -> None:
    """Wait until the gateway's create rate allows one more create, and count it; no wait without a rate."""
    if gateway.requests_per_minute is not None:
        rate_limit(creates_limit(gateway), strict=True)


class NoFreeSlot(Exception):
    """No task slot came free within the wait allowed. Nothing was created; the caller may try later."""


class TaskSlots:
    """The slots of a gateway's task limit that one flow run holds, one per generation (by intent key)
    whose task is queued or running upstream.

    Leaving the `with` block, however it is left, releases every slot still held; while inside, a
    background thread renews their leases. Without a task limit on the block, nothing is held.

    Example:
        >>> with TaskSlots(gateway) as slots:
        ...     slots.take(intent_key)          # before the create
        ...     ...                             # create, then wait until the task is terminal
        ...     slots.give_back(intent_key)
    """

    def __init__(self, gateway: SeedanceGateway) -> None:
        self.limit_name = None if gateway.max_concurrent_tasks is None else tasks_limit(gateway)
        self._capacity = gateway.max_concurrent_tasks or 0
        self._leases: dict[str, UUID] = {}
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        """Notified when this run gives a slot back: a `take` waiting on the run's own slots asks again."""
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._stopped_waiting = threading.Event()
        self._changes = 0
        """Counts the changes `_changed` announces: a waiting `take` sees whether one came while it asked."""

    def __enter__(self) -> TaskSlots:
        if self.limit_name is not None:
            # the copied context carries Prefect's settings (which API, which profile) into the thread
            context = contextvars.copy_context()
            self._renewer = threading.Thread(target=context.run, args=(self._renew,), name="seedance-task-slots", daemon=True)
            self._renewer.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        for key in list(self._leases):
            self.give_back(key)

    @property
    def limited(self) -> bool:
        """Whether the gateway has a task limit (otherwise `take` and `give_back` do nothing)."""
        return self.limit_name is not None

    @property
    def all_held(self) -> bool:
        """Whether this run holds every slot of the limit itself (a `take` then waits for one of them)."""
        return self.limit_name is not None and len(self._leases) >= self._capacity

    @property
    def stopped_waiting(self) -> bool:
        """Whether `stop_waiting` was called."""
        return self._stopped_waiting.is_set()

    def stop_waiting(self) -> None:
        """Make every `take` that is waiting for a slot, and every later one, give up (NoFreeSlot)."""
        self._stopped_waiting.set()
        self._changed()

    def take(self, key: str, wait: float | None = None) -> None:
        """Hold a slot for generation `key`, unless it holds one already.

        Args:
            wait: seconds to wait for a slot to come free; None waits as long as it takes (or until
                `stop_waiting`), 0 asks once.

        Raises:
            NoFreeSlot: no slot came free within `wait` seconds, or `stop_waiting` was called.
            ConcurrencySlotAcquisitionError: the limit does not exist (`ensure_limits` was not called,
                or someone deleted it).
        """
        if self.limit_name is None or key in self._leases:
            return
        give_up = None if wait is None else time.monotonic() + wait
        with get_client(sync_client=True) as client:
            while True:
                left = None if give_up is None else max(0.0, give_up - time.monotonic())
                with self._freed:
                    # this run holds every slot itself: asking would only be refused until it gives one back
                    if not self._freed.wait_for(lambda: not self.all_held or self.stopped_waiting, timeout=left):
                        raise NoFreeSlot(f"this run holds all {self._capacity} slots of {self.limit_name}")
                    seen = self._changes
                if self.stopped_waiting:
                    raise NoFreeSlot(f"the run stopped waiting for a slot of {self.limit_name}")
                answer = self._ask(client, self.limit_name)
                if isinstance(answer, UUID):
                    break
                left = math.inf if give_up is None else give_up - time.monotonic()
                if left <= 0:
                    raise NoFreeSlot(f"no slot of {self.limit_name} came free within {wait} s")
                with self._freed:  # asked again when Prefect says, or as soon as this run's slots change
                    self._freed.wait_for(functools.partial(self._changed_since, seen), timeout=min(answer, left))
        with self._lock:
            if not self.stopped_waiting:
                self._leases[key] = answer
                return
        self._release(key, answer)  # granted as the run stopped waiting: nothing will use it
        raise NoFreeSlot(f"the run stopped waiting for a slot of {self.limit_name}")

    def give_back(self, key: str) -> None:
        """Release the slot of generation `key`, if it holds one."""
        with self._lock:
            lease = self._leases.pop(key, None)
        if lease is not None:
            self._release(key, lease)
            self._changed()

    def _release(self, key: str, lease: UUID) -> None:
        """Release `lease` on the Prefect API. One it does not take is only logged: the lease is no
        longer renewed, so the slot frees itself within `LEASE_SECONDS`."""
        try:
            with get_client(sync_client=True) as client:
                client.release_concurrency_slots_with_lease(lease)
        except Exception as exc:
            logger.warning(
                "could not release the slot of %s on %s (%s); it frees itself when its lease ends", key, self.limit_name, exc
            )

    def _changed_since(self, seen: int) -> bool:
        return self._changes != seen

    def _changed(self) -> None:
        """Wake every `take` waiting: this run's slots changed (one given back or lost), or it stopped waiting."""
        with self._freed:
            self._changes += 1
            self._freed.notify_all()

    def _ask(self, client: SyncPrefectClient, limit: str) -> UUID | float:
        """A lease on one slot of `limit`, or when none is free the seconds Prefect asks to wait."""
        run_id = flow_run.get_id()
        try:
            response = client.increment_concurrency_slots_with_lease(
                names=[limit],
                slots=1,
                mode="concurrency",
                lease_duration=LEASE_SECONDS,
                holder=ConcurrencyLeaseHolder(type="flow_run", id=UUID(run_id)) if run_id else None,
            )
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == LOCKED:
                return float(exc.response.headers.get("Retry-After", 1.0))
            raise
        granted = ConcurrencyLimitWithLeaseResponse.model_validate(response.json())
        if not granted.limits:
            raise ConcurrencySlotAcquisitionError(
                f"the Prefect concurrency limit {limit} does not exist; ensure_limits creates it"
            )
        return granted.lease_id

    def _renew(self) -> None:
        """Renew every held lease each `RENEW_EVERY_SECONDS` until the slots are left."""
        with get_client(sync_client=True) as client:
            while not self._stop.wait(RENEW_EVERY_SECONDS):
                with self._lock:
                    held = dict(self._leases)
                for key, lease in held.items():
                    try:
                        client.renew_concurrency_lease(lease, LEASE_SECONDS)
                    except Exception as exc:
                        self._renewal_failed(key, exc)

    def _renewal_failed(self, key: str, exc: Exception) -> None:
        """Log a lease that was not renewed; forget it when it has expired, since its slot is gone."""
        expired = isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == GONE
        if expired:
            with self._lock:
                self._leases.pop(key, None)
            self._changed()  # a take waiting on this run's own slots asks the server again
        logger.warning(
            "could not renew the slot of %s on %s (%s)%s",
            key,
            self.limit_name,
            exc,
            ": it has expired, and the limit may be exceeded until its task ends" if expired else "; trying again",
        )
