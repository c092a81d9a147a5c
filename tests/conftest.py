"""Session fixtures shared by every test tier.

* `_no_credentials` (autouse): no test sees ARK_API_KEY, Volcengine or AWS credentials, nor a
  state database (`SEEDANCE_STATE_URL`, `SEEDANCE_STATE_BLOCK`).
* `media_dir`: small real media files made once per session with ffmpeg (see `MEDIA`).
* `media_server`: a static file server on 127.0.0.1 serving `media_dir`, standing in for the
  third-party hosts that Ark fetches references from.
* `gateway`: `seedance gateway serve` as a real subprocess (latency 0.2 s, key `test-key`).
* `gateway_factory`: start more gateway processes with other options; all stop at session end.
* `postgres`: a PostgreSQL server for the session, a database per test.

Under `make test` each of the two pytest-xdist workers has its own session, so its own of each.

Prefect task retry delays are computed when the tasks are decorated (at import), so their base is
set here, before any test module imports them.
"""

from __future__ import annotations

import functools
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import httpx
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from local_gateway.config import API_KEY_VARIABLE
from local_gateway.postgres import LocalPostgres, find_server_binaries

os.environ.setdefault("SEEDANCE_TASK_RETRY_BASE_SECONDS", "0.05")
# Prefect's telemetry off and a patient ephemeral server, as `make test` sets them, for a bare `pytest` too.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

GATEWAY_API_KEY = "test-key"
GATEWAY_START_TIMEOUT = 30.0

MEDIA = {
    "frame_640x360.jpg": "16:9 JPEG, smooth gradients: a first frame that survives scaling",
    "square_720x720.png": "1:1 PNG",
    "reference_864x496.mp4": "3 s, 24 fps H.264 + mono AAC, 428 544 pixels (a valid 2.0 reference video)",
    "music_3s.mp3": "3 s MP3",
    "voice_3s.wav": "3 s WAV",
    "document.png": "PDF bytes behind an image name",
    "tiny_200x200.png": "an image below the 300 px minimum",
    "long_20s.mp4": "20 s video, over the 15 s maximum",
}
"""The files `media_dir` holds, and why each exists."""


def _is_credential(name: str) -> bool:
    # the state database settings too: a developer's shared database must never receive test records
    return name.startswith("AWS_") or name in (
        "ARK_API_KEY",
        "VOLC_ACCESSKEY",
        "VOLC_SECRETKEY",
        "SEEDANCE_STATE_URL",
        "SEEDANCE_STATE_BLOCK",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests of modules marked `long` first, the rest in collection order. `make test` hands whole
    files to two workers in this order: started last, a long module would run on alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs without real credentials, so none can reach a real account."""
    for name in list(os.environ):
        if _is_credential(name):
            monkeypatch.delenv(name)


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg bundled with imageio-ffmpeg, quietly; raise on failure."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def gradient_image(width: int, height: int, seed: int) -> Image.Image:
    """A smooth, colourful picture: gradients and a soft disc. Resampling barely changes it."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width * (0.3 + 0.4 * (seed % 3) / 2), height / 2
    disc = np.clip(1.0 - np.hypot(x - cx, y - cy) / (0.35 * min(width, height)), 0, 1)
    red = 255 * x / width
    green = 255 * y / height
    blue = 80 + 175 * disc
    pixels = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of small real media files (see `MEDIA`), made once per session."""
    root = tmp_path_factory.mktemp("media")
    gradient_image(640, 360, seed=1).save(root / "frame_640x360.jpg", quality=95)
    gradient_image(720, 720, seed=2).save(root / "square_720x720.png")
    gradient_image(200, 200, seed=3).save(root / "tiny_200x200.png")
    (root / "document.png").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    for name, seconds in (("reference_864x496.mp4", 3), ("long_20s.mp4", 20)):
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=864x496:rate=24:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=330:sample_rate=48000:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "1",
            "-shortest",
            "-movflags",
            "+faststart",
            str(root / name),
        )
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100:duration=3",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "64k",
        str(root / "music_3s.mp3"),
    )
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=550:sample_rate=16000:duration=3", "-c:a", "pcm_s16le", str(root / "voice_3s.wav")
    )
    assert sorted(p.name for p in root.iterdir()) == sorted(MEDIA)
    return root


class _QuietFiles(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass(frozen=True)
class MediaServer:
    """A running static file server; `url(name)` is the address of a file of `media_dir`."""

    base_url: str

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"


@contextmanager
def http_served(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` answering HTTP on 127.0.0.1 at a free port, from a thread of this process; yields
    `http://127.0.0.1:<port>`, and stops the server when the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def media_server(media_dir: Path) -> Iterator[MediaServer]:
    """`media_dir` over HTTP on 127.0.0.1 (a free port), with the Content-Type its file names suggest."""
    with http_served(functools.partial(_QuietFiles, directory=str(media_dir))) as origin:
        yield MediaServer(base_url=origin)


@dataclass
class GatewayProcess:
    """A `seedance gateway serve` subprocess and how to reach it."""

    process: subprocess.Popen[str]
    base_url: str
    """`http://127.0.0.1:<port>/api/v3`, as the gateway printed it."""
    api_key: str
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def origin(self) -> str:
        return self.base_url.removesuffix("/api/v3")

    def stats(self) -> dict[str, Any]:
        """`GET /_local/stats`: request counts per endpoint and task creates per body."""
        return httpx.get(f"{self.origin}/_local/stats", timeout=5).json()

    def reset_stats(self) -> None:
        httpx.post(f"{self.origin}/_local/reset", timeout=5).raise_for_status()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the process and wait for it; returns its exit code."""
        if not self._stopped:
            self._stopped = True
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            assert self.process.stdout is not None
            self.process.stdout.close()
        return self.process.returncode


class GatewayFactory(Protocol):
    def __call__(self, *args: str, latency: float = ..., api_key: str = ...) -> GatewayProcess: ...


@pytest.fixture(scope="session")
def gateway_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayFactory]:
    """Start `seedance gateway serve --port 0` with extra options; every process is stopped at session end."""
    started: list[GatewayProcess] = []

    def start(*args: str, latency: float = 0.2, api_key: str = GATEWAY_API_KEY) -> GatewayProcess:
        workdir = tmp_path_factory.mktemp("gateway")
        log_path = workdir / "gateway.log"
        command = [
            sys.executable,
            "-m",
            "local_gateway",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--latency",
            str(latency),
            "--data-dir",
            str(workdir / "data"),
            *args,
        ]
        with log_path.open("w") as log:
            # session fixtures start before the autouse fixture has cleaned the environment
            env = {name: value for name, value in os.environ.items() if not _is_credential(name)} | {API_KEY_VARIABLE: api_key}
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], GATEWAY_START_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        prefix = "Seedance local gateway listening on "
        if not line.startswith(prefix):
            process.kill()
            process.wait()
            process.stdout.close()
            raise RuntimeError(f"the gateway did not start: {line!r}; log:\n{log_path.read_text()}")
        handle = GatewayProcess(process=process, base_url=line.removeprefix(prefix).strip(), api_key=api_key, log_path=log_path)
        started.append(handle)
        return handle

    yield start
    codes = {handle.base_url: handle.stop() for handle in started}
    assert all(code == 0 for code in codes.values()), f"gateways did not stop cleanly: {codes}"


@pytest.fixture(scope="session")
def gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    """One local gateway process for the session: key `test-key`, latency 0.2 s."""
    return gateway_factory()


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server for the session, from this machine's server binaries.

    Tests that need it are skipped, with the reason, on a machine without PostgreSQL. Each test asks
    it for a database of its own: `postgres.create_database("name")` returns the URL.
    """
    if find_server_binaries() is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine; install postgresql to run this test")
    with LocalPostgres() as server:
        yield server
