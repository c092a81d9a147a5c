"""The Prefect side of Ark's status callbacks (their URLs and checks are in `seedance/callbacks.py`).

- `callback_request`: with `SEEDANCE_CALLBACK_URL` and `SEEDANCE_CALLBACK_SECRET` set, a create
  carries its intent's callback URL;
- `emit_status`: `seedance callbacks serve` turns each accepted callback into the event
  `seedance.task.status` about `seedance.task.<task id>`;
- `callback_wake`: a waiting generation listens for its task's events on a thread of its own and
  wakes its polling loop, which reads the task from the gateway at once.

Why Prefect events rather than a call from the receiver to the waiting process: the receiver cannot
know which worker waits for which task, while the event stream (`/api/events/out`) reaches every
process that reaches the Prefect API, and replays the last minute on (re)connection, so a callback
that lands while a waiter connects is not lost. Receiver and workers must therefore share a Prefect
server (`PREFECT_API_URL`); without one, waiting polls as before.

An event carries the status, the model and any error, never the result URLs: those are 24-hour
credentials, and events are readable by everyone with access to the Prefect API.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

from prefect.events import emit_event
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.settings import PREFECT_API_URL

from blocks.gateway import SeedanceGateway
from seedance.ark.types import ContentGenerationTask, CreateTaskRequest
from seedance.callbacks import EVENT, SECRET_ENV, CallbackSigner, event_id, task_resource_id, with_callback
from seedance.settings import get_settings

CONNECT_SECONDS: Final = 10.0
"""How long a waiter gives its event subscription to connect before it starts polling anyway."""

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


def callback_request(request: CreateTaskRequest, intent_key: str, gateway: SeedanceGateway, logger: Logger) -> CreateTaskRequest:
    """`request` with its intent's callback URL when callbacks are set up (`seedance.callbacks.with_callback`)."""
    settings = get_settings()
    signer = CallbackSigner.from_environment()
    if settings.callback_url is not None and signer is None:
        logger.warning("SEEDANCE_CALLBACK_URL is set but %s is not: no callback for this task; waiting by polling", SECRET_ENV)
    return with_callback(request, intent_key, base_url=settings.callback_url, signer=signer, dialect=gateway.get_dialect())


def emit_status(task: ContentGenerationTask, intent_key: str) -> None:
    """Emit the event of one accepted callback; every delivery of the same status is the same event."""
    payload: dict[str, Any] = {"status": task.status.value, "model": task.model, "updated_at": task.updated_at}
    if task.error is not None:
        payload["error"] = {"code": task.error.code, "message": task.error.message}
    emit_event(
        EVENT,
        resource={"prefect.resource.id": task_resource_id(task.id), "prefect.resource.name": task.id},
        related=[{"prefect.resource.id": f"seedance.intent.{intent_key}", "prefect.resource.role": "intent"}],
        payload=payload,
        id=event_id(task.id, task.status.value),
    )


@contextlib.contextmanager
def callback_wake(task_id: str, logger: Logger) -> Iterator[threading.Event | None]:
    """An event set by each status event of `task_id` while in the block; None when callbacks are
    not set up (no `SEEDANCE_CALLBACK_URL`, or no Prefect server to hear them on)."""
    if get_settings().callback_url is None or not PREFECT_API_URL.value():
        yield None
        return
    listener = _Listener(task_id, logger)
    listener.start()
    try:
        yield listener.wake
    finally:
        listener.stop()


class _Listener:
    """A subscription to one task's status events, on a thread with its own event loop.

    `start` returns once subscribed, or after `CONNECT_SECONDS`; if the subscription cannot be made
    or breaks for good, a warning says so and `wake` is simply never set (polling goes on).
    """

    def __init__(self, task_id: str, logger: Logger) -> None:
        self.wake = threading.Event()
        self._task_id = task_id
        self._logger = logger
        self._filter = EventFilter(
            event=EventNameFilter(name=[EVENT]), resource=EventResourceFilter(id=[task_resource_id(task_id)])
        )
        self._running = threading.Event()
        self._settled = threading.Event()
        self._cancel: Callable[[], object] = lambda: None
        # the copied context carries Prefect's settings (which API, which profile) into the thread
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name=f"callbacks-{task_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._running.wait()
        self._settled.wait(CONNECT_SECONDS)

    def stop(self) -> None:
        self._cancel()
        self._thread.join()

    def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(self._listen())

    async def _listen(self) -> None:
        loop, listening = asyncio.get_running_loop(), asyncio.current_task()
        assert listening is not None
        self._cancel = lambda: loop.call_soon_threadsafe(listening.cancel)
        self._running.set()
        try:
            # a server restart closes the stream cleanly: connect again rather than stop listening
            async with get_events_subscriber(filter=self._filter, reconnect_on_clean_close=True) as subscriber:
                self._settled.set()
                async for _ in subscriber:
                    self.wake.set()
        except Exception as exc:
            self._logger.warning(
                "task %s: not listening for its callbacks (%s: %s); waiting by polling", self._task_id, type(exc).__name__, exc
            )
        finally:
            self._settled.set()
