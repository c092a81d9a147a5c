"""The wire: a threaded HTTP/1.1 server with keep-alive that turns bytes into `routes.Request`s.

Built on `http.server` rather than a framework so the gateway keeps full control of the socket:
what is written, when, and whether the connection survives. Two seams for injected faults: whole
exchanges pass through the app's `handle` (`inject.FaultInjector` wraps `GatewayApp` to answer 429
or 5xx instead), and every byte leaves through `_Handler._write`, which acts out a response's `Cut`
(the connection closed unanswered, or after part of the body).
"""

from __future__ import annotations

import logging
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

from local_gateway.errors import ArkError, invalid_parameter
from local_gateway.routes import App, Request, Response

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 64 * 1024 * 1024
"""Ark refuses request bodies above 64 MB (ark-api.md §2.2)."""
IDLE_TIMEOUT: Final = 120.0
"""Seconds a connection may sit idle (or stall mid-request) before the server closes it."""
_COPY_CHUNK: Final = 256 * 1024


class GatewayHTTPServer(ThreadingHTTPServer):
    """One thread per connection; daemon threads so that stopping never waits on idle keep-alives."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver's listen backlog is 5: a pipeline opening 20 connections at once saw resets (4-6
    # per 100-generation batch in bench P1), which a client must treat as creates of unknown outcome.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, _Handler)
        self.app = app

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, socket.timeout)):
            # a client that gave up (a timeout, a reset keep-alive) is no fault of ours
            log.debug("connection from %s ended: %r", client_address, error)
            return
        log.exception("connection from %s failed", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: with Nagle's algorithm the body would wait for the
    # client's delayed ACK, 40 ms on every exchange of a keep-alive connection.
    disable_nagle_algorithm = True
    server_version = "SeedanceLocalGateway/0.1"
    timeout = IDLE_TIMEOUT
    server: GatewayHTTPServer

    def do_GET(self) -> None:
        self._exchange()

    do_POST = do_DELETE = do_HEAD = do_PUT = do_PATCH = do_GET

    def _exchange(self) -> None:
        try:
            request_or_refusal = self._read_request()
            if isinstance(request_or_refusal, Response):
                self._write(request_or_refusal)
            else:
                self._write(self.server.app.handle(request_or_refusal))
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_request(self) -> Request | Response:
        app = self.server.app
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return app.refuse(
                ArkError(411, "InvalidParameter", "Chunked request bodies are not accepted; send Content-Length", "body")
            )
        declared = self.headers.get("Content-Length", "0").strip() or "0"
        if not declared.isdigit():
            self.close_connection = True
            return app.refuse(invalid_parameter("body", f"Content-Length {declared!r} is not a number"))
        length = int(declared)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return app.refuse(invalid_parameter("body", f"The request body is {length} bytes; allowed: at most 64 MB"))
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        if not headers.get("host"):  # only HTTP/1.0 clients may omit it
            host, port = self.server.server_address[:2]
            headers["host"] = f"{host!s}:{port}"
        return Request(method=self.command, path=unquote(url.path), query=parse_qs(url.query), headers=headers, body=body)

    def _write(self, response: Response) -> None:
        cut = response.cut
        if cut is not None and cut.body_bytes is None:
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(response.content_length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        # A cut response announces its whole length, sends part of it, and the connection closes.
        send = response.content_length if cut is None else min(cut.body_bytes or 0, response.content_length)
        if cut is not None:
            self.close_connection = True
        if response.file is None:
            self.wfile.write(response.body[:send])
            return
        with response.file.path.open("rb") as source:
            source.seek(response.file.start)
            remaining = send
            while remaining > 0:
                chunk = source.read(min(_COPY_CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)
