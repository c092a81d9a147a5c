"""The sha256 a download reports is the file's, however the transfer went: computed as the bytes
arrive, across a resume, and started over when the server answers a Range request with the whole file."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from seedance.download import download
from tests.conftest import http_served

BODY = os.urandom(3 * 1024 * 1024 + 17)


class _Flaky(BaseHTTPRequestHandler):
    """The first GET announces the whole body and stops at half; later GETs honour Range unless the
    server is set to ignore it (then they send the whole body with 200)."""

    protocol_version = "HTTP/1.1"
    ignore_range = False
    gets = 0

    def do_GET(self) -> None:
        type(self).gets += 1
        start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-")) if self.headers.get("Range") else 0
        if type(self).gets == 1:
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[: len(BODY) // 2])
            self.close_connection = True
            return
        if start and not self.ignore_range:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
            body = BODY[start:]
        else:
            self.send_response(200)
            body = BODY
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(params=[False, True], ids=["range-honoured", "range-ignored"])
def flaky_url(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_Flaky,), {"ignore_range": request.param, "gets": 0})
    with http_served(handler) as origin:
        yield f"{origin}/video.mp4"


def test_the_reported_sha256_is_the_files_after_a_cut_transfer(flaky_url: str, tmp_path: Path) -> None:
    done = download(flaky_url, tmp_path / "video.mp4", retry_base_seconds=0.01)

    assert done.resumed == 1
    assert (tmp_path / "video.mp4").read_bytes() == BODY
    assert done.sha256 == hashlib.sha256(BODY).hexdigest()
    assert done.size_bytes == len(BODY)
