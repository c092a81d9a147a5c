"""The generate-video flow against the local gateway and the S3 server, both real processes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import pytest

from cli.demo import BUCKET_BLOCK, GATEWAY_BLOCK
from flows.generate import generate_video
from local_gateway.devstack import DevStack
from seedance.errors import AuthenticationError, BudgetExceededError, ConfigurationError, SpecError
from seedance.media import probe
from seedance.spec import GenerationSpec, load_spec
from tests.conftest import MediaServer
from tests.e2e.support import gateway_stats, image_size, s3_object_count

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "seedance" / "samples"


def write_spec(folder: Path, body: str) -> Path:
    for sample in ("lantern.jpg", "harbour.jpg"):
        shutil.copy(SAMPLES / sample, folder / sample)
    path = folder / "spec.yaml"
    path.write_text(body)
    return path


def test_reference_images_with_audio_become_a_verified_video(local_blocks: DevStack, tmp_path: Path) -> None:
    spec = load_spec(
        write_spec(
            tmp_path,
            """
model: doubao-seedance-2-0-260128
prompt: a lantern over the harbour
references:
  - {url: lantern.jpg, role: reference_image}
  - {url: harbour.jpg, role: reference_image}
resolution: 480p
ratio: "16:9"
duration: 4
generate_audio: true
""",
        )
    )
    result = generate_video(spec=spec, out_dir=str(tmp_path / "out"), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)

    video = result.files.video
    assert video.is_absolute() and video.exists()
    assert video.parent == (tmp_path / "out" / "video" / result.task_id).resolve()  # <out>/<name>/<task id>/
    assert result.locations["video"] == str(video)
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (864, 496)
        assert stream.average_rate is not None and float(stream.average_rate) == 24.0
        assert stream.codec_context.name == "h264"
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac" and audio.codec_context.channels == 1
        assert container.duration is not None and abs(container.duration / av.time_base - 4.0) <= 0.1
    assert result.completion_tokens == 864 * 496 * (24 * 4 + 1) // 1024  # 2.0 bills one extra frame
    saved = json.loads(result.files.result.read_text())
    assert saved["task_id"] == result.task_id and saved["video"]["sha256"] == result.video.sha256
    assert result.files.poster is not None and image_size(result.files.poster) == (864, 496)
    assert not list((tmp_path / "out").rglob(".*")), "a temporary file was left behind"


def test_first_frame_with_last_frame_output(local_blocks: DevStack, tmp_path: Path) -> None:
    spec = GenerationSpec(
        model="doubao-seedance-1-0-pro-fast-251015",
        prompt="the lantern rises",
        references=[{"url": str(SAMPLES / "lantern.jpg"), "role": "first_frame"}],
        resolution="480p",
        ratio="16:9",
        duration=2,
        return_last_frame=True,
    )
    result = generate_video(spec=spec, out_dir=str(tmp_path), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, name="shot")
    info = probe(result.files.video)
    assert (info.width, info.height, info.has_audio) == (864, 480, False)
    assert result.files.last_frame is not None and image_size(result.files.last_frame) == (864, 480)


def test_a_rerun_resumes_the_task_and_never_creates_twice(local_blocks: DevStack, tmp_path: Path) -> None:
    spec = GenerationSpec(
        model="doubao-seedance-1-0-lite-t2v-250428", prompt="rain on a window, take 1", resolution="480p", duration=2
    )
    before = gateway_stats(local_blocks)
    first = generate_video(spec=spec, out_dir=str(tmp_path / "a"), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)
    second = generate_video(spec=spec, out_dir=str(tmp_path / "b"), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)
    after = gateway_stats(local_blocks)
    assert second.task_id == first.task_id and second.resumed and not first.resumed
    assert after["requests"]["create"] - before["requests"]["create"] == 1
    assert after["duplicate_creates"] == before["duplicate_creates"]  # the session's gateway is shared by other tests


def test_running_the_same_generation_twice_uploads_nothing_the_second_time(local_blocks: DevStack, tmp_path: Path) -> None:
    spec = GenerationSpec(
        model="doubao-seedance-2-0-fast-260128",
        prompt="harbour at dawn",
        resolution="480p",
        duration=4,
        generate_audio=False,
        references=[{"url": str(SAMPLES / "harbour.jpg"), "role": "first_frame"}],
    )
    generate_video(spec=spec, out_dir=str(tmp_path / "a"), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)
    seen = len(local_blocks.s3_requests())
    again = generate_video(
        spec=spec, out_dir=str(tmp_path / "b"), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, salt="a second take"
    )
    puts = [path for method, path in local_blocks.s3_requests()[seen:] if method in ("PUT", "POST")]
    assert puts == [] and not again.resumed


def test_a_reference_url_that_cannot_be_fetched_is_refused_before_create(
    local_blocks: DevStack, media_server: MediaServer, tmp_path: Path
) -> None:
    spec = GenerationSpec(
        model="doubao-seedance-2-0-fast-260128",
        prompt="x",
        resolution="480p",
        duration=4,
        references=[
            {"url": media_server.url("frame_640x360.jpg"), "role": "reference_image"},
            {"url": media_server.url("missing.jpg"), "role": "reference_image"},
            {"url": media_server.url("document.png"), "role": "reference_image"},
        ],
    )
    creates = gateway_stats(local_blocks)["requests"]["create"]
    with pytest.raises(SpecError) as caught:
        generate_video(spec=spec, out_dir=str(tmp_path), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)
    assert [(p.field, "HTTP 404" in p.message or "not" in p.message) for p in caught.value.problems] == [
        ("references[1]", True),
        ("references[2]", True),
    ]
    assert gateway_stats(local_blocks)["requests"]["create"] == creates


def test_small_images_can_be_sent_inline_instead_of_uploaded(local_blocks: DevStack, tmp_path: Path) -> None:
    spec = GenerationSpec(
        model="doubao-seedance-2-0-fast-260128",
        prompt="the lantern, inline",
        resolution="480p",
        duration=4,
        generate_audio=False,
        inline_images_max_bytes=100_000,
        references=[{"url": str(SAMPLES / "lantern.jpg"), "role": "first_frame"}],
    )
    seen = len(local_blocks.s3_requests())
    result = generate_video(spec=spec, out_dir=str(tmp_path), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)
    assert local_blocks.s3_requests()[seen:] == []
    assert probe(result.files.video).width == 864


def test_bad_spec_fails_before_anything_is_sent(local_blocks: DevStack, tmp_path: Path) -> None:
    spec = GenerationSpec(
        model="doubao-seedance-2-0-260128",
        prompt="x",
        ratio="5:4",
        references=[{"url": str(SAMPLES / "lantern.jpg"), "role": "first_frame"}],
    )
    before = gateway_stats(local_blocks)["requests"]["create"]
    objects = s3_object_count(local_blocks)
    with pytest.raises(SpecError, match=r"ratio: '5:4' is not allowed .*allowed: 16:9"):
        generate_video(spec=spec, out_dir=str(tmp_path), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)
    assert gateway_stats(local_blocks)["requests"]["create"] == before
    assert s3_object_count(local_blocks) == objects


def test_a_block_name_that_is_not_saved_is_named_with_the_saved_one_it_resembles(local_blocks: DevStack, tmp_path: Path) -> None:
    """A deployment run given a misspelt block fails saying so before anything is sent (Prefect's own
    error is "Unable to find block document named …")."""
    spec = GenerationSpec(model="doubao-seedance-1-0-lite-t2v-250428", prompt="a misspelt block", resolution="480p", duration=2)
    before = gateway_stats(local_blocks)["requests"]["create"]
    with pytest.raises(
        ConfigurationError,
        match=rf"^no gateway block named '{GATEWAY_BLOCK}x' on the Prefect API at .* \(did you mean '{GATEWAY_BLOCK}'\?\)$",
    ):
        generate_video(spec=spec, out_dir=str(tmp_path), gateway=f"{GATEWAY_BLOCK}x", bucket=BUCKET_BLOCK)
    with pytest.raises(ConfigurationError, match=rf"^no bucket block named 'nothing-like-it' .*\(saved: .*{BUCKET_BLOCK}.*\)$"):
        generate_video(spec=spec, out_dir="s3://nowhere/out", gateway=GATEWAY_BLOCK, bucket="nothing-like-it")
    assert gateway_stats(local_blocks)["requests"]["create"] == before


def test_wrong_key_fails_once_with_a_typed_error(local_blocks: DevStack, tmp_path: Path) -> None:
    from blocks.gateway import SeedanceGateway

    SeedanceGateway(base_url=local_blocks.gateway_url, api_key="not-the-key").save("wrong-key", overwrite=True)
    spec = GenerationSpec(
        model="doubao-seedance-1-0-lite-t2v-250428", prompt="a key that does not open", resolution="480p", duration=2
    )
    before = gateway_stats(local_blocks)["requests"]["create"]
    with pytest.raises(AuthenticationError, match=r"\[wrong-key\] HTTP 401 AuthenticationError"):
        generate_video(spec=spec, out_dir=str(tmp_path), gateway="wrong-key", bucket=BUCKET_BLOCK)
    assert gateway_stats(local_blocks)["requests"]["create"] - before == 1


def test_a_run_past_its_budget_is_refused_before_anything_is_spent(local_blocks: DevStack, tmp_path: Path) -> None:
    spec = GenerationSpec(
        model="doubao-seedance-2-0-260128",
        prompt="an expensive idea",
        resolution="1080p",
        duration=15,
        references=[{"url": str(SAMPLES / "lantern.jpg"), "role": "first_frame"}],
    )
    creates = gateway_stats(local_blocks)["requests"]["create"]
    objects = s3_object_count(local_blocks)
    with pytest.raises(BudgetExceededError, match="CNY"):
        generate_video(spec=spec, out_dir=str(tmp_path), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, budget="1 CNY")
    assert gateway_stats(local_blocks)["requests"]["create"] == creates
    assert s3_object_count(local_blocks) == objects


def test_billed_tokens_are_recorded_beside_the_estimate(local_blocks: DevStack, tmp_path: Path) -> None:
    spec = GenerationSpec(model="doubao-seedance-1-0-pro-250528", prompt="a costed shot", resolution="480p", duration=2)
    result = generate_video(spec=spec, out_dir=str(tmp_path), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, budget="5 CNY")
    assert result.estimated_tokens == result.completion_tokens == 864 * 480 * 24 * 2 // 1024
    assert result.currency == "CNY" and result.billed_cost == result.estimated_cost
