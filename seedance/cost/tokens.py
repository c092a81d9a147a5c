"""The one token formula, shared by estimates, waiting-time priors and the local gateway's bills.

    tokens = ⌊W·H/1024 × frames⌋
    frames = 24·s + 1        for a model with `billed_extra_frame` (the 2.0 family); 24·s otherwise
    s      = output seconds
             + input-video seconds                 for a model with `billed_input_video`
             at least ⌈5·d/3⌉ with video input,   for a model with `video_input_minimum`
                 d being the output seconds

The rules are read from the model's catalog entry (ark-api-updates.md §1.4), so the 1.0 figures stay
exact: 864×480 for 5 s is 48 600 tokens. 2.0 at 720p (1280×720, 900 tokens a frame): 5 s is
900 × 121 = 108 900; 4 s is 87 300; 4 s with a 4 s reference video is 900 × (24·8 + 1) = 173 700.
Arithmetic is exact (fractions), so `frames / 24` never rounds a token away.
"""

from __future__ import annotations

import math
from fractions import Fraction

from seedance.catalog import FPS, ModelSpec


def minimum_billed_seconds(output_seconds: Fraction | int) -> int:
    """⌈5·d/3⌉: the fewest seconds billed for a d-second output with video input (2.0, 2.0 Fast).

    Example:
        >>> [minimum_billed_seconds(d) for d in (4, 5, 6, 7, 8, 9)]
        [7, 9, 10, 12, 14, 15]
    """
    return math.ceil(Fraction(output_seconds) * 5 / 3)


def billed_seconds(output_seconds: Fraction | int, input_video_seconds: float, spec: ModelSpec) -> Fraction:
    """The s of the formula: output seconds, plus input-video seconds and the video-input minimum where `spec` bills them.

    Args:
        output_seconds: seconds of output video (frames / 24).
        input_video_seconds: total seconds of the request's input videos; 0 when it has none.
        spec: the model, whose billing fields decide which rules apply.
    """
    seconds = Fraction(output_seconds)
    if spec.billed_input_video:
        seconds += Fraction(input_video_seconds)
    if spec.video_input_minimum and input_video_seconds > 0:
        seconds = max(seconds, Fraction(minimum_billed_seconds(output_seconds)))
    return seconds


def video_tokens(width: int, height: int, frames: Fraction | int) -> int:
    """⌊W·H/1024 × frames⌋: the tokens of `frames` frames of W×H pixels."""
    return math.floor(Fraction(width * height, 1024) * frames)


def billed_tokens(width: int, height: int, frames: int, input_video_seconds: float, spec: ModelSpec) -> int:
    """The tokens a task is billed (`usage.completion_tokens`), by the formula in this module's docstring.

    Args:
        width, height: output pixels.
        frames: output frames (24 a second).
        input_video_seconds: total seconds of the request's input videos; 0 when it has none.
        spec: the model.

    Example:
        >>> billed_tokens(1280, 720, 4 * 24, 4.0, find_model("doubao-seedance-2-0-260128"))
        173700
    """
    seconds = billed_seconds(Fraction(frames, FPS), input_video_seconds, spec)
    extra_frame = 1 if spec.billed_extra_frame else 0
    return video_tokens(width, height, FPS * seconds + extra_frame)
