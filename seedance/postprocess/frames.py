"""Still and animated pictures of a video: a poster frame, a GIF/WebP preview, a contact sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from seedance.ffmpeg import encoders, ffmpeg_exe
from seedance.media import MediaError, MediaInfo, save_frame
from seedance.postprocess._common import (
    PostprocessError,
    atomic_output,
    check_positive,
    default_dest,
    even,
    ffmpeg,
    probe_video,
)

POSTER_AT: Final = 1.0
"""Seconds into the clip for the default poster frame (the first frames are often a fade-in)."""
WEBP_QUALITY: Final = 75

PreviewFormat = Literal["gif", "webp"]


def poster(video: Path, dest: Path | None = None, at_seconds: float | None = None) -> Path:
    """Write one frame of `video` as a JPEG (or PNG, by `dest`'s suffix) and return its path.

    Args:
        video: the clip.
        dest: where to write; default `<stem>.poster.jpg` beside the clip.
        at_seconds: which moment; default 1 s in, or the middle of clips shorter than 2 s.

    Raises:
        PostprocessError: `at_seconds` lies outside the clip, or no frame could be decoded there.

    Example:
        >>> poster(Path("shot.mp4"))
        PosixPath('shot.poster.jpg')
    """
    return probed_poster(video, probe_video("poster", video), dest, at_seconds)


def probed_poster(video: Path, info: MediaInfo, dest: Path | None = None, at_seconds: float | None = None) -> Path:
    """`poster` for a video the caller has just probed (`info`), as a verified download is: probing
    it again would cost 3 ms of CPU for a 480p clip, for every generation of a batch."""
    duration = info.duration or 0.0
    at = min(POSTER_AT, duration / 2) if at_seconds is None else at_seconds
    if not 0 <= at < duration:
        raise PostprocessError("poster", f"{video.name} lasts {duration:.2f} s; there is no frame at {at:g} s")
    dest = dest or default_dest(video, ".poster.jpg")
    try:
        with atomic_output("poster", dest) as tmp:
            save_frame(video, tmp, at)
    except MediaError as exc:
        raise PostprocessError("poster", f"{video.name} {exc}") from exc
    return dest


def preview(
    video: Path,
    dest: Path | None = None,
    *,
    fmt: PreviewFormat = "gif",
    width: int = 480,
    fps: float = 12,
    seconds: float = 3.0,
) -> Path:
    """Write a looping animated preview of the first `seconds` of `video` and return its path.

    GIF gets a palette computed from the clip itself (palettegen/paletteuse), which keeps
    gradients from banding; WebP is lossy animated WebP (libwebp), usually a third of the GIF.
    Clips narrower than `width` keep their own width (a preview is never upscaled).

    Args:
        fmt: `gif` or `webp`.
        width: the preview's width in pixels; the height follows the aspect ratio.
        fps: frames per second of the preview.
        seconds: how much of the clip to show, from the start (all of a shorter clip).
        dest: where to write; default `<stem>.preview.gif` / `.preview.webp` beside the clip.

    Raises:
        PostprocessError: a bad option, a WebP request on an ffmpeg without libwebp, or ffmpeg failed.
    """
    if fmt not in ("gif", "webp"):
        raise PostprocessError("preview", f"fmt must be 'gif' or 'webp', got {fmt!r}")
    check_positive("preview", width=width, fps=fps, seconds=seconds)
    probe_video("preview", video)
    if fmt == "webp" and "libwebp_anim" not in encoders():
        raise PostprocessError(
            "preview",
            f"this ffmpeg build ({ffmpeg_exe()}) has no animated WebP encoder (libwebp_anim); use fmt='gif'",
        )
    scale = f"fps={fps:g},scale='min({width},iw)':-2:flags=lanczos"
    dest = dest or default_dest(video, f".preview.{fmt}")
    if fmt == "gif":
        encode = ["-filter_complex", f"[0:v:0]{scale},split[a][b];[a]palettegen[p];[b][p]paletteuse"]
    else:
        encode = ["-map", "0:v:0", "-vf", scale, "-c:v", "libwebp_anim", "-quality", str(WEBP_QUALITY)]
    with atomic_output("preview", dest) as tmp:
        ffmpeg("preview", "-t", f"{seconds:.3f}", "-i", video, *encode, "-an", "-loop", "0", tmp)
    return dest


def contact_sheet(video: Path, dest: Path | None = None, *, columns: int = 4, rows: int = 3, width: int = 1280) -> Path:
    """Write `columns` × `rows` evenly spaced frames of `video` as one grid image and return its path.

    Frame k of n is taken from the middle of the k-th n-th of the clip, so neither the first
    (often black) nor the last frame is used. Each cell is `width // columns` pixels wide and as
    tall as the clip's aspect ratio says; the sheet is the cells side by side, without margins.

    Args:
        dest: where to write, JPEG or PNG by suffix; default `<stem>.sheet.jpg` beside the clip.

    Raises:
        PostprocessError: a bad option or ffmpeg failed.

    Example:
        >>> contact_sheet(Path("shot.mp4"))  # a 1280x720 clip → a 1280x540 sheet of 320x180 cells
        PosixPath('shot.sheet.jpg')
    """
    check_positive("contact-sheet", columns=columns, rows=rows, width=width)
    if width // columns < 2:
        raise PostprocessError("contact-sheet", f"width {width} is too small for {columns} columns")
    info = probe_video("contact-sheet", video)
    assert info.width and info.height and info.duration  # probe_video checked
    cell_width = even(width // columns)
    cell_height = even(round(cell_width * info.height / info.width))
    cells = columns * rows
    frames = max(1, int(info.duration * (info.fps or 24.0)))
    # Frame numbers rather than timestamps: `select` then needs one decode pass and no seeking.
    picks = sorted({int((k + 0.5) * frames / cells) for k in range(cells)})
    chosen = "+".join(f"eq(n,{n})" for n in picks)
    graph = f"select='{chosen}',scale={cell_width}:{cell_height}:flags=lanczos,setsar=1,tile={columns}x{rows}"
    dest = dest or default_dest(video, ".sheet.jpg")
    with atomic_output("contact-sheet", dest) as tmp:
        ffmpeg("contact-sheet", "-i", video, "-map", "0:v:0", "-vf", graph, "-frames:v", "1", "-update", "1", "-q:v", "2", tmp)
    return dest
