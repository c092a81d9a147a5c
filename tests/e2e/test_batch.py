"""A batch of generations polled together and collected as each finishes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from cli.demo import BUCKET_BLOCK, GATEWAY_BLOCK
from flows.batch import BatchResult, generate_batch
from local_gateway.devstack import DevStack
from local_gateway.faults import FaultKind, FaultPlan
from seedance.manifest import load_manifest
from seedance.media import probe
from tests.e2e.support import flow_run_logs, gateway_stats

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "seedance" / "samples"

MANIFEST = """
defaults: {model: doubao-seedance-1-0-lite-t2v-250428, resolution: 480p, duration: 2}
items:
  - {name: rain, prompt: rain on a window}
  - {name: snow, prompt: snow on a roof, ratio: "1:1"}
  - {name: fog, prompt: fog over a lake, ratio: "9:16"}
  - {name: wind, prompt: wind in the grass}
  - {name: hail, prompt: hail on a car, ratio: "4:3"}
  - {name: sun, prompt: sun through the leaves, ratio: "21:9"}
"""
SIZES = {"rain": (864, 480), "snow": (640, 640), "fog": (480, 864), "wind": (864, 480), "hail": (736, 544), "sun": (960, 416)}


def run_batch_in(tmp_path: Path, out_dir: str | None = None) -> State[BatchResult]:
    """generate-batch on `tmp_path/batch.yaml` with the session's blocks (outputs: `tmp_path/out`); its final state."""
    return generate_batch(
        items=load_manifest(tmp_path / "batch.yaml"),
        out_dir=out_dir or str(tmp_path / "out"),
        gateway=GATEWAY_BLOCK,
        bucket=BUCKET_BLOCK,
        return_state=True,
    )


def task_run_kinds(state: State[BatchResult]) -> list[str]:
    """The task runs of the state's flow run, by task name, sorted."""
    with get_client(sync_client=True) as client:
        flow_run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        return sorted(run.name.rsplit("-", 1)[0] for run in client.read_task_runs(flow_run_filter=flow_run))


def test_a_batch_is_polled_together_and_every_video_collected(
    local_blocks: DevStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a poll a second: the six are submitted side by side well within it, so each poll asks about several
    monkeypatch.setenv("SEEDANCE_POLL_INITIAL_SECONDS", "1")
    monkeypatch.setenv("SEEDANCE_POLL_MAX_SECONDS", "1")
    (tmp_path / "batch.yaml").write_text(MANIFEST)
    before = gateway_stats(local_blocks)["requests"]
    result = generate_batch(
        items=load_manifest(tmp_path / "batch.yaml"), out_dir=str(tmp_path / "out"), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK
    )
    after = gateway_stats(local_blocks)["requests"]

    assert result.succeeded == len(SIZES)
    for item in result.items:
        assert item.result is not None
        info = probe(item.result.files.video)
        assert (info.width, info.height) == SIZES[item.name]
        assert item.result.files.video.parent == (tmp_path / "out" / item.name / item.result.task_id).resolve()
        assert item.result.locations["video"] == str(item.result.files.video)
    assert after["create"] - before["create"] == len(SIZES)
    status_requests = (after["list"] - before["list"]) + (after["get"] - before["get"])
    assert status_requests < len(SIZES), "tasks were polled one by one"
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
    assert any(a.key == "batch-progress" and a.data == 100.0 for a in artifacts)
    # one report for the batch, a row per item with its poster shown in it, and no report per item
    first = result.items[0].result
    assert first is not None
    [report] = [a for a in artifacts if a.key == "batch-report" and first.task_id in str(a.data)]  # this run's
    assert report.type == "markdown" and report.description == f"{len(SIZES)} of {len(SIZES)} videos"
    for item in result.items:
        assert item.result is not None
        assert f"| ![poster of {item.result.task_id}](data:image/jpeg;base64," in str(report.data)
        assert not [a for a in artifacts if a.key == item.name]


def test_a_batch_kept_in_s3_is_found_again_by_a_rerun(local_blocks: DevStack, tmp_path: Path) -> None:
    (tmp_path / "batch.yaml").write_text(
        """
defaults: {model: doubao-seedance-1-0-lite-t2v-250428, resolution: 480p, duration: 2}
items:
  - {name: tide, prompt: the tide comes in}
  - {name: dune, prompt: sand blows over a dune}
"""
    )
    items, out = load_manifest(tmp_path / "batch.yaml"), f"s3://{local_blocks.bucket}/{tmp_path.name}"
    state = run_batch_in(tmp_path, out)
    first = state.result()
    assert first.succeeded == 2
    assert task_run_kinds(state) == ["submit-generation"] * 2  # the uploads are steps of the run
    for item in first.items:
        assert item.result is not None
        assert item.result.locations["video"] == f"{out}/{item.name}/{item.result.task_id}/{item.name}.mp4"
        key = f"{tmp_path.name}/{item.name}/{item.result.task_id}/result.json"
        assert local_blocks.s3_client().head_object(Bucket=local_blocks.bucket, Key=key)["ContentLength"] > 0
    # the report shows each poster, made before the staging folder went
    task_ids = [item.result.task_id for item in first.items if item.result]
    with get_client(sync_client=True) as client:
        reports = [a for a in client.read_artifacts() if a.key == "batch-report" and task_ids[0] in str(a.data)]
    assert len(reports) == 1
    for task_id in task_ids:
        assert f"| ![poster of {task_id}](data:image/jpeg;base64," in str(reports[0].data)

    downloads, seen = gateway_stats(local_blocks)["requests"]["files"], len(local_blocks.s3_requests())
    again = generate_batch(items=items, out_dir=out, gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)

    assert [(item.name, item.result and item.result.resumed) for item in again.items] == [("tide", True), ("dune", True)]
    assert [item.result and item.result.locations for item in again.items] == [
        item.result and item.result.locations for item in first.items
    ]
    assert gateway_stats(local_blocks)["requests"]["files"] == downloads
    assert [path for method, path in local_blocks.s3_requests()[seen:] if method in ("PUT", "POST")] == []


def test_a_batchs_references_are_uploaded_and_checked_in_the_run_only_its_creates_are_task_runs(
    local_blocks: DevStack, tmp_path: Path
) -> None:
    shutil.copy(SAMPLES / "lantern.jpg", tmp_path / "lantern.jpg")
    (tmp_path / "batch.yaml").write_text(
        "defaults: {model: doubao-seedance-1-0-lite-i2v-250428, resolution: 480p, ratio: '16:9', duration: 2}\n"
        "items:\n"
        "  - {name: rise, prompt: the lantern rises, references: [{url: lantern.jpg, role: first_frame}]}\n"
        "  - {name: sway, prompt: the lantern sways, references: [{url: lantern.jpg, role: first_frame}]}\n"
    )
    state = run_batch_in(tmp_path)

    result = state.result()
    assert result.succeeded == 2
    for item in result.items:
        assert item.result is not None and probe(item.result.files.video).kind == "video"
    assert task_run_kinds(state) == ["submit-generation"] * 2


def test_a_batch_download_is_retried_in_the_run_without_a_task_run_of_its_own(
    local_blocks: DevStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDANCE_TASK_RETRY_BASE_SECONDS", "0.1")
    (tmp_path / "batch.yaml").write_text(
        "defaults: {model: doubao-seedance-1-0-lite-t2v-250428, resolution: 480p, duration: 2}\n"
        "items:\n  - {name: kite, prompt: a kite over the dunes}\n"
    )
    faults = f"{local_blocks.gateway_url.removesuffix('/api/v3')}/_local/faults"
    before = gateway_stats(local_blocks)
    httpx.post(faults, content=FaultPlan(rates={FaultKind.EXPIRED_URL: 1.0}, limit=1).model_dump_json(), timeout=5)
    try:
        state = run_batch_in(tmp_path)
    finally:
        httpx.post(faults, content=FaultPlan().model_dump_json(), timeout=5).raise_for_status()
    after = gateway_stats(local_blocks)

    [item] = state.result().items
    assert item.result is not None and probe(item.result.files.video).kind == "video"
    assert after["faults"].get("expired-url", 0) - before["faults"].get("expired-url", 0) == 1
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    retry_line = f"download of kite.mp4 (task {item.task_id}) failed"
    lines = flow_run_logs(flow_run_id, retry_line)
    assert any(retry_line in line and "retry 1 of 3" in line for line in lines), lines
    assert task_run_kinds(state) == ["submit-generation"]
