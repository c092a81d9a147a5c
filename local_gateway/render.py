"""Render a task's plan to a real MP4 with the ffmpeg that imageio-ffmpeg ships (no ffprobe: PyAV probes).

The picture is cheap on purpose: the first-frame image (scaled to cover, centre-cropped) or a
seed-dependent test pattern, held still while a small box slides across, so x264 `ultrafast` spends
almost nothing on it. The box starts outside the frame, so frame 0 is exactly the source picture.
Everything a client can check is exact: size, frame count, 24 fps, H.264 yuv420p, mono 48 kHz AAC
when audio is on, duration, faststart.
"""

from __future__ import annotations

import math
import os
import subprocess
import threading
from pathlib import Path
from typing import Final

import imageio_ffmpeg
from pydantic import BaseModel, ConfigDict

from local_gateway.plan import OutputPlan
from seedance.catalog import FPS
from seedance.media import MediaError, probe

DURATION_TOLERANCE: Final = 0.1
"""How far the probed duration (audio included) may stray from the planned one, in seconds."""
RENDER_TIMEOUT: Final = 600.0
AUDIO_SAMPLE_RATE: Final = 48_000


class RenderError(Exception):
    """ffmpeg failed, or its output is not what the plan asked for."""


class RenderResult(BaseModel):
    """The files of one finished render."""

    model_config = ConfigDict(frozen=True)

    video: Path
    last_frame: Path | None = None


class Renderer:
    """Runs ffmpeg for plans; thread-safe, so a worker pool can share one instance."""

    def __init__(self, ffmpeg: str | None = None) -> None:
        self._ffmpeg = ffmpeg or imageio_ffmpeg.get_ffmpeg_exe()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def render(self, plan: OutputPlan, out_dir: Path) -> RenderResult:
        """Render `plan` into `out_dir/video.mp4` (and `last_frame.png` when asked), atomically.

        Raises:
            RenderError: ffmpeg failed or its output does not match the plan.
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        video, video_tmp = out_dir / "video.mp4", out_dir / "video.tmp.mp4"
        last, last_tmp = out_dir / "last_frame.png", out_dir / "last_frame.tmp.png"
        self._run(ffmpeg_command(self._ffmpeg, plan, video_tmp, last_tmp if plan.return_last_frame else None))
        _verify(plan, video_tmp, last_tmp if plan.return_last_frame else None)
        os.replace(video_tmp, video)
        if plan.return_last_frame:
            os.replace(last_tmp, last)
        return RenderResult(video=video, last_frame=last if plan.return_last_frame else None)

    def close(self) -> None:
        """Stop every ffmpeg still running; later renders fail at once."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for process in running:
            process.kill()

    def _run(self, command: list[str]) -> None:
        with self._lock:
            if self._closed:
                raise RenderError("the renderer is closed")
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self._running.add(process)
        try:
            _, stderr = process.communicate(timeout=RENDER_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise RenderError(f"ffmpeg took longer than {RENDER_TIMEOUT:g} s") from None
        finally:
            with self._lock:
                self._running.discard(process)
        if process.returncode != 0:
            tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise RenderError(f"ffmpeg exited with {process.returncode}: {' | '.join(tail)}")


def ffmpeg_command(ffmpeg: str, plan: OutputPlan, video: Path, last_frame: Path | None) -> list[str]:
    """The ffmpeg invocation that renders `plan` to `video` (and its final frame to `last_frame`)."""
    width, height, frames = plan.width, plan.height, plan.frames
    seed = plan.seed
    command = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if plan.first_frame is not None:
        command += ["-i", str(plan.first_frame)]
        picture = f"scale={width}:{height}:force_original_aspect_ratio=increase:out_range=tv,crop={width}:{height}"
    else:
        command += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={FPS}"]
        picture = f"hue=H={math.radians(seed * 137 % 360):.4f}"  # neighbouring seeds look far apart
    if plan.audio:
        frequency = 220 + seed % 660
        command += ["-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate={AUDIO_SAMPLE_RATE}"]
    box = max(height // 4, 2)
    color = f"0x{(seed * 2654435761) % 0xFFFFFF:06x}"
    # One still picture repeated (loop) costs x264 almost nothing; setpts restores a clean 24 fps
    # clock. The loop is finite so that every branch of the graph reaches its end (an endless one
    # leaves the last-frame branch waiting forever). A box crosses the picture so that frames
    # differ: `overlay` evaluates its position per frame (drawbox would evaluate it only once),
    # and it starts off-screen, so the opening frame is the first-frame image untouched.
    graph = (
        f"[0:v]trim=end_frame=1,{picture},setsar=1,format=yuv420p,"
        f"loop=loop={frames - 1}:size=1:start=0,setpts=N/({FPS}*TB)[still];"
        f"color=c={color}:s={box}x{box}:r={FPS}[box];"
        f"[still][box]overlay=x=-w+W*t/{plan.seconds:.4f}:y=(H-h)/2:shortest=1,format=yuv420p"
    )
    watermark = ",drawbox=x=iw-iw/8-iw/40:y=ih-ih/16-ih/40:w=iw/8:h=ih/16:color=white@0.7:t=fill" if plan.watermark else ""
    if last_frame is not None:
        # Ark's last frame carries no watermark, so it is taken before the watermark is drawn.
        graph += f",split=2[main][tail];[main]null{watermark}[video];[tail]select=eq(n\\,{frames - 1})[last]"
    else:
        graph += f"{watermark}[video]"
    command += ["-filter_complex", graph, "-map", "[video]"]
    if plan.audio:
        command += ["-map", "1:a", "-c:a", "aac", "-ac", "1", "-ar", str(AUDIO_SAMPLE_RATE), "-b:a", "64k"]
    command += [
        "-frames:v",
        str(frames),
        "-t",
        f"{plan.seconds:.6f}",
        "-r",
        str(FPS),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(video),
    ]
    if last_frame is not None:
        command += ["-map", "[last]", "-frames:v", "1", "-update", "1", "-f", "image2", "-c:v", "png", str(last_frame)]
    return command


def _verify(plan: OutputPlan, video: Path, last_frame: Path | None) -> None:
    try:
        info = probe(video)
        last = probe(last_frame) if last_frame is not None else None
    except (MediaError, OSError) as exc:
        raise RenderError(f"the rendered output cannot be probed: {exc}") from exc
    wrong = []
    if (info.width, info.height) != (plan.width, plan.height):
        wrong.append(f"size {info.width}x{info.height} instead of {plan.width}x{plan.height}")
    if info.duration is None or abs(info.duration - plan.seconds) > DURATION_TOLERANCE:
        wrong.append(f"duration {info.duration} s instead of {plan.seconds:g} s")
    if info.has_audio != plan.audio:
        wrong.append("an audio track" if info.has_audio else "no audio track")
    if last is not None and (last.width, last.height) != (plan.width, plan.height):
        wrong.append(f"a last frame of {last.width}x{last.height}")
    if wrong:
        raise RenderError("the rendered video has " + ", ".join(wrong))
