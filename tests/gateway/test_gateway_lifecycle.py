"""Task states move on time and by the rules of ark-api.md §1.3 and §4.4."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local_gateway import GatewayConfig, LocalGateway
from local_gateway.lifecycle import Lifecycle
from local_gateway.plan import OutputPlan
from local_gateway.render import RenderResult
from local_gateway.stats import Stats
from local_gateway.store import CANCELLED_RETENTION_SECONDS, RETENTION_SECONDS, DeleteOutcome, TaskFilter, TaskStore
from seedance.ark.types import CreateTaskRequest, TaskError, TaskStatus, TextContent
from tests.gateway.support import LITE_T2V, TASKS, create, error_of, text_body, wait_for

PLAN = OutputPlan(
    resolution="480p",
    ratio="16:9",
    width=864,
    height=480,
    frames=48,
    reports_frames=False,
    seed=1,
    generate_audio=None,
    draft=None,
    watermark=False,
    return_last_frame=False,
    tokens=19_440,
)
REQUEST = CreateTaskRequest(model=LITE_T2V, content=[TextContent(text="x")])
RESULT = RenderResult(video=Path("/nonexistent/video.mp4"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> TaskStore:
    return TaskStore(clock=clock)


def add(store: TaskStore, clock: Clock, request: CreateTaskRequest = REQUEST) -> str:
    task_id = store.reserve_id(clock.now)
    store.create(task_id, request, PLAN, clock.now, time.monotonic())
    return task_id


def in_status(store: TaskStore, clock: Clock, status: TaskStatus) -> str:
    task_id = add(store, clock)
    if status is TaskStatus.CANCELLED:
        store.delete(task_id)
    elif status is TaskStatus.EXPIRED:
        store.expire(task_id)
    elif status is not TaskStatus.QUEUED:
        store.start(task_id)
        if status is TaskStatus.SUCCEEDED:
            store.succeed(task_id, RESULT)
        elif status is TaskStatus.FAILED:
            store.fail(task_id, TaskError(code="InternalServiceError", message="boom"))
    record = store.get(task_id)
    assert record is not None and record.status is status
    return task_id


@pytest.mark.parametrize(
    ("status", "outcome", "after"),
    [
        (TaskStatus.QUEUED, DeleteOutcome.CANCELLED, TaskStatus.CANCELLED),
        (TaskStatus.RUNNING, DeleteOutcome.REFUSED, TaskStatus.RUNNING),
        (TaskStatus.CANCELLED, DeleteOutcome.REFUSED, TaskStatus.CANCELLED),
        (TaskStatus.SUCCEEDED, DeleteOutcome.DELETED, None),
        (TaskStatus.FAILED, DeleteOutcome.DELETED, None),
        (TaskStatus.EXPIRED, DeleteOutcome.DELETED, None),
    ],
)
def test_delete_follows_the_status(
    store: TaskStore, clock: Clock, status: TaskStatus, outcome: DeleteOutcome, after: TaskStatus | None
) -> None:
    task_id = in_status(store, clock, status)

    assert store.delete(task_id)[0] is outcome
    record = store.get(task_id)
    assert (record.status if record else None) is after


def test_transitions_only_leave_the_states_they_name(store: TaskStore, clock: Clock) -> None:
    task_id = add(store, clock)

    assert not store.succeed(task_id, RESULT)  # queued tasks cannot succeed
    clock.now += 3
    assert store.start(task_id) is not None
    assert store.start(task_id) is None
    assert store.expire(task_id)
    assert not store.succeed(task_id, RESULT)  # an expired task stays expired
    record = store.get(task_id)
    assert record is not None and record.updated_at == record.created_at + 3
    assert store.delete("cgt-20200101000000-nopee")[0] is DeleteOutcome.NOT_FOUND


@pytest.mark.parametrize("cancel_queued", [True, False], ids=["queued-cancelled", "queued-deleted"])
def test_stats_keep_the_most_tasks_queued_or_running_at_once(clock: Clock, cancel_queued: bool) -> None:
    stats = Stats()
    store = TaskStore(clock=clock, cancel_queued=cancel_queued, on_in_flight=stats.in_flight)
    first, second, third = (add(store, clock) for _ in range(3))
    store.start(first)
    store.succeed(first, RESULT)
    store.delete(second)
    assert (stats.snapshot()["in_flight"], stats.snapshot()["peak_in_flight"]) == (1, 3)

    stats.reset()
    assert stats.snapshot()["peak_in_flight"] == 1
    fourth = add(store, clock)
    store.start(third)
    store.fail(third, TaskError(code="InternalServiceError", message="boom"))
    store.expire(fourth)
    assert (stats.snapshot()["in_flight"], stats.snapshot()["peak_in_flight"]) == (0, 2)


def test_records_vanish_after_their_retention(store: TaskStore, clock: Clock) -> None:
    kept = add(store, clock)
    cancelled = in_status(store, clock, TaskStatus.CANCELLED)

    clock.now += CANCELLED_RETENTION_SECONDS
    assert store.get(cancelled) is None
    assert store.get(kept) is not None
    clock.now += RETENTION_SECONDS - CANCELLED_RETENTION_SECONDS
    assert store.get(kept) is None
    assert store.list(TaskFilter(), 1, 10) == ([], 0)


def test_a_task_still_unfinished_at_its_deadline_expires(tmp_path: Path) -> None:
    store = TaskStore(clock=time.time)
    release = threading.Event()

    def slow_render(plan: OutputPlan, out_dir: Path) -> RenderResult:
        release.wait(10)
        return RESULT

    lifecycle = Lifecycle(store, slow_render, tasks_dir=tmp_path, latency=0, queue_seconds=0, render_workers=1)
    lifecycle.start()
    try:
        # the validated minimum is an hour; the lifecycle itself takes any deadline
        task_id = store.reserve_id(time.time())
        record = store.create(
            task_id, REQUEST.model_copy(update={"execution_expires_after": 1}), PLAN, time.time(), time.monotonic()
        )
        lifecycle.submit(record)
        deadline = time.monotonic() + 5
        while (current := store.get(task_id)) is not None and current.status is not TaskStatus.EXPIRED:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        release.set()
        lifecycle.close()
    final = store.get(task_id)
    assert final is not None and final.status is TaskStatus.EXPIRED


@pytest.fixture(scope="module")
def failing_api() -> Iterator[httpx.Client]:
    def broken(plan: OutputPlan, out_dir: Path) -> RenderResult:
        raise RuntimeError("the GPU caught fire")

    with LocalGateway(GatewayConfig(api_key="k", latency=0.1), render=broken) as running:
        with httpx.Client(base_url=running.base_url, headers={"Authorization": "Bearer k"}) as client:
            yield client


def test_a_failed_render_makes_a_failed_task_that_can_be_deleted(failing_api: httpx.Client) -> None:
    task = wait_for(failing_api, create(failing_api, text_body(LITE_T2V)))

    assert task["status"] == "failed"
    assert task["error"]["code"] == "InternalServiceError"
    assert "the GPU caught fire" in task["error"]["message"]
    assert "content" not in task
    assert failing_api.delete(f"{TASKS}/{task['id']}").status_code == 200
    error_of(failing_api.get(f"{TASKS}/{task['id']}"), 404)


def test_success_comes_no_earlier_than_the_latency() -> None:
    with LocalGateway(GatewayConfig(api_key="k", latency=1.0, queue_seconds=0.3)) as running:
        with httpx.Client(base_url=running.base_url, headers={"Authorization": "Bearer k"}) as client:
            started = time.monotonic()
            task_id = create(client, text_body(LITE_T2V))
            assert client.get(f"{TASKS}/{task_id}").json()["status"] == "queued"
            wait_for(client, task_id, until={"running"})
            assert time.monotonic() - started >= 0.3
            task = wait_for(client, task_id)

    assert task["status"] == "succeeded"
    assert time.monotonic() - started >= 1.0
