"""Result URLs behave like presigned object-storage links: no API key, byte ranges, expiry."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import GatewayFactory, GatewayProcess
from tests.gateway.support import LITE_T2V, generate, text_body


@pytest.fixture(scope="module")
def video_url(api: httpx.Client) -> str:
    return generate(api, text_body(LITE_T2V, return_last_frame=True))["content"]["video_url"]


@pytest.fixture(scope="module")
def whole(video_url: str) -> bytes:
    response = httpx.get(video_url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert int(response.headers["Content-Length"]) == len(response.content)
    return response.content


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-10", -10, None), ("bytes=5-999999999", 5, None)],
)
def test_a_byte_range_is_served_partially(video_url: str, whole: bytes, header: str, first: int, last: int | None) -> None:
    response = httpx.get(video_url, headers={"Range": header})

    size = len(whole)
    expected = whole[first : last + 1] if last is not None else whole[first:]
    assert response.status_code == 206
    assert response.content == expected
    assert response.headers["Content-Length"] == str(len(expected))
    start = first % size
    assert response.headers["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{size}"


def test_a_range_past_the_end_is_not_satisfiable(video_url: str, whole: bytes) -> None:
    response = httpx.get(video_url, headers={"Range": f"bytes={len(whole)}-"})

    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(whole)}"


def test_head_gives_the_length_without_the_body(video_url: str, whole: bytes) -> None:
    response = httpx.head(video_url)

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(whole))
    assert response.content == b""


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())))


@pytest.mark.parametrize("changes", [{"signature": "0" * 64}, {"expires": "9999999999"}, {"signature": ""}])
def test_a_tampered_link_is_forbidden(video_url: str, changes: dict[str, str]) -> None:
    response = httpx.get(_with_query(video_url, **changes))

    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/xml"
    assert b"<Code>AccessDenied</Code>" in response.content


def test_a_link_to_another_file_of_the_task_is_forbidden(video_url: str) -> None:
    response = httpx.get(video_url.replace("/video.mp4?", "/last_frame.png?"))

    assert response.status_code == 403


def test_a_deleted_task_has_no_files(api: httpx.Client) -> None:
    task = generate(api, text_body(LITE_T2V))
    url = task["content"]["video_url"]
    assert httpx.head(url).status_code == 200

    api.delete(f"/contents/generations/tasks/{task['id']}")

    response = httpx.get(url)
    assert response.status_code == 404
    assert b"<Code>NoSuchKey</Code>" in response.content


@pytest.fixture(scope="module")
def short_lived(gateway_factory: GatewayFactory) -> Iterator[GatewayProcess]:
    """A second gateway process whose result URLs live one second; stopped with SIGINT."""
    process = gateway_factory("--result-ttl", "1", "--queue-seconds", "0")
    yield process
    assert process.stop(signal.SIGINT) == 0


def test_result_links_expire_after_the_result_ttl(short_lived: GatewayProcess) -> None:
    with httpx.Client(base_url=short_lived.base_url, headers={"Authorization": f"Bearer {short_lived.api_key}"}) as client:
        task = generate(client, text_body(LITE_T2V))
    url = task["content"]["video_url"]
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert task["updated_at"] <= expires <= task["updated_at"] + 2

    assert httpx.head(url).status_code == 200
    time.sleep(max(0.0, expires + 0.1 - time.time()))
    response = httpx.get(url)

    assert response.status_code == 403
    assert b"expired" in response.content
    assert short_lived.stats()["requests"]["files"] == 2
