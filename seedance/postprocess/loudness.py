"""Loudness: EBU R128 measurement (ebur128) and two-pass normalisation (loudnorm)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from seedance.media import MediaError, probe
from seedance.postprocess._common import (
    AUDIO_RATE,
    FASTSTART,
    PostprocessError,
    atomic_output,
    default_dest,
    ffmpeg,
    probe_video,
)

AUDIO_BITRATE: Final = "192k"
TARGET_LUFS: Final = -23.0
"""EBU R128's programme loudness."""
TRUE_PEAK: Final = -1.0
"""EBU R128's maximum true peak, dBTP."""
LRA: Final = 7.0
"""Loudness range target, LU: loudnorm's default, used only by its dynamic fallback."""
SILENCE_LUFS: Final = -70.0
"""ebur128's absolute gate: anything quieter counts as silence and cannot be normalised."""

_LOUDNORM_JSON = re.compile(r"\{[^{}]*\"input_i\"[^{}]*\}")
_INTEGRATED = re.compile(r"Integrated loudness:\s*I:\s*(-?(?:\d+(?:\.\d+)?|inf))\s*LUFS")


class LoudnormMeasurement(BaseModel):
    """What loudnorm's first pass measured (its `print_format=json` block)."""

    model_config = ConfigDict(frozen=True)

    input_i: float = Field(description="Integrated loudness, LUFS.")
    input_tp: float = Field(description="True peak, dBTP.")
    input_lra: float = Field(description="Loudness range, LU.")
    input_thresh: float = Field(description="The gating threshold, LUFS.")
    target_offset: float = Field(description="Offset gain for the second pass, LU.")


def loudnorm_filter(target_lufs: float, true_peak: float, lra: float, measured: LoudnormMeasurement | None = None) -> str:
    """The loudnorm filter: a first (measuring) pass without `measured`, the second pass with it."""
    base = f"loudnorm=I={target_lufs:g}:TP={true_peak:g}:LRA={lra:g}"
    if measured is None:
        return base + ":print_format=json"
    return (
        f"{base}:measured_I={measured.input_i:.2f}:measured_TP={measured.input_tp:.2f}"
        f":measured_LRA={measured.input_lra:.2f}:measured_thresh={measured.input_thresh:.2f}"
        f":offset={measured.target_offset:.2f}:linear=true:print_format=none"
    )


def measure_for_loudnorm(step: str, args: Sequence[str | Path]) -> LoudnormMeasurement:
    """Run loudnorm's first pass: `args` are the inputs and a graph ending in `loudnorm_filter(...)`.

    The output goes to the null muxer; the measurement is parsed from ffmpeg's stderr.
    """
    stderr = ffmpeg(step, "-nostats", *args, "-f", "null", "-", loglevel="info")
    blocks = _LOUDNORM_JSON.findall(stderr)
    if not blocks:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise PostprocessError(step, "loudnorm printed no measurement", stderr_tail=tail)
    values = json.loads(blocks[-1])
    measured = LoudnormMeasurement.model_validate({name: float(values[name]) for name in LoudnormMeasurement.model_fields})
    if not math.isfinite(measured.input_i) or measured.input_i <= SILENCE_LUFS:
        raise PostprocessError(step, f"the audio is silent (integrated loudness {measured.input_i} LUFS); nothing to normalise")
    return measured


def loudnorm(
    video: Path,
    dest: Path | None = None,
    *,
    target_lufs: float = TARGET_LUFS,
    true_peak: float = TRUE_PEAK,
    lra: float = LRA,
) -> Path:
    """Normalise the loudness of `video`'s audio to EBU R128 in two passes and return the new file.

    The first pass measures integrated loudness, true peak, loudness range and threshold; the
    second applies one linear gain computed from them (loudnorm falls back to its dynamic mode only
    when a linear gain would push the true peak over `true_peak`). The video stream is copied,
    the first audio stream is re-encoded as AAC at 48 kHz, other audio streams are dropped.

    Args:
        target_lufs: integrated loudness to reach, LUFS (EBU R128: -23; web platforms: about -14).
        true_peak: the highest true peak allowed, dBTP.
        lra: loudness range target, LU (used by the dynamic fallback).
        dest: where to write; default `<stem>.loudnorm.mp4` beside the clip.

    Raises:
        PostprocessError: the video has no audio, the audio is silent, or ffmpeg failed.
    """
    info = probe_video("loudnorm", video)
    if not info.has_audio:
        raise PostprocessError("loudnorm", f"{video.name} has no audio stream to normalise")
    measured = measure_for_loudnorm(
        "loudnorm", ["-i", video, "-map", "0:a:0", "-af", loudnorm_filter(target_lufs, true_peak, lra)]
    )
    dest = dest or default_dest(video, ".loudnorm.mp4")
    second = loudnorm_filter(target_lufs, true_peak, lra, measured)
    with atomic_output("loudnorm", dest) as tmp:
        ffmpeg(
            "loudnorm",
            "-i",
            video,
            "-map",
            "0:v:0",
            "-map",
            "0:a:0",
            "-c:v",
            "copy",
            "-af",
            second,
            "-c:a",
            "aac",
            "-b:a",
            AUDIO_BITRATE,
            "-ar",
            str(AUDIO_RATE),
            *FASTSTART,
            tmp,
        )
    return dest


def measure_loudness(path: Path) -> float:
    """The integrated loudness of `path`'s first audio stream in LUFS (EBU R128, ffmpeg's ebur128).

    Silence reads as -70.0 (the absolute gate).

    Raises:
        PostprocessError: the file has no audio, or ffmpeg failed.

    Example:
        >>> round(measure_loudness(Path("shot.loudnorm.mp4")))
        -23
    """
    try:
        info = probe(path)
    except (MediaError, OSError) as exc:
        raise PostprocessError("measure-loudness", f"{path.name}: {exc}") from exc
    if not info.has_audio:
        raise PostprocessError("measure-loudness", f"{path.name} has no audio stream")
    stderr = ffmpeg(
        "measure-loudness",
        "-nostats",
        "-i",
        path,
        "-map",
        "0:a:0",
        "-af",
        "ebur128=framelog=quiet",
        "-f",
        "null",
        "-",
        loglevel="info",
    )
    found = _INTEGRATED.findall(stderr.rpartition("Summary:")[2])
    if not found:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise PostprocessError("measure-loudness", "ebur128 printed no summary", stderr_tail=tail)
    return max(float(found[-1]), SILENCE_LUFS)
