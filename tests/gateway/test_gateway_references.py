"""Reference media is fetched at create time and refused, naming the item, when Ark would refuse it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import MediaServer
from tests.gateway.support import FAST, PRO_FAST_1_0, TASKS, error_of, generate, image, text_body


def reference_body(*media: dict[str, object], model: str = FAST) -> dict[str, Any]:
    body = text_body(model)
    body["content"] = [{"type": "text", "text": "use the references"}, *media]
    return body


def video(url: str) -> dict[str, object]:
    return {"type": "video_url", "video_url": {"url": url}, "role": "reference_video"}


def audio(url: str) -> dict[str, object]:
    return {"type": "audio_url", "audio_url": {"url": url}, "role": "reference_audio"}


@pytest.mark.parametrize(
    ("media", "param", "says"),
    [
        (lambda s: [image(s.url("missing.png"), "reference_image")], "content[1].image_url.url", "HTTP 404"),
        (lambda s: [image(s.url("document.png"), "reference_image")], "content[1].image_url.url", "PDF document"),
        (lambda s: [image(s.url("tiny_200x200.png"), "reference_image")], "content[1].image_url.url", "200x200"),
        (lambda s: [video(s.url("long_20s.mp4"))], "content[1].video_url.url", "lasts 20.00 s; allowed: 2-15 s"),
        (lambda s: [image(s.url("reference_864x496.mp4"), "reference_image")], "content[1].image_url.url", "not an image"),
        (
            lambda s: [image(s.url("square_720x720.png"), "reference_image"), audio(s.url("square_720x720.png"))],
            "content[2].audio_url.url",
            "not an audio",
        ),
        (
            lambda s: [
                video(s.url("reference_864x496.mp4")),
                video(s.url("reference_864x496.mp4")),
                video(s.url("reference_864x496.mp4")),
                audio(s.url("music_3s.mp3")),
            ],
            None,
            None,
        ),
        (
            lambda s: [image("asset://asset-20260101-abc", "reference_image")],
            "content[1].image_url.url",
            "not available in the local gateway",
        ),
        (
            lambda s: [image("http://127.0.0.1:9/nothing-listens-here.png", "reference_image")],
            "content[1].image_url.url",
            "could not be fetched",
        ),
    ],
    ids=[
        "404",
        "pdf-as-png",
        "too-small",
        "too-long",
        "video-as-image",
        "image-as-audio",
        "three-videos-accepted",
        "asset",
        "unreachable",
    ],
)
def test_references_are_fetched_and_refused_like_ark(
    api: httpx.Client, media_server: MediaServer, media: object, param: str | None, says: str | None
) -> None:
    response = api.post(TASKS, json=reference_body(*media(media_server)))  # type: ignore[operator]

    if param is None:
        assert response.status_code == 200, response.text
        return
    error = error_of(response, 400)
    assert (error["code"], error["param"], error["type"]) == ("InvalidParameter", param, "BadRequest")
    assert says in error["message"]


def test_every_bad_reference_is_listed(api: httpx.Client, media_server: MediaServer) -> None:
    body = reference_body(image(media_server.url("tiny_200x200.png"), "reference_image"), video(media_server.url("long_20s.mp4")))

    error = error_of(api.post(TASKS, json=body), 400)

    assert error["param"] == "content[1].image_url.url"
    assert "content[2].video_url.url" in error["message"]


def test_a_base64_first_frame_is_accepted(api: httpx.Client, media_dir: Path) -> None:
    encoded = base64.b64encode((media_dir / "frame_640x360.jpg").read_bytes()).decode()
    body = reference_body(image(f"data:image/jpeg;base64,{encoded}"), model=PRO_FAST_1_0)
    body["content"] = body["content"][1:]  # first frame alone, no prompt needed

    task = generate(api, body)

    assert task["ratio"] == "16:9"


def test_a_base64_audio_clip_is_accepted_with_an_image(api: httpx.Client, media_dir: Path, media_server: MediaServer) -> None:
    encoded = base64.b64encode((media_dir / "voice_3s.wav").read_bytes()).decode()
    body = reference_body(
        image(media_server.url("square_720x720.png"), "reference_image"), audio(f"data:audio/wav;base64,{encoded}")
    )

    task = generate(api, body)

    assert task["ratio"] == "1:1"  # adaptive follows the first image when there is no video


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("data:image/png,not-base64", "not a base64 data URL"),
        ("data:text/plain;base64,aGVsbG8=", "is not an image type"),
        ("data:image/png;base64,%%%", "not valid base64"),
    ],
)
def test_broken_data_urls_are_refused(api: httpx.Client, url: str, says: str) -> None:
    body = reference_body(image(url, "reference_image"))

    error = error_of(api.post(TASKS, json=body), 400)

    assert error["param"] == "content[1].image_url.url"
    assert says in error["message"]


def test_a_refused_create_leaves_no_task(api: httpx.Client, media_server: MediaServer) -> None:
    before = api.get(TASKS, params={"page_size": 500}).json()["total"]

    api.post(TASKS, json=reference_body(image(media_server.url("document.png"), "reference_image")))

    assert api.get(TASKS, params={"page_size": 500}).json()["total"] == before
