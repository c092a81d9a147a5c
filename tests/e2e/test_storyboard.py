"""A storyboard of three 4 s shots: continuous cuts and one loudness-normalised video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from cli.demo import BUCKET_BLOCK, GATEWAY_BLOCK
from flows.storyboard import storyboard
from local_gateway.devstack import DevStack
from seedance.media import probe
from seedance.postprocess import measure_loudness
from seedance.storyboard import load_storyboard
from tests.e2e.support import gateway_stats

pytestmark = pytest.mark.e2e

BOARD = """
defaults:
  model: doubao-seedance-2-0-fast-260128
  resolution: 480p
  ratio: "16:9"
  duration: 4
  generate_audio: true
loudness: -16
shots:
  - prompt: A paper boat is set on a rain-soaked street
  - prompt: The boat drifts toward a storm drain
  - prompt: It sails out into the harbour
"""


def first_frame(video: Path) -> np.ndarray:
    with av.open(str(video)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24").astype(np.int16)


def test_three_shots_cut_into_one_continuous_video(local_blocks: DevStack, tmp_path: Path) -> None:
    (tmp_path / "board.yaml").write_text(BOARD)
    result = storyboard(
        board=load_storyboard(tmp_path / "board.yaml"), out_dir=str(tmp_path / "out"), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK
    )

    board_folder = (tmp_path / "out" / "storyboard").resolve()  # <out>/<storyboard name>/
    cut = Path(result.video)
    assert cut.name == "storyboard.mp4" and cut.parent.parent == board_folder
    for number, shot in enumerate(result.shots, start=1):
        assert shot.files.video == board_folder / f"shot-{number:02d}" / shot.task_id / f"shot-{number:02d}.mp4"
    final = probe(cut)
    assert abs((final.duration or 0) - 12.0) <= 0.2
    assert (final.width, final.height, final.video_codec, final.has_audio) == (864, 496, "h264", True)
    assert abs(measure_loudness(cut) - -16.0) <= 1.0

    shot1, shot2 = result.shots[0], result.shots[1]
    assert shot1.files.last_frame is not None
    opening_of_shot2 = first_frame(shot2.files.video)
    last_of_shot1 = rgb(shot1.files.last_frame)
    difference = np.abs(opening_of_shot2 - last_of_shot1).mean()
    assert difference < 4.0, f"shot 2 does not open on shot 1's last frame (mean difference {difference:.1f})"
    assert changed_share(opening_of_shot2, last_of_shot1) < 0.005
    # the same measure does see what moved during shot 1: the comparison can tell frames apart
    assert changed_share(opening_of_shot2, first_frame(shot1.files.video)) > 0.01


def test_a_storyboard_kept_in_s3_is_found_again_by_a_rerun(local_blocks: DevStack, tmp_path: Path) -> None:
    (tmp_path / "board.yaml").write_text(BOARD.replace("  - prompt: It sails out into the harbour\n", ""))
    board, out = load_storyboard(tmp_path / "board.yaml"), f"s3://{local_blocks.bucket}/{tmp_path.name}"
    first = storyboard(board=board, out_dir=out, gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, name="boat")

    s3, prefix = local_blocks.s3_client(), f"{tmp_path.name}/boat"
    [cut_id] = {key.split("/")[2] for key in keys_under(local_blocks, prefix)} - {"shot-01", "shot-02"}
    assert first.video == f"{out}/boat/{cut_id}/boat.mp4"
    shots = [f"{prefix}/shot-{n:02d}/{shot.task_id}/shot-{n:02d}.mp4" for n, shot in enumerate(first.shots, start=1)]
    assert set(shots) <= set(keys_under(local_blocks, prefix))
    cut = tmp_path / "cut.mp4"
    s3.download_file(local_blocks.bucket, f"{prefix}/{cut_id}/boat.mp4", str(cut))
    assert abs((probe(cut).duration or 0) - 8.0) <= 0.2

    downloads, seen = gateway_stats(local_blocks)["requests"]["files"], len(local_blocks.s3_requests())
    again = storyboard(board=board, out_dir=out, gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, name="boat")

    assert again.video == first.video
    assert [(shot.task_id, shot.resumed) for shot in again.shots] == [(shot.task_id, True) for shot in first.shots]
    assert gateway_stats(local_blocks)["requests"]["files"] == downloads
    assert [path for method, path in local_blocks.s3_requests()[seen:] if method in ("PUT", "POST")] == []


def keys_under(stack: DevStack, prefix: str) -> list[str]:
    return [item["Key"] for item in stack.s3_client().list_objects_v2(Bucket=stack.bucket, Prefix=f"{prefix}/")["Contents"]]


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ by more than compression noise in any channel."""
    return float((np.abs(a - b).max(axis=2) > 40).mean())


def rgb(path: Path | None) -> np.ndarray:
    assert path is not None
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)
