"""Helpers for end-to-end tests: what the servers saw, and CLI subprocesses and their environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from PIL import Image
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

from local_gateway.devstack import DevStack
from seedance.state import intent_store
from tests.e2e.production import wait_until


def gateway_stats(stack: DevStack) -> dict[str, Any]:
    """The local gateway's request counters (`GET /_local/stats`)."""
    root = stack.gateway_url.removesuffix("/api/v3")
    return httpx.get(f"{root}/_local/stats", timeout=5).json()


def s3_object_count(stack: DevStack) -> int:
    """Objects in the stack's bucket."""
    return stack.s3_client().list_objects_v2(Bucket=stack.bucket).get("KeyCount", 0)


ROOT = Path(__file__).resolve().parents[2]


def prefect_env(tmp_path: Path, api_url: str | None = None) -> dict[str, str]:
    """Environment for a `seedance` subprocess: its own Prefect home, no credentials of ours.

    With `api_url` (the session's Prefect API) it runs there; without, a command that needs an API
    starts the shared server in that home: stop it (`seedance server stop`) before the test ends.
    """
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARK_", "PREFECT_API"))}
    return {
        **keep,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    } | ({"PREFECT_API_URL": api_url} if api_url else {})


def stack_env(stack: DevStack) -> dict[str, str]:
    """The local stack as a one-off run's environment: `ARK_*` for the gateway, boto3's and `SEEDANCE_BUCKET` for S3."""
    return stack.aws_env() | {"ARK_BASE_URL": stack.gateway_url, "ARK_API_KEY": stack.api_key}


def seedance(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`seedance ARGS` as a user runs it, from this worktree's code (`python -m cli`)."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def generating(spec: Path, env: dict[str, str], **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """`seedance generate SPEC --out <its folder>/out` started in the background, yielded once its
    task is created (the intent store has it); killed at the end when still running."""
    command = [sys.executable, "-m", "cli", "generate", str(spec), "--out", str(spec.parent / "out")]
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    try:
        wait_until(lambda: any(intent.task_id for intent in intent_store().all()), 120, "the create", interval=0.1)
        yield run
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def flow_run_logs(flow_run_id: UUID, until: str) -> list[str]:
    """A flow run's log lines, read once one containing `until` has reached the API (run logs
    reach it in batches, a moment after the run)."""
    with get_client(sync_client=True) as client:
        lines: list[str] = []

        def arrived() -> bool:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            lines[:] = [log.message for log in logs]
            return any(until in line for line in lines)

        wait_until(arrived, timeout=30, what=f"{until!r} in the run's logs")
    return lines
