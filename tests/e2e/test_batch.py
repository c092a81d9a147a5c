"""A batch of generations polled together and collected as each finishes."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from cli.demo import BUCKET_BLOCK, GATEWAY_BLOCK
from flows.batch import generate_batch
from local_gateway.devstack import DevStack
from seedance.manifest import load_manifest
from seedance.media import probe
from tests.e2e.support import gateway_stats

pytestmark = pytest.mark.e2e

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


def test_a_batch_is_polled_together_and_every_video_collected(local_blocks: DevStack, tmp_path: Path) -> None:
    (tmp_path / "batch.yaml").write_text(MANIFEST)
    before = gateway_stats(local_blocks)["requests"]
    result = generate_batch(
        items=load_manifest(tmp_path / "batch.yaml"), out_dir=tmp_path / "out", gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK
    )
    after = gateway_stats(local_blocks)["requests"]

    assert result.succeeded == len(SIZES)
    for item in result.items:
        assert item.result is not None
        info = probe(item.result.files.video)
        assert (info.width, info.height) == SIZES[item.name]
        assert item.result.files.video.parent == (tmp_path / "out" / item.name).resolve()
    assert after["create"] - before["create"] == len(SIZES)
    status_requests = (after["list"] - before["list"]) + (after["get"] - before["get"])
    assert status_requests < len(SIZES), "tasks were polled one by one"
    with get_client(sync_client=True) as client:
        progress = client.read_artifacts()
    assert any(a.key == "batch-progress" and a.data == 100.0 for a in progress)
