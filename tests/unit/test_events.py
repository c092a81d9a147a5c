"""The generation events' ids and payloads: derived from the task, so a re-send is the same event."""

from __future__ import annotations

from decimal import Decimal

from seedance.ark.types import ContentGenerationTask, TaskError, TaskStatus
from seedance.errors import GenerationFailedError
from seedance.ledger import EntryStatus, LedgerEntry
from tasks.events import event_id, failed_payload


def test_an_event_id_follows_from_the_event_and_its_subject_alone() -> None:
    assert event_id("seedance.generation.succeeded", "cgt-1") == event_id("seedance.generation.succeeded", "cgt-1")
    assert event_id("seedance.generation.succeeded", "cgt-1") != event_id("seedance.generation.submitted", "cgt-1")
    assert event_id("seedance.generation.succeeded", "cgt-1") != event_id("seedance.generation.succeeded", "cgt-2")


def test_a_failed_generation_says_how_it_ended_and_that_it_cost_nothing() -> None:
    task = ContentGenerationTask(
        id="cgt-1",
        model="doubao-seedance-2-0-260128",
        status=TaskStatus.FAILED,
        error=TaskError(code="OutputVideoSensitiveContentDetected", message="The generated video may contain sensitive content"),
        created_at=1,
        updated_at=2,
    )
    cost = LedgerEntry(
        intent_key="k",
        model=task.model,
        estimated_tokens=108900,
        estimated_cost=Decimal("5.2272"),
        price_per_million=Decimal("48"),
        currency="CNY",
        billed_cost=Decimal("0"),
        status=EntryStatus.FAILED,
        reserved_at=1,
        updated_at=2,
    )
    payload = failed_payload(GenerationFailedError.for_task(task, gateway="local"), cost)
    assert payload["cost"] == {"billed": "0", "estimated": "5.2272", "currency": "CNY", "tokens": None}
    assert (payload["status"], payload["error"]["code"]) == ("failed", "OutputVideoSensitiveContentDetected")
    assert payload["message"].startswith("[local] task cgt-1 ended failed")
