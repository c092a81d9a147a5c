"""What a finished generation produced: the model behind `result.json`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field


class VideoInfo(BaseModel):
    width: int
    height: int
    duration_seconds: float
    fps: float
    video_codec: str
    has_audio: bool
    audio_codec: str | None = None
    audio_channels: int | None = None
    size_bytes: int
    sha256: str


class OutputFiles(BaseModel):
    video: Path
    poster: Path | None = None
    last_frame: Path | None = None
    result: Path
    postprocessed: dict[str, Path] = Field(default_factory=dict, description="Output of each post-processing step, by step name.")


class GenerationResult(BaseModel):
    """Everything a person or a later step needs to know about one generation. Holds no secret."""

    task_id: str
    gateway: str
    model: str
    status: str
    intent_key: str
    resumed: bool = Field(description="True when an earlier run had already created this task.")
    completion_tokens: int | None = None
    estimated_tokens: int | None = None
    estimated_cost: Decimal | None = None
    billed_cost: Decimal | None = None
    currency: str | None = None
    seed: int | None = None
    resolution: str | None = None
    ratio: str | None = None
    duration: int | None = None
    video: VideoInfo
    files: OutputFiles
    timings: dict[str, float] = Field(description="Seconds spent per step.")
    created_at: int
    finished_at: int
