"""What a task will render: every default and `adaptive` resolved, the way Ark resolves them.

The plan is fixed at create time and reported back in GET (resolution, ratio, seed, duration…).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

from seedance.ark.types import CreateTaskRequest, DraftTaskContent
from seedance.catalog import ADAPTIVE, FPS, Family, ImageMode, ModelSpec, closest_ratio
from seedance.cost.tokens import billed_tokens
from seedance.media import MediaInfo

DEFAULT_DURATION: Final = 5
"""Seconds rendered when the request names none, or asks the model to choose (`-1`)."""
SEED_CEILING: Final = 2**31
"""Random seeds are drawn below this, inside both documented seed ranges."""


class Reference(BaseModel):
    """A fetched and probed media item of the request."""

    model_config = ConfigDict(frozen=True)

    index: int
    """Its position in `content`."""
    role: str | None
    path: Path
    info: MediaInfo


class OutputPlan(BaseModel):
    """The concrete output of one task."""

    model_config = ConfigDict(frozen=True)

    resolution: str
    ratio: str
    width: int
    height: int
    frames: int
    """Frames rendered, at 24 fps."""
    reports_frames: bool
    """GET reports `frames` (the request used frames) instead of `duration`."""
    seed: int
    generate_audio: bool | None
    """None for models without audio: GET then omits the field."""
    draft: bool | None
    """None for the 1.0 series, which has no draft field."""
    draft_task_id: str | None = None
    watermark: bool
    camera_fixed: bool = False
    """Asked for a fixed camera. The rendered picture is a still either way: `/_local/tasks` shows it."""
    return_last_frame: bool
    first_frame: Path | None = None
    """The image the video opens on (first-frame and first+last modes)."""
    tokens: int
    """What the task is billed (`usage.completion_tokens`): the estimate's formula, `seedance.cost.tokens`."""

    @property
    def seconds(self) -> float:
        return self.frames / FPS

    @property
    def duration(self) -> int:
        """Whole seconds, as GET reports them (floor of frames / 24)."""
        return self.frames // FPS

    @property
    def audio(self) -> bool:
        return bool(self.generate_audio)


def plan_output(
    request: CreateTaskRequest,
    spec: ModelSpec,
    mode: ImageMode,
    references: Sequence[Reference],
    draft: OutputPlan | None = None,
) -> OutputPlan:
    """Resolve a validated request into what will be rendered.

    `draft` is the plan of the draft task a `draft_task` item points at: its ratio, duration, seed,
    audio choice and first frame carry over (ark-api.md §2.2); the rest follows this request.
    """
    resolution = request.resolution or ("480p" if request.draft else spec.default_resolution)
    if draft is not None:
        ratio, frames, reports_frames, seed = draft.ratio, draft.frames, draft.reports_frames, draft.seed
        generate_audio, first_frame = draft.generate_audio, draft.first_frame
    else:
        ratio = _resolve_ratio(request.ratio or spec.default_ratio(mode), mode, references)
        reports_frames = request.frames is not None
        if request.frames is not None:
            frames = request.frames
        else:
            seconds = request.duration if request.duration not in (None, -1) else DEFAULT_DURATION
            frames = seconds * FPS
        seed = request.seed if request.seed not in (None, -1) else secrets.randbelow(SEED_CEILING)
        generate_audio = (request.generate_audio is not False) if spec.generate_audio else None
        first_frame = _first_frame(mode, references)
    width, height = spec.output_size(resolution, ratio)
    input_video_seconds = sum(r.info.duration or 0.0 for r in references if r.info.kind == "video")
    return OutputPlan(
        resolution=resolution,
        ratio=ratio,
        width=width,
        height=height,
        frames=frames,
        reports_frames=reports_frames,
        seed=seed,
        generate_audio=generate_audio,
        draft=None if spec.family is Family.V1_0 else bool(request.draft),
        draft_task_id=next((i.draft_task.id for i in request.content if isinstance(i, DraftTaskContent)), None),
        watermark=bool(request.watermark),
        camera_fixed=bool(request.camera_fixed),
        return_last_frame=bool(request.return_last_frame),
        first_frame=first_frame,
        tokens=billed_tokens(width, height, frames, input_video_seconds, spec),
    )


def _first_frame(mode: ImageMode, references: Sequence[Reference]) -> Path | None:
    if mode not in (ImageMode.FIRST_FRAME, ImageMode.FIRST_LAST):
        return None
    return next(r.path for r in references if r.info.kind == "image" and r.role in (None, "first_frame"))


def _resolve_ratio(ratio: str, mode: ImageMode, references: Sequence[Reference]) -> str:
    """`adaptive` → a concrete ratio: text → 16:9; first frame → the first image's closest ratio;
    reference mode → the first reference video's, else the first image's."""
    if ratio != ADAPTIVE:
        return ratio
    source: MediaInfo | None = None
    if mode in (ImageMode.FIRST_FRAME, ImageMode.FIRST_LAST):
        source = next(r.info for r in references if r.info.kind == "image" and r.role in (None, "first_frame"))
    elif mode is ImageMode.REFERENCE:
        videos = [r.info for r in references if r.info.kind == "video"]
        images = [r.info for r in references if r.info.kind == "image"]
        source = next(iter(videos or images), None)
    if source is None or not source.width or not source.height:
        return "16:9"
    return closest_ratio(source.width, source.height)
