"""prefect.yaml stays deployable: entrypoints load from any folder, shipped parameters validate against
the flows, schedules survive being switched on, and triggers start a run for any event they match."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.events import Event
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.server.events.actions import RunDeployment
from prefect.server.events.schemas.events import Event as ServerEvent
from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
SCHEDULED = [d for d in DEPLOYMENTS if d.get("schedules")]
TRIGGERED = [(d, trigger) for d in DEPLOYMENTS for trigger in d.get("triggers", [])]


def flow_of(deployment: dict[str, Any]) -> Flow[..., Any]:
    return load_flow_from_entrypoint(deployment["entrypoint"])


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_deployment_entrypoint_and_parameters(deployment: dict[str, Any]) -> None:
    assert set(deployment.get("parameters", {})) <= set(flow_of(deployment).parameters.properties)


def test_deployment_names_are_unique() -> None:
    names = [d["name"] for d in DEPLOYMENTS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("deployment", SCHEDULED, ids=[d["name"] for d in SCHEDULED])
def test_a_schedule_can_be_switched_on_without_losing_anything(deployment: dict[str, Any]) -> None:
    """Prefect 3.8.8 empties a schedule's own parameters when it is resumed (shared env notes, item 21):
    a scheduled deployment keeps every parameter on itself, and they alone make a valid run."""
    for schedule in deployment["schedules"]:
        assert not schedule.get("parameters"), f"{deployment['name']}: schedule parameters are lost on resume"
        assert schedule["active"] is False, "schedules ship switched off"
    flow_of(deployment).validate_parameters(deployment["parameters"])


def test_the_scheduled_video_is_a_new_generation_per_tick() -> None:
    assert {d["name"]: d["parameters"].get("new_generation_per_run") for d in SCHEDULED}["scheduled-video"] is True


def render(parameters: dict[str, Any], event: Event) -> dict[str, Any]:
    """The trigger's parameters as Prefect's run-deployment action renders them for `event`."""
    templated = copy.deepcopy(parameters)
    RunDeployment._upgrade_v1_templates(templated)  # what `render_parameters` does first
    context = {"event": ServerEvent.model_validate(event.model_dump()).receive()}  # as the server holds it
    return hydrate(templated, HydrationContext(raise_on_error=True, render_jinja=True, jinja_context=context))


WATCHER_EVENT = Event(
    event="seedance.asset.created",
    resource={
        "prefect.resource.id": "seedance.asset.s3://assets/incoming/lantern.jpg",
        "seedance.bucket": "assets",
        "seedance.key": "incoming/lantern.jpg",
    },
)
BARE_EVENT = Event(event="seedance.asset.created", resource={"prefect.resource.id": "seedance.asset.not-an-object"})


@pytest.mark.parametrize(("deployment", "trigger"), TRIGGERED, ids=[d["name"] for d, _ in TRIGGERED])
@pytest.mark.parametrize("event", [WATCHER_EVENT, BARE_EVENT], ids=["watcher-event", "event-without-labels"])
def test_a_trigger_starts_a_valid_run_for_any_event_it_matches(
    deployment: dict[str, Any], trigger: dict[str, Any], event: Event
) -> None:
    """Rendering reads only what every event has, so a run always starts: a malformed event makes a
    run that fails saying why, never a trigger that fails silently (`InvalidJinja` in the event feed)."""
    assert trigger["enabled"] is False, "triggers ship switched off"
    assert event.event in trigger["expect"]
    parameters = {**deployment["parameters"], **render(trigger["parameters"], event)}
    assert parameters["asset"] == event.resource.id
    assert parameters["event"] == str(event.id)
    flow_of(deployment).validate_parameters(parameters)


def test_rendering_a_label_the_event_lacks_fails_in_the_trigger() -> None:
    """Why the shipped trigger reads no optional label: Prefect cannot render it, and no run starts."""
    with pytest.raises(Exception, match="(?i)jinja"):
        render({"name": "{{ event.resource['seedance.key'] }}"}, BARE_EVENT)


def test_workers_need_no_project_folder() -> None:
    """Module entrypoints and no pull step: a worker runs the flows from wherever it was started."""
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert config["pull"] == []
    assert all(".py" not in deployment["entrypoint"] for deployment in DEPLOYMENTS)
    assert {deployment["work_pool"]["name"] for deployment in DEPLOYMENTS} == {"seedance"}


def test_deployments_keep_their_outputs_in_s3() -> None:
    """A worker runs flows in a temporary folder it deletes: deployments write to S3 with their bucket block."""
    for deployment in DEPLOYMENTS:
        assert deployment["parameters"]["out_dir"].startswith("s3://") and deployment["parameters"]["bucket"]


def test_the_shipped_automations_are_automations_prefect_accepts() -> None:
    """automations.yaml is what `prefect automation create --from-file` reads (its `automations` list)."""
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    shipped = yaml.safe_load((ROOT / "automations.yaml").read_text())["automations"]
    [silent] = [AutomationCore.model_validate(automation) for automation in shipped]
    trigger = silent.trigger
    assert isinstance(trigger, EventTrigger)
    assert trigger.posture is Posture.Proactive  # fires on what did not happen: no heartbeat, no end
    assert trigger.within is not None and trigger.within.total_seconds() > 180  # longer than a worker's heartbeat interval
