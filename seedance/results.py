"""What a finished generation produced: the model behind `result.json`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field

from seedance.ark.types import ContentGenerationTask
from seedance.download import Downloaded
from seedance.ledger import LedgerEntry
from seedance.media import MediaInfo


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

    @classmethod
    def of(cls, video: Downloaded, info: MediaInfo) -> VideoInfo:
        """The facts of a downloaded video: bytes and digest from the download, the rest probed."""
        return cls(
            width=info.width or 0,
            height=info.height or 0,
            duration_seconds=info.duration or 0.0,
            fps=info.fps or 0.0,
            video_codec=info.video_codec or "",
            has_audio=info.has_audio,
            audio_codec=info.audio_codec,
            audio_channels=info.audio_channels,
            size_bytes=video.size_bytes,
            sha256=video.sha256,
        )


class OutputFiles(BaseModel):
    """The local files a run made: where it worked, not where the outputs are kept (`GenerationResult.locations`)."""

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
    bill_over_estimate: bool | None = Field(
        default=None, description="True when the billed tokens passed the estimate; None without an estimate or a bill."
    )
    tokens_over_estimate: int | None = Field(
        default=None, description="Billed minus estimated tokens; None without an estimate or a bill."
    )
    estimated_cost: Decimal | None = None
    billed_cost: Decimal | None = None
    currency: str | None = None
    seed: int | None = None
    resolution: str | None = None
    ratio: str | None = None
    duration: int | None = None
    video: VideoInfo
    files: OutputFiles
    locations: dict[str, str] = Field(
        description="Where each output is kept, by role (video, poster, last_frame, result, each post-processing step): "
        "an absolute local path or an s3:// URI."
    )
    timings: dict[str, float] = Field(description="Seconds spent per step.")
    created_at: int
    finished_at: int

    @classmethod
    def build(
        cls,
        generation: ContentGenerationTask,
        *,
        gateway: str,
        intent_key: str,
        resumed: bool,
        video: VideoInfo,
        files: OutputFiles,
        locations: dict[str, str],
        cost: LedgerEntry | None,
        timings: dict[str, float],
    ) -> GenerationResult:
        """The result of a succeeded task: what it reported, what was downloaded, and what it cost."""
        return cls(
            task_id=generation.id,
            gateway=gateway,
            model=generation.model,
            status=generation.status.value,
            intent_key=intent_key,
            resumed=resumed,
            completion_tokens=generation.usage.completion_tokens if generation.usage else None,
            estimated_tokens=cost.estimated_tokens if cost else None,
            bill_over_estimate=cost.bill_over_estimate if cost else None,
            tokens_over_estimate=cost.tokens_over_estimate if cost else None,
            estimated_cost=cost.estimated_cost if cost else None,
            billed_cost=cost.billed_cost if cost else None,
            currency=cost.currency if cost else None,
            seed=generation.seed,
            resolution=generation.resolution,
            ratio=generation.ratio,
            duration=generation.duration,
            video=video,
            files=files,
            locations=locations,
            timings={step: round(seconds, 3) for step, seconds in timings.items()},
            created_at=generation.created_at,
            finished_at=generation.updated_at,
        )
