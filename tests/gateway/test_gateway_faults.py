"""Injected faults: what each kind looks like on the wire, and how the client and pipeline core react.

One in-process gateway serves the module; each test sets its own plan through `POST /_local/faults`
(rate 1 for the kind under test, so every request it can touch gets it) and reads the counters of
`GET /_local/stats`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_gateway import FaultKind, FaultPlan, GatewayConfig, LocalGateway
from local_gateway.faults import APPLIES_TO, TASK_FAILURES, applicable, parse_rates, task_failure_codes
from seedance.ark.client import ArkClient
from seedance.ark.types import CreateTaskRequest, TaskStatus, TextContent
from seedance.bulk_http import BulkTransport
from seedance.download import download
from seedance.errors import (
    ArkConnectionError,
    ArkTimeoutError,
    AudioPolicyViolationError,
    CreateOutcomeUnknownError,
    DownloadError,
    GenerationFailedError,
    RateLimitError,
    ResultURLExpiredError,
    SeedanceError,
    ServerError,
    is_retryable,
)
from seedance.stores.files import FileIntentStore
from seedance.submit import submit_once
from seedance.tls import tls_context
from seedance.waiting import PollSchedule, wait_for_task, watch
from tests.conftest import GatewayFactory
from tests.gateway.support import FAST, LITE_T2V, TASKS, create, error_of, text_body, wait_for

KEY = "fault-key"
SLOW = 1.0
"""The gateway's slow_seconds: twice the clients' read timeout."""
READ_TIMEOUT = 0.5
AUDIO_REFUSED = "OutputAudioSensitiveContentDetected.PolicyViolation"
TASK_FAILURE_CODES = {
    "OutputVideoSensitiveContentDetected",
    "OutputVideoSensitiveContentDetected.PolicyViolation",
    AUDIO_REFUSED,
    "InternalServiceError",
}
SCHEDULE = PollSchedule(initial=0.05, maximum=0.2)


class Faulty:
    """The module's gateway, with helpers to set its plan and read its counters."""

    def __init__(self, gateway: LocalGateway) -> None:
        self.gateway = gateway
        self.origin = gateway.origin
        self.base_url = gateway.base_url
        self.api = httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        self.admin = httpx.Client(base_url=gateway.origin, timeout=10)

    def plan(self, kind: FaultKind | None = None, **fields: Any) -> None:
        """Inject only `kind`, on every request it can touch (or the plan `fields` describe); counters reset."""
        body = {"rates": {kind.value: 1.0}} if kind else {}
        body |= {"slow_seconds": SLOW, "seed": 1} | fields
        self.admin.post("/_local/faults", json=body).raise_for_status()
        self.admin.post("/_local/reset").raise_for_status()

    def stats(self) -> dict[str, Any]:
        return self.admin.get("/_local/stats").json()

    def client(self, sleeps: list[float] | None = None, read_retries: int = 2) -> ArkClient:
        return ArkClient(
            self.base_url,
            KEY,
            gateway="faulty",
            read_retries=read_retries,
            retry_base_seconds=0.01,
            timeout=httpx.Timeout(connect=2.0, read=READ_TIMEOUT, write=2.0, pool=2.0),
            sleep=sleeps.append if sleeps is not None else time.sleep,
        )


@pytest.fixture(scope="module")
def module_gateway() -> Iterator[Faulty]:
    with LocalGateway(GatewayConfig(api_key=KEY, latency=0.2)) as gateway:
        faulty = Faulty(gateway)
        yield faulty
        faulty.api.close()
        faulty.admin.close()


@pytest.fixture
def faulty(module_gateway: Faulty) -> Iterator[Faulty]:
    module_gateway.plan()
    yield module_gateway
    module_gateway.plan()


@pytest.fixture(scope="module")
def finished(module_gateway: Faulty) -> dict[str, Any]:
    """A succeeded task (made without faults) and the bytes of its video."""
    module_gateway.plan()
    task = wait_for(module_gateway.api, create(module_gateway.api, text_body(LITE_T2V, prompt="a kite")))
    assert task["status"] == "succeeded"
    return task | {"bytes": httpx.get(task["content"]["video_url"]).content}


def request(index: int, **fields: Any) -> CreateTaskRequest:
    """A small request of its own: the seed (which the task list echoes) tells it from the others."""
    return CreateTaskRequest(
        model=LITE_T2V,
        content=[TextContent(text=f"fault test {index}")],
        resolution="480p",
        ratio="16:9",
        duration=2,
        seed=index,
        **fields,
    )


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# -- the plan ---------------------------------------------------------------------------------------


def test_rate_spreads_over_the_kinds_that_apply_and_per_kind_rates_replace_their_share() -> None:
    plan = FaultPlan(rate=0.2, rates=parse_rates(["slow=0.05", "expired-url=0"]))
    create_kinds = applicable("create")
    assert plan.probability(FaultKind.RATE_LIMIT, create_kinds) == pytest.approx(0.2 / len(create_kinds))
    assert plan.probability(FaultKind.SLOW, create_kinds) == 0.05
    assert plan.probability(FaultKind.TRUNCATED_DOWNLOAD, applicable("files")) == pytest.approx(0.1)
    assert plan.probability(FaultKind.EXPIRED_URL, applicable("files")) == 0
    assert FaultKind.COMPLETION_500 not in applicable("get") and FaultKind.COMPLETION_500 in applicable("get", shows_success=True)
    assert set().union(*APPLIES_TO.values()) == set(FaultKind)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: parse_rates(["nope=0.1"]), "KIND one of"),
        (lambda: parse_rates(["slow"]), "expected KIND=P"),
        (lambda: FaultPlan(rates={FaultKind.SLOW: 1.5}), "allowed: 0-1"),
        (lambda: FaultPlan(rate=0.5, rates={FaultKind.SLOW: 0.9}), "add up to"),
        (lambda: FaultPlan(task_failure_code="OutputVideoSensitive"), "not a task failure code; allowed: Output"),
    ],
)
def test_impossible_plans_are_refused(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_the_cli_options_become_the_plan(gateway_factory: GatewayFactory) -> None:
    process = gateway_factory(
        "--faults",
        "0.25",
        "--fault-rate",
        "slow=0",
        "--fault-rate",
        "expired-url=0.5",
        "--slow-seconds",
        "3",
        "--fault-seed",
        "9",
    )
    plan = httpx.get(f"{process.origin}/_local/faults", timeout=5).json()
    assert plan == {
        "rate": 0.25,
        "rates": {"slow": 0.0, "expired-url": 0.5},
        "slow_seconds": 3.0,
        "retry_after_seconds": 1,
        "truncate_at": None,
        "task_failure_code": None,
        "seed": 9,
        "limit": None,
    }
    assert process.stats()["faults"] == dict.fromkeys((kind.value for kind in FaultKind), 0)


def test_the_plan_changes_at_run_time_and_bad_plans_are_refused(faulty: Faulty) -> None:
    faulty.plan(FaultKind.SERVER_ERROR)
    assert faulty.admin.get("/_local/faults").json()["rates"] == {"server-error": 1.0}
    assert faulty.api.get(f"{TASKS}/cgt-nope").status_code in (500, 502, 503)
    refused = faulty.admin.post("/_local/faults", json={"rates": {"server-error": 2}})
    assert error_of(refused, 400)["code"] == "InvalidParameter"
    faulty.plan()
    assert faulty.api.get(f"{TASKS}/cgt-nope").status_code == 404


def test_admin_endpoints_are_never_faulted(faulty: Faulty) -> None:
    faulty.plan(rate=1.0)
    for path in ("/_local/stats", "/_local/faults", "/_local/tasks"):
        assert faulty.admin.get(path).status_code == 200
    assert faulty.admin.post("/_local/reset").status_code == 200


# -- each kind on the wire --------------------------------------------------------------------------


def test_rate_limit_is_a_429_envelope_with_retry_after_in_seconds_or_as_a_date(faulty: Faulty) -> None:
    faulty.plan(FaultKind.RATE_LIMIT, retry_after_seconds=3)
    codes, formats = set(), set()
    for index in range(12):
        response = (
            faulty.api.post(TASKS, json=text_body(LITE_T2V, prompt=f"r{index}"))
            if index % 2
            else faulty.api.get(f"{TASKS}/cgt-x")
        )
        error = error_of(response, 429)
        assert error["type"] == "TooManyRequests"
        codes.add(error["code"])
        retry_after = response.headers["Retry-After"]
        if retry_after.isdigit():
            assert retry_after == "3"
            formats.add("seconds")
        else:
            ahead = parsedate_to_datetime(retry_after).timestamp() - time.time()
            assert 2 <= ahead <= 4
            formats.add("date")
    assert codes == {"RateLimitExceeded.EndpointRPMExceeded", "ServerOverloaded", "QuotaExceeded"}
    assert formats == {"seconds", "date"}
    stats = faulty.stats()
    assert stats["tasks_created"] == 0
    assert stats["faults"]["rate-limit"] == 12 and stats["requests"]["create"] == 6 and stats["requests"]["get"] == 6


def test_server_error_is_a_500_502_or_503_envelope_and_does_nothing(faulty: Faulty) -> None:
    faulty.plan(FaultKind.SERVER_ERROR)
    seen = {}
    for index in range(24):
        response = faulty.api.post(TASKS, json=text_body(LITE_T2V, prompt=f"s{index}"))
        seen[response.status_code] = error_of(response, response.status_code)["type"]
        assert ("Retry-After" in response.headers) == (response.status_code == 503)
    assert seen == {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable"}
    assert faulty.stats()["tasks_created"] == 0


def test_drop_before_create_closes_the_connection_unanswered_and_creates_nothing(faulty: Faulty) -> None:
    faulty.plan(FaultKind.DROP_BEFORE_CREATE)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        faulty.api.post(TASKS, json=text_body(LITE_T2V))
    stats = faulty.stats()
    assert (stats["tasks_created"], stats["requests"]["create"], stats["faults"]["drop-before-create"]) == (0, 1, 1)


def test_drop_after_create_creates_then_closes_before_or_during_the_answer(faulty: Faulty) -> None:
    faulty.plan(FaultKind.DROP_AFTER_CREATE)
    messages = set()
    for index in range(6):
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            faulty.api.post(TASKS, json=text_body(LITE_T2V, prompt=f"d{index}"))
        messages.add("unanswered" if "without sending a response" in str(caught.value) else "cut")
    assert messages == {"unanswered", "cut"}
    assert faulty.stats()["tasks_created"] == 6


def test_slow_answers_after_the_client_gave_up_but_a_slow_create_made_its_task_at_once(faulty: Faulty) -> None:
    faulty.plan(FaultKind.SLOW)
    impatient = httpx.Client(base_url=faulty.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=READ_TIMEOUT)
    with impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.get(f"{TASKS}/cgt-x")
        with pytest.raises(httpx.ReadTimeout):
            impatient.post(TASKS, json=text_body(LITE_T2V))
    assert faulty.stats()["tasks_created"] == 1


def test_late_create_makes_the_task_only_after_the_client_gave_up(faulty: Faulty) -> None:
    faulty.plan(FaultKind.LATE_CREATE)
    with httpx.Client(base_url=faulty.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=READ_TIMEOUT) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.post(TASKS, json=text_body(LITE_T2V))
    assert faulty.stats()["tasks_created"] == 0
    until(lambda: faulty.stats()["tasks_created"] == 1, timeout=SLOW + 5)


def test_completion_500_strikes_the_first_read_showing_success_once(faulty: Faulty) -> None:
    faulty.plan(FaultKind.COMPLETION_500)
    by_get, by_list = create(faulty.api, text_body(LITE_T2V, prompt="g")), create(faulty.api, text_body(LITE_T2V, prompt="l"))
    until(lambda: [t["status"] for t in _states(faulty, by_get, by_list)] == ["succeeded", "succeeded"])
    got = [faulty.api.get(f"{TASKS}/{by_get}") for _ in range(2)]
    listed = [faulty.api.get(TASKS, params={"filter.task_ids": by_list}) for _ in range(2)]
    for first, second in (got, listed):
        assert error_of(first, 500)["code"] == "InternalServiceError" and second.status_code == 200
    assert got[1].json()["status"] == "succeeded" and listed[1].json()["items"][0]["status"] == "succeeded"
    assert faulty.stats()["faults"]["completion-500"] == 2


def test_task_failure_ends_the_task_failed_with_a_real_ark_code(faulty: Faulty) -> None:
    faulty.plan(FaultKind.TASK_FAILURE)
    task = wait_for(faulty.api, create(faulty.api, text_body(LITE_T2V)))
    assert task["status"] == "failed" and task["error"]["code"] in TASK_FAILURE_CODES
    assert "content" not in task


def test_a_task_failure_refuses_audio_only_of_a_task_that_generates_audio(faulty: Faulty) -> None:
    assert set(TASK_FAILURES) == TASK_FAILURE_CODES
    assert set(task_failure_codes(audio=True)) == TASK_FAILURE_CODES
    assert set(task_failure_codes(audio=False)) == TASK_FAILURE_CODES - {AUDIO_REFUSED}
    faulty.plan(FaultKind.TASK_FAILURE)  # seed 1, and all creates before any read: the same draws every run
    silent = [create(faulty.api, text_body(LITE_T2V, prompt=f"silent {i}")) for i in range(8)]
    assert {wait_for(faulty.api, task_id)["error"]["code"] for task_id in silent} <= TASK_FAILURE_CODES - {AUDIO_REFUSED}


def test_task_failure_ends_with_the_plan_s_code(faulty: Faulty) -> None:
    faulty.plan(FaultKind.TASK_FAILURE, task_failure_code=AUDIO_REFUSED)
    task = wait_for(faulty.api, create(faulty.api, text_body(FAST)))
    assert task["status"] == "failed" and task["error"] == {"code": AUDIO_REFUSED, "message": TASK_FAILURES[AUDIO_REFUSED]}
    assert task["generate_audio"] is True and "content" not in task


def test_truncated_download_announces_every_byte_then_closes_early(faulty: Faulty, finished: dict[str, Any]) -> None:
    faulty.plan(FaultKind.TRUNCATED_DOWNLOAD)
    size = len(finished["bytes"])
    for headers in ({}, {"Range": "bytes=100-"}):
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
            with httpx.stream("GET", finished["content"]["video_url"], headers=headers) as response:
                assert int(response.headers["Content-Length"]) == size - (100 if headers else 0)
                for chunk in response.iter_raw():
                    received += chunk
        assert 0 < len(received) < int(response.headers["Content-Length"])
        assert bytes(received) == finished["bytes"][100 if headers else 0 :][: len(received)]


def test_expired_url_is_a_403_like_the_object_store_sends(faulty: Faulty, finished: dict[str, Any]) -> None:
    faulty.plan(FaultKind.EXPIRED_URL)
    response = httpx.get(finished["content"]["video_url"])
    assert response.status_code == 403 and response.headers["Content-Type"] == "application/xml"
    assert "<Code>AccessDenied</Code>" in response.text and "Request has expired." in response.text
    assert faulty.stats()["faults"]["expired-url"] == 1 and faulty.stats()["requests"]["files"] == 1


# -- the client's reaction, kind by kind ------------------------------------------------------------


@dataclass(frozen=True)
class Reaction:
    kind: FaultKind
    call: str
    """create, get, or submit (submit_once, reconciling with a settle time longer than `slow`)."""
    raises: type[SeedanceError] | None
    requests: int
    """Requests the call made to its endpoint (create for create and submit)."""
    tasks: int
    """Tasks that exist afterwards (once a late create has landed)."""
    limit: int | None = None
    """Faults injected at most: 1 spares the list requests of reconciliation."""
    resumed: bool = True
    """For a submit that succeeds: the task id came from reconciliation, not a create's answer."""


REACTIONS = [
    Reaction(FaultKind.RATE_LIMIT, "get", RateLimitError, 3, 0),  # read_retries=2, each pause >= Retry-After
    Reaction(FaultKind.RATE_LIMIT, "create", RateLimitError, 3, 0),  # a 429 proves nothing was created: retried
    Reaction(FaultKind.SERVER_ERROR, "get", ServerError, 3, 0),
    Reaction(FaultKind.SLOW, "get", ArkTimeoutError, 3, 0),
    Reaction(FaultKind.SERVER_ERROR, "create", CreateOutcomeUnknownError, 1, 0),  # never repeated blindly
    Reaction(FaultKind.DROP_BEFORE_CREATE, "create", CreateOutcomeUnknownError, 1, 0),
    Reaction(FaultKind.DROP_AFTER_CREATE, "create", CreateOutcomeUnknownError, 1, 1),
    Reaction(FaultKind.SLOW, "create", CreateOutcomeUnknownError, 1, 1),
    Reaction(FaultKind.LATE_CREATE, "create", CreateOutcomeUnknownError, 1, 1),
    Reaction(FaultKind.DROP_AFTER_CREATE, "submit", None, 1, 1),  # reconciliation adopts the task: never created twice
    Reaction(FaultKind.SLOW, "submit", None, 1, 1, limit=1),
    Reaction(FaultKind.LATE_CREATE, "submit", None, 1, 1),
    Reaction(FaultKind.SERVER_ERROR, "submit", None, 2, 1, limit=1, resumed=False),  # proven not created: created again
    Reaction(FaultKind.DROP_BEFORE_CREATE, "submit", ArkConnectionError, 3, 0),  # ... 3 times at most, then retryable
]


@pytest.mark.parametrize("reaction", REACTIONS, ids=lambda r: f"{r.kind.value}-{r.call}")
def test_client_reaction(faulty: Faulty, finished: dict[str, Any], tmp_path: Path, reaction: Reaction) -> None:
    faulty.plan(reaction.kind, retry_after_seconds=2, limit=reaction.limit)
    sleeps: list[float] = []
    index = REACTIONS.index(reaction) + 100
    with faulty.client(sleeps) as client:
        calls: dict[str, Callable[[], object]] = {
            "get": lambda: client.get_task(finished["id"]),
            "create": lambda: client.create_task(request(index)),
            "submit": lambda: submit_once(client, FileIntentStore(tmp_path), "k", request(index), settle_seconds=SLOW + 0.5),
        }
        if reaction.raises is None:
            assert calls[reaction.call]().resumed is reaction.resumed  # type: ignore[attr-defined]
        else:
            with pytest.raises(reaction.raises) as caught:
                calls[reaction.call]()
            if reaction.call == "submit":  # proven uncreated: retryable, and no intent left to block a retry
                assert is_retryable(caught.value) and FileIntentStore(tmp_path).get("k") is None
    endpoint = "get" if reaction.call == "get" else "create"
    stats = faulty.stats()
    assert stats["requests"][endpoint] == reaction.requests
    until(lambda: faulty.stats()["tasks_created"] == reaction.tasks, timeout=SLOW + 5)
    assert faulty.stats()["duplicate_creates"] == 0
    if reaction.kind is FaultKind.RATE_LIMIT:
        assert len(sleeps) == 2 and all(pause >= 1.0 for pause in sleeps)  # the backoff alone is < 0.02 s


def test_completion_500_is_retried_and_the_success_still_seen(faulty: Faulty) -> None:
    faulty.plan(FaultKind.COMPLETION_500)
    with faulty.client() as client:
        task_id = _create(client, request(1))
        task = wait_for_task(client, task_id, schedule=SCHEDULE, deadline_seconds=30)
    assert task.status is TaskStatus.SUCCEEDED
    assert faulty.stats()["faults"]["completion-500"] == 1


def test_task_failure_is_a_permanent_generation_failure(faulty: Faulty) -> None:
    faulty.plan(FaultKind.TASK_FAILURE)
    with faulty.client() as client:
        task = wait_for_task(client, _create(client, request(2)), schedule=SCHEDULE, deadline_seconds=30)
        failure = GenerationFailedError.for_task(task, gateway=client.gateway)
    assert task.status is TaskStatus.FAILED and task.error is not None and task.error.code in TASK_FAILURE_CODES
    assert not is_retryable(failure)


def test_refused_audio_is_a_permanent_failure_that_says_how_to_re_run_without_audio(faulty: Faulty) -> None:
    faulty.plan(FaultKind.TASK_FAILURE, task_failure_code=AUDIO_REFUSED)
    with faulty.client() as client:
        audible = CreateTaskRequest(model=FAST, content=[TextContent(text="fault test 3")], resolution="480p", duration=4)
        task = wait_for_task(client, _create(client, audible), schedule=SCHEDULE, deadline_seconds=30)
        failure = GenerationFailedError.for_task(task, gateway=client.gateway)
    assert isinstance(failure, AudioPolicyViolationError) and not is_retryable(failure)
    assert "set `generate_audio: false` in the spec" in str(failure)


class RangeRecorder(BulkTransport):
    """The download's own transport, noting each request's Range header."""

    def __init__(self) -> None:
        super().__init__(verify=tls_context())
        self.ranges: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.ranges.append(request.headers.get("Range"))
        return super().handle_request(request)


def test_a_truncated_download_resumes_with_range_and_ends_byte_identical(
    faulty: Faulty, finished: dict[str, Any], tmp_path: Path
) -> None:
    faulty.plan(rates={FaultKind.TRUNCATED_DOWNLOAD.value: 0.6})
    recorder = RangeRecorder()
    result = download(
        finished["content"]["video_url"], tmp_path / "video.mp4", attempts=30, retry_base_seconds=0.0, transport=recorder
    )
    assert result.resumed >= 1 and faulty.stats()["faults"]["truncated-download"] == result.resumed
    assert recorder.ranges[0] is None and all(
        r and r.startswith("bytes=") for r in recorder.ranges[1:]
    )  # never from byte 0 again
    assert (tmp_path / "video.mp4").read_bytes() == finished["bytes"]
    assert result.sha256 == hashlib.sha256(finished["bytes"]).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video.mp4"]


def test_an_expired_url_raises_a_typed_error_and_a_fresh_get_recovers(
    faulty: Faulty, finished: dict[str, Any], tmp_path: Path
) -> None:
    faulty.plan(FaultKind.EXPIRED_URL)
    with pytest.raises(ResultURLExpiredError) as caught:
        download(finished["content"]["video_url"], tmp_path / "video.mp4")
    assert caught.value.status_code == 403 and isinstance(caught.value, DownloadError) and is_retryable(caught.value)
    assert faulty.stats()["requests"]["files"] == 1  # not retried against the same URL
    assert list(tmp_path.iterdir()) == []
    faulty.plan()
    with faulty.client() as client:
        fresh = client.get_task(finished["id"])
    assert fresh.content is not None and fresh.content.video_url
    download(fresh.content.video_url, tmp_path / "video.mp4")
    assert (tmp_path / "video.mp4").read_bytes() == finished["bytes"]


# -- service tiers: flex tasks are listed only under their own filter --------------------------------


def test_an_uncertain_flex_create_is_reconciled_under_the_flex_filter(faulty: Faulty, tmp_path: Path) -> None:
    faulty.plan(FaultKind.DROP_AFTER_CREATE)
    with faulty.client() as client:
        submitted = submit_once(client, FileIntentStore(tmp_path), "flex", request(3, service_tier="flex"), settle_seconds=0.2)
    stats = faulty.stats()
    assert submitted.resumed and (stats["tasks_created"], stats["duplicate_creates"], stats["requests"]["create"]) == (1, 0, 1)


def test_watching_flex_and_default_tasks_costs_one_list_request_per_tier(faulty: Faulty) -> None:
    with faulty.client() as client:
        ids = [_create(client, request(10 + i, service_tier="flex" if i % 2 else None)) for i in range(6)]
        until(lambda: {t["status"] for t in _states(faulty, *ids)} == {"succeeded"})
        faulty.plan()
        finished = list(watch(client, ids, schedule=SCHEDULE, deadline_seconds=30))
    assert sorted(t.id for t in finished) == sorted(ids)
    requests = faulty.stats()["requests"]
    assert (requests["list"], requests["get"]) == (2, 0)  # not a GET per flex task


def _create(client: ArkClient, req: CreateTaskRequest) -> str:
    """The new task's id: this gateway always answers a create with one."""
    task_id = client.create_task(req).id
    assert task_id is not None
    return task_id


def _states(faulty: Faulty, *task_ids: str) -> list[dict[str, Any]]:
    tasks = faulty.admin.get("/_local/tasks").json()["tasks"]
    return [t for t in tasks if t["id"] in task_ids]


def test_a_download_cut_at_half_completes_by_resuming_with_the_source_bytes(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    """`seedance gateway serve --truncate-at 0.5`: the first transfer stops at 50%, Range fetches the rest."""
    gateway = gateway_factory("--fault-rate", "truncated-download=1", "--truncate-at", "0.5", "--fault-limit", "1", api_key=KEY)
    with httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as api:
        task = wait_for(api, create(api, text_body(LITE_T2V, prompt="a half-sent kite")))
    recorder = RangeRecorder()
    result = download(task["content"]["video_url"], tmp_path / "video.mp4", retry_base_seconds=0.0, transport=recorder)
    source = httpx.get(task["content"]["video_url"]).content  # the fault limit is spent: the whole file
    assert result.resumed == 1 and gateway.stats()["faults"]["truncated-download"] == 1
    assert recorder.ranges == [None, f"bytes={len(source) // 2}-"]
    assert (tmp_path / "video.mp4").read_bytes() == source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video.mp4"]
