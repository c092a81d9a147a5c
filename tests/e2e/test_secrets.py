"""After full runs, the API keys and the S3 secret appear nowhere a person or a log shipper can see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

from blocks.gateway import SeedanceGateway
from flows.generate import generate_video
from seedance.demo import BUCKET_BLOCK, GATEWAY_BLOCK
from seedance.devstack import DevStack
from seedance.errors import AuthenticationError
from seedance.spec import GenerationSpec

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "seedance" / "samples"
WRONG_KEY = "sk-wrong-9c1f0e7d2b"


def everything_visible(flow_run_ids: list[str]) -> str:
    """Parameters, logs, task-run states and artifacts of the flow runs, as one text."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids)))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids)))
        tasks = [task for run in runs for task in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))]
        artifacts = client.read_artifacts()
    parts = [json.dumps(run.parameters, default=str) + str(run.state) for run in runs]
    parts += [log.message for log in logs]
    parts += [str(task.state) + json.dumps(task.task_inputs, default=str) for task in tasks]
    parts += [json.dumps(artifact.data, default=str) + str(artifact.description) for artifact in artifacts]
    return "\n".join(parts)


def test_keys_and_s3_secret_appear_nowhere(local_blocks: DevStack, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = GenerationSpec(model="doubao-seedance-2-0-fast-260128", prompt="nothing to hide", resolution="480p", duration=4,
                          postprocess=["preview"], references=[{"url": str(SAMPLES / "lantern.jpg"), "role": "first_frame"}])  # fmt: skip
    state = generate_video(spec=spec, out_dir=tmp_path / "ok", gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, return_state=True)
    SeedanceGateway(base_url=local_blocks.gateway_url, api_key=WRONG_KEY).save("leaky", overwrite=True)
    failed = generate_video(spec=spec, out_dir=tmp_path / "failed", gateway="leaky", bucket=BUCKET_BLOCK, return_state=True)
    with pytest.raises(AuthenticationError) as caught:
        failed.result()

    seen = "\n".join(
        [
            everything_visible([str(state.state_details.flow_run_id), str(failed.state_details.flow_run_id)]),
            caplog.text,
            str(caught.value),
            repr(caught.value),
            *(path.read_text(errors="replace") for path in tmp_path.rglob("*.json")),
            *(path.read_text(errors="replace") for path in local_blocks.log_dir.rglob("*.log")),  # type: ignore[union-attr]
        ]
    )
    assert "cgt-" in seen and "AuthenticationError" in seen, "the search saw nothing"
    for secret in (local_blocks.api_key, local_blocks.s3_secret_key, WRONG_KEY):
        assert secret not in seen
