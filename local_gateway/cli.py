"""`seedance gateway serve`: run the local gateway until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from local_gateway.app import LocalGateway
from local_gateway.config import API_KEY_VARIABLE, GatewayConfig
from local_gateway.faults import DEFAULT_SLOW_SECONDS, FaultKind, FaultPlan, parse_rates
from seedance.ark.dialects import DialectName

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The local Ark-compatible Seedance gateway.")


@app.callback()
def _group() -> None:
    """The local Ark-compatible Seedance gateway."""


@app.command()
def serve(
    api_key: Annotated[
        str,
        typer.Option(
            envvar=API_KEY_VARIABLE, help=f"Bearer token clients must send; {API_KEY_VARIABLE} keeps it out of the process list."
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8787,
    dialect: Annotated[
        DialectName,
        typer.Option(help="Whose API to serve: the official one (ark) or a reseller gateway's.", case_sensitive=False),
    ] = DialectName.ARK,
    latency: Annotated[float, typer.Option(help="Seconds from create to succeeded, at least.")] = 5.0,
    queue_seconds: Annotated[float | None, typer.Option(help="Seconds a task stays queued; default latency / 2.")] = None,
    result_ttl: Annotated[float, typer.Option(help="Seconds a result URL stays valid.")] = 86400.0,
    data_dir: Annotated[Path | None, typer.Option(help="Where references and renders go; default a temporary directory.")] = None,
    render_workers: Annotated[int, typer.Option(help="Renders running at once.")] = 2,
    fetch_timeout: Annotated[float, typer.Option(help="Seconds allowed to fetch each reference URL.")] = 30.0,
    faults: Annotated[
        float,
        typer.Option(
            min=0,
            max=1,
            help="Probability that a request a fault can touch gets one, its kind drawn evenly from those that apply.",
        ),
    ] = 0.0,
    fault_rate: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KIND=P",
            help=f"A kind's own probability instead of its share of --faults (repeatable). Kinds: {', '.join(FaultKind)}.",
        ),
    ] = None,
    slow_seconds: Annotated[
        float,
        typer.Option(help="How late `slow` answers and `late-create` creates; make it longer than the client's read timeout."),
    ] = DEFAULT_SLOW_SECONDS,
    retry_after: Annotated[int, typer.Option(min=0, help="Seconds an injected 429 or 503 asks the client to wait.")] = 1,
    truncate_at: Annotated[
        float | None, typer.Option(min=0, max=1, help="Share of a result file a truncated download sends (default: random).")
    ] = None,
    fault_seed: Annotated[int | None, typer.Option(help="Seed of the fault draws, for reproducible runs.")] = None,
    fault_limit: Annotated[int | None, typer.Option(min=0, help="Stop injecting after this many faults.")] = None,
    log_level: Annotated[str, typer.Option(help="Logging level on stderr.")] = "INFO",
) -> None:
    """Serve the Ark API under /api/v3. Prints one line with the real address once listening.

    --dialect serves a gateway's variant instead: byteplus (its model ids), kkiai, aiid, maxtoken,
    aimanyi or quickrouter, each as its own document describes it (local_gateway/dialects.py).

    With --faults or --fault-rate it misbehaves on purpose; GET /_local/stats counts what it injected.
    """
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        plan = FaultPlan(
            rate=faults,
            rates=parse_rates(fault_rate or ()),
            slow_seconds=slow_seconds,
            retry_after_seconds=retry_after,
            truncate_at=truncate_at,
            seed=fault_seed,
            limit=fault_limit,
        )
    except ValueError as exc:  # pydantic's ValidationError included
        raise typer.BadParameter(str(exc)) from None
    config = GatewayConfig(
        api_key=api_key,
        host=host,
        port=port,
        dialect=dialect,
        latency=latency,
        queue_seconds=queue_seconds,
        result_ttl=result_ttl,
        data_dir=data_dir,
        render_workers=render_workers,
        fetch_timeout=fetch_timeout,
        faults=plan,
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
