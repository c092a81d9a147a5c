"""A throwaway PostgreSQL server from the machine's own server binaries, for tests and local trials.

    >>> with LocalPostgres() as server:
    ...     url = server.create_database("seedance")   # postgresql://postgres@127.0.0.1:PORT/seedance

It listens on a free loopback port, trusts local connections (no password), and is deleted on exit.
PostgreSQL refuses to run as root: as root, the data folder belongs to the `postgres` system user
and the server binaries run as that user (`runuser`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from local_gateway.devstack import free_port

SEARCH: tuple[str, ...] = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql*/bin")
"""Where server binaries (initdb, pg_ctl, postgres) live on Debian/Ubuntu, source builds and Homebrew."""


def find_server_binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl` (newest version first), or None where there is none."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        folder = Path(on_path).resolve().parent  # Debian links a few of them into /usr/local/bin
        if (folder / "initdb").exists():
            return folder
    for pattern in SEARCH:
        found = sorted(Path("/").glob(pattern.lstrip("/")), reverse=True)
        for folder in found:
            if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
                return folder
    return None


class LocalPostgres:
    """Start a PostgreSQL server in `root` (default: a new temporary folder) on a free port; stop it
    and delete its data on exit."""

    def __init__(self, root: Path | None = None, *, binaries: Path | None = None) -> None:
        found = binaries or find_server_binaries()
        if found is None:
            raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
        self.binaries = found
        # A folder of its own under the system temporary folder: as root, the `postgres` user must be
        # able to reach it, which a test's private temporary folder (mode 0700) does not allow.
        self.root = root or Path(tempfile.mkdtemp(prefix="seedance-postgres-"))
        self.port = 0
        self._as_postgres = os.geteuid() == 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> LocalPostgres:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.port = free_port()
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.port and (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create a database (if missing) and return its URL."""
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run(
                [str(self.binaries / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
                capture_output=True,
                text=True,
            )
            if done.returncode == 0 or "already exists" in done.stderr:
                return self.url(name)
            if time.monotonic() > deadline:
                raise RuntimeError(f"createdb {name}: {done.stderr.strip()}")
            time.sleep(0.2)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.binaries / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
