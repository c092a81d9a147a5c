"""The command runner: a process beside the shared Prefect server that imports Prefect and the
other heavy libraries once, then forks a ready process for each `seedance` command.

Why: a `seedance` command that runs a flow spends 1.5-2 s importing Prefect, pydantic, httpx, rich
and typer before its first request (2 cores). A fork of a process that has them imported is ready
in milliseconds.

How a command goes through it (the client side is `cli.launch`):
- the command connects to `seedance-cli.sock` in Prefect's home folder and sends its arguments,
  working folder, environment and `sys.path`, with its stdin, stdout and stderr (SCM_RIGHTS);
- the runner forks; the child takes those as its own, so the terminal stays the command's terminal
  (colours, live progress, prompts), reloads Prefect's settings and logging from that environment,
  imports this project's modules and runs the command;
- the runner answers with the child's pid, and later with its exit status; the command passes on
  the signals it gets (Ctrl-C, SIGTERM, SIGHUP, Ctrl-Z) and exits as the child did. A command killed
  outright (SIGKILL) takes its child with it, as if the child had been the command.

Only third-party libraries are imported ahead (`PRELOAD`): each child imports this project's code
itself, so an edited file counts from the next command. Before each fork the runner checks that its
own file and the installed packages are as they were when it started; when not, it refuses (the
command runs in its own process) and exits, and the next command that needs the shared server
starts a new one.

The runner is started by a command that uses the shared server (`cli.server.connect`), in the
background: that command does not wait for it. No secret is in its environment: it starts with a
short list of variables (`KEPT_VARIABLES`); each command's environment passes through its memory to
that command's child only. It stops on
`seedance server stop` (after the commands it runs have ended) or after RUNNER_IDLE_SECONDS
without a command. `SEEDANCE_CLI_RUNNER=off` makes commands run in their own process.

Standard library only: `cli.launch` imports this module before anything else.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import gc
import importlib
import io
import json
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final, NoReturn, TextIO, cast

from cli.exiting import exit_status, exit_within_grace, flush_standard_streams
from cli.home import prefect_home
from cli.processes import runs

RUNNER_IDLE_SECONDS: Final = 1800.0
"""A runner with no command for this long exits (it holds about 150 MB)."""
RECEIVE_TIMEOUT_SECONDS: Final = 5.0
"""How long a connected command may take to send its request."""
MAX_REQUEST_BYTES: Final = 4 * 1024 * 1024

PRELOAD: Final = (
    "prefect",
    "prefect.artifacts",
    "prefect.blocks.core",
    "prefect.client.orchestration",
    "prefect.events",
    "prefect.flows",
    "prefect.logging.handlers",
    "prefect.tasks",
    "prefect_aws",
    "fastapi",
    "httpx",
    "pydantic",
    "rich.console",
    "rich.live",
    "rich.table",
    "typer",
    "yaml",
    "PIL.Image",
    "av",
)
"""What a command that runs a flow imports and this project does not own (measured with
`python -X importtime`): imported once by the runner, shared by every child."""

PRELOAD_PROJECT: Final = ("flows.batch", "flows.generate", "flows.storyboard", "blocks.bucket", "blocks.state")
"""This project's flows and blocks, with the core they import (0.2 s more): no module-level state of
theirs depends on the environment or the terminal. Not `cli`: its consoles are made at import for the
terminal they find."""

PROJECT: Final = Path(__file__).resolve().parent.parent

KEPT_VARIABLES: Final = (
    *("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PREFECT_HOME", "PREFECT_PROFILE"),
    *("PYTHONWARNINGS", "PYTHONDEVMODE", "PYTHONOPTIMIZE", "PYTHONHASHSEED", "SSL_CERT_FILE", "SSL_CERT_DIR"),
)
"""The runner's own environment: enough to import the libraries and make the TLS context its
children share (`seedance.tls`). Whatever a command sets, secrets included, reaches only that
command's child."""

OFF_VALUES: Final = frozenset({"0", "off", "false", "no"})


@dataclass(frozen=True)
class RunnerFiles:
    """The runner's files in one Prefect home folder."""

    home: Path

    @property
    def socket(self) -> Path:
        return self.home / "seedance-cli.sock"

    @property
    def lock(self) -> Path:
        """Held by the running runner for its whole life: two cannot serve one home folder."""
        return self.home / "seedance-cli.lock"

    @property
    def record(self) -> Path:
        return self.home / "seedance-cli.json"

    @property
    def log(self) -> Path:
        return self.home / "seedance-cli.log"


class UnknownRequest(ValueError):
    """A request from a launcher of another version: this runner is older than the code."""


@dataclass(frozen=True)
class ProcessSettings:
    """What a process inherits and a fork would not: the command's are set in its child."""

    umask: int
    nice: int
    limits: dict[int, tuple[int, int]]
    """`resource` limits (soft, hard) by number."""
    dont_write_bytecode: bool
    pycache_prefix: str | None

    @classmethod
    def current(cls) -> ProcessSettings:
        umask = os.umask(0)
        os.umask(umask)
        return cls(
            umask=umask,
            nice=os.getpriority(os.PRIO_PROCESS, 0),
            limits={number: resource.getrlimit(number) for number in LIMITS},
            dont_write_bytecode=sys.dont_write_bytecode,
            pycache_prefix=sys.pycache_prefix,
        )

    def apply(self) -> None:
        """Take these on (the runner refused the command if it could not: `Runner._refusal`)."""
        os.umask(self.umask)
        os.setpriority(os.PRIO_PROCESS, 0, self.nice)
        for number, limit in self.limits.items():
            resource.setrlimit(number, limit)
        sys.dont_write_bytecode = self.dont_write_bytecode
        sys.pycache_prefix = self.pycache_prefix


LIMITS: Final = tuple(
    getattr(resource, name)
    for name in ("RLIMIT_NOFILE", "RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_CPU", "RLIMIT_CORE", "RLIMIT_STACK")
    if hasattr(resource, name)
)
"""The `ulimit`s a command keeps through the runner."""


def _beyond(wanted: tuple[int, int], have: tuple[int, int]) -> bool:
    """Whether limits `wanted` (soft, hard) exceed hard limit `have[1]`: a process may lower its hard
    limit, never raise it."""
    hard = have[1]
    return hard != resource.RLIM_INFINITY and any(value == resource.RLIM_INFINITY or value > hard for value in wanted)


@dataclass(frozen=True)
class Request:
    """What a command sends: enough to be that command in another process."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    path: list[str]
    python: list[str]
    """`python_identity()`: a child of the runner runs the Python and environment the command was started with."""
    interpreter: list[object]
    """Interpreter options that imports depend on (`interpreter_options()`): the child's must be the command's."""
    encoding: str
    buffering: list[list[bool]]
    """stdout's and stderr's [line_buffering, write_through], as the command's interpreter set them."""
    ignored: list[int]
    """Signals the command was started with ignored (`nohup`, `&` in a script): ignored in the child too."""
    process: ProcessSettings

    def encode(self) -> bytes:
        body = json.dumps(asdict(self)).encode()
        return struct.pack("!I", len(body)) + body


@dataclass(frozen=True)
class RunnerState:
    """What `seedance-cli.json` records of a running runner."""

    pid: int
    started_at: float
    socket: str


def enabled() -> bool:
    """Whether commands may go through a runner (`SEEDANCE_CLI_RUNNER`, default on): it needs
    fork and descriptor passing (Linux, macOS)."""
    wanted = os.environ.get("SEEDANCE_CLI_RUNNER", "").strip().lower() not in OFF_VALUES
    return wanted and hasattr(os, "fork") and hasattr(socket, "send_fds")


def python_identity() -> list[str]:
    """The Python and the environment (venv) this process runs: whichever of its names started it."""
    return [sys.prefix, sys.version]


def interpreter_options() -> list[object]:
    """The options of this interpreter that a forked child cannot change: warning filters, dev mode,
    optimisation, a fixed hash seed."""
    return [list(sys.warnoptions), sys.flags.dev_mode, sys.flags.optimize, os.environ.get("PYTHONHASHSEED")]


def ensure_started(home: Path) -> None:
    """Start a runner for `home` in the background unless one answers there; never waits for it.

    The runner starts with `KEPT_VARIABLES` only, its output in `seedance-cli.log`, in a session of
    its own (a Ctrl-C in the terminal is the command's, not the runner's).
    """
    files = RunnerFiles(home)
    if not enabled() or answering(files.socket):
        return
    env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    env |= {"PREFECT_HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    with files.log.open("a") as log:
        subprocess.Popen(
            [sys.executable, "-m", "cli.runner"],
            cwd=PROJECT,  # `-m cli.runner` finds this checkout's code
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def running(home: Path) -> RunnerState | None:
    """The runner of `home`, when one answers on its socket."""
    files = RunnerFiles(home)
    if not answering(files.socket):
        return None
    try:
        return RunnerState(**json.loads(files.record.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def stop(home: Path) -> RunnerState | None:
    """Ask the runner of `home` to stop (SIGTERM): it takes no more commands and exits when those it
    runs have ended. The state it had, or None when none was running."""
    state = running(home)
    if state is not None and runs(state.pid, b"cli.runner"):
        os.kill(state.pid, signal.SIGTERM)
        return state
    return None


def answering(path: Path) -> bool:
    """Whether a runner accepts connections on `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class _Child:
    """What a forked child takes with it: its request, the descriptors it becomes, and what the
    runner's imports were made under."""

    def __init__(self, request: Request, fds: list[int], imported_under: ImportedUnder) -> None:
        self.request, self.fds, self.imported_under = request, fds, imported_under

    def run(self) -> NoReturn:
        """Become the command, run it, and end the process as the command ends."""
        self._become()
        from cli.launch import in_process

        code, killed_by = 1, None
        try:
            in_process()
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc)
        except KeyboardInterrupt:
            killed_by = signal.SIGINT  # as Python ends on an uncaught one: by the signal
        except BaseException:
            sys.excepthook(*sys.exc_info())
        exit_within_grace(code if killed_by is None else 128 + killed_by)
        _exit(code, killed_by)

    def _become(self) -> None:
        """Take the command's descriptors, folder, environment and signals; Prefect's settings and
        logging from that environment. Signals stay blocked (from the fork on) until done."""
        os.setpgid(0, 0)  # a group of its own, as a shell gives a command: Ctrl-Z stops it, and the group gets the signals
        for target, fd in enumerate(self.fds):
            if fd != target:
                os.dup2(fd, target)
                os.close(fd)
        request = self.request
        os.chdir(request.cwd)
        request.process.apply()
        os.environ.clear()
        os.environ.update(request.env)
        sys.argv[:] = request.argv
        sys.path[:] = request.path
        for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for ignored in request.ignored:
            signal.signal(ignored, signal.SIG_IGN)
        # the standard streams now write to the command's descriptors; they are made to buffer as
        # the command's would (a terminal: by line)
        for stream, (line_buffering, write_through) in zip((sys.stdout, sys.stderr), request.buffering, strict=True):
            cast(io.TextIOWrapper, stream).reconfigure(line_buffering=line_buffering, write_through=write_through)
        # Prefect read its settings at import, from the runner's environment
        from prefect.context import refresh_global_settings_context
        from prefect.logging.configuration import setup_logging

        refresh_global_settings_context()
        now = ImportedUnder.current()
        if now.decorator_defaults != self.imported_under.decorator_defaults:
            # the flows and tasks were decorated under other defaults: the command runs as a fresh
            # interpreter instead (this process, so the runner still reports how it ends)
            os.environ["SEEDANCE_CLI_RUNNER"] = "off"
            signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())
            os.execv(sys.executable, [sys.executable, "-m", "cli", *request.argv[1:]])
        # Prefect's console handler chose its colours for the runner's log file: made again for a
        # terminal (75 ms), or when the command's logging settings differ
        if now.logging != self.imported_under.logging or sys.stderr.isatty():
            setup_logging(incremental=False)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())


def _exit_code(exc: SystemExit) -> int:
    """The status Python exits with for `exc` (printing its message when it has one)."""
    if exc.code is not None and not isinstance(exc.code, int):
        print(exc.code, file=sys.stderr)
    return exit_status(exc)


def _exit(code: int, killed_by: int | None = None) -> NoReturn:
    """End the child as the interpreter ends, without tearing down every module the runner imported
    (0.06-0.1 s): wait for its non-daemon threads, run its atexit handlers (Prefect's last flush of
    logs and events among them), flush the standard streams, then leave."""
    threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter calls first at exit
    atexit._run_exitfuncs()
    flush_standard_streams()
    if killed_by is not None:
        signal.signal(killed_by, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [killed_by])
        os.kill(os.getpid(), killed_by)
    os._exit(code & 0xFF)


@dataclass(frozen=True)
class ImportedUnder:
    """The settings the preloaded modules were set up under, compared in each child with the
    command's: Prefect's logging (configured when Prefect is imported) and the defaults `@flow` and
    `@task` read when this project's modules are imported."""

    logging: str
    decorator_defaults: tuple[object, ...]

    @classmethod
    def current(cls) -> ImportedUnder:
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        return cls(
            logging=settings.logging.model_dump_json(),
            decorator_defaults=(
                settings.tasks.default_retries,
                settings.tasks.default_retry_delay_seconds,
                settings.tasks.default_no_cache,
                settings.tasks.disable_caching,
                settings.flows.default_retries,
                settings.flows.default_retry_delay_seconds,
            ),
        )


class Runner:
    """The serving loop: accept a command, fork it, report how it ended."""

    def __init__(self, files: RunnerFiles) -> None:
        self.files = files
        self.pid = os.getpid()
        self._children: dict[int, socket.socket] = {}
        self._stopping = False
        self._last_active = time.monotonic()
        self._watched: list[Path] = []
        self._fingerprint: tuple[int, ...] = ()
        self._imported_under = ImportedUnder(logging="", decorator_defaults=())  # set once preloaded
        self._wake_write = -1
        self._lock: TextIO | None = None

    def serve(self) -> _Child | None:
        """Serve until stopped or idle (None), or return the request of the forked child, in it."""
        with open(self.files.lock, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None  # another runner serves this home folder
            self._lock = lock
            _preload()
            self._watched = _watched_files()
            self._fingerprint = _fingerprint(self._watched)
            self._imported_under = ImportedUnder.current()
            wake_read, self._wake_write = os.pipe()
            os.set_blocking(self._wake_write, False)
            signal.set_wakeup_fd(self._wake_write)
            signal.signal(signal.SIGCHLD, lambda *_: None)
            signal.signal(signal.SIGTERM, self._stop)
            listener = self._listen()
            try:
                return self._loop(listener, wake_read)
            finally:
                if os.getpid() == self.pid:
                    self._clean_up(listener)

    def _listen(self) -> socket.socket:
        self.files.socket.unlink(missing_ok=True)  # left by a runner that died: we hold the lock
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)  # the socket is this user's only
        try:
            listener.bind(str(self.files.socket))
        finally:
            os.umask(previous)
        listener.listen(64)
        state = RunnerState(pid=self.pid, started_at=time.time(), socket=str(self.files.socket))
        self.files.record.write_text(json.dumps(asdict(state)))
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} runner {self.pid} serving on {self.files.socket}", flush=True)
        return listener

    def _loop(self, listener: socket.socket, wake: int) -> _Child | None:
        while not (self._stopping and not self._children):
            if not self._children and time.monotonic() - self._last_active > RUNNER_IDLE_SECONDS:
                print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} idle for {RUNNER_IDLE_SECONDS:.0f} s: exiting", flush=True)
                return None
            watched: list[socket.socket | int] = [wake, *self._children.values()]
            if not self._stopping:
                watched.append(listener)
            with contextlib.suppress(InterruptedError):
                readable, _, _ = select.select(watched, [], [], 60.0)
            for ready in readable:
                if ready == wake:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake, 4096)
                elif ready is listener:
                    child = self._accept(listener)
                    if child is not None:
                        signal.set_wakeup_fd(-1)
                        listener.close()
                        os.close(wake)
                        os.close(self._wake_write)
                        return child
                else:
                    self._client_gone(ready)  # type: ignore[arg-type]
            self._reap()
            if self._stopping and listener.fileno() != -1:
                self._clean_up(listener)
        return None

    def _accept(self, listener: socket.socket) -> _Child | None:
        """Take one command: fork it (returning its request, in the child), or refuse it."""
        conn, _ = listener.accept()
        fds: list[int] = []
        try:
            conn.settimeout(RECEIVE_TIMEOUT_SECONDS)
            _check_peer(conn)
            request, fds = _receive(conn)
            refusal = self._refusal(request)
            if refusal:
                conn.sendall(json.dumps({"refused": refusal}).encode() + b"\n")
                print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} refused a command: {refusal}", flush=True)
                if refusal.startswith("changed"):
                    self._stopping = True
                raise ConnectionAbortedError
            # signals wait until the child has its own handlers (it unblocks them once it is the command)
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            pid = os.fork()
            if pid == 0:
                for other in self._children.values():
                    other.close()
                conn.close()
                return _Child(request, fds, self._imported_under)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)  # also done by the child: whichever runs first, before any signal is passed on
            self._children[pid] = conn
            try:
                conn.settimeout(None)
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            except OSError:
                os.kill(pid, signal.SIGKILL)  # the command is gone: so is its child, reaped with the others
                raise
            self._last_active = time.monotonic()
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {pid}: seedance {' '.join(request.argv[1:2])}", flush=True)
        except UnknownRequest as exc:
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} a request of another version ({exc}): retiring", flush=True)
            self._stopping = True
            conn.close()
        except (OSError, ValueError) as exc:
            if not isinstance(exc, ConnectionAbortedError):
                print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} dropped a connection: {type(exc).__name__}: {exc}", flush=True)
            conn.close()
        finally:
            if os.getpid() == self.pid:
                for fd in fds:
                    os.close(fd)
        return None

    def _refusal(self, request: Request) -> str | None:
        if _fingerprint(self._watched) != self._fingerprint:
            return "changed since it started: its code or the installed packages"  # first: a new launcher's request may differ for that reason
        if request.python != python_identity():
            return f"another Python ({request.python}; this runner runs {python_identity()})"
        if request.encoding != sys.stdout.encoding:
            return f"another encoding of its standard streams ({request.encoding}; this runner's: {sys.stdout.encoding})"
        if request.interpreter != interpreter_options():
            return f"other interpreter options ({request.interpreter}; this runner has {interpreter_options()})"
        if request.process.nice < os.getpriority(os.PRIO_PROCESS, 0) or any(
            _beyond(limit, resource.getrlimit(number)) for number, limit in request.process.limits.items()
        ):
            return "a lower nice level or higher resource limits than this runner can give"
        return None

    def _client_gone(self, conn: socket.socket) -> None:
        """The command's side of a connection closed before its child ended: the command was killed
        outright, and so is the child."""
        with contextlib.suppress(OSError):
            if conn.recv(1):
                return
        for pid, held in list(self._children.items()):
            if held is conn:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _reap(self) -> None:
        while self._children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self._children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                conn.close()
            self._last_active = time.monotonic()

    def _stop(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _clean_up(self, listener: socket.socket) -> None:
        """Take no more commands, and let a new runner serve this home folder (this one may still
        wait for the commands it runs)."""
        listener.close()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self.files.record.read_text())["pid"] == self.pid:
                self.files.record.unlink()
                self.files.socket.unlink(missing_ok=True)
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock = None


def _preload() -> None:
    """Import `PRELOAD` and `PRELOAD_PROJECT` and make the TLS context; freeze what they made, so that
    children do not copy those pages when the garbage collector would touch them."""
    for name in (*PRELOAD, *PRELOAD_PROJECT):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            print(f"not preloaded: {name} ({exc})", flush=True)
    from seedance.tls import tls_context

    tls_context()  # 9 ms of CPU that a child whose command names the same certificates does not spend
    if threading.active_count() != 1:
        # a fork copies only the thread that forks: a library that started one cannot be forked safely
        raise RuntimeError(f"threads running after the imports: {[t.name for t in threading.enumerate()]}")
    gc.collect()
    gc.freeze()


PROJECT_PACKAGES: Final = frozenset({"seedance", "blocks", "tasks", "flows", "local_gateway"})
"""This project's packages the runner may import (`cli` is imported by each child)."""


def _project_modules() -> list[Path]:
    """The files of this project's modules imported so far."""
    files = (
        getattr(module, "__file__", None) for name, module in list(sys.modules.items()) if name.split(".")[0] in PROJECT_PACKAGES
    )
    return [Path(file) for file in files if file]


def _watched_files() -> list[Path]:
    """The files the runner's imports came from whose change makes it stale: this file, this
    project's preloaded modules and every site-packages folder on the path (installing, upgrading or
    removing a package changes its folder's)."""
    return [
        Path(__file__),
        *_project_modules(),
        *(Path(entry) for entry in sys.path if entry.endswith("-packages")),
    ]


def _fingerprint(paths: list[Path]) -> tuple[int, ...]:
    """The modification times of `paths` (-1: gone)."""
    return tuple(_mtime(path) for path in paths)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return -1


def _check_peer(conn: socket.socket) -> None:
    """Only this user's commands (Linux says who connected; elsewhere the socket's mode does)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return
    _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    if uid != os.getuid():
        raise PermissionError(f"a command of user {uid}")


def _receive(conn: socket.socket) -> tuple[Request, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
    if not data and not fds:
        raise ConnectionAbortedError  # connected and left: `answering` asking whether a runner is there
    try:
        if len(fds) != 3 or len(data) < 4:
            raise ValueError("not a command's request")
        (size,) = struct.unpack("!I", data[:4])
        if size > MAX_REQUEST_BYTES:
            raise ValueError(f"a request of {size} bytes")
        body = data[4:]
        while len(body) < size:
            more = conn.recv(size - len(body))
            if not more:
                raise ValueError("a request cut short")
            body += more
        try:
            fields = json.loads(body)
            process = fields.pop("process")
            limits = {int(number): (soft, hard) for number, (soft, hard) in process.pop("limits").items()}
            return Request(**fields, process=ProcessSettings(**process, limits=limits)), fds
        except TypeError as exc:  # a launcher of another version
            raise UnknownRequest(str(exc)) from None
        except (KeyError, AttributeError) as exc:
            raise UnknownRequest(f"no {exc}") from None
    except (ValueError, OSError):
        for fd in fds:
            os.close(fd)
        raise


def main() -> None:
    child = Runner(RunnerFiles(prefect_home())).serve()
    if child is not None:
        child.run()


if __name__ == "__main__":
    main()
