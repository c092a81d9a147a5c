"""Noticing, while a flow runs, that its Prefect server has gone away.

Prefect's client retries a refused connection for minutes and the run then ends in tracebacks:
`seedance server stop` during a `seedance generate` made that command hang for 209 s and print 398
lines, the last a traceback, while its task went on upstream. The watch checks every
`CHECK_SECONDS` that the API still accepts connections; once it has refused them for its
`patience`, it calls `on_lost` from its own thread, which ends the command.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from cli.server import listening

CHECK_SECONDS: Final = 2.0
SHARED_PATIENCE_SECONDS: Final = 6.0
"""The shared local server comes back only when a command or a person starts it again."""
CONFIGURED_PATIENCE_SECONDS: Final = 60.0
"""A server at `PREFECT_API_URL` may be restarting (an upgrade, a moved pod): Prefect's own client
waits about this long before it gives up."""


class ServerWatch:
    """While entered, a daemon thread checks that `api_url` accepts connections; after `patience`
    seconds of refusals it calls `on_lost` once (which is expected not to return)."""

    def __init__(self, api_url: str, patience: float, on_lost: Callable[[], None]) -> None:
        self._url = api_url
        self._patience = patience
        self._on_lost = on_lost
        self._left = threading.Event()

    def __enter__(self) -> ServerWatch:
        threading.Thread(target=self._watch, name="prefect-server-watch", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._left.set()

    def _watch(self) -> None:
        refused_since: float | None = None
        while not self._left.wait(CHECK_SECONDS):
            if listening(self._url):
                refused_since = None
                continue
            now = time.monotonic()
            refused_since = now if refused_since is None else refused_since
            if now - refused_since >= self._patience and not self._left.is_set():
                self._on_lost()
                return
