"""prefect.yaml stays deployable: entrypoints load from any folder, and shipped parameters validate against the flows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.flows import Flow, load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_deployment_entrypoint_and_parameters(deployment: dict) -> None:
    flow: Flow[..., Any] = load_flow_from_entrypoint(deployment["entrypoint"])
    assert flow.name == deployment["name"]
    known = set(flow.parameters.properties)
    for parameters in [deployment.get("parameters", {})] + [s.get("parameters", {}) for s in deployment.get("schedules", [])]:
        assert set(parameters) <= known
    for schedule in deployment.get("schedules", []):
        flow.validate_parameters({**deployment["parameters"], **schedule["parameters"]})


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
