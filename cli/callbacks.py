"""`seedance callbacks serve`: receive Ark's status callbacks and turn them into Prefect events.

Prefect and the receiver are imported only when the command runs, so other commands start fast.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Receive Ark's status callbacks as Prefect events.")


@app.callback()
def _group() -> None:
    """Receive Ark's status callbacks as Prefect events."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; the gateway must reach it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8790,
    log_level: Annotated[str, typer.Option(help="Logging level on stderr.")] = "INFO",
) -> None:
    """Accept callbacks whose URL carries the token of their intent (SEEDANCE_CALLBACK_SECRET, shared
    with the workers), answer 202 at once, and emit `seedance.task.status` about `seedance.task.<id>`
    to the Prefect server in PREFECT_API_URL; anything else gets 403. Workers create their tasks with
    callback URLs under SEEDANCE_CALLBACK_URL, the address of this receiver as the gateway reaches it.

    Prints one line with the real address once listening; runs until SIGTERM or SIGINT.
    """
    from prefect.settings import PREFECT_API_URL

    from seedance.callbacks import SECRET_ENV, CallbackSigner
    from seedance.receiver import CallbackReceiver
    from tasks.callbacks import emit_status

    signer = CallbackSigner.from_environment()
    if signer is None:
        raise typer.BadParameter(f"set {SECRET_ENV}: the secret the workers sign callback URLs with")
    if not PREFECT_API_URL.value():
        raise typer.BadParameter("set PREFECT_API_URL to the Prefect server the workers use: events go there")
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with CallbackReceiver(signer, emit_status, host=host, port=port) as receiver:
        # Launchers parse this exact line for the real port (--port 0).
        print(f"Seedance callback receiver listening on {receiver.url}", flush=True)
        stop.wait()
