"""A synchronous client for Ark's content-generation task API. Knows nothing of Prefect.

Retry by billing risk: GET, list and DELETE are retried with jittered backoff that honours
`Retry-After`. The create POST is retried only when the server provably did not accept it (no
connection could be made, or 429); once the request may have reached the server, an unknown outcome
raises `CreateOutcomeUnknownError` and the caller must reconcile before it ever creates again.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from seedance.ark import _constants as defaults
from seedance.ark.dialects import DIALECTS, Dialect, DialectName
from seedance.ark.types import (
    ContentGenerationTask,
    CreateTaskRequest,
    CreateTaskResponse,
    ErrorEnvelope,
    TaskList,
    TaskStatus,
)
from seedance.errors import (
    ArkAPIError,
    ArkConnectionError,
    ArkError,
    ArkTimeoutError,
    CreateOutcomeUnknownError,
    ProtocolError,
    RateLimitError,
    ServerError,
    api_error_class,
)
from seedance.retry import backoff_delay, parse_retry_after
from seedance.tls import tls_context

logger = logging.getLogger("seedance.ark")

_Model = TypeVar("_Model", bound=BaseModel)

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before a connection carried any byte of the request."""


class ArkClient:
    """Create, get, list and delete Seedance tasks on one gateway.

    Args:
        base_url: the gateway's API root, e.g. `https://ark.cn-beijing.volces.com/api/v3`.
        api_key: sent as `Authorization: Bearer …`; never logged, never in a repr or an error.
        gateway: a name for this gateway, used in every error message and log line.
        dialect: how this gateway differs from the official API (default: the official API).
        timeout: per-phase httpx timeouts.
        read_retries: retries after the first attempt of GET, list and DELETE.
        create_retries: retries of a create that the server provably did not accept.
        transport: an httpx transport, the single seam for unit tests.

    Example:
        >>> with ArkClient("http://127.0.0.1:8000/api/v3", key, gateway="local") as ark:
        ...     task_id = ark.create_task(request).id
        ...     task = ark.get_task(task_id)
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        gateway: str = "ark",
        dialect: Dialect | None = None,
        timeout: httpx.Timeout = defaults.API_TIMEOUT,
        read_retries: int = defaults.READ_RETRIES,
        create_retries: int = 2,
        retry_base_seconds: float = defaults.RETRY_BASE_SECONDS,
        retry_cap_seconds: float = defaults.RETRY_CAP_SECONDS,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.gateway = gateway
        self.dialect = dialect or DIALECTS[DialectName.ARK]
        self.base_url = base_url.rstrip("/")
        self._read_retries = read_retries
        self._create_retries = create_retries
        self._retry_base = retry_base_seconds
        self._retry_cap = retry_cap_seconds
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": defaults.USER_AGENT,
            },
            timeout=timeout,
            transport=transport,
            verify=tls_context(),
        )

    def __repr__(self) -> str:
        return f"ArkClient(gateway={self.gateway!r}, base_url={self.base_url!r})"

    def __enter__(self) -> ArkClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- operations -------------------------------------------------------------------------

    def create_task(self, request: CreateTaskRequest) -> CreateTaskResponse:
        """Submit a generation. Paid: read the module docstring before retrying around it.

        Raises:
            CreateOutcomeUnknownError: the request may have reached the server (timeout after
                sending, connection lost mid-response, 5xx), or it was accepted with an answer
                that names no task (`accepted`).
            ArkAPIError: the server refused it (4xx), after retries of provable refusals (429).
            ArkConnectionError: no connection could be made, after retries.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.send(self.build_create(request))
            except _NOT_SENT as exc:
                error: ArkError = self._transport_error(exc, "create")
            except httpx.TransportError as exc:
                raise CreateOutcomeUnknownError(
                    f"create: {type(exc).__name__} after the request was sent; the task may exist", gateway=self.gateway
                ) from exc
            else:
                if response.is_success:
                    try:
                        created = self._parse(response, CreateTaskResponse, self.dialect.read_task)
                    except ProtocolError as exc:
                        raise CreateOutcomeUnknownError(f"create: {exc}", gateway=self.gateway, accepted=True) from exc
                    if not created.id:
                        raise CreateOutcomeUnknownError(
                            "create: accepted, but the answer holds no task id", gateway=self.gateway, accepted=True
                        )
                    return created
                error = self._api_error(response)
                if isinstance(error, ServerError):
                    raise CreateOutcomeUnknownError(
                        f"create: HTTP {error.status_code} {error.code}; the server may have created the task",
                        gateway=self.gateway,
                    ) from error
                if not isinstance(error, RateLimitError):
                    raise error
            if not error.retryable or attempt > self._create_retries:
                raise error
            self._pause("create", attempt, error)

    def build_create(self, request: CreateTaskRequest) -> httpx.Request:
        """The create request exactly as `create_task` sends it (one per attempt), without sending it.

        `seedance generate --dry-run` prints it: URL, headers (the key masked by the caller) and body.
        """
        return self._http.build_request(
            "POST", defaults.TASKS_PATH, json=self.dialect.shape(request), headers={"X-Client-Request-Id": _client_request_id()}
        )

    def get_task(self, task_id: str) -> ContentGenerationTask:
        """The task's current state. Retried on transient errors."""
        return self._parse(self._read("GET", f"{defaults.TASKS_PATH}/{task_id}"), ContentGenerationTask, self.dialect.read_task)

    def list_tasks(
        self,
        *,
        page_num: int | None = None,
        page_size: int | None = None,
        status: TaskStatus | str | None = None,
        task_ids: Iterable[str] = (),
        model: str | None = None,
        service_tier: str | None = None,
    ) -> TaskList:
        """Tasks of the last 7 days matching the filters (`filter.task_ids` is repeated per id)."""
        params: list[tuple[str, str]] = []
        for name, value in (
            ("page_num", page_num),
            ("page_size", page_size),
            ("filter.status", status),
            ("filter.model", model),
            ("filter.service_tier", service_tier),
        ):
            if value is not None:
                params.append((name, str(value)))
        params.extend(("filter.task_ids", task_id) for task_id in task_ids)
        return self._parse(
            self._read("GET", defaults.TASKS_PATH, params=httpx.QueryParams(tuple(params))), TaskList, self._read_list
        )

    def delete_task(self, task_id: str) -> None:
        """Cancel a queued task, or delete a finished one. Running and cancelled tasks are refused."""
        self._read("DELETE", f"{defaults.TASKS_PATH}/{task_id}")

    # --- plumbing ---------------------------------------------------------------------------

    def _read(self, method: str, path: str, *, params: httpx.QueryParams | None = None) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, path, params=params)
            except httpx.TransportError as exc:
                error: ArkError = self._transport_error(exc, f"{method} {path}")
            else:
                if response.is_success:
                    return response
                error = self._api_error(response)
            if not error.retryable or attempt > self._read_retries:
                raise error
            self._pause(f"{method} {path}", attempt, error)

    def _pause(self, what: str, attempt: int, error: ArkError) -> None:
        retry_after = error.retry_after if isinstance(error, ArkAPIError) else None
        delay = backoff_delay(attempt, base=self._retry_base, cap=self._retry_cap, retry_after=retry_after)
        logger.warning("[%s] %s failed (%s); retry %d in %.1f s", self.gateway, what, type(error).__name__, attempt, delay)
        self._sleep(delay)

    def _transport_error(self, exc: httpx.TransportError, what: str) -> ArkConnectionError:
        cls = ArkTimeoutError if isinstance(exc, httpx.TimeoutException) else ArkConnectionError
        return cls(f"{what}: {type(exc).__name__}: {exc}", gateway=self.gateway)

    def _api_error(self, response: httpx.Response) -> ArkAPIError:
        request_id = response.headers.get("X-Request-Id")
        try:
            detail = ErrorEnvelope.model_validate_json(response.content).error
            code, message, param = detail.code, detail.message, detail.param or None
        except ValidationError:
            code, message, param = f"HTTP{response.status_code}", response.text[:200].strip(), None
        cls = api_error_class(response.status_code, code, message)
        return cls(
            gateway=self.gateway,
            status_code=response.status_code,
            code=code,
            message=message,
            param=param,
            request_id=request_id,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _read_list(self, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("items"), list):
            return {**raw, "items": [self.dialect.read_task(item) for item in raw["items"]]}
        return raw

    def _parse(self, response: httpx.Response, model: type[_Model], read: Callable[[Any], Any]) -> _Model:
        where = f"{response.request.method} {response.request.url.path}"
        try:
            raw = response.json()
        except ValueError:
            raise ProtocolError(f"{where}: the response is not JSON", gateway=self.gateway) from None
        try:
            return model.model_validate(read(raw))
        except ValidationError as exc:
            raise ProtocolError(
                f"{where}: unexpected response ({exc.error_count()} problems, first: {_first_error(exc)})",
                gateway=self.gateway,
            ) from None


def _first_error(exc: ValidationError) -> str:
    error: dict[str, Any] = exc.errors()[0]  # type: ignore[assignment]
    return f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"


def _client_request_id() -> str:
    """`X-Client-Request-Id` as the official SDK builds it: a timestamp and 20 random characters."""
    alphabet = string.ascii_letters + string.digits
    return datetime.now().strftime("%Y%m%d%H%M%S") + "".join(secrets.choice(alphabet) for _ in range(20))
