"""What every `make bench` benchmark shares: table rows, subprocess environments, a local gateway
process, manifests, and running a command while sampling its process tree's memory.

Everything an arm does runs in a subprocess of its own, timed from `Popen` to exit, so the
pipeline's figures include whatever its command line costs (imports, a Prefect server), as a user
sees them. A process that joined the tree stays counted after its parent lets it go (a Prefect
server that outlives its CLI), and whatever is left when the command ends is stopped by pid.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from local_gateway.config import API_KEY_VARIABLE

REPO: Final = Path(__file__).resolve().parents[1]
# Every process the bench starts (the gateway, the S3 server, the arms) imports this checkout's code.
os.environ["PYTHONPATH"] = os.pathsep.join(
    dict.fromkeys(filter(None, [str(REPO), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]))
)
API_KEY: Final = "bench-gateway-key"
LITE_T2V: Final = "doubao-seedance-1-0-lite-t2v-250428"
LITE_I2V: Final = "doubao-seedance-1-0-lite-i2v-250428"
RENDER_WORKERS: Final = 2
"""The gateway's `--render-workers` for every arm: renders at once, as an account's concurrency."""
LISTENING: Final = "Seedance local gateway listening on "
MB: Final = 2**20


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, its baseline from the same run, and the issue's target."""

    bench: str
    measure: str
    figure: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    result: str = ""
    """"met", "NOT met", or empty where the issue sets no target."""
    note: str = ""


def log(message: str) -> None:
    """Progress on stderr: stdout carries only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def seconds(value: float) -> str:
    return f"{value:.1f} s"


def megabytes(value: float) -> str:
    return f"{value / MB:.0f} MB"


def times(value: float) -> str:
    return f"{value:.2f}×"


def met(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "NOT met")


def clean_env(prefect_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for one arm's subprocess: this repository first on the path, a Prefect home
    of the bench's own, no telemetry, and none of the caller's gateway, AWS or Prefect API settings."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARK_", "PREFECT_", "SEEDANCE_"))}
    return {
        **keep,
        "PYTHONUNBUFFERED": "1",
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        **(extra or {}),
    }


def pipeline_command(manifest: Path, out: Path) -> list[str]:
    """`seedance batch MANIFEST --out DIR`, as `python -m cli` (the console script's own module)."""
    return [sys.executable, "-m", "cli", "batch", str(manifest), "--out", str(out)]


def write_manifest(path: Path, n: int, *, label: str, model: str = LITE_T2V, extra_items: str = "") -> Path:
    """A manifest of `n` distinct 480p 2 s 16:9 generations (prompts differ, so each is its own task)."""
    lines = [
        f"defaults: {{model: {model}, resolution: 480p, ratio: '16:9', duration: 2}}",
        "items:",
        *(f"  - {{name: {label}-{i:04d}, prompt: '{label} #{i}: a paper boat on a pond'{extra_items}}}" for i in range(n)),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def prompt(label: str, index: int) -> str:
    """The prompt the baseline scripts send, worded like the manifest's."""
    return f"{label} #{index}: a paper boat on a pond"


class Gateway:
    """`seedance gateway serve` as a process on a free port (`python -m local_gateway serve`)."""

    def __init__(
        self,
        workdir: Path,
        *,
        latency: float,
        queue_seconds: float | None = None,
        render_workers: int = RENDER_WORKERS,
        api_key: str = API_KEY,
        options: tuple[str, ...] = (),
    ):
        self.workdir = workdir
        self.latency = latency
        self.queue_seconds = queue_seconds
        self.render_workers = render_workers
        self.api_key = api_key
        self.options = options
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None
        self._log: Any = None

    @property
    def origin(self) -> str:
        return self.base_url.removesuffix("/api/v3")

    def __enter__(self) -> Gateway:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "local_gateway",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(self.workdir / "data"),
            "--latency",
            str(self.latency),
            "--render-workers",
            str(self.render_workers),
            "--log-level",
            "WARNING",
            *(("--queue-seconds", str(self.queue_seconds)) if self.queue_seconds is not None else ()),
            *self.options,
        ]
        self._log = (self.workdir / "gateway.log").open("w")
        env = {**os.environ, API_KEY_VARIABLE: self.api_key}
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env)
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith(LISTENING):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the gateway did not start: {line!r} (see {self.workdir / 'gateway.log'})")
        self.base_url = line.removeprefix(LISTENING).strip()
        threading.Thread(target=self._process.stdout.read, name="gateway-stdout", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()

    def stats(self) -> dict[str, Any]:
        """`GET /_local/stats`: requests per endpoint, creates per body."""
        response = httpx.get(f"{self.origin}/_local/stats", timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def reset(self) -> None:
        """Zero the request counters (`POST /_local/reset`)."""
        httpx.post(f"{self.origin}/_local/reset", timeout=30).raise_for_status()

    def tasks(self) -> list[dict[str, Any]]:
        """`GET /_local/tasks`: every task with its creation and last-change times (epoch seconds)."""
        response = httpx.get(f"{self.origin}/_local/tasks", timeout=60)
        response.raise_for_status()
        return list(response.json()["tasks"])


# --- processes and their memory -------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a process, from /proc/PID/stat."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return int(fields[1]), fields[19]


def memory_bytes(pid: int) -> int:
    """The memory a process uses now, 0 when it is gone: its proportional set size (Pss, from
    smaps_rollup), the resident pages with each shared page split among the processes that share it.

    Summed over a tree, Pss counts each page once; VmRSS would count a page once per process that
    maps it, and the pipeline's command runs in a fork of the command runner (`cli.runner`), which
    shares most of its pages with it. VmRSS when the kernel gives no smaps_rollup.
    """
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        for line in _read(path).splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def command_name(pid: int) -> str:
    """What a process is, for the table's notes: `python -m MODULE`, else the program's name."""
    words = [w for w in _read(f"/proc/{pid}/cmdline").split("\0") if w]
    if not words:
        return "?"
    program = Path(words[0]).name
    if program.startswith("python") and "-m" in words[:-1]:
        return f"python -m {words[words.index('-m') + 1]}"
    if program.startswith("ffmpeg"):
        return "ffmpeg"
    return program


class TreeWatch:
    """Samples the resident memory of a process tree: the root, its descendants, and `serving`
    (servers an earlier run of the same program left running for later runs to use).

    A process joins when first seen and stays until it exits, so a server whose parent let it go
    (re-parented to init) is still counted. The peak is the highest sum of `memory_bytes` (Pss) over
    one sample.
    """

    def __init__(self, root: int, serving: Mapping[int, str] | None = None, interval: float = 0.25) -> None:
        self.root = root
        self.interval = interval
        self.members: dict[int, str] = dict(serving or {})
        """pid → start time (the pair guards against a reused pid)."""
        self.peak = 0
        self.peak_parts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def start(self) -> TreeWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def refresh(self) -> list[int]:
        """The live members now."""
        table: dict[int, tuple[int, str]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (info := _stat(int(entry))) is not None:
                table[int(entry)] = info
        for pid in [p for p, start in self.members.items() if table.get(p, (0, ""))[1] != start]:
            del self.members[pid]
        if self.root in table:
            self.members.setdefault(self.root, table[self.root][1])
        grew = True
        while grew:
            grew = False
            for pid, (ppid, start) in table.items():
                if pid not in self.members and ppid in self.members:
                    self.members[pid] = start
                    grew = True
        return list(self.members)

    def sample(self) -> None:
        parts = {pid: memory_bytes(pid) for pid in self.refresh()}
        total = sum(parts.values())
        if total > self.peak:
            self.peak = total
            self.peak_parts = {f"{command_name(pid)} [{pid}]": size for pid, size in parts.items() if size}

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


_servers: dict[int, str] = {}
"""Processes a pipeline run left running when it ended normally (a local Prefect server shared by
later CLI calls, say): pid → start time. Kept for later pipeline runs, counted in their memory,
stopped when the bench process ends."""


def stop_servers() -> None:
    """Stop what pipeline runs left running (see `run_measured(pipeline_servers=True)`)."""
    pids = [pid for pid, start in _servers.items() if (info := _stat(pid)) is not None and info[1] == start]
    _servers.clear()
    stop_processes(pids)


atexit.register(stop_servers)


def stop_processes(pids: list[int], grace: float = 20.0) -> None:
    """SIGTERM each pid (processes this bench started, directly or through its children), then SIGKILL what is left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    stat = _read(f"/proc/{pid}/stat")
    return bool(stat) and stat.rsplit(")", 1)[-1].split()[0] != "Z"


_FAILURE: Final = re.compile(r"^(error:|failed:|[\w.]*(Error|Exception)\b:)")


@dataclass
class Measured:
    """How one command went: wall time from start to exit, exit code, the tree's peak memory."""

    seconds: float
    returncode: int
    peak_memory: int
    peak_parts: dict[str, int]
    started_at: float
    """time.time() at start, to compare with the gateway's task times."""
    stopped_early: bool = False
    """Stopped by the caller's condition or the timeout, not ended by itself."""
    timed_out: bool = False
    kept: list[str] = field(default_factory=list)
    """Processes it left running that later runs may use (`pipeline_servers`), by name."""
    log: Path | None = None
    stdout: str = field(default="", repr=False)

    def tail(self, lines: int = 3) -> str:
        text = self.log.read_text(errors="replace") if self.log else ""
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    def failure(self, limit: int = 160) -> str:
        """Why the command failed, from its stderr: the last `error:` / `failed:` / `SomeError:` line
        and what follows it (the message of a validation error inside it, when there is one)."""
        lines = (self.log.read_text(errors="replace") if self.log else "").splitlines()
        starts = [i for i, line in enumerate(lines) if _FAILURE.match(line.strip())]
        if not starts:
            return self.tail(2)
        text = " ".join(line.strip() for line in lines[starts[-1] : starts[-1] + 12])
        inner = re.search(r"'msg': '([^']*)'", text)
        head = text[:limit] + ("…" if len(text) > limit else "")
        return head + (f" [{inner.group(1)}]" if inner and inner.group(1) not in head else "")


def run_measured(
    command: list[str],
    env: Mapping[str, str],
    log_path: Path,
    *,
    timeout: float,
    stop_when: Callable[[], bool] | None = None,
    pipeline_servers: bool = False,
) -> Measured:
    """Run `command` to its end (or until `stop_when()` turns true, then Ctrl-C it) while sampling its tree's memory.

    What the command leaves running is stopped afterwards. With `pipeline_servers` (a pipeline
    run): servers that earlier pipeline runs left are counted in its memory, and what it leaves
    after ending normally is kept for later pipeline runs, until the bench process ends.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as err, tempfile.TemporaryFile("w+") as out:
        started_at, start = time.time(), time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=dict(env), cwd=REPO, text=True)
        serving = {
            pid: start
            for pid, start in _servers.items()
            if pipeline_servers and (info := _stat(pid)) is not None and info[1] == start
        }
        watch = TreeWatch(process.pid, serving).start()
        stopped_early = timed_out = False
        try:
            while process.poll() is None:
                if time.monotonic() - start > timeout:
                    log(f"{' '.join(command[2:4])} still running after {timeout:.0f} s: stopping it")
                    stopped_early = timed_out = True
                    break
                if stop_when is not None and stop_when():
                    stopped_early = True
                    break
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.2)
            wall = time.monotonic() - start
            watch.stop()  # the peak is the command's while it ran, not while it is being stopped
            if stopped_early:
                process.send_signal(signal.SIGINT)  # what Ctrl-C sends
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        finally:
            watch.stop()  # a no-op when already stopped
            leftovers = [pid for pid in watch.refresh() if pid != process.pid and pid not in serving]
            if process.poll() is None:
                process.kill()
                process.wait()
            kept = []
            if pipeline_servers and not stopped_early and process.returncode == 0:
                kept = [command_name(pid) for pid in leftovers]
                _servers.update({pid: watch.members[pid] for pid in leftovers})
            else:
                stop_processes(leftovers)
        out.seek(0)
        stdout = out.read()
    return Measured(
        seconds=wall,
        returncode=process.returncode,
        peak_memory=watch.peak,
        peak_parts=watch.peak_parts,
        started_at=started_at,
        stopped_early=stopped_early,
        timed_out=timed_out,
        kept=kept,
        log=log_path,
        stdout=stdout,
    )


def count_videos(out: Path) -> int:
    """MP4 files under `out` that decode as videos (PyAV)."""
    from seedance.media import MediaError, probe

    count = 0
    for path in out.rglob("*.mp4"):
        try:
            count += probe(path).kind == "video"
        except MediaError:
            pass
    return count


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"seedance-bench-{prefix}-") as tmp:
        yield Path(tmp)


# --- the pipeline's command line ------------------------------------------------------------

_shared: dict[str, Any] = {}


def prefect_home() -> Path:
    """The Prefect home every pipeline run of this bench process shares: a temporary folder,
    removed at exit, so a bench run never writes to the user's Prefect database."""
    if "home" not in _shared:
        folder = Path(tempfile.mkdtemp(prefix="seedance-bench-prefect-"))

        def remove() -> None:
            stop_servers()  # a server left running may still use the folder
            shutil.rmtree(folder, ignore_errors=True)

        atexit.register(remove)
        _shared["home"] = folder / "home"
    home: Path = _shared["home"]
    return home


def new_prefect_home() -> None:
    """Pipeline runs from now on use a new Prefect home, with a server of its own, warmed up again:
    for a figure that must not depend on what earlier benchmarks left in the server's database (the
    shared server's memory grows with it: 261 MB of Pss after one 100-item batch, 284 MB after five,
    285 MB after seven)."""
    stop_servers()
    _shared.pop("home", None)
    _shared.pop("warm", None)


def pipeline_env(gateway: str, state_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a one-off `seedance batch` run against `gateway` (ARK_* variables, no saved blocks)."""
    return clean_env(
        prefect_home(), {"ARK_BASE_URL": gateway, "ARK_API_KEY": API_KEY, "SEEDANCE_STATE_DIR": str(state_dir), **(extra or {})}
    )


def warm_up(workdir: Path) -> Measured | None:
    """Once per bench process: one generation through the pipeline with the new Prefect home, on a
    gateway of its own at latency 0, so that later runs find the home's database made, as on a
    machine in use. None when already done."""
    if _shared.get("warm"):
        return None
    _shared["warm"] = True
    work = workdir / "warm-up"
    manifest = write_manifest(workdir / "warm-up.yaml", 1, label="warm-up")
    log("pipeline warm-up: 1 generation with a new Prefect home")
    with Gateway(work / "gateway", latency=0) as gateway:
        return run_measured(
            pipeline_command(manifest, work / "out"),
            pipeline_env(gateway.base_url, work / "state"),
            work / "warm-up.log",
            timeout=300,
            pipeline_servers=True,
        )


def warm_up_row(measured: Measured | None) -> list[Row]:
    if measured is None:
        return []
    note = f"not counted; exit {measured.returncode}" + ("" if measured.returncode == 0 else f": {measured.tail()}")
    if measured.kept:
        note += f"; left running for later pipeline runs: {', '.join(measured.kept)}"
    return [
        Row(
            "setup",
            "pipeline warm-up: 1 generation, new Prefect home (its database is made)",
            seconds(measured.seconds),
            note=note,
        )
    ]


# --- files to transfer ----------------------------------------------------------------------


def random_file(path: Path, size: int) -> Path:
    """`size` random bytes (incompressible), written in 8 MB pieces."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for start in range(0, size, 8 * MB):
            handle.write(os.urandom(min(8 * MB, size - start)))
    return path


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def file_server(folder: Path) -> Iterator[str]:
    """Python's own `http.server` serving `folder` on 127.0.0.1, as a process of its own (so it
    shares no interpreter lock with the client being measured); yields its origin."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(origin + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the file server did not start") from None
                time.sleep(0.1)
        yield origin
    finally:
        process.terminate()
        process.wait(timeout=10)
