"""The polling engine against a scripted gateway: one list per round, no lost results, a real deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from seedance.ark.client import ArkClient
from seedance.errors import WaitTimeoutError
from seedance.waiting import PollSchedule, Watchlist, expected_seconds, shared_pause, wait_for_task, watch

SCHEDULE = PollSchedule(initial=1.0, maximum=4.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def task(task_id: str, status: str) -> dict:
    return {"id": task_id, "model": "m", "status": status, "created_at": 1, "updated_at": 2}


def client_for(handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock) -> ArkClient:
    return ArkClient("http://gw/api/v3", "k", gateway="fake", transport=httpx.MockTransport(handler), sleep=clock.sleep)


def test_many_tasks_cost_one_list_request_per_round() -> None:
    clock, requests = FakeClock(), []
    done_at = {f"t{i}": 2.0 + i for i in range(50)}

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        ids = request.url.params.get_list("filter.task_ids")
        items = [task(i, "succeeded" if clock.now >= done_at[i] else "running") for i in ids]
        return httpx.Response(200, json={"items": items, "total": len(items)})

    finished = list(
        watch(client_for(handler, clock), done_at, schedule=SCHEDULE, deadline_seconds=600, clock=clock, sleep=clock.sleep)
    )
    assert sorted(t.id for t in finished) == sorted(done_at)
    assert all(r.url.path.endswith("/tasks") for r in requests)
    assert len(requests) / len(done_at) <= 0.5


def test_tasks_join_a_watchlist_while_others_are_watched_each_with_its_own_deadline() -> None:
    clock, asked = FakeClock(), []
    done_at = {"a": 3.0, "b": 5.0, "c": 1000.0}

    def handler(request: httpx.Request) -> httpx.Response:
        ids = request.url.params.get_list("filter.task_ids") or [request.url.path.rsplit("/", 1)[-1]]
        asked.append(sorted(ids))
        items = [task(i, "succeeded" if clock.now >= done_at[i] else "running") for i in ids]
        return httpx.Response(200, json={"items": items, "total": len(items)} if len(ids) > 1 else items[0])

    watchlist = Watchlist(client_for(handler, clock), clock=clock)
    watchlist.add("a", 100)
    assert watchlist.poll() == []
    clock.sleep(1)
    watchlist.add("b", 100)
    watchlist.add("c", 4)
    assert watchlist.seconds_left() == 4
    assert watchlist.poll() == []
    clock.sleep(2)
    assert [t.id for t in watchlist.poll()] == ["a"]
    clock.sleep(2)
    assert [t.id for t in watchlist.poll()] == ["b"]
    assert asked == [["a"], ["a", "b", "c"], ["a", "b", "c"], ["b", "c"]]
    [late] = watchlist.drop_overdue()
    assert late.task_id == "c" and "after 4 s (still running)" in str(late)
    assert len(watchlist) == 0


def test_a_failing_status_call_at_completion_loses_nothing() -> None:
    clock = FakeClock()
    answers = iter(
        [
            (200, task("t", "running")),
            (500, {"error": {"code": "InternalServiceError"}}),
            (502, {}),
            (200, task("t", "succeeded")),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        status, body = next(answers)
        return httpx.Response(status, json=body)

    result = wait_for_task(
        client_for(handler, clock), "t", schedule=SCHEDULE, deadline_seconds=60, clock=clock, sleep=clock.sleep
    )
    assert result.status == "succeeded"


def test_status_changes_are_reported_once_and_aliases_understood() -> None:
    clock, seen = FakeClock(), []
    answers = iter(["submitted", "submitted", "processing", "processing", "succeeded"])
    handler = lambda request: httpx.Response(200, json=task("t", next(answers)))  # noqa: E731
    wait_for_task(
        client_for(handler, clock),
        "t",
        schedule=SCHEDULE,
        deadline_seconds=60,
        on_change=lambda t: seen.append(t.status.value),
        clock=clock,
        sleep=clock.sleep,
    )
    assert seen == ["queued", "running", "succeeded"]


def test_deadline_is_kept() -> None:
    clock = FakeClock()
    handler = lambda request: httpx.Response(200, json=task("t", "queued"))  # noqa: E731
    with pytest.raises(WaitTimeoutError, match="gave up waiting for task t after 10 s"):
        wait_for_task(client_for(handler, clock), "t", schedule=SCHEDULE, deadline_seconds=10, clock=clock, sleep=clock.sleep)
    assert clock.now == 10


def test_pauses_grow_then_tighten_near_the_expected_time() -> None:
    schedule = PollSchedule(initial=1.0, maximum=15.0, growth=2.0, expected=100.0)
    assert [schedule.pause(n, 60.0) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 15.0]
    assert schedule.pause(6, 75.0) == 5.0
    assert schedule.pause(7, 90.0) == 1.0


def test_a_task_is_seen_finished_at_most_a_quarter_of_its_time_late() -> None:
    schedule = PollSchedule(initial=2.0, maximum=15.0, growth=1.5)
    polls = [0.0]
    while polls[-1] < 600:
        polls.append(polls[-1] + schedule.pause(len(polls) - 1, polls[-1]))
    for finished in (3.0, 10.0, 30.0, 100.0, 400.0):
        seen = next(poll for poll in polls if poll >= finished)
        assert seen - finished <= max(2.0, 0.25 * finished), (finished, seen)
    assert polls[:6] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]  # `initial` apart until a quarter of the time is longer
    assert max(b - a for a, b in zip(polls, polls[1:], strict=False)) == 15.0
    assert 250 < (expected_seconds("doubao-seedance-2-0-260128", "720p", "16:9", 5) or 0) < 320


def test_a_poll_for_many_tasks_comes_sooner_but_never_more_than_once_a_second() -> None:
    assert shared_pause(12.0, 1) == 12.0
    assert shared_pause(12.0, 4) == 6.0
    assert shared_pause(12.0, 100) == 1.2
    assert shared_pause(12.0, 1000) == 1.0
    assert shared_pause(0.5, 100) == 0.5  # a schedule set below the floor is kept
    assert shared_pause(12.0, 0) == 12.0


def test_a_wake_ends_a_long_pause_at_once() -> None:
    finished, wake = threading.Event(), threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=task("t", "succeeded" if finished.is_set() else "running"))

    def callback_arrives() -> None:
        finished.set()
        wake.set()

    timer = threading.Timer(0.2, callback_arrives)
    timer.start()
    started = time.monotonic()
    client = ArkClient("http://gw/api/v3", "k", gateway="fake", transport=httpx.MockTransport(handler))
    result = wait_for_task(client, "t", schedule=PollSchedule(initial=30, maximum=30), deadline_seconds=60, wake=wake)
    timer.join()
    assert result.status == "succeeded"
    assert time.monotonic() - started < 2
    assert not wake.is_set()  # used up: the next pause is a full one again
