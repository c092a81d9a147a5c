"""The HTTP end of Ark's status callbacks: check each one's URL, answer at once, hand the task on.

Ark waits at most 5 s for an acknowledgement and retries only final statuses (ark-api.md §4.5),
so the receiver answers before doing anything else: 202 as soon as the URL and the body check out,
then `on_status(task, intent key)` (which only queues a Prefect event, see `seedance callbacks
serve`). What it refuses:

- 403: the URL carries no valid token for its intent (`CallbackSigner.intent_of`);
- 413: a body over `MAX_BODY_BYTES` (a task object is a few kB);
- 400: a body that is not a task object, or whose length is not declared.

Every URL path holds a token, so nothing here logs a path: the default access log is off, and a
refusal names the caller's address and the intent key at most. A stdlib threading server is
enough: each request is a check and a hand-off.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final, cast

from pydantic import ValidationError

from seedance.ark.types import ContentGenerationTask
from seedance.callbacks import CallbackSigner

logger = logging.getLogger("seedance.callbacks")

MAX_BODY_BYTES: Final = 1 << 20
_INTENT = re.compile(r"/callbacks/([0-9A-Za-z_-]{1,128})(?:/|$)")

StatusHook = Callable[[ContentGenerationTask, str], None]
"""Called with each accepted callback's task and intent key, after the answer is sent."""


class CallbackReceiver:
    """Serves callbacks on `host:port` from a background thread until `stop`.

    Example:
        >>> with CallbackReceiver(signer, lambda task, key: print(task.status), port=0) as receiver:
        ...     print(receiver.url)
    """

    def __init__(self, signer: CallbackSigner, on_status: StatusHook, *, host: str = "127.0.0.1", port: int = 8790) -> None:
        self._server = _Server((host, port), signer, on_status)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="callback-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        """`http://host:port` as bound (the real port when 0 was asked for)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> CallbackReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a batch's callbacks come in bursts; socketserver's default backlog is 5

    def __init__(self, address: tuple[str, int], signer: CallbackSigner, on_status: StatusHook) -> None:
        super().__init__(address, _Handler)
        self.signer = signer
        self.on_status = on_status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        server = cast(_Server, self.server)
        key = server.signer.intent_of(self.path)
        if key is None:
            logger.warning("refused a callback from %s: %s", self.client_address[0], _describe(self.path))
            return self._answer(403)
        declared = self.headers.get("Content-Length", "0")
        if not declared.isdigit():
            logger.warning("refused a callback for intent %s: Content-Length %r", key, declared[:20])
            return self._answer(400)
        length = int(declared)
        if length > MAX_BODY_BYTES:
            logger.warning("refused a callback for intent %s: a %d-byte body", key, length)
            return self._answer(413)
        try:
            task = ContentGenerationTask.model_validate_json(self.rfile.read(length))
        except ValidationError as exc:
            logger.warning("refused a callback for intent %s: not a task object (%d problems)", key, exc.error_count())
            return self._answer(400)
        self._answer(202)
        logger.info("task %s %s (intent %s)", task.id, task.status.value, key)
        server.on_status(task, key)

    def _answer(self, status: int) -> None:
        """An empty answer; a refused request's connection is closed, its body unread."""
        if status >= 400:
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Length", "0")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """No access log: every path carries a token."""


def _describe(path: str) -> str:
    """What a refused path was, without any token it may hold."""
    match = _INTENT.search(path.split("?", 1)[0])
    return f"no valid token for intent {match[1]}" if match else "not a callback URL"
