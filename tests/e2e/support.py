"""Helpers for end-to-end tests: what the servers saw, and an environment for CLI subprocesses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from local_gateway.devstack import DevStack


def gateway_stats(stack: DevStack) -> dict[str, Any]:
    """The local gateway's request counters (`GET /_local/stats`)."""
    root = stack.gateway_url.removesuffix("/api/v3")
    return httpx.get(f"{root}/_local/stats", timeout=5).json()


def s3_object_count(stack: DevStack) -> int:
    """Objects in the stack's bucket."""
    return stack.s3_client().list_objects_v2(Bucket=stack.bucket).get("KeyCount", 0)


def prefect_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a `seedance` subprocess: its own Prefect home, no credentials of ours."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ARK_", "PREFECT_API"))}
    return {
        **keep,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    }


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size
