"""The task object exactly as `GET /contents/generations/tasks/{id}` returns it (ark-api.md §4.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local_gateway.store import TaskRecord
from seedance.ark.types import TaskStatus
from seedance.catalog import FPS, find_model

FileUrl = Callable[[str], str]
"""Builds the signed URL of one of the task's files, by file name."""


def task_object(record: TaskRecord, file_url: FileUrl) -> dict[str, Any]:
    """The JSON task object. `content` and `usage` appear once the task succeeded: whether Ark sends
    them (empty) earlier is not established, and clients must cope with their absence anyway."""
    plan, request = record.plan, record.request
    spec = find_model(request.model)
    task: dict[str, Any] = {"id": record.id, "model": request.model, "status": record.status.value}
    if record.error is not None:
        task["error"] = {"code": record.error.code, "message": record.error.message}
    if record.status is TaskStatus.SUCCEEDED and record.result is not None:
        content = {"video_url": file_url(record.result.video.name)}
        if record.result.last_frame is not None:
            content["last_frame_url"] = file_url(record.result.last_frame.name)
        task["content"] = content
        usage: dict[str, Any] = {"completion_tokens": plan.tokens, "total_tokens": plan.tokens}
        if request.tools:
            usage["tool_usage"] = {"web_search": 0}
        task["usage"] = usage
    task |= {
        "created_at": int(record.created_at),
        "updated_at": int(record.updated_at),
        "seed": plan.seed,
        "resolution": plan.resolution,
        "ratio": plan.ratio,
    }
    if plan.reports_frames:
        task["frames"] = plan.frames
    else:
        task["duration"] = plan.duration
    task["framespersecond"] = FPS
    task["service_tier"] = record.service_tier
    task["execution_expires_after"] = record.execution_expires_after
    if plan.generate_audio is not None:
        task["generate_audio"] = plan.generate_audio
    if plan.draft is not None:
        task["draft"] = plan.draft
    if plan.draft_task_id is not None:
        task["draft_task_id"] = plan.draft_task_id
    if spec is not None and spec.priority:
        task["priority"] = request.priority or 0
    if request.safety_identifier is not None:
        task["safety_identifier"] = request.safety_identifier
    if request.output_format is not None:
        task["output_format"] = request.output_format
    return task
