"""The pipeline as production runs it, on one machine: `prefect server start` on PostgreSQL, process
workers with their own Prefect homes and working folders (machines in all but hardware), and
`prefect deploy --all` from the project. Every part is a real process on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from local_gateway.devstack import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def base_env(home: Path) -> dict[str, str]:
    """An environment for a Prefect process: its own home, no telemetry, no credentials of ours."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARK_", "PREFECT_", "SEEDANCE_"))}
    return {
        **keep,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
    }


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, …), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class PrefectServer:
    """`prefect server start` on a PostgreSQL database; its API URL in `api_url`."""

    def __init__(self, root: Path, database_url: str, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.database_url = database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
        self.extra_env = extra_env or {}
        """More settings of the server process, e.g. its services' loop intervals."""
        self.port = 0
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self, home: Path) -> dict[str, str]:
        """The environment of a client of this server (CLI, worker, test)."""
        return {**base_env(home), "PREFECT_API_URL": self.api_url}

    def __enter__(self) -> PrefectServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {
            **base_env(self.root / "server-home"),
            "PREFECT_API_DATABASE_CONNECTION_URL": self.database_url,
            "PREFECT_UI_API_URL": self.api_url,
            **self.extra_env,
        }
        self._log = (self.root / "server.log").open("w")
        self._process = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port), "--no-ui"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_until(self._healthy, 90, "the Prefect server's /api/health")
        return self

    def _healthy(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise RuntimeError(f"prefect server exited: {(self.root / 'server.log').read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()

    def prefect(self, home: Path, *args: str, cwd: Path = ROOT, extra_env: dict[str, str] | None = None) -> str:
        """Run a `prefect` CLI command against this server; its output, or an error with it."""
        done = subprocess.run(
            [str(BIN / "prefect"), *args],
            cwd=cwd,
            env={**self.env(home), "COLUMNS": "200", **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout


@dataclass
class Worker:
    """A `prefect worker start --pool …` process in a folder and Prefect home of its own."""

    name: str
    home: Path
    workdir: Path
    env: dict[str, str]
    pool: str = "seedance"
    limit: int = 10
    process: subprocess.Popen[str] | None = None
    log: IO[str] | None = field(default=None, repr=False)

    def start(self) -> Worker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = (self.workdir / "worker.log").open("w")
        self.process = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", self.pool, "--name", self.name, "--limit", str(self.limit)],
            cwd=self.workdir,
            env={**self.env, "PREFECT_HOME": str(self.home), "PREFECT_WORKER_QUERY_SECONDS": "1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self

    def kill(self) -> list[int]:
        """SIGKILL the worker and every flow-run process it started, as a machine dying would."""
        assert self.process is not None
        victims = [self.process.pid, *descendants(self.process.pid)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        if self.log is not None:
            self.log.close()
        return victims

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            for pid in descendants(self.process.pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()

    def output(self) -> str:
        return (self.workdir / "worker.log").read_text()
