"""The events the pipeline puts in Prefect's event feed, so automations can chain steps and page someone.

    seedance.generation.submitted   a generation has its upstream task (created now, or resumed)
    seedance.generation.succeeded   its video was collected            payload: cost, outputs
    seedance.generation.failed      its task ended failed/expired/cancelled   payload: cost, error
    seedance.asset.created          `seedance watch` saw a new object  resource: seedance.asset.<where>

A generation event's resource is its upstream task, `seedance.task.<id>`; related are the flow run,
the gateway (`seedance.gateway.<block>`) and the model (`seedance.model.<id>`). Every event's id is
derived from what it reports (uuid5 of the event name and the task or the asset), so sending it
again — a task retry, a re-run that resumes the task, a watcher restarted mid-report — records
nothing new: the server keeps one event per id, and triggers skip an id they have already seen.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Final, Literal

from prefect.client.orchestration import get_client
from prefect.events import Event, emit_event
from prefect.runtime import flow_run

from blocks.gateway import SeedanceGateway
from seedance.assets import ASSET_CREATED, Asset
from seedance.errors import GenerationFailedError
from seedance.ledger import LedgerEntry
from seedance.locations import S3Object, is_s3
from seedance.results import GenerationResult

EVENT_NAMESPACE: Final = uuid.UUID("6f1d8f8e-0c55-4b8e-9d0a-5eedace0e7e5")
"""The uuid5 namespace of every event id the pipeline derives."""

Outcome = Literal["submitted", "succeeded", "failed"]


def event_id(event: str, subject: str) -> uuid.UUID:
    """The id of event `event` about `subject` (a task id, an asset's resource id): the same every time."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{event}:{subject}")


def emit_generation_event(
    outcome: Outcome, task_id: str, *, gateway: SeedanceGateway, model: str, payload: dict[str, Any]
) -> Event | None:
    """Send `seedance.generation.<outcome>` about the upstream task `task_id` (None when events are off)."""
    name = f"seedance.generation.{outcome}"
    related = [
        {"prefect.resource.id": f"seedance.gateway.{gateway.label}", "prefect.resource.role": "gateway"},
        {"prefect.resource.id": f"seedance.model.{model}", "prefect.resource.role": "model"},
    ]
    run_id = flow_run.get_id()
    if run_id is not None:
        related.insert(
            0,
            {
                "prefect.resource.id": f"prefect.flow-run.{run_id}",
                "prefect.resource.role": "flow-run",
                "prefect.resource.name": flow_run.get_name() or "",
            },
        )
    return emit_event(
        name,
        resource={"prefect.resource.id": f"seedance.task.{task_id}", "seedance.gateway": gateway.label, "seedance.model": model},
        related=related,
        payload=payload,
        id=event_id(name, task_id),
    )


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def succeeded_payload(result: GenerationResult) -> dict[str, Any]:
    """What `.succeeded` carries: the cost (billed and estimated), where every output is, and the video's digest."""
    outputs = {name: str(path) for name, path in result.files.model_dump(exclude={"postprocessed"}).items() if path is not None}
    outputs |= {name: str(path) for name, path in result.files.postprocessed.items()}
    return {
        "cost": {
            "billed": _money(result.billed_cost),
            "estimated": _money(result.estimated_cost),
            "currency": result.currency,
            "tokens": result.completion_tokens,
        },
        "outputs": outputs,
        "video": result.video.model_dump(mode="json", include={"sha256", "size_bytes", "width", "height", "duration_seconds"}),
        "intent": result.intent_key,
        "resumed": result.resumed,
    }


def failed_payload(error: GenerationFailedError, cost: LedgerEntry | None) -> dict[str, Any]:
    """What `.failed` carries: how the task ended, and the cost settled for it (failures are not billed)."""
    task = error.task
    return {
        "cost": {
            "billed": _money(cost.billed_cost) if cost else None,
            "estimated": _money(cost.estimated_cost) if cost else None,
            "currency": cost.currency if cost else None,
            "tokens": task.usage.completion_tokens if task.usage else None,
        },
        "status": task.status.value,
        "error": {"code": task.error.code, "message": task.error.message} if task.error else None,
        "message": str(error),
    }


def asset_created_event(asset: Asset, watched: str) -> Event:
    """`seedance.asset.created` for an object found in the place `watched`; its resource names the object."""
    resource = {"prefect.resource.id": asset.resource_id, "prefect.resource.name": asset.name, "seedance.watched": watched}
    if is_s3(asset.location):
        found = S3Object.parse(asset.location)
        resource |= {"seedance.bucket": found.bucket, "seedance.key": found.key}
    else:
        resource |= {"seedance.path": asset.location}
    return Event(
        event=ASSET_CREATED,
        resource=resource,
        payload={"size": asset.size, "etag": asset.etag},
        id=event_id(ASSET_CREATED, asset.resource_id),
    )


def send_events(events: list[Event]) -> None:
    """Post `events` to the Prefect API and return once it has taken them (`POST /events`).

    Unlike `emit_event`, which queues for a background sender, this answers only after the server
    accepted them, so the caller may then record them as sent.
    """
    if events:
        with get_client(sync_client=True) as client:
            client.request("POST", "/events", json=[event.model_dump(mode="json") for event in events])
