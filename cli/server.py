"""The Prefect API the command line talks to: `PREFECT_API_URL` when set, else one local server
shared by every `seedance` command, started in the background on first use and reused after.

Why not Prefect's ephemeral mode: it starts a temporary server inside every process, 8-16 s before
the first request, and under load four at a time time out. The shared server pays its start once
(11-23 s cold, while it creates its database; 4 s warm) and then each command reaches its first
request in about two seconds, or about 0.6 s through the command runner that starts beside it
(`cli.runner`).

It lives in `PREFECT_HOME` (default `~/.prefect`): `seedance-server.json` (pid, URL),
`seedance-server.log` and a lock that makes concurrent first uses start one server, not several.
Its database is Prefect's default one in that folder, where blocks saved in ephemeral mode are, so
nothing saved before is lost. `seedance server status|start|stop` shows and controls it.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Final
from urllib.parse import urlsplit

import typer
from pydantic import BaseModel

from cli import runner
from cli.errors import UsageError, fail, stderr
from cli.home import prefect_home
from cli.processes import alive, runs
from seedance.locking import file_lock

PREFECT_SERVER: Final = (b"prefect", b"server", b"start")
"""What the shared server's command line has (`processes.runs`)."""
DEFAULT_PORT: Final = 4200
"""Prefect's own default port: the UI's address is the one Prefect's documentation gives, when it is free."""
STARTUP_TIMEOUT_SECONDS: Final = 180.0
"""A cold start creates the database; 23 s on 2 cores busy with ffmpeg, so there is ample margin."""
STOP_TIMEOUT_SECONDS: Final = 20.0
HEALTH_TIMEOUT_SECONDS: Final = 2.0

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The local Prefect server the commands share.")


class ServerState(BaseModel):
    """What `seedance-server.json` records of the running shared server."""

    pid: int
    url: str
    """The API root, e.g. `http://127.0.0.1:4200/api`; the UI is at the same address without `/api`."""
    log: Path
    started_at: float


class SharedServer:
    """The shared server of one Prefect home folder."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.state_file = home / "seedance-server.json"
        self.log_file = home / "seedance-server.log"
        self.lock_file = home / "seedance-server.lock"

    def running(self) -> ServerState | None:
        """The server, when its process is alive and its API answers."""
        state = self._read()
        return state if state is not None and alive(state.pid) and _healthy(state.url) else None

    def ensure(self) -> ServerState:
        """The running server, started first when there is none (and waited for until it answers).

        Raises:
            UsageError: the server did not come up; the message names its log.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with file_lock(self.lock_file):
            state = self._read()
            if state is not None and alive(state.pid) and runs(state.pid, *PREFECT_SERVER):
                return self._wait_healthy(state)  # up, or still starting after a crash of whoever started it
            return self._wait_healthy(self._start())

    def stop(self) -> ServerState | None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period); the state it had, or None
        when none was running (a record left by one that died is removed)."""
        with file_lock(self.lock_file):
            state = self._read()
            self.state_file.unlink(missing_ok=True)
            if state is None or not (alive(state.pid) and runs(state.pid, *PREFECT_SERVER)):
                return None
            os.kill(state.pid, signal.SIGTERM)
            if not _wait_gone(state.pid, STOP_TIMEOUT_SECONDS):
                os.kill(state.pid, signal.SIGKILL)
                _wait_gone(state.pid, STOP_TIMEOUT_SECONDS)
            return state

    def _read(self) -> ServerState | None:
        try:
            return ServerState.model_validate_json(self.state_file.read_bytes())
        except (FileNotFoundError, ValueError):
            return None

    def _start(self) -> ServerState:
        port = DEFAULT_PORT if _port_free(DEFAULT_PORT) else _free_port()
        url = f"http://127.0.0.1:{port}/api"
        env = {
            **_recorder_batching(),
            **_server_environment(),
            "PREFECT_UI_API_URL": url,  # the UI on a port other than 4200 finds its API only this way
            "PREFECT_SERVER_ANALYTICS_ENABLED": os.environ.get("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
        }
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        with self.log_file.open("a") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} seedance starts: {' '.join(command)}\n")
            log.flush()
            # its own session: Ctrl-C in the terminal stops the command, not the server the next command reuses
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        state = ServerState(pid=process.pid, url=url, log=self.log_file, started_at=time.time())
        self.state_file.write_text(state.model_dump_json(indent=2))
        # the first start creates the database and says nothing for 10-20 s: say why the wait
        stderr.print(
            f"starting a local Prefect server for seedance's commands at {url.removesuffix('/api')} (log {self.log_file})"
        )
        return state

    def _wait_healthy(self, state: ServerState) -> ServerState:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _healthy(state.url):
            if not alive(state.pid):
                self.state_file.unlink(missing_ok=True)
                raise UsageError(
                    f"the local Prefect server stopped while starting (pid {state.pid})",
                    f"its log says why: {state.log}",
                )
            if time.monotonic() > deadline:
                raise UsageError(
                    f"the local Prefect server (pid {state.pid}) did not answer at {state.url} "
                    f"within {STARTUP_TIMEOUT_SECONDS:.0f} s",
                    f"see {state.log}; `seedance server stop` and run the command again",
                )
            time.sleep(0.2)
        return state


def configured_api_url() -> str | None:
    """`PREFECT_API_URL` as Prefect reads it: the environment, else the active profile."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def connect() -> str:
    """Point this process at its Prefect API and return the URL: `PREFECT_API_URL` when set, else
    the shared server, started when it is not running. Call before any Prefect API is used.

    Raises:
        UsageError: nothing listens at the configured URL, or the shared server did not start.
    """
    configured = configured_api_url()
    if configured:
        if not listening(configured):
            raise UsageError(
                f"nothing answers at PREFECT_API_URL {configured}",
                "start that Prefect server, or unset PREFECT_API_URL to use the local one the commands share",
            )
        return configured
    url = SharedServer(prefect_home()).ensure().url
    runner.ensure_started(prefect_home())
    _use(url)
    return url


def is_shared(api_url: str) -> bool:
    """Whether `api_url` is the shared local server's (by its record; no request is made)."""
    state = SharedServer(prefect_home())._read()
    return state is not None and state.url == api_url


def reachable_api_url() -> str | None:
    """The API a command may read blocks from without starting anything: configured, or the shared
    server when it is already running (pointing this process at it); None otherwise."""
    configured = configured_api_url()
    if configured:
        return configured
    state = SharedServer(prefect_home()).running()
    if state is None:
        return None
    _use(state.url)
    return state.url


def _use(url: str) -> None:
    """Make `url` this process's `PREFECT_API_URL`, also for Prefect settings already loaded."""
    from prefect.context import refresh_global_settings_context

    os.environ["PREFECT_API_URL"] = url
    refresh_global_settings_context()


SERVER_VARIABLES: Final = (
    *runner.KEPT_VARIABLES,
    *("USER", "LOGNAME", "TZ", "DO_NOT_TRACK", "SSL_CERT_FILE", "SSL_CERT_DIR"),
    *("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
)
"""The environment the shared server starts with, besides Prefect's own `PREFECT_*` settings: it
outlives the command that starts it, and must not keep that command's credentials (`ARK_API_KEY`,
`AWS_*`) in its `/proc/PID/environ`."""


def _server_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if (name.startswith("PREFECT_") and name != "PREFECT_API_URL") or name in SERVER_VARIABLES
    }


RECORDER_BATCHING: Final = {"batch_size": 20, "flush_interval": 1}
"""How the shared server records task runs, where the user's settings say nothing: in batches of up
to 20, at least every second (Prefect reads the interval as whole seconds). Prefect's default writes
each task-run event in a transaction of its own. Measured on this machine's SQLite: a task run cost
the server 35-38 ms of CPU that way, 11-15 ms in batches of 20; a 100-item `seedance batch` at gateway
latency 10 s, 6.8-7.8 CPU-s against 4.6-5.6. Batches of 100 cost 8.5-10 ms, but the server held
about 15 MB more with 1,000 tasks in flight (bench P4 over its 500 MB). A task run shows in the UI
up to a second later."""


def _recorder_batching() -> dict[str, str]:
    from prefect.settings import get_current_settings

    set_by_user = get_current_settings().server.services.task_run_recorder.model_fields_set  # environment or profile
    return {
        f"PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_{name.upper()}": str(value)
        for name, value in RECORDER_BATCHING.items()
        if name not in set_by_user
    }


def _healthy(url: str) -> bool:
    """Whether the API at `url` answers its health check. Plain `http.client`: the server is local
    and speaks HTTP, and an httpx client would first load a TLS context every command pays for."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=HEALTH_TIMEOUT_SECONDS)
    try:
        connection.request("GET", f"{parts.path}/health")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def listening(url: str) -> bool:
    """Whether something accepts connections at `url`'s host and port (Prefect's own client would
    retry for a minute, then fail with a traceback)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=HEALTH_TIMEOUT_SECONDS).close()
    except OSError:
        return False
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it when this process started it
        except ChildProcessError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


JsonOption = Annotated[bool, typer.Option("--json", help="As JSON.")]


def _describe(state: ServerState | None, configured: str | None, as_json: bool) -> None:
    """Print which API the commands use and, for the shared server, how to reach and stop it; and
    whether a command runner serves this home folder (`cli.runner`)."""
    command_runner = runner.running(prefect_home())
    if as_json:
        shared = state.model_dump(mode="json") if state else None
        typer.echo(
            json.dumps(
                {
                    "api_url": configured or (state.url if state else None),
                    "configured": bool(configured),
                    "shared_server": shared,
                    "command_runner": asdict(command_runner) if command_runner else None,
                },
                indent=2,
            )
        )
        return
    if configured:
        typer.echo(f"PREFECT_API_URL is set: commands use {configured}, not a shared server")
    if state is None:
        typer.echo(f"no shared server running (home {prefect_home()}); the next command that needs one starts it")
    else:
        typer.echo(f"shared server running: {state.url.removesuffix('/api')} (API {state.url}, pid {state.pid}, log {state.log})")
    if command_runner is not None:
        typer.echo(f"command runner running: pid {command_runner.pid}, socket {command_runner.socket}")


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Which Prefect API the commands use, whether the shared server runs, and the command runner."""
    _describe(SharedServer(prefect_home()).running(), configured_api_url(), as_json)


@app.command()
def start(as_json: JsonOption = False) -> None:
    """Start the shared server now (commands start it on first use anyway), and the command runner."""
    try:
        state = SharedServer(prefect_home()).ensure()
    except UsageError as exc:
        fail(exc)
    runner.ensure_started(prefect_home())
    _describe(state, configured_api_url(), as_json)


@app.command()
def stop() -> None:
    """Stop the shared server and the command runner; the next command that needs them starts them again."""
    stopped_runner = runner.stop(prefect_home())
    if stopped_runner is not None:
        typer.echo(f"stopping the command runner (pid {stopped_runner.pid}) once the commands it runs have ended")
    state = SharedServer(prefect_home()).stop()
    if state is None:
        stderr.print("no shared server was running")
        return
    typer.echo(f"stopped the shared server (pid {state.pid})")
