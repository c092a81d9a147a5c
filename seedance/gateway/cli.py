"""`seedance gateway serve`: run the local gateway until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from seedance.gateway.app import LocalGateway
from seedance.gateway.config import GatewayConfig

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The local Ark-compatible Seedance gateway.")


@app.callback()
def _group() -> None:
    """The local Ark-compatible Seedance gateway."""


@app.command()
def serve(
    api_key: Annotated[str, typer.Option(help="Bearer token clients must send.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8787,
    latency: Annotated[float, typer.Option(help="Seconds from create to succeeded, at least.")] = 5.0,
    queue_seconds: Annotated[float | None, typer.Option(help="Seconds a task stays queued; default latency / 2.")] = None,
    result_ttl: Annotated[float, typer.Option(help="Seconds a result URL stays valid.")] = 86400.0,
    data_dir: Annotated[Path | None, typer.Option(help="Where references and renders go; default a temporary directory.")] = None,
    render_workers: Annotated[int, typer.Option(help="Renders running at once.")] = 2,
    fetch_timeout: Annotated[float, typer.Option(help="Seconds allowed to fetch each reference URL.")] = 30.0,
    log_level: Annotated[str, typer.Option(help="Logging level on stderr.")] = "INFO",
) -> None:
    """Serve the Ark API under /api/v3. Prints one line with the real address once listening."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = GatewayConfig(
        api_key=api_key, host=host, port=port, latency=latency, queue_seconds=queue_seconds,
        result_ttl=result_ttl, data_dir=data_dir, render_workers=render_workers, fetch_timeout=fetch_timeout,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    gateway = LocalGateway(config).start()
    try:
        # Launchers parse this exact line for the real port (--port 0).
        print(f"Seedance local gateway listening on {gateway.base_url}", flush=True)
        stop.wait()
    finally:
        gateway.stop()
