"""The local stack the demo and the tests run against: moto's S3 server and the local gateway.

Both are real processes on 127.0.0.1 with free ports, started and stopped together:

    >>> with DevStack(api_key="local-key") as stack:
    ...     stack.gateway_url, stack.s3_endpoint
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import boto3
import httpx
from botocore.config import Config

from local_gateway.config import API_KEY_VARIABLE

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client  # the stubs' type of boto3's S3 client (dev only)

S3_ACCESS_KEY: Final = "local-access-key"
S3_REGION: Final = "us-east-1"
_LISTENING = re.compile(r"listening on (http://\S+)")
_NOT_SPACE = re.compile(r"\S")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    """A console script of this environment (beside the running interpreter), else from PATH."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else (shutil.which(name) or name)


class DevStack:
    """Start moto's S3 server and `seedance gateway serve`; stop both on exit.

    Args:
        api_key: the key the local gateway accepts.
        bucket: created on the S3 server once it is up.
        latency: the gateway's `--latency` (seconds from create to success).
        gateway_args: more `seedance gateway serve` options (faults, result lifetime, …).
    """

    def __init__(
        self,
        *,
        api_key: str,
        bucket: str = "seedance-assets",
        latency: float = 1.0,
        gateway_args: tuple[str, ...] = (),
        log_dir: Path | None = None,
    ) -> None:
        self.api_key = api_key
        self.bucket = bucket
        self.latency = latency
        self.gateway_args = gateway_args
        self.s3_access_key = S3_ACCESS_KEY
        self.s3_region = S3_REGION
        self.s3_secret_key = secrets.token_hex(16)
        self.log_dir = log_dir
        self._processes: list[subprocess.Popen[str]] = []
        self._logs: list[IO[str]] = []
        self.s3_endpoint = ""
        self.gateway_url = ""
        self._recording: Path | None = None

    def __enter__(self) -> DevStack:
        try:
            self._start_s3()
            self._start_gateway()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def s3_client(self) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=self.s3_secret_key,
            region_name=S3_REGION,
            config=Config(signature_version="s3v4"),
        )

    def aws_env(self) -> dict[str, str]:
        """boto3's own environment variables for this S3 server (a one-off run without blocks)."""
        return {
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": self.s3_secret_key,
            "AWS_DEFAULT_REGION": S3_REGION,
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "SEEDANCE_BUCKET": self.bucket,
        }

    def _log(self, name: str) -> IO[str] | int:
        if self.log_dir is None:
            return subprocess.DEVNULL
        self.log_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.log_dir / f"{name}.log").open("w")
        self._logs.append(handle)
        return handle

    def _start_s3(self) -> None:
        port = free_port()
        log = self._log("s3")
        self._recording = Path(tempfile.mkdtemp(prefix="seedance-s3-")) / "requests.jsonl"
        env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(self._recording)}
        self._processes.append(
            subprocess.Popen(
                [_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log, text=True, env=env
            )
        )
        self.s3_endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.s3_endpoint}/moto-api/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self._processes[-1].poll() is not None:
                raise RuntimeError(f"the S3 server did not start on port {port}")
            time.sleep(0.1)
        self.s3_client().create_bucket(Bucket=self.bucket)
        httpx.post(f"{self.s3_endpoint}/moto-api/recorder/start-recording", timeout=5).raise_for_status()

    def s3_recording(self) -> list[dict[str, Any]]:
        """moto's record of every request the S3 server received since the bucket was made (method,
        url, headers, ...), read from its file: moto's download endpoint answers 500 until there
        is a first request to record.

        moto appends each entry and its line break in two writes, so the entries of concurrent
        requests can share a line: the file is read as a run of JSON objects, not as lines.
        """
        if self._recording is None or not self._recording.exists():
            return []
        text = self._recording.read_text()
        decoder = json.JSONDecoder()
        entries: list[dict[str, Any]] = []
        at = 0
        while (start := _NOT_SPACE.search(text, at)) is not None:
            entry, at = decoder.raw_decode(text, start.start())
            entries.append(entry)
        return entries

    def s3_requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request the S3 server received since the bucket was made."""
        return [(entry["method"], urlsplit(entry["url"]).path) for entry in self.s3_recording()]

    def _start_gateway(self) -> None:
        command = [
            _bin("seedance"),
            "gateway",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--latency",
            str(self.latency),
            *self.gateway_args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", API_KEY_VARIABLE: self.api_key}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log("gateway"), text=True, env=env)
        self._processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        match = _LISTENING.search(line)
        if not match:
            raise RuntimeError(f"the local gateway did not start: {line.strip() or 'no output'}")
        self.gateway_url = match.group(1)
        # keep reading the gateway's stdout so a chatty gateway can never block on a full pipe
        threading.Thread(target=process.stdout.read, name="gateway-stdout", daemon=True).start()

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self._processes.clear()
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        if self._recording is not None:
            shutil.rmtree(self._recording.parent, ignore_errors=True)
