"""After full runs, the API keys and the S3 secret appear nowhere a person or a log shipper can see:
not in logs, flow-run parameters, task results, artifacts, result.json or exception messages. Runs
in the session's stack (ark), then in a stack of each of the seven gateway dialects."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

from blocks.gateway import SeedanceGateway
from flows.generate import generate_video
from local_gateway.devstack import DevStack
from seedance.ark.dialects import DialectName
from seedance.errors import AuthenticationError
from tests.conftest import GatewayProcess
from tests.e2e.test_dialects import DialectStack, dialect_spec, dialect_stack

pytestmark = pytest.mark.e2e

WRONG_KEY = "sk-wrong-9c1f0e7d2b"


def everything_visible(flow_run_ids: list[str]) -> str:
    """Parameters, logs, task-run states and artifacts of the flow runs, as one text."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids)))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids)))
        tasks = [
            task
            for run in runs
            for task in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        ]
        artifacts = client.read_artifacts()
    parts = [json.dumps(run.parameters, default=str) + str(run.state) for run in runs]
    parts += [log.message for log in logs]
    parts += [str(task.state) + json.dumps(task.task_inputs, default=str) for task in tasks]
    parts += [json.dumps(artifact.data, default=str) + str(artifact.description) for artifact in artifacts]
    return "\n".join(parts)


@pytest.fixture(scope="module", params=list(DialectName), ids=str)
def dialect_served(
    request: pytest.FixtureRequest, prefect_api: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DialectStack]:
    name: DialectName = request.param
    # a key as unguessable as a real one, so that finding it anywhere can only be a leak
    with dialect_stack(
        name, api_key=f"sk-{secrets.token_urlsafe(18)}", log_dir=tmp_path_factory.mktemp(f"secrets-{name}")
    ) as running:
        yield running


def test_keys_and_s3_secret_appear_nowhere_in_any_dialect(
    dialect_served: DialectStack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stack, name = dialect_served.stack, dialect_served.name
    ok = generate_video(
        spec=dialect_spec("nothing to hide"),
        out_dir=str(tmp_path / "ok"),
        gateway=dialect_served.gateway_block,
        bucket=dialect_served.bucket_block,
        return_state=True,
    )
    result = ok.result()
    leaky = f"leaky-{name}"
    SeedanceGateway(base_url=stack.gateway_url, api_key=WRONG_KEY, dialect=name).save(leaky, overwrite=True)
    failed = generate_video(
        spec=dialect_spec(),
        out_dir=str(tmp_path / "failed"),
        gateway=leaky,
        bucket=dialect_served.bucket_block,
        return_state=True,
    )
    with pytest.raises(AuthenticationError) as caught:
        failed.result()

    seen = "\n".join(
        [
            everything_visible([str(ok.state_details.flow_run_id), str(failed.state_details.flow_run_id)]),
            caplog.text,
            str(caught.value),
            repr(caught.value),
            *(path.read_text(errors="replace") for path in tmp_path.rglob("*.json")),
            *(path.read_text(errors="replace") for path in stack.log_dir.rglob("*.log")),  # type: ignore[union-attr]
        ]
    )
    assert result.task_id in seen and "AuthenticationError" in seen, "the search saw nothing"
    assert (tmp_path / "ok" / "video" / result.task_id / "result.json").is_file()
    for secret in (stack.api_key, stack.s3_secret_key, WRONG_KEY):
        assert secret not in seen


def test_the_local_stacks_keys_are_in_no_command_line(stack: DevStack, gateway: GatewayProcess) -> None:
    """Anyone on the machine can read a process's command line (`ps`); the gateway's key goes to it
    through the environment (`SEEDANCE_GATEWAY_API_KEY`), which only its user can read. Both ways this
    project starts one: the dev stack's `seedance gateway serve`, the tests' `python -m local_gateway serve`."""
    command_lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command_lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # the process ended while the others were read
            continue
    assert any("gateway serve" in line for line in command_lines)  # the stack's gateway is among them
    assert any("local_gateway serve" in line for line in command_lines)  # and the tests' gateway
    secrets = (stack.api_key, stack.s3_secret_key, gateway.api_key)
    assert not [line for line in command_lines if any(secret in line for secret in secrets)]
