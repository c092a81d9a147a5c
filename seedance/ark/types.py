"""Pydantic models that mirror the Ark wire format (ark-api.md §2 and §4).

Requests are strict (`extra="forbid"`: a typo in our own code fails here, not at the server) and
serialise without the fields that were not set. Responses tolerate fields this module does not know,
because servers and gateways add them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class MediaURL(_Request):
    url: str


class TextContent(_Request):
    type: Literal["text"] = "text"
    text: str


ImageRole = Literal["first_frame", "last_frame", "reference_image"]


class ImageContent(_Request):
    type: Literal["image_url"] = "image_url"
    image_url: MediaURL
    role: ImageRole | None = None


class VideoContent(_Request):
    type: Literal["video_url"] = "video_url"
    video_url: MediaURL
    role: Literal["reference_video"] | None = None


class AudioContent(_Request):
    type: Literal["audio_url"] = "audio_url"
    audio_url: MediaURL
    role: Literal["reference_audio"] | None = None


class DraftTaskRef(_Request):
    id: str


class DraftTaskContent(_Request):
    type: Literal["draft_task"] = "draft_task"
    draft_task: DraftTaskRef


ContentItem = Annotated[
    TextContent | ImageContent | VideoContent | AudioContent | DraftTaskContent,
    Field(discriminator="type"),
]
MediaContent = ImageContent | VideoContent | AudioContent


class Tool(_Request):
    type: Literal["web_search"]


OmniReferenceTaskType = Literal["reference", "edit", "extend", "first_last_frame", "auto"]
"""What the reference media are for (ark-api-updates.md §1.2). `auto` lets the model decide."""


class CreateTaskRequest(_Request):
    """The body of `POST /contents/generations/tasks`. Unset fields are not sent."""

    model: str
    content: list[ContentItem]
    callback_url: str | None = None
    return_last_frame: bool | None = None
    service_tier: Literal["default", "flex"] | None = None
    execution_expires_after: int | None = None
    generate_audio: bool | None = None
    draft: bool | None = None
    tools: list[Tool] | None = None
    safety_identifier: str | None = None
    priority: int | None = None
    resolution: str | None = None
    ratio: str | None = None
    duration: int | None = None
    frames: int | None = None
    seed: int | None = None
    camera_fixed: bool | None = None
    watermark: bool | None = None
    omni_reference_task_type: OmniReferenceTaskType | None = None
    output_format: str | None = None
    """The output container, e.g. `mp4`; one third party recommends `mov` for edit and extend."""

    def to_body(self) -> dict[str, Any]:
        """The JSON body, without the fields that were not set (Ark treats null as absent).

        `omni_reference_task_type: auto` is not sent either: it means what leaving the field out
        means (the model decides), and sending it would only make a gateway that does not document
        the field refuse the request, and give the same generation a second intent key.
        """
        body = self.model_dump(mode="json", exclude_none=True)
        if body.get("omni_reference_task_type") == "auto":
            del body["omni_reference_task_type"]
        return body

    def media(self) -> list[MediaContent]:
        return [item for item in self.content if isinstance(item, (ImageContent, VideoContent, AudioContent))]


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLED = "cancelled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self not in (TaskStatus.QUEUED, TaskStatus.RUNNING)


STATUS_ALIASES: dict[str, TaskStatus] = {
    "submitted": TaskStatus.QUEUED,  # quickrouter's create answer (seed 004)
    "pending": TaskStatus.QUEUED,
    "processing": TaskStatus.RUNNING,
    "in_progress": TaskStatus.RUNNING,
}
"""Status words some gateways use, mapped to Ark's own."""


class TaskError(_Response):
    code: str
    message: str = ""


class TaskContent(_Response):
    video_url: str | None = None
    last_frame_url: str | None = None


class ToolUsage(_Response):
    web_search: int | None = None


class Usage(_Response):
    completion_tokens: int = 0
    total_tokens: int = 0
    tool_usage: ToolUsage | None = None


class ContentGenerationTask(_Response):
    """The task object of `GET /contents/generations/tasks/{id}` (ark-api.md §4.2)."""

    id: str
    model: str
    status: TaskStatus
    error: TaskError | None = None
    created_at: int
    updated_at: int
    content: TaskContent | None = None
    usage: Usage | None = None
    seed: int | None = None
    resolution: str | None = None
    ratio: str | None = None
    duration: int | None = None
    frames: int | None = None
    framespersecond: int | None = None
    generate_audio: bool | None = None
    draft: bool | None = None
    draft_task_id: str | None = None
    service_tier: str | None = None
    execution_expires_after: int | None = None
    priority: int | None = None
    safety_identifier: str | None = None
    revised_prompt: str | None = None
    tools: list[dict[str, Any]] | None = None
    output_format: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _known_status(cls, value: Any) -> Any:
        return STATUS_ALIASES.get(value, value) if isinstance(value, str) else value


class CreateTaskResponse(_Response):
    id: str | None = None
    """Absent in some gateways' answers (kkiai documents `{}`): the client then reconciles."""


class TaskList(_Response):
    items: list[ContentGenerationTask]
    total: int


class ErrorDetail(_Response):
    code: str
    message: str = ""
    param: str | None = None
    type: str | None = None


class ErrorEnvelope(_Response):
    """`{"error": {"code", "message", "param", "type"}}` (ark-api.md §5.1)."""

    error: ErrorDetail
