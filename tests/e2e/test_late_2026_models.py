"""Seedance 2.5 end to end, and a model the catalog learns from the user's own file, with no code change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest
import yaml

from cli.demo import BUCKET_BLOCK, GATEWAY_BLOCK, save_local_blocks
from flows.generate import generate_video
from local_gateway.devstack import DevStack
from seedance.spec import load_spec
from tests.conftest import gradient_image
from tests.e2e.support import gateway_stats, prefect_env

pytestmark = pytest.mark.e2e

V2_5 = "doubao-seedance-2-5-260628"
MADE_UP = "acme-seedance-9-0-991231"
ROOT = Path(__file__).resolve().parents[2]


def test_a_2_5_generation_with_12_images_3_videos_and_2_audio_tracks(
    local_blocks: DevStack, media_dir: Path, tmp_path: Path
) -> None:
    images = []
    for index in range(12):
        path = tmp_path / f"still-{index:02d}.jpg"
        gradient_image(640 + 16 * index, 360, seed=index).save(path, quality=90)
        images.append({"url": str(path), "role": "reference_image"})
    video = {"url": str(media_dir / "reference_864x496.mp4"), "role": "reference_video"}
    audio = [{"url": str(media_dir / name), "role": "reference_audio"} for name in ("music_3s.mp3", "voice_3s.wav")]
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(
        yaml.safe_dump(
            {
                "model": V2_5,
                "prompt": "the harbour at dusk, lanterns drifting, music from a boat",
                "references": [*images, video, video, video, *audio],
                "resolution": "720p",
                "ratio": "16:9",
                "duration": 5,
                "generate_audio": True,
            }
        )
    )
    creates = gateway_stats(local_blocks)["tasks_created"]

    result = generate_video(spec=load_spec(spec_file), out_dir=str(tmp_path / "out"), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)

    assert result.model == V2_5 and result.status == "succeeded"
    assert gateway_stats(local_blocks)["tasks_created"] == creates + 1
    with av.open(str(result.files.video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
        assert container.streams.audio, "2.5 generated audio"
        assert container.duration is not None and abs(container.duration / av.time_base - 5.0) <= 0.1


@pytest.fixture
def user_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model file adding a made-up model, and a price file pricing it, named by the environment."""
    models = tmp_path / "models.yaml"
    models.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {"id": MADE_UP, "extends": "doubao-seedance-2-0-fast-260128", "byteplus_id": "acme-9-0", "max_duration": 8}
                ]
            }
        )
    )
    prices = yaml.safe_load((ROOT / "seedance" / "prices.yaml").read_text())
    prices["tables"][0]["entries"].append(
        {"name": "acme 9.0", "models": [MADE_UP], "per_million": {"default": 20.0}, "confidence": "inferred", "source": "test"}
    )
    prices_file = tmp_path / "prices.yaml"
    prices_file.write_text(yaml.safe_dump(prices))
    monkeypatch.setenv("SEEDANCE_MODELS_FILE", str(models))
    monkeypatch.setenv("SEEDANCE_PRICES_FILE", str(prices_file))
    return models


def test_a_user_catalog_file_adds_a_model_with_no_code_change(prefect_api: None, user_catalog: Path, tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({"model": MADE_UP, "prompt": "a paper boat", "resolution": "480p", "duration": 6}))
    env = prefect_env(tmp_path)

    listed = subprocess.run(
        [sys.executable, "-m", "cli", "models", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert {"id": MADE_UP, "max_duration": 8}.items() <= next(m for m in json.loads(listed.stdout) if m["id"] == MADE_UP).items()

    estimate = subprocess.run(
        [sys.executable, "-m", "cli", "estimate", str(spec_file)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert estimate.returncode == 0, estimate.stderr
    assert MADE_UP in estimate.stdout and "CNY" in estimate.stdout

    too_long = tmp_path / "too-long.yaml"
    too_long.write_text(yaml.safe_dump({"model": MADE_UP, "prompt": "a paper boat", "duration": 10}))
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "estimate", str(too_long)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "allowed: integers 4-8" in refused.stderr

    with DevStack(api_key="user-catalog-key", latency=0.3) as stack:  # its gateway reads the same files
        save_local_blocks(stack, gateway_block="acme", bucket_block="acme-assets")
        result = generate_video(
            spec=load_spec(spec_file), out_dir=str(tmp_path / "out"), gateway="acme", bucket="acme-assets", budget="10 CNY"
        )
        assert gateway_stats(stack)["tasks_created"] == 1
    assert result.model == MADE_UP and result.files.video.exists()
    assert result.estimated_cost is not None and result.currency == "CNY"
