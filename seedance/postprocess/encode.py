"""Re-encoding: a web-ready H.264 file, and several shots joined into one."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Final

from seedance.postprocess._common import (
    AUDIO_RATE,
    FASTSTART,
    X264,
    PostprocessError,
    atomic_output,
    check_positive,
    default_dest,
    even,
    ffmpeg,
    probe_video,
)
from seedance.postprocess.loudness import LRA, TRUE_PEAK, loudnorm_filter, measure_for_loudnorm

WEB_AUDIO_BPS: Final = 128_000
MIN_AUDIO_BPS: Final = 32_000
"""Under a tight size cap the audio gives way first, down to this."""
MIN_VIDEO_BPS: Final = 20_000
"""A cap that leaves less than this for the picture is refused rather than turned into mush."""
CONTAINER_SHARE: Final = 0.02
CONTAINER_BYTES: Final = 8 * 1024
"""MP4 overhead reserved out of a size cap: a share of it plus a fixed index allowance."""
VBV_SECONDS: Final = 0.5
"""x264's rate buffer, in seconds of the bitrate cap: the encoder may overshoot by about this much."""
RETRY_MARGIN: Final = 0.9

CONCAT_CRF: Final = 20
CONCAT_AUDIO_BITRATE: Final = "192k"
CONCAT_FALLBACK_FPS: Final = 24.0


def web_transcode(
    video: Path,
    dest: Path | None = None,
    *,
    crf: int = 23,
    max_bytes: int | None = None,
    max_width: int | None = None,
) -> Path:
    """Re-encode `video` for the web and return the new file.

    H.264 High 4:2:0 at constant quality `crf`, AAC audio when the clip has audio, and the MP4
    index at the front (`+faststart`) so playback starts at once. With `max_bytes` the bitrate is
    capped at what the clip's duration allows (a capped CRF: simple clips stay smaller); if the
    file still comes out too big, it is encoded once more at a bitrate lowered by the overshoot.

    Args:
        crf: x264 constant rate factor, 1-51 (lower is better; 18 is visually lossless, 23 the default).
        max_bytes: the largest file allowed, in bytes.
        max_width: scale down (never up) to at most this width, keeping the aspect ratio.
        dest: where to write; default `<stem>.web.mp4` beside the clip.

    Raises:
        PostprocessError: a bad option, a cap too small for the clip's duration, a result over the
            cap after the retry, or ffmpeg failed.

    Example:
        >>> web_transcode(Path("shot.mp4"), max_bytes=8_000_000, max_width=1280)
        PosixPath('shot.web.mp4')
    """
    if not 1 <= crf <= 51:  # 0 is lossless, which the High profile cannot carry
        raise PostprocessError("web", f"crf must be 1-51, got {crf}")
    check_positive("web", max_bytes=max_bytes, max_width=max_width)
    info = probe_video("web", video)
    width = f"min(iw,{max_width})" if max_width else "iw"
    scale = f"scale='trunc({width}/2)*2':-2"  # 4:2:0 needs even sides; -2 keeps the aspect ratio
    video_bps: int | None = None
    audio_bps = WEB_AUDIO_BPS
    if max_bytes is not None:
        video_bps, audio_bps = _rates_for_size(max_bytes, info.duration or 0.0, has_audio=info.has_audio)
    audio = ["-map", "0:a:0", "-c:a", "aac", "-b:a", str(audio_bps), "-ar", str(AUDIO_RATE)] if info.has_audio else ["-an"]
    dest = dest or default_dest(video, ".web.mp4")
    with atomic_output("web", dest) as tmp:
        for attempt in (1, 2):
            cap = [] if video_bps is None else ["-maxrate", str(video_bps), "-bufsize", str(int(video_bps * VBV_SECONDS))]
            ffmpeg("web", "-i", video, "-map", "0:v:0", "-vf", scale, *X264, "-crf", str(crf), *cap, *audio, *FASTSTART, tmp)
            size = tmp.stat().st_size
            if max_bytes is None or size <= max_bytes:
                break
            assert video_bps is not None
            if attempt == 2:
                raise PostprocessError(
                    "web", f"the result is {size:,} bytes, over max_bytes={max_bytes:,}, even at {video_bps / 1000:.0f} kb/s"
                )
            video_bps = int(video_bps * RETRY_MARGIN * max_bytes / size)
    return dest


def _rates_for_size(max_bytes: int, duration: float, *, has_audio: bool) -> tuple[int, int]:
    """Video and audio bitrates (bits/s) that fit `duration` seconds into `max_bytes`."""
    budget_bps = (max_bytes * (1 - CONTAINER_SHARE) - CONTAINER_BYTES) * 8 / duration
    # Under a tight cap the audio gives up to an eighth of the budget, down to MIN_AUDIO_BPS.
    audio_bps = int(min(WEB_AUDIO_BPS, max(MIN_AUDIO_BPS, budget_bps / 8))) if has_audio else 0
    # x264's rate buffer lets it spend up to VBV_SECONDS more of the cap, so budget for that too.
    video_bps = int((budget_bps - audio_bps) * duration / (duration + VBV_SECONDS))
    if video_bps < MIN_VIDEO_BPS:
        enough = _bytes_for(duration, MIN_VIDEO_BPS + audio_bps)
        raise PostprocessError(
            "web",
            f"max_bytes={max_bytes} leaves {max(video_bps, 0) / 1000:.0f} kb/s for {duration:.2f} s of video; "
            f"at least {MIN_VIDEO_BPS // 1000} kb/s is needed (allow about {enough:,} bytes or more)",
        )
    return video_bps, audio_bps


def _bytes_for(duration: float, bps: int) -> int:
    return int((duration * bps / 8 + CONTAINER_BYTES) / (1 - CONTAINER_SHARE))


def concat(videos: Sequence[Path], dest: Path, *, loudnorm_target: float | None = None) -> Path:
    """Join `videos` end to end into one H.264 + AAC file at `dest` and return it.

    Shots may differ: each is scaled to fit the first shot's size (letterboxed or pillarboxed, never
    stretched) and brought to its frame rate; a shot without audio gets silence, so the joined file
    has one continuous audio track. Each shot contributes exactly its own duration, so the result
    lasts the sum of the inputs.

    Args:
        videos: the shots, in order (at least one).
        dest: where to write (there is no default: several inputs have no one name to derive from).
        loudnorm_target: normalise the joined audio to this integrated loudness (LUFS) in two passes,
            as `loudnorm` does, with a -1 dBTP true-peak ceiling. Ignored when no shot has audio.

    Raises:
        PostprocessError: no inputs, an input is not a video, or ffmpeg failed.

    Example:
        >>> concat([Path("s1.mp4"), Path("s2.mp4"), Path("s3.mp4")], Path("story.mp4"), loudnorm_target=-16)
        PosixPath('story.mp4')
    """
    if not videos:
        raise PostprocessError("concat", "no videos to join")
    infos = [probe_video("concat", video) for video in videos]
    first = infos[0]
    assert first.width and first.height
    width, height = even(first.width), even(first.height)
    # 23.976 as 24000/1001, so that long storyboards do not drift from the shots' own timing
    fps = Fraction(first.fps or CONCAT_FALLBACK_FPS).limit_denominator(1001)
    inputs: list[str | Path] = []
    video_chains, audio_chains = [], []
    for i, (video, info) in enumerate(zip(videos, infos, strict=True)):
        inputs += ["-i", video]
        seconds = f"{info.duration:.6f}"
        video_chains.append(
            f"[{i}:v:0]scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps},format=yuv420p,"
            f"trim=duration={seconds},setpts=PTS-STARTPTS[v{i}]"
        )
        # Every shot's audio lasts exactly as long as the shot: padded with silence, or cut.
        source = (
            f"[{i}:a:0]aformat=sample_rates={AUDIO_RATE}:channel_layouts=stereo,apad,"
            if info.has_audio
            else (f"anullsrc=r={AUDIO_RATE}:cl=stereo,")
        )
        audio_chains.append(f"{source}atrim=duration={seconds},asetpts=PTS-STARTPTS[a{i}]")
    n = len(videos)
    audio_concat = "".join(f"[a{i}]" for i in range(n)) + f"concat=n={n}:v=0:a=1[a]"
    av_concat = "".join(f"[v{i}][a{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=1[v][a]"
    audio_out = "[a]"
    graph = ";".join([*video_chains, *audio_chains, av_concat])
    if loudnorm_target is not None and any(info.has_audio for info in infos):
        first_pass = ";".join([*audio_chains, audio_concat + ";[a]" + loudnorm_filter(loudnorm_target, TRUE_PEAK, LRA) + "[out]"])
        measured = measure_for_loudnorm("concat", [*inputs, "-filter_complex", first_pass, "-map", "[out]"])
        graph += ";[a]" + loudnorm_filter(loudnorm_target, TRUE_PEAK, LRA, measured) + "[an]"
        audio_out = "[an]"
    with atomic_output("concat", dest) as tmp:
        ffmpeg(
            "concat",
            *inputs,
            "-filter_complex",
            graph,
            "-map",
            "[v]",
            "-map",
            audio_out,
            *X264,
            "-crf",
            str(CONCAT_CRF),
            "-c:a",
            "aac",
            "-b:a",
            CONCAT_AUDIO_BITRATE,
            "-ar",
            str(AUDIO_RATE),
            *FASTSTART,
            tmp,
        )
    return dest
