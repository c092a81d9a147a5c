"""Rendered results are real MP4s of exactly the size, length, rate and audio the task reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image, ImageOps

from seedance.media import probe
from tests.conftest import MediaServer
from tests.gateway.support import (
    FAST,
    LITE_I2V,
    LITE_T2V,
    PRO_1_5,
    PRO_FAST_1_0,
    SEEDANCE_2,
    download,
    frames_of,
    generate,
    image,
    mean_difference,
    text_body,
)


def _video(url: str) -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": url}, "role": "reference_video"}


CASES: list[tuple[str, Any, tuple[int, int], str, float, bool]] = [
    # id, body(media_server), (width, height), ratio reported, seconds, audio
    ("2.0-fast 480p 16:9 audio", lambda s: text_body(FAST, ratio="16:9"), (864, 496), "16:9", 4, True),
    (
        "2.0-fast 720p 4:3",
        lambda s: text_body(FAST, resolution="720p", ratio="4:3", generate_audio=False),
        (1112, 834),
        "4:3",
        4,
        False,
    ),
    ("2.0 adaptive text", lambda s: text_body(SEEDANCE_2, ratio="adaptive"), (864, 496), "16:9", 4, True),
    ("1.5-pro 9:16 silent", lambda s: text_body(PRO_1_5, ratio="9:16", generate_audio=False), (496, 864), "9:16", 4, False),
    ("1.5-pro duration -1", lambda s: text_body(PRO_1_5, duration=-1), (864, 496), "16:9", 5, True),
    ("1.0-lite-t2v 1:1", lambda s: text_body(LITE_T2V, ratio="1:1"), (640, 640), "1:1", 2, False),
    (
        "1.0-pro-fast frames 29 21:9",
        lambda s: text_body(PRO_FAST_1_0, ratio="21:9", frames=29),
        (960, 416),
        "21:9",
        29 / 24,
        False,
    ),
    (
        "1.0-pro-fast first frame adaptive",
        lambda s: text_body(PRO_FAST_1_0) | {"content": [image(s.url("frame_640x360.jpg"))]},
        (864, 480),
        "16:9",
        2,
        False,
    ),
    (
        "1.0-lite-i2v first+last adaptive",
        lambda s: (
            text_body(LITE_I2V)
            | {"content": [image(s.url("square_720x720.png"), "first_frame"), image(s.url("frame_640x360.jpg"), "last_frame")]}
        ),
        (640, 640),
        "1:1",
        2,
        False,
    ),
    (
        "2.0-fast reference video wins adaptive",
        lambda s: (
            text_body(FAST)
            | {
                "content": [
                    {"type": "text", "text": "x"},
                    image(s.url("square_720x720.png"), "reference_image"),
                    _video(s.url("reference_864x496.mp4")),
                ]
            }
        ),
        (864, 496),
        "16:9",
        4,
        True,
    ),
]


@pytest.mark.parametrize(("body", "size", "ratio", "seconds", "audio"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_video_is_exactly_what_the_task_reports(
    api: httpx.Client,
    media_server: MediaServer,
    tmp_path: Path,
    body: Any,
    size: tuple[int, int],
    ratio: str,
    seconds: float,
    audio: bool,
) -> None:
    task = generate(api, body(media_server))
    path = download(task["content"]["video_url"], tmp_path / "video.mp4")

    info = probe(path)
    assert (info.width, info.height) == size
    assert task["ratio"] == ratio
    assert info.duration == pytest.approx(seconds, abs=0.1)
    assert (info.fps, info.video_codec, info.has_audio) == (24.0, "h264", audio)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.frames == round(seconds * 24)
        assert stream.codec_context.pix_fmt == "yuv420p"
        if audio:
            track = container.streams.audio[0]
            assert (track.codec_context.name, track.codec_context.channels, track.codec_context.sample_rate) == ("aac", 1, 48000)
    head = path.read_bytes()[:4096]
    assert b"moov" in head  # +faststart: the index precedes the media data


def _cover(picture: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(ImageOps.fit(picture.convert("RGB"), size, Image.Resampling.BICUBIC, centering=(0.5, 0.5)))


@pytest.mark.parametrize(("ratio", "size"), [("16:9", (864, 496)), ("1:1", (640, 640)), ("9:16", (496, 864))])
def test_the_first_frame_is_the_given_image_cropped_to_cover(
    api: httpx.Client, media_server: MediaServer, media_dir: Path, tmp_path: Path, ratio: str, size: tuple[int, int]
) -> None:
    body = text_body(FAST, ratio=ratio, generate_audio=False) | {
        "content": [image(media_server.url("frame_640x360.jpg"), "first_frame")]
    }

    task = generate(api, body)
    path = download(task["content"]["video_url"], tmp_path / "video.mp4")

    first, middle = frames_of(path, 0, 48)
    expected = _cover(Image.open(media_dir / "frame_640x360.jpg"), size)
    assert first.shape == (size[1], size[0], 3)
    assert mean_difference(first, expected) < 3.0
    assert mean_difference(first, middle) > 0.1  # it moves


def test_the_last_frame_is_a_png_of_the_final_frame_without_watermark(api: httpx.Client, tmp_path: Path) -> None:
    common: dict[str, Any] = {"ratio": "16:9", "seed": 77, "generate_audio": False, "return_last_frame": True}
    marked = generate(api, text_body(LITE_T2V, watermark=True, **common))
    plain = generate(api, text_body(LITE_T2V, watermark=False, **common))

    marked_video = download(marked["content"]["video_url"], tmp_path / "marked.mp4")
    plain_video = download(plain["content"]["video_url"], tmp_path / "plain.mp4")
    last_png = download(marked["content"]["last_frame_url"], tmp_path / "last.png")

    info = probe(last_png)
    assert (info.kind, info.format, info.width, info.height) == ("image", "png", 864, 480)
    (marked_last,) = frames_of(marked_video, -1)
    (plain_last,) = frames_of(plain_video, -1)
    png = np.asarray(Image.open(last_png).convert("RGB"))
    corner = (slice(442, 466), slice(740, 838))  # inside the watermark box at 864x480
    assert mean_difference(marked_last[corner], plain_last[corner]) > 20
    assert mean_difference(marked_last[:240, :400], plain_last[:240, :400]) < 1
    assert mean_difference(png, plain_last) < 3


def test_the_seed_changes_the_picture(api: httpx.Client, tmp_path: Path) -> None:
    one = generate(api, text_body(LITE_T2V, seed=1, ratio="1:1"))
    two = generate(api, text_body(LITE_T2V, seed=2, ratio="1:1"))

    (first_one,) = frames_of(download(one["content"]["video_url"], tmp_path / "1.mp4"), 0)
    (first_two,) = frames_of(download(two["content"]["video_url"], tmp_path / "2.mp4"), 0)
    assert mean_difference(first_one, first_two) > 5


def test_frames_change_over_the_video(api: httpx.Client, tmp_path: Path) -> None:
    done = generate(api, text_body(LITE_T2V, seed=5, ratio="16:9", duration=2))
    video = download(done["content"]["video_url"], tmp_path / "moving.mp4")
    first, middle, last = frames_of(video, 0, 24, -1)
    moved = [float((np.abs(frame.astype(int) - first.astype(int)).max(axis=2) > 40).mean()) for frame in (middle, last)]
    assert all(share > 0.01 for share in moved), moved
    assert mean_difference(middle, last) > 0.5
