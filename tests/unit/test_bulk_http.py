"""The download's transport against a real HTTP server on loopback: bodies arrive whole and as sent,
redirects and headers go through httpx, and every network failure is one of httpx's exceptions. A URL
the environment sends through a proxy is downloaded through it."""

from __future__ import annotations

import os
import socket
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from seedance.bulk_http import READ_BYTES, BulkTransport, proxied
from seedance.download import download
from seedance.tls import tls_context
from tests.conftest import http_served

BODY = os.urandom(3 * READ_BYTES + 5)


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/file?sig=a%2Fb")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/file"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.send_header("X-Query", self.path.partition("?")[2])
            self.send_header("X-Range", self.headers.get("Range", "-"))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(BODY), 100_000):
                piece = BODY[start : start + 100_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[: len(BODY) // 2])
            self.close_connection = True
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:10])
            self.wfile.flush()
            time.sleep(1.0)
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def _client(timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(transport=BulkTransport(verify=tls_context()), timeout=timeout, follow_redirects=True)


def test_a_body_arrives_whole_in_large_chunks_after_a_redirect_with_its_query_and_headers() -> None:
    with (
        http_served(_Origin) as origin,
        _client() as client,
        client.stream("GET", f"{origin}/moved", headers={"Range": "bytes=0-"}) as response,
    ):
        chunks = list(response.iter_raw())
    assert response.status_code == 200 and response.reason_phrase == "OK" and response.http_version == "HTTP/1.1"
    assert response.headers["X-Query"] == "sig=a%2Fb" and response.headers["X-Range"] == "bytes=0-"
    assert b"".join(chunks) == BODY
    assert max(map(len, chunks)) == READ_BYTES


def test_a_chunked_body_arrives_without_its_framing() -> None:
    with http_served(_Origin) as origin, _client() as client:
        assert client.get(f"{origin}/chunked").content == BODY


def test_a_body_cut_short_is_a_protocol_error_as_with_httpx_own_transport() -> None:
    with http_served(_Origin) as origin, _client() as client, client.stream("GET", f"{origin}/cut") as response:
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError, match="short"):
            for chunk in response.iter_raw():
                received += chunk
    assert bytes(received) == BODY[: len(BODY) // 2]


def test_a_stalled_body_is_a_read_timeout() -> None:
    with http_served(_Origin) as origin, _client(timeout=0.2) as client, client.stream("GET", f"{origin}/slow") as response:
        with pytest.raises(httpx.ReadTimeout):
            response.read()


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with _client() as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{port}/file")


def test_a_scheme_other_than_http_is_refused() -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        BulkTransport(verify=tls_context()).handle_request(httpx.Request("GET", "ftp://127.0.0.1/file"))


class _Proxy(BaseHTTPRequestHandler):
    """A forward proxy that answers every request itself, naming the URL it was asked for."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = f"via proxy: {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_download_goes_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with http_served(_Proxy) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        result = download("http://videos.example/out.mp4?sig=1", tmp_path / "out.mp4")
    assert result.path.read_bytes() == b"via proxy: http://videos.example/out.mp4?sig=1"


def test_proxied_follows_the_proxy_variables_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert not proxied("https://tos.example/v.mp4")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert proxied("https://tos.example/v.mp4") and not proxied("http://tos.example/v.mp4")
    monkeypatch.setenv("NO_PROXY", "tos.example")
    assert not proxied("https://tos.example:8443/v.mp4") and proxied("https://other.example/v.mp4")
