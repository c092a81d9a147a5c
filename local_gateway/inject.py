"""Acting out a `FaultPlan`: a wrapper with `GatewayApp`'s interface that breaks some exchanges.

Every request an Ark endpoint or a result URL receives draws at most one fault (`faults.py` says
which kinds apply where and what each does); the admin endpoints pass straight through, and
`/_local/faults` reads or replaces the plan while the gateway runs. Draws come from one seeded
generator: with one client at a time, a seed replays the same faults.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from email.utils import formatdate
from typing import Final, TypeVar

from pydantic import ValidationError

from local_gateway import ids
from local_gateway.errors import ArkError, invalid_parameter
from local_gateway.faults import TASK_FAILURES, Endpoint, FaultKind, FaultPlan, applicable, task_failure_codes
from local_gateway.plan import OutputPlan
from local_gateway.routes import Cut, GatewayApp, Request, Response, endpoint_of
from local_gateway.stats import Stats
from seedance.ark.types import TaskError

log = logging.getLogger(__name__)

FAULTS_PATH: Final = "/_local/faults"

_T = TypeVar("_T")

_RATE_LIMITS: Final = (
    ("RateLimitExceeded.EndpointRPMExceeded", "The request rate of this endpoint has exceeded its RPM limit. Please retry later"),
    ("ServerOverloaded", "The service is currently unable to handle additional requests due to server overload"),
)
_QUOTA: Final = ("QuotaExceeded", "The request has exceeded the quota")
"""Too many queued tasks on the account (ark-api.md §5.3): only a create can meet it."""
_SERVER_ERRORS: Final = (
    (500, "InternalServiceError", "The service encountered an unexpected internal error"),
    # Ark's codes for 502 and 503 are not documented (ark-api.md §5.2); these are our choice.
    (502, "InternalServiceError", "The upstream service returned an invalid response"),
    (503, "ServerOverloaded", "The service is temporarily unavailable"),
)


class FaultInjector:
    """Serves through `app`, injecting the faults `plan` asks for. Counts every request to an
    endpoint in `stats` (here, so that requests a fault answers alone count too) and every fault.

    Example:
        >>> server = GatewayHTTPServer(address, FaultInjector(app, FaultPlan(rate=0.2, seed=1), stats))
    """

    def __init__(
        self,
        app: GatewayApp,
        plan: FaultPlan,
        stats: Stats,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._app = app
        self._stats = stats
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._plan = plan
        self._random = random.Random(plan.seed)
        self._injected = 0
        self._shown: set[str] = set()
        """Tasks a status read has already shown as succeeded (completion-500 strikes once per task)."""

    @property
    def plan(self) -> FaultPlan:
        with self._lock:
            return self._plan

    def set_plan(self, plan: FaultPlan) -> None:
        """Replace the plan; draws restart from its seed."""
        with self._lock:
            self._plan = plan
            self._random = random.Random(plan.seed)
            self._injected = 0
        log.info("fault plan: %s", plan.model_dump_json())

    def refuse(self, error: ArkError) -> Response:
        return self._app.refuse(error)

    def handle(self, request: Request) -> Response:
        """Answer one request, perhaps wrongly; never raises."""
        if request.path.rstrip("/") == FAULTS_PATH:
            return self._admin(request)
        endpoint = endpoint_of(request)
        if endpoint is not None:
            self._stats.request(endpoint)
        plan = self.plan
        if endpoint is None or request.method == "HEAD" or not plan.active:
            return self._app.handle(request)
        if endpoint in ("get", "list"):
            return self._read(request, endpoint, plan)
        kind = self._draw(plan, applicable(endpoint))
        if kind is None:
            return self._app.handle(request)
        if kind in (FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR):
            return self._refusal(kind, request, endpoint, plan)
        if endpoint == "files":
            return self._file(kind, request)
        return self._create(kind, request, plan)

    # -- the kinds ------------------------------------------------------------------------------

    def _create(self, kind: FaultKind, request: Request, plan: FaultPlan) -> Response:
        self._count(kind, request)
        if kind is FaultKind.DROP_BEFORE_CREATE:
            return Response.unanswered()
        if kind is FaultKind.LATE_CREATE:
            self._sleep(plan.slow_seconds)
            return self._app.handle(request)
        if kind is FaultKind.TASK_FAILURE:
            return self._app.handle(dataclasses.replace(request, fail_task_with=lambda output: self._task_failure(plan, output)))
        response = self._app.handle(request)
        if kind is FaultKind.SLOW:
            self._sleep(plan.slow_seconds)
        else:  # drop-after-create: unanswered, or cut halfway through the body
            response.cut = Cut() if self._choice((True, False)) else Cut(body_bytes=len(response.body) // 2)
        return response

    def _read(self, request: Request, endpoint: Endpoint, plan: FaultPlan) -> Response:
        # Reads change nothing, so the real answer can be made first and then replaced.
        response = self._app.handle(request)
        succeeded = self._newly_succeeded(response)
        kind = self._draw(plan, applicable(endpoint, shows_success=bool(succeeded)))
        if kind in (None, FaultKind.COMPLETION_500):
            with self._lock:
                self._shown.update(succeeded)
        if kind is None:
            return response
        if kind is FaultKind.SLOW:
            self._count(kind, request)
            self._sleep(plan.slow_seconds)
            return response
        if kind is FaultKind.COMPLETION_500:
            self._count(kind, request)
            return self._app.refuse(ArkError(500, "InternalServiceError", "The service encountered an unexpected internal error"))
        return self._refusal(kind, request, endpoint, plan)

    def _refusal(self, kind: FaultKind, request: Request, endpoint: Endpoint, plan: FaultPlan) -> Response:
        """rate-limit or server-error: nothing is done, an Ark error is sent."""
        self._count(kind, request)
        if kind is FaultKind.RATE_LIMIT:
            code, message = self._choice(_RATE_LIMITS + ((_QUOTA,) if endpoint == "create" else ()))
            response = self._app.refuse(ArkError(429, code, message))
            response.headers["Retry-After"] = self._retry_after(plan.retry_after_seconds)
        else:
            status, code, message = self._choice(_SERVER_ERRORS)
            response = self._app.refuse(ArkError(status, code, message))
            if status == 503:
                response.headers["Retry-After"] = str(plan.retry_after_seconds)
        return response

    def _task_failure(self, plan: FaultPlan, output: OutputPlan) -> TaskError:
        """The error a `task-failure` ends a task with: the plan's code, else one drawn from those
        that fit what the task renders (its audio can only be refused if it generates some)."""
        code = plan.task_failure_code or self._choice(task_failure_codes(audio=output.audio))
        return TaskError(code=code, message=TASK_FAILURES[code])

    def _file(self, kind: FaultKind, request: Request) -> Response:
        if kind is FaultKind.EXPIRED_URL:
            self._count(kind, request)
            request_id = ids.request_id(self._clock())
            response = Response.xml_error(403, "AccessDenied", "Request has expired.", request_id)
            response.headers["X-Request-Id"] = request_id
            return response
        response = self._app.handle(request)
        if response.status in (200, 206) and response.content_length >= 2:
            self._count(kind, request)
            share = self.plan.truncate_at
            sent = max(1, int(response.content_length * share)) if share else self._randint(1, response.content_length - 1)
            response.cut = Cut(body_bytes=sent)
        return response

    # -- plumbing -------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        if request.method == "GET":
            return Response.json(200, self.plan.model_dump(mode="json"))
        if request.method != "POST":
            return self._app.refuse(ArkError(405, "MethodNotAllowed", f"{request.method} is not allowed on {FAULTS_PATH}"))
        try:
            plan = FaultPlan.model_validate_json(request.body or b"{}")
        except ValidationError as exc:
            return self._app.refuse(invalid_parameter("body", f"not a fault plan: {exc.errors()[0]['msg']}"))
        self.set_plan(plan)
        return Response.json(200, plan.model_dump(mode="json"))

    def _newly_succeeded(self, response: Response) -> list[str]:
        """Ids of tasks this 200 read shows as succeeded for the first time."""
        if response.status != 200:
            return []
        payload = json.loads(response.body)
        tasks = payload.get("items", [payload])
        with self._lock:
            return [t["id"] for t in tasks if t.get("status") == "succeeded" and t["id"] not in self._shown]

    def _draw(self, plan: FaultPlan, kinds: tuple[FaultKind, ...]) -> FaultKind | None:
        with self._lock:
            if plan.limit is not None and self._injected >= plan.limit:
                return None
            point = self._random.random()
            for kind in kinds:
                point -= plan.probability(kind, kinds)
                if point < 0:
                    self._injected += 1
                    return kind
        return None

    def _count(self, kind: FaultKind, request: Request) -> None:
        self._stats.fault(kind)
        log.info("fault %s on %s %s", kind.value, request.method, request.path)

    def _choice(self, options: Sequence[_T]) -> _T:
        with self._lock:
            return self._random.choice(options)

    def _randint(self, low: int, high: int) -> int:
        with self._lock:
            return self._random.randint(low, high)

    def _retry_after(self, seconds: int) -> str:
        """Delta-seconds or, as often, an HTTP date that many seconds ahead (both are valid, RFC 9110)."""
        if self._choice((True, False)):
            return str(seconds)
        return formatdate(math.ceil(self._clock()) + seconds, usegmt=True)
