"""The gateway's endpoints as one function from `Request` to `Response`, free of sockets.

`GatewayApp.handle` is the single entry point, so anything that must act on whole exchanges wraps
it: `inject.FaultInjector` counts every request and injects faults; `server.py` owns the wire (bytes,
connections) and acts out a response's `Cut`.
"""

from __future__ import annotations

import hmac
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol
from xml.sax.saxutils import escape

from local_gateway import ids
from local_gateway.dialects import ServedDialect
from local_gateway.errors import ArkError, from_problems, invalid_parameter, not_found
from local_gateway.faults import Endpoint
from local_gateway.fetch import ReferenceFetcher
from local_gateway.files import FILES_PREFIX, UrlSigner, byte_range
from local_gateway.lifecycle import Lifecycle
from local_gateway.plan import OutputPlan, plan_output
from local_gateway.stats import Stats
from local_gateway.store import DeleteOutcome, TaskFilter, TaskRecord, TaskStore
from local_gateway.wire import task_object
from seedance.ark.types import CreateTaskRequest, DraftTaskContent, TaskError, TaskStatus
from seedance.validation import image_mode, parse_request, strip_nulls

log = logging.getLogger(__name__)

API_PREFIX: Final = "/api/v3"
TASKS_PATH: Final = f"{API_PREFIX}/contents/generations/tasks"
STATS_PATH: Final = "/_local/stats"
RESET_PATH: Final = "/_local/reset"
TASKS_STATE_PATH: Final = "/_local/tasks"
ADMIN_PATHS: Final = (STATS_PATH, RESET_PATH, TASKS_STATE_PATH)

PAGE_RANGE: Final = (1, 500)
# Defaults for page_num/page_size are not documented (ark-api.md §4.3): 1 and 10 are our choice.
DEFAULT_PAGE_NUM: Final = 1
DEFAULT_PAGE_SIZE: Final = 10
FILE_TYPES: Final = {".mp4": "video/mp4", ".png": "image/png"}


@dataclass(frozen=True)
class Request:
    """One HTTP request, already read off the wire."""

    method: str
    path: str
    """Percent-decoded path, without the query."""
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    """Lower-cased names; `host` is always present (result URLs are built from it)."""
    body: bytes = b""
    fail_task_with: Callable[[OutputPlan], TaskError] | None = None
    """Set by fault injection on a create: the task it makes ends `failed` with the error this gives
    for what the task will render."""


def endpoint_of(request: Request) -> Endpoint | None:
    """The Ark endpoint (or `files`, the result URLs) a request is for; None for anything else."""
    path, method = request.path.rstrip("/") or "/", request.method
    if path == TASKS_PATH:
        return "create" if method == "POST" else "list" if method == "GET" else None
    if _task_id(path) is not None:
        return "get" if method == "GET" else "delete" if method == "DELETE" else None
    if path.startswith(FILES_PREFIX) and method in ("GET", "HEAD"):
        return "files"
    return None


def _task_id(path: str) -> str | None:
    """The `{id}` of `.../tasks/{id}`, else None."""
    if not path.startswith(TASKS_PATH + "/"):
        return None
    task_id = path[len(TASKS_PATH) + 1 :]
    return task_id if task_id and "/" not in task_id else None


@dataclass(frozen=True)
class FileBody:
    """A byte range of a file, streamed by the server instead of held in memory."""

    path: Path
    start: int
    length: int


@dataclass(frozen=True)
class Cut:
    """An exchange broken on purpose: the connection is closed once `body_bytes` bytes of the body
    are sent (after a status line and headers announcing all of it), or unanswered when None."""

    body_bytes: int | None = None


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: FileBody | None = None
    cut: Cut | None = None

    @classmethod
    def unanswered(cls) -> Response:
        """No response at all: the connection is closed without a byte (the status is never sent)."""
        return cls(0, cut=Cut())

    @property
    def content_length(self) -> int:
        return self.file.length if self.file is not None else len(self.body)

    @classmethod
    def json(cls, status: int, payload: Any) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(status, {"Content-Type": "application/json; charset=utf-8"}, body)

    @classmethod
    def xml_error(cls, status: int, code: str, message: str, request_id: str) -> Response:
        """An object-storage style error, like the TOS host behind Ark's result URLs sends."""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return cls(status, {"Content-Type": "application/xml"}, body.encode())


class App(Protocol):
    """What the HTTP server serves: `GatewayApp`, or a wrapper around it."""

    def handle(self, request: Request) -> Response: ...

    def refuse(self, error: ArkError) -> Response: ...


class GatewayApp:
    """Routes requests to the Ark endpoints and the gateway's own `/_local/*` helpers, speaking
    `dialect` (default: the official API's)."""

    def __init__(
        self,
        *,
        api_key: str,
        store: TaskStore,
        lifecycle: Lifecycle,
        fetcher: ReferenceFetcher,
        signer: UrlSigner,
        stats: Stats,
        dialect: ServedDialect | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api_key = api_key
        self._dialect = dialect or ServedDialect.named("ark")
        self._store = store
        self._lifecycle = lifecycle
        self._fetcher = fetcher
        self._signer = signer
        self._stats = stats
        self._clock = clock

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises."""
        request_id = ids.request_id(self._clock())
        try:
            response = self._route(request, request_id)
        except ArkError as exc:
            response = _error_response(exc, request_id)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            failure = ArkError(500, "InternalServiceError", "The service encountered an unexpected internal error")
            response = _error_response(failure, request_id)
        response.headers["X-Request-Id"] = request_id
        return response

    def refuse(self, error: ArkError) -> Response:
        """The response for a request refused before it could be read (bad framing, oversized body)."""
        request_id = ids.request_id(self._clock())
        response = _error_response(error, request_id)
        response.headers["X-Request-Id"] = request_id
        return response

    def _route(self, request: Request, request_id: str) -> Response:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            return self._api(request, path)
        if path.startswith(FILES_PREFIX) and method in ("GET", "HEAD"):
            return self._file(request, path, request_id)
        if path == STATS_PATH and method == "GET":
            return Response.json(200, self._stats.snapshot())
        if path == RESET_PATH and method == "POST":
            self._stats.reset()
            return Response.json(200, {})
        if path == TASKS_STATE_PATH and method == "GET":
            return Response.json(200, {"tasks": [_task_state(record) for record in self._store.all()]})
        if path in ADMIN_PATHS or path.startswith(FILES_PREFIX):
            raise ArkError(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
        raise not_found("NotFound", f"The requested path {path} does not exist")

    def _api(self, request: Request, path: str) -> Response:
        endpoint = endpoint_of(request)
        self._authenticate(request)
        task_id = _task_id(path)
        if endpoint == "create":
            return self._create(request)
        if endpoint == "list":
            return self._list(request)
        if endpoint == "get" and task_id is not None:
            return self._get(request, task_id)
        if endpoint == "delete" and task_id is not None:
            return self._delete(task_id)
        if path == TASKS_PATH or task_id is not None:
            raise ArkError(405, "MethodNotAllowed", f"{request.method} is not allowed on {path}")
        raise not_found("NotFound", f"The requested path {path} does not exist")

    def _authenticate(self, request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key.strip().encode(), self._api_key.encode()):
            raise ArkError(401, "AuthenticationError", "The API key or AK/SK in the request is missing or invalid")

    # -- tasks ---------------------------------------------------------------------------------

    def _create(self, request: Request) -> Response:
        dialect = self._dialect
        body = _json_body(request.body)
        parsed = parse_request(dialect.read_body(body))
        if isinstance(parsed, list):
            raise from_problems(parsed)
        spec = dialect.check_model(parsed.model)
        problems = dialect.problems(parsed)
        if problems:
            raise from_problems(problems)
        parsed = dialect.with_own_defaults(parsed)
        if spec is None:
            # check_request lets endpoint ids through: only the real server knows their model.
            raise not_found(
                "InvalidEndpointOrModel.NotFound",
                f"The endpoint {parsed.model} does not exist: the local gateway knows no endpoint ids (ep-...); use a model id",
                "model",
            )
        mode = image_mode(parsed)
        assert mode is not None, "check_request refuses mixed image modes"
        draft = self._draft_plan(parsed)
        created_at, created_mono = self._clock(), time.monotonic()
        task_id = self._store.reserve_id(created_at)
        task_dir = self._lifecycle.task_dir(task_id)
        try:
            references = self._fetcher.fetch(parsed, spec, task_dir / "refs")
            plan = plan_output(parsed, spec, mode, references, draft)
        except BaseException:
            self._store.release_id(task_id)
            shutil.rmtree(task_dir, ignore_errors=True)
            raise
        fail_with = request.fail_task_with(plan) if request.fail_task_with is not None else None
        origin = f"http://{request.headers['host']}"
        record = self._store.create(task_id, parsed, plan, created_at, created_mono, fail_with=fail_with, origin=origin)
        self._stats.created(strip_nulls(body))
        self._lifecycle.submit(record)
        log.info("task %s created (%s, %sx%s, %d frames)", task_id, parsed.model, plan.width, plan.height, plan.frames)
        return Response.json(200, dialect.create_answer(task_id, created_at))

    def _draft_plan(self, request: CreateTaskRequest) -> OutputPlan | None:
        for index, item in enumerate(request.content):
            if not isinstance(item, DraftTaskContent):
                continue
            param = f"content[{index}].draft_task.id"
            draft = self._store.get(item.draft_task.id)
            # How Ark refuses a bad draft reference is not documented; 400 InvalidParameter is our choice.
            if draft is None:
                raise invalid_parameter(param, f"the draft task {item.draft_task.id} does not exist")
            if not draft.plan.draft or draft.status is not TaskStatus.SUCCEEDED:
                raise invalid_parameter(param, f"the task {draft.id} is not a succeeded draft task (status {draft.status.value})")
            if draft.request.model != request.model:
                raise invalid_parameter(param, f"the draft task was made with {draft.request.model}, not {request.model}")
            return draft.plan
        return None

    def _get(self, request: Request, task_id: str) -> Response:
        record = self._store.get(task_id)
        if record is None:
            raise _task_not_found(task_id)
        return Response.json(200, self._task_object(request, record))

    def _list(self, request: Request) -> Response:
        query = request.query
        page_num = _int_param(query, "page_num", DEFAULT_PAGE_NUM, PAGE_RANGE)
        page_size = _int_param(query, "page_size", DEFAULT_PAGE_SIZE, PAGE_RANGE)
        status = self._dialect.status_filter(_last(query, "filter.status"))
        tier = _last(query, "filter.service_tier") or "default"
        if tier not in ("default", "flex"):
            raise invalid_parameter("filter.service_tier", f"{tier!r} is not a service tier; allowed: default, flex")
        task_filter = TaskFilter(
            status=status,
            task_ids=frozenset(query.get("filter.task_ids", [])),
            model=_last(query, "filter.model"),
            # The docs give filter.service_tier the default `default`: flex tasks need an explicit filter.
            service_tier=tier,
        )
        records, total = self._store.list(task_filter, page_num, page_size)
        return Response.json(200, {"items": [self._task_object(request, r) for r in records], "total": total})

    def _delete(self, task_id: str) -> Response:
        outcome, record = self._lifecycle.delete(task_id)
        if outcome is DeleteOutcome.NOT_FOUND:
            raise _task_not_found(task_id)
        if outcome is DeleteOutcome.REFUSED:
            assert record is not None
            # Ark documents that running and cancelled tasks cannot be deleted, but not the error it
            # returns (ark-api.md §1.3): 400 InvalidParameter is our choice.
            finished = ", ".join(
                s.value for s in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.EXPIRED) if s in self._dialect.statuses
            )
            queued = "cancelled" if self._dialect.cancels_queued else "deleted"
            raise invalid_parameter(
                "task_id",
                f"The task {task_id} is {record.status.value} and cannot be deleted: only queued tasks can be "
                f"{queued}, and only {finished} tasks deleted",
            )
        log.info("task %s %s", task_id, outcome.value)
        return Response.json(200, {})

    def _task_object(self, request: Request, record: TaskRecord) -> dict[str, Any]:
        origin = f"http://{request.headers['host']}"
        return self._dialect.present(
            task_object(record, lambda name: self._signer.url(origin, record.id, name, record.updated_at))
        )

    # -- result files ---------------------------------------------------------------------------

    def _file(self, request: Request, path: str, request_id: str) -> Response:
        task_id, _, name = path[len(FILES_PREFIX) :].partition("/")
        reason = self._signer.check(
            task_id, name, _last(request.query, "expires") or "", _last(request.query, "signature") or "", self._clock()
        )
        if reason is not None:
            return Response.xml_error(403, "AccessDenied", reason, request_id)
        record = self._store.get(task_id)
        result = record.result if record is not None else None
        files = [f for f in (result.video, result.last_frame) if f is not None] if result else []
        found = next((f for f in files if f.name == name), None)
        if found is None or not found.exists():
            return Response.xml_error(404, "NoSuchKey", "The specified key does not exist.", request_id)
        size = found.stat().st_size
        headers = {"Content-Type": FILE_TYPES.get(found.suffix, "application/octet-stream"), "Accept-Ranges": "bytes"}
        try:
            wanted = byte_range(request.headers.get("range"), size)
        except ValueError:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(416, headers)
        if wanted is None:
            return Response(200, headers, file=FileBody(found, 0, size))
        first, last = wanted
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return Response(206, headers, file=FileBody(found, first, last - first + 1))


def _task_state(record: TaskRecord) -> dict[str, Any]:
    """A task as `GET /_local/tasks` shows it: times to the microsecond, for measuring how soon a
    client notices a change (the task object's `updated_at` is whole seconds), and what it renders."""
    return {
        "id": record.id,
        "status": record.status.value,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        # the resolved defaults the task object does not echo (a gateway's own defaults show here)
        "watermark": record.plan.watermark,
        "camera_fixed": record.plan.camera_fixed,
    }


def _error_response(error: ArkError, request_id: str) -> Response:
    return Response.json(error.status, error.envelope(request_id))


def _task_not_found(task_id: str) -> ArkError:
    # The code Ark sends for an unknown or expired task id is not documented (ark-api.md §5.3).
    return not_found("ResourceNotFound", f"The specified task {task_id} is not found", "task_id")


def _json_body(raw: bytes) -> Any:
    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON value")

    try:
        return json.loads(raw, parse_constant=refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise invalid_parameter("body", f"The request body is not valid JSON: {exc}") from None


def _last(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _int_param(query: Mapping[str, list[str]], name: str, default: int, bounds: tuple[int, int]) -> int:
    raw = _last(query, name)
    if raw is None:
        return default
    low, high = bounds
    try:
        value = int(raw)
    except ValueError:
        raise invalid_parameter(name, f"{raw!r} is not an integer; allowed: {low}-{high}") from None
    if not low <= value <= high:
        raise invalid_parameter(name, f"{value} is out of range; allowed: {low}-{high}")
    return value
