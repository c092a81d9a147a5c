"""`LocalGateway`: the whole gateway, started and stopped from Python (tests, benchmarks, the CLI)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from local_gateway.callbacks import CallbackSender
from local_gateway.config import GatewayConfig
from local_gateway.dialects import ServedDialect
from local_gateway.fetch import ReferenceFetcher
from local_gateway.files import UrlSigner
from local_gateway.inject import FaultInjector
from local_gateway.lifecycle import Lifecycle, RenderFunction
from local_gateway.render import Renderer
from local_gateway.routes import API_PREFIX, GatewayApp
from local_gateway.server import GatewayHTTPServer
from local_gateway.stats import Stats
from local_gateway.store import TaskRecord, TaskStore
from local_gateway.wire import task_object

log = logging.getLogger(__name__)


class LocalGateway:
    """An Ark-compatible gateway serving on a background thread of this process.

    Example:
        >>> with LocalGateway(GatewayConfig(api_key="k", latency=0.5)) as gateway:
        ...     client = Ark(base_url=gateway.base_url, api_key="k")

    `render` replaces the ffmpeg renderer (tests use it to make renders fail). `config.faults`
    makes it misbehave on purpose (`faults.py`); `POST /_local/faults` changes that while it runs.
    """

    def __init__(self, config: GatewayConfig, *, render: RenderFunction | None = None) -> None:
        self.config = config
        self._render = render
        self._server: GatewayHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._cleanup: list[Callable[[], object]] = []
        self._stats = Stats()

    @property
    def origin(self) -> str:
        """`http://host:port`, where the `/_local/*` helpers live."""
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        return f"http://{self.config.host}:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        """The port actually bound (useful with `port=0`)."""
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The Ark base URL to give clients: `http://host:port/api/v3`."""
        return self.origin + API_PREFIX

    def stats(self) -> dict[str, Any]:
        """What `GET /_local/stats` returns."""
        return self._stats.snapshot()

    def start(self) -> LocalGateway:
        """Bind, then serve on a daemon thread. Returns self."""
        config = self.config
        if config.data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="seedance-gateway-"))
            self._cleanup.append(lambda: shutil.rmtree(data_dir, ignore_errors=True))
        else:
            data_dir = config.data_dir
            data_dir.mkdir(parents=True, exist_ok=True)
        dialect = ServedDialect.named(config.dialect)
        signer = UrlSigner(ttl=config.result_ttl)

        def callback_body(record: TaskRecord) -> dict[str, Any]:
            return dialect.present(
                task_object(record, lambda name: signer.url(record.origin, record.id, name, record.updated_at))
            )

        callbacks = CallbackSender(
            callback_body, timeout=config.callback_timeout, retries=config.callback_retries, backoff=config.callback_backoff
        )
        store = TaskStore(
            clock=time.time,
            id_prefix=dialect.dialect.task_id_prefix,
            cancel_queued=dialect.cancels_queued,
            on_in_flight=self._stats.in_flight,
            on_change=callbacks.status_changed,
        )
        renderer = Renderer()
        lifecycle = Lifecycle(
            store,
            self._render or renderer.render,
            tasks_dir=data_dir / "tasks",
            latency=config.latency,
            queue_seconds=config.effective_queue_seconds,
            render_workers=config.render_workers,
            overdue_error=dialect.overdue_error,
        )
        fetcher = ReferenceFetcher(timeout=config.fetch_timeout)
        # Cleanups run in reverse: kill ffmpeg first so the render pool drains at once, then no task
        # changes status any more and the callbacks can stop.
        self._cleanup += [callbacks.close, fetcher.close, lifecycle.close, renderer.close]
        app = GatewayApp(
            api_key=config.api_key,
            store=store,
            lifecycle=lifecycle,
            fetcher=fetcher,
            signer=signer,
            stats=self._stats,
            dialect=dialect,
        )
        try:
            server = GatewayHTTPServer((config.host, config.port), FaultInjector(app, config.faults, self._stats))
        except OSError:
            self.stop()
            raise
        self._server = server
        lifecycle.start()
        callbacks.start()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="gateway-http", daemon=True
        )
        self._thread.start()
        log.info("Seedance local gateway serving %s in the %s dialect (data in %s)", self.base_url, dialect.name, data_dir)
        return self

    def stop(self) -> None:
        """Stop serving, cancel timers and renders, remove a temporary data directory. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        while self._cleanup:
            self._cleanup.pop()()

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
