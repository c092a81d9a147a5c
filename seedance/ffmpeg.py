"""Running the ffmpeg that ships with the project's dependencies (imageio-ffmpeg)."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

import imageio_ffmpeg


class FFmpegError(RuntimeError):
    """ffmpeg exited non-zero; the message ends with the tail of its stderr."""

    def __init__(self, returncode: int, stderr_tail: str) -> None:
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        super().__init__(f"ffmpeg exited {returncode}: {stderr_tail}")


@cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args: str | Path, timeout: float = 600.0, loglevel: str = "error") -> str:
    """Run ffmpeg quietly with `args` and return its stderr; raise FFmpegError with its last lines on failure.

    Pass `loglevel="info"` to read what filters print there (loudnorm's and ebur128's measurements).
    """
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", loglevel, "-nostdin", "-y", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise FFmpegError(result.returncode, tail)
    return result.stderr


@cache
def encoders() -> frozenset[str]:
    """Names of the encoders this ffmpeg build has (`libx264`, `libwebp_anim`, …)."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30, check=True)
    # Lines look like " V....D libx264   libx264 H.264 / AVC ..." after a "------" separator.
    listing = result.stdout.partition("------")[2]
    return frozenset(line.split()[1] for line in listing.splitlines() if len(line.split()) > 1)


def temp_sibling(path: Path) -> Path:
    """A hidden temporary name beside `path` with the same suffix (ffmpeg picks the format from it)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
