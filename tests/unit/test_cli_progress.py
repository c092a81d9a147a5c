"""Progress: status changes reach the rows of their generations, from the waiting code's own log records."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from cli.progress import Mode, Progress, Row, shown
from seedance.ark.client import ArkClient
from seedance.waiting import PollSchedule, wait_for_task

TASK = {"model": "doubao-seedance-2-0-260128", "created_at": 1779336000, "updated_at": 1779336100}


def client_answering(*statuses: str) -> ArkClient:
    """A client whose task goes through `statuses`, one per GET."""
    answers = iter(statuses)

    def answer(request: httpx.Request) -> httpx.Response:
        task_id = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={**TASK, "id": task_id, "status": next(answers)})

    return ArkClient("http://gw.test/api/v3", "key", gateway="unit", transport=httpx.MockTransport(answer))


def wait(client: ArkClient, task_id: str) -> None:
    wait_for_task(client, task_id, schedule=PollSchedule(initial=0.001, maximum=0.001), deadline_seconds=5)


def test_each_status_change_of_a_watched_task_is_a_line_naming_its_generation(capsys: pytest.CaptureFixture[str]) -> None:
    tasks = {"key-a": "cgt-a", "key-b": None}
    rows = [
        Row(name="boat", intent_key="key-a", expected_seconds=80, cost=Decimal("0.97"), currency="CNY"),
        Row(name="lantern", intent_key="key-b", cost=Decimal("2"), currency="CNY"),
    ]
    progress = Progress(rows, task_id_of=tasks.get)
    with shown(progress, Mode.LINES):
        wait(client_answering("queued", "running", "succeeded"), "cgt-a")
        wait(client_answering("succeeded"), "cgt-unknown")  # no row claims it: not shown
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" · ")[0] for line in lines] == [
        "boat: task cgt-a: queued",
        "boat: task cgt-a: running",
        "boat: task cgt-a: succeeded",
    ]
    assert lines[0].endswith("expected ~1:20 · ≈0.97 CNY")
    assert rows[0].ended is not None and rows[1].status == "preparing"
    assert progress.committed() == {"CNY": Decimal("0.97")}  # only generations whose task exists


def test_unplanned_rows_take_new_tasks_in_order_and_nothing_is_printed_when_off(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [Row(name="shot-01"), Row(name="shot-02")]
    progress = Progress(rows, task_id_of=lambda key: None)
    with shown(progress, Mode.OFF):
        wait(client_answering("succeeded"), "cgt-1")
    assert rows[0].task_id is None and capsys.readouterr().err == ""
    with shown(progress, Mode.LINES):
        wait(client_answering("queued", "succeeded"), "cgt-1")
        wait(client_answering("failed"), "cgt-2")
    assert [(row.task_id, row.status) for row in rows] == [("cgt-1", "succeeded"), ("cgt-2", "failed")]
    assert progress.task_ids() == ["cgt-1", "cgt-2"]
