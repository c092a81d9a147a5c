"""The example bodies that third-party gateway docs publish are accepted and rendered as asked."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from seedance.media import probe
from tests.conftest import MediaServer
from tests.gateway.support import TASKS, download, error_of, wait_for

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
PLACEHOLDER = re.compile(r"\{\{media:([^}]+)\}\}")


def seed_body(name: str, media_server: MediaServer) -> bytes:
    text = (SEEDS / name).read_text(encoding="utf-8")
    return PLACEHOLDER.sub(lambda match: media_server.url(match.group(1)), text).encode()


@pytest.mark.parametrize(
    ("name", "size", "ratio", "seconds"),
    [
        ("000_kkiai.json", (1470, 630), "21:9", 11),
        ("002_maxtoken.json", (1280, 720), "16:9", 5),
        ("003_aimanyi.json", (1470, 630), "21:9", 11),
        ("004_quickrouter.json", (1470, 630), "21:9", 11),
    ],
)
def test_a_seed_body_renders_to_the_size_and_length_it_asks_for(
    api: httpx.Client, media_server: MediaServer, tmp_path: Path, name: str, size: tuple[int, int], ratio: str, seconds: int
) -> None:
    response = api.post(TASKS, content=seed_body(name, media_server), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text

    task = wait_for(api, response.json()["id"])

    assert task["status"] == "succeeded", task
    assert (task["resolution"], task["ratio"], task["duration"], task["generate_audio"]) == ("720p", ratio, seconds, True)
    info = probe(download(task["content"]["video_url"], tmp_path / "video.mp4"))
    assert (info.width, info.height) == size
    assert info.duration == pytest.approx(seconds, abs=0.1)
    assert info.has_audio and info.audio_channels == 1


def test_the_published_002_body_with_trailing_commas_is_refused(api: httpx.Client, media_server: MediaServer) -> None:
    response = api.post(
        TASKS, content=seed_body("002_maxtoken_raw.txt", media_server), headers={"Content-Type": "application/json"}
    )

    error = error_of(response, 400)
    assert (error["code"], error["param"], error["type"]) == ("InvalidParameter", "body", "BadRequest")
