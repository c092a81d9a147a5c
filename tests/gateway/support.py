"""Helpers for the gateway tests: create and wait, check error envelopes, read rendered videos."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

TASKS = "/contents/generations/tasks"
TERMINAL = {"succeeded", "failed", "expired", "cancelled"}
FAST = "doubao-seedance-2-0-fast-260128"
SEEDANCE_2 = "doubao-seedance-2-0-260128"
PRO_1_5 = "doubao-seedance-1-5-pro-251215"
PRO_FAST_1_0 = "doubao-seedance-1-0-pro-fast-251015"
LITE_T2V = "doubao-seedance-1-0-lite-t2v-250428"
LITE_I2V = "doubao-seedance-1-0-lite-i2v-250428"
TASK_ID = re.compile(r"^cgt-\d{14}-[a-z0-9]{5}$")


def text_body(model: str = FAST, prompt: str = "a lighthouse at dusk", **fields: Any) -> dict[str, Any]:
    """A small text-to-video body (480p, shortest duration unless overridden)."""
    body: dict[str, Any] = {"model": model, "content": [{"type": "text", "text": prompt}], "resolution": "480p"}
    if "frames" not in fields:
        body["duration"] = 4 if model in (FAST, SEEDANCE_2, PRO_1_5) else 2
    return body | fields


def image(url: str, role: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    return item | ({"role": role} if role else {})


def create(client: httpx.Client, body: dict[str, Any]) -> str:
    """POST a create body; assert it is accepted and return the task id."""
    response = client.post(TASKS, json=body)
    assert response.status_code == 200, response.text
    task_id = response.json()["id"]
    assert TASK_ID.match(task_id)
    return task_id


def wait_for(client: httpx.Client, task_id: str, timeout: float = 60.0, until: set[str] = TERMINAL) -> dict[str, Any]:
    """Poll GET until the task reaches one of `until`; return the task object."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"{TASKS}/{task_id}")
        assert response.status_code == 200, response.text
        task = response.json()
        if task["status"] in until:
            return task
        assert time.monotonic() < deadline, f"task {task_id} still {task['status']} after {timeout} s"
        time.sleep(0.05)


def generate(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """Create, wait, assert success; return the task object."""
    task = wait_for(client, create(client, body))
    assert task["status"] == "succeeded", task
    return task


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert `response` is an Ark error envelope with `status`; return its `error` object."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"error"}
    error = payload["error"]
    assert set(error) == {"code", "message", "param", "type"}
    request_id = response.headers["X-Request-Id"]
    assert error["message"].endswith(f"Request id: {request_id}")
    return error


def download(url: str, dest: Path) -> Path:
    """Fetch a result URL (no API key, like a presigned link) into `dest`."""
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    dest.write_bytes(response.content)
    return dest


def frames_of(path: Path, *indexes: int) -> list[np.ndarray]:
    """Decoded RGB frames at the given indexes (negative counts from the end)."""
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return [frames[i] for i in indexes]


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
