"""Outputs that survive the worker: every generation in a place of its own, in a local folder or in S3,
and a re-run of a generation that finds its outputs there and downloads nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from prefect import get_client
from prefect.flow_engine import run_flow

from cli.demo import BUCKET_BLOCK, GATEWAY_BLOCK
from flows.generate import generate_video
from local_gateway.devstack import DevStack
from seedance.errors import SpecError
from seedance.results import GenerationResult
from seedance.spec import GenerationSpec
from tests.e2e.support import gateway_stats

pytestmark = pytest.mark.e2e

LITE_T2V = "doubao-seedance-1-0-lite-t2v-250428"


def lite(prompt: str, **fields: object) -> GenerationSpec:
    return GenerationSpec.model_validate({"model": LITE_T2V, "prompt": prompt, "resolution": "480p", "duration": 2, **fields})


def s3_out(stack: DevStack, tmp_path: Path) -> str:
    """An S3 output folder of the test's own in the stack's bucket."""
    return f"s3://{stack.bucket}/{tmp_path.name}"


def run(spec: GenerationSpec, out: str, name: str) -> GenerationResult:
    return generate_video(spec=spec, out_dir=out, gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, name=name)


def downloads(stack: DevStack) -> int:
    """Result files the gateway has served (GETs of result URLs)."""
    return int(gateway_stats(stack)["requests"]["files"])


def writes_since(stack: DevStack, seen: int) -> list[str]:
    """Paths of the S3 writes after the first `seen` requests."""
    return [path for method, path in stack.s3_requests()[seen:] if method in ("PUT", "POST")]


def test_two_generations_of_one_name_are_both_kept_in_s3(local_blocks: DevStack, tmp_path: Path) -> None:
    out = s3_out(local_blocks, tmp_path)
    first = run(lite("a boat at dawn", return_last_frame=True, postprocess=["preview"]), out, "boat")
    second = run(lite("a boat at dusk"), out, "boat")

    assert first.task_id != second.task_id
    s3, bucket, prefix = local_blocks.s3_client(), local_blocks.bucket, f"{tmp_path.name}/boat"
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")["Contents"])
    made = {
        first.task_id: ["boat.mp4", "boat.poster.jpg", "boat.last.png", "boat.preview.gif", "result.json"],
        second.task_id: ["boat.mp4", "boat.poster.jpg", "result.json"],
    }
    assert keys == sorted(f"{prefix}/{task}/{file}" for task, files in made.items() for file in files)
    for result in (first, second):
        place = f"{out}/boat/{result.task_id}"
        kept = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/{result.task_id}/result.json")["Body"].read())
        assert kept["locations"] == result.locations
        assert sorted(result.locations.values()) == sorted(f"{place}/{file}" for file in made[result.task_id])
        assert kept["video"]["sha256"] == result.video.sha256
        head = s3.head_object(Bucket=bucket, Key=f"{prefix}/{result.task_id}/boat.mp4")
        assert head["Metadata"] == {
            "task-id": result.task_id,
            "model": LITE_T2V,
            "gateway": result.gateway,
            "video-sha256": result.video.sha256,
        }
        assert (head["ContentLength"], head["ContentType"]) == (result.video.size_bytes, "video/mp4")
        assert not result.files.video.exists(), "the worker kept a staged copy"
    assert set(first.locations) == {"video", "poster", "last_frame", "preview", "result"}


def test_a_rerun_finds_its_outputs_in_s3_and_downloads_nothing(local_blocks: DevStack, tmp_path: Path) -> None:
    out, spec = s3_out(local_blocks, tmp_path), lite("a lighthouse kept in S3", return_last_frame=True)
    downloaded, seen = downloads(local_blocks), len(local_blocks.s3_requests())
    first = run(spec, out, "lighthouse")
    assert downloads(local_blocks) - downloaded == 2  # the video and its last frame: the counter sees downloads
    assert len(writes_since(local_blocks, seen)) == 4  # video, poster, last frame, result.json

    downloaded, seen = downloads(local_blocks), len(local_blocks.s3_requests())
    again = run(spec, out, "lighthouse")

    assert (again.task_id, again.resumed, first.resumed) == (first.task_id, True, False)
    assert (again.locations, again.video) == (first.locations, first.video)
    assert downloads(local_blocks) - downloaded == 0
    assert writes_since(local_blocks, seen) == []


def test_two_generations_of_one_name_are_both_kept_locally(local_blocks: DevStack, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run(lite("a kite over the dunes"), str(out), "kite")
    second = run(lite("a kite over the sea"), str(out), "kite")

    assert sorted(path.name for path in (out / "kite").iterdir()) == sorted([first.task_id, second.task_id])
    for result in (first, second):
        place = (out / "kite" / result.task_id).resolve()
        assert sorted(path.name for path in place.iterdir()) == ["kite.mp4", "kite.poster.jpg", "result.json"]
        assert result.locations == {
            "video": str(place / "kite.mp4"),
            "poster": str(place / "kite.poster.jpg"),
            "result": str(place / "result.json"),
        }
        assert result.files.video == place / "kite.mp4"
        assert json.loads((place / "result.json").read_text())["video"]["sha256"] == result.video.sha256


def test_a_rerun_finds_its_outputs_locally_and_downloads_nothing(local_blocks: DevStack, tmp_path: Path) -> None:
    out, spec = str(tmp_path / "out"), lite("a lighthouse kept on disk")
    first = run(spec, out, "lighthouse")
    written = first.files.video.stat().st_mtime_ns
    downloaded = downloads(local_blocks)

    again = run(spec, out, "lighthouse")

    assert (again.task_id, again.resumed, again.locations) == (first.task_id, True, first.locations)
    assert downloads(local_blocks) - downloaded == 0
    assert first.files.video.stat().st_mtime_ns == written


def test_a_rerun_downloads_a_video_that_no_longer_matches_its_result(local_blocks: DevStack, tmp_path: Path) -> None:
    out, spec = str(tmp_path / "out"), lite("a lighthouse, then a damaged file")
    first = run(spec, out, "lighthouse")
    first.files.video.write_bytes(b"not the video any more")
    downloaded = downloads(local_blocks)

    again = run(spec, out, "lighthouse")

    assert downloads(local_blocks) - downloaded == 1
    assert again.video.sha256 == first.video.sha256 and again.files.video == first.files.video


def test_a_deployment_run_refuses_a_relative_local_folder(
    local_blocks: DevStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    creates = gateway_stats(local_blocks)["requests"]["create"]
    parameters = {"spec": lite("lost with the worker's folder"), "out_dir": "out", "gateway": GATEWAY_BLOCK, "name": "lost"}
    with get_client(sync_client=True) as client:  # a deployment's flow run, run here as a worker's process runs it
        deployment = client.create_deployment(
            flow_id=client.create_flow_from_name(generate_video.name), name=f"relative-out-{uuid.uuid4().hex[:8]}"
        )
        flow_run = client.create_flow_run_from_deployment(deployment)
    with pytest.raises(SpecError, match="^parameters: out_dir: 'out' is relative, and a worker runs flows in a temporary folder"):
        run_flow(generate_video, flow_run=flow_run, parameters=parameters)
    assert gateway_stats(local_blocks)["requests"]["create"] == creates
    assert not (tmp_path / "out").exists()
