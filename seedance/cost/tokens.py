"""The one token formula, shared by estimates, waiting-time priors and the local gateway's bills."""

from __future__ import annotations

from seedance.catalog import FPS


def video_tokens(width: int, height: int, frames: int, input_seconds: float = 0.0) -> int:
    """Billable tokens of `frames` output frames plus `input_seconds` of input video (ark-api.md §6.3).

    Integer arithmetic when there is no input video, so `frames / 24` never rounds a token away.
    """
    if not input_seconds:
        return width * height * frames // 1024
    return int(width * height * (frames + FPS * input_seconds) // 1024)
