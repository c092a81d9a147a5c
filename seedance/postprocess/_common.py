"""What every post-processing step shares: its error, probing its input, running ffmpeg, atomic output."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from seedance.errors import SeedanceError
from seedance.ffmpeg import FFmpegError, run_ffmpeg, temp_sibling
from seedance.media import MediaError, MediaInfo, probe

X264: Final = ("-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p", "-preset", "medium")
"""H.264 High 4:2:0, what every browser and phone plays."""
FASTSTART: Final = ("-movflags", "+faststart")
"""Write the `moov` index before the media data, so playback starts before the download ends."""
AUDIO_RATE: Final = 48_000
"""Sample rate of every audio track we encode (the broadcast and web norm)."""


class PostprocessError(SeedanceError):
    """A post-processing step could not make its output.

    `step` names it (`poster`, `web`, `concat`, …); `stderr_tail` holds ffmpeg's last lines of
    stderr when ffmpeg was the one that failed. Not retryable: the same input fails the same way.
    """

    def __init__(self, step: str, message: str, *, stderr_tail: str | None = None) -> None:
        self.step = step
        self.stderr_tail = stderr_tail
        text = f"{step}: {message}"
        if stderr_tail:
            text += f"\nffmpeg said:\n{stderr_tail}"
        super().__init__(text)


def default_dest(video: Path, suffix: str) -> Path:
    """`clip.mp4` + `.web.mp4` → `clip.web.mp4`, beside the input."""
    return video.with_name(video.stem + suffix)


def probe_video(step: str, video: Path) -> MediaInfo:
    """Probe `video` and insist that it is a video with a duration."""
    if not video.is_file():
        raise PostprocessError(step, f"{video}: no such file")
    try:
        info = probe(video)
    except MediaError as exc:
        raise PostprocessError(step, f"{video.name} {exc}") from exc
    if info.kind != "video" or not info.width or not info.height:
        raise PostprocessError(step, f"{video.name} is {info.describe()}, not a video")
    if not info.duration or info.duration <= 0:
        raise PostprocessError(step, f"{video.name} has no measurable duration")
    return info


def ffmpeg(step: str, *args: str | Path, loglevel: str = "error") -> str:
    """Run ffmpeg for `step` and return its stderr; failures become PostprocessError."""
    try:
        return run_ffmpeg(*args, loglevel=loglevel)
    except FFmpegError as exc:
        raise PostprocessError(step, f"ffmpeg exited {exc.returncode}", stderr_tail=exc.stderr_tail) from exc
    except subprocess.TimeoutExpired as exc:
        raise PostprocessError(step, f"ffmpeg took longer than {exc.timeout:g} s and was stopped") from exc


@contextmanager
def atomic_output(step: str, dest: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `dest` to write; on success it replaces `dest`, else it is removed.

    Readers see the previous `dest` or the complete new one, never a half-written file.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(dest)
    try:
        yield tmp
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise PostprocessError(step, f"ffmpeg wrote nothing for {dest.name}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def even(pixels: int) -> int:
    """Round down to an even number (4:2:0 chroma needs even sides), at least 2."""
    return max(2, pixels - pixels % 2)


def check_positive(step: str, **values: float | None) -> None:
    """Refuse zero or negative numeric options, naming the option."""
    for name, value in values.items():
        if value is not None and value <= 0:
            raise PostprocessError(step, f"{name} must be greater than 0, got {value!r}")
