"""Running the ffmpeg that ships with the project's dependencies (imageio-ffmpeg)."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

import imageio_ffmpeg


class FFmpegError(RuntimeError):
    """ffmpeg exited non-zero; the message ends with the tail of its stderr."""


@cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args: str | Path, timeout: float = 600.0) -> None:
    """Run ffmpeg quietly with `args`; raise FFmpegError with its last lines of stderr on failure."""
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise FFmpegError(f"ffmpeg exited {result.returncode}: {tail}")


def temp_sibling(path: Path) -> Path:
    """A hidden temporary name beside `path` with the same suffix (ffmpeg picks the format from it)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def extract_frame(video: Path, dest: Path, at_seconds: float) -> Path:
    """Write the frame at `at_seconds` as an image (format from `dest`'s suffix), atomically."""
    tmp = temp_sibling(dest)
    try:
        run_ffmpeg("-ss", f"{at_seconds:.3f}", "-i", video, "-frames:v", "1", "-q:v", "2", tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
