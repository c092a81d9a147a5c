"""Post-processing steps, run for real with the project's ffmpeg on tiny generated clips.

Two inputs are made once for the module: a 320x180 2 s clip with a quiet mono AAC tone (about
-37 LUFS, far from any target) and a 640x360 2 s clip without audio. Outputs are probed with PyAV
(Pillow for still and animated images).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image
from pydantic import BaseModel, ValidationError

from seedance.ffmpeg import run_ffmpeg
from seedance.media import probe
from seedance.postprocess import (
    STEP_OPTIONS,
    STEPS,
    PostprocessError,
    PostprocessStep,
    concat,
    contact_sheet,
    loudnorm,
    measure_loudness,
    poster,
    preview,
    probed_poster,
    web_transcode,
)
from seedance.postprocess import encode as encode_module
from seedance.postprocess import frames as frames_module

SECONDS = 2.0
QUIET_LUFS = -37.0
"""Roughly what the tone below measures: a 1/8 full-scale sine turned down 15 dB."""


def make_clip(dest: Path, size: str, *, audio: bool) -> Path:
    video = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24:duration={SECONDS:g}"]
    tone = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS:g},volume=-15dB"]
    sound = [*tone, "-c:a", "aac", "-ac", "1", "-b:a", "64k"] if audio else []
    run_ffmpeg(*video, *sound, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-shortest", dest)
    return dest


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return (
        make_clip(folder / "tone.mp4", "320x180", audio=True),
        make_clip(folder / "mute.mp4", "640x360", audio=False),
    )


@pytest.fixture
def clip(clips: tuple[Path, Path], tmp_path: Path) -> Path:
    """The clip with audio, in this test's own folder so default outputs land there."""
    return _copy(clips[0], tmp_path)


@pytest.fixture
def mute(clips: tuple[Path, Path], tmp_path: Path) -> Path:
    return _copy(clips[1], tmp_path)


def _copy(source: Path, folder: Path) -> Path:
    dest = folder / source.name
    dest.write_bytes(source.read_bytes())
    return dest


class Probed(BaseModel):
    width: int
    height: int
    duration: float
    video_codec: str
    profile: str | None
    pix_fmt: str | None
    audio_codec: str | None
    audio_duration: float | None


def probe_av(path: Path) -> Probed:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        assert container.duration is not None
        return Probed(
            width=video.codec_context.width,
            height=video.codec_context.height,
            duration=container.duration / av.time_base,
            video_codec=video.codec_context.name,
            profile=video.codec_context.profile,
            pix_fmt=video.codec_context.pix_fmt,
            audio_codec=audio.codec_context.name if audio else None,
            audio_duration=float(audio.duration * audio.time_base) if audio and audio.duration and audio.time_base else None,
        )


def top_level_boxes(path: Path) -> Iterator[bytes]:
    """The types of an MP4's top-level boxes, in file order."""
    with path.open("rb") as handle:
        while header := handle.read(8):
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            yield kind
            if size == 1:
                size = int.from_bytes(handle.read(8), "big") - 8
            elif size == 0:
                return
            handle.seek(size - 8, 1)


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if ".tmp" in path.name)


# ---------------------------------------------------------------- poster


def test_poster_is_a_jpeg_frame_beside_the_clip(clip: Path) -> None:
    out = poster(clip)
    assert out == clip.with_name("tone.poster.jpg")
    with Image.open(out) as image:
        assert (image.format, image.size) == ("JPEG", (320, 180))
    assert leftovers(clip.parent) == []


def test_poster_is_the_frame_ffmpeg_shows_at_that_moment(clip: Path, tmp_path: Path) -> None:
    def pixels(path: Path) -> list[int]:
        with Image.open(path) as image:
            return list(image.convert("L").tobytes())

    def difference(a: list[int], b: list[int]) -> float:
        return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)

    run_ffmpeg("-ss", "1.000", "-i", clip, "-frames:v", "1", "-q:v", "2", tmp_path / "ffmpeg-1s.jpg")
    run_ffmpeg("-ss", "0.500", "-i", clip, "-frames:v", "1", "-q:v", "2", tmp_path / "ffmpeg-0.5s.jpg")
    ours = pixels(poster(clip, tmp_path / "ours.jpg", at_seconds=1.0))
    assert difference(ours, pixels(tmp_path / "ffmpeg-1s.jpg")) < 2.0
    assert difference(ours, pixels(tmp_path / "ffmpeg-0.5s.jpg")) > 10.0


def test_a_probed_poster_does_not_probe_again_and_is_the_poster(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = poster(clip, tmp_path / "own.jpg").read_bytes()
    info = probe(clip)

    def probed_again(step: str, video: Path) -> None:
        raise AssertionError(f"{video} probed again")

    monkeypatch.setattr(frames_module, "probe_video", probed_again)
    assert probed_poster(clip, info, tmp_path / "given.jpg").read_bytes() == expected


def test_a_jpeg_poster_is_jfif_in_the_colours_of_a_bt709_clip(tmp_path: Path) -> None:
    """JPEG decoders read BT.601: a frame of a BT.709 video (as most HD video is) is converted, as
    Pillow's RGB path does; FFmpeg's own `-q:v 2` poster would come out a different red."""
    clip = tmp_path / "bt709.mp4"
    run_ffmpeg(
        *("-f", "lavfi", "-i", "color=c=0xE01020:s=322x182:d=2:r=24"),
        *("-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"),
        *("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-c:v", "libx264", clip),
    )
    with Image.open(poster(clip, tmp_path / "p.jpg")) as jpeg, Image.open(poster(clip, tmp_path / "p.png")) as png:
        assert (jpeg.format, png.format, jpeg.size) == ("JPEG", "PNG", (322, 182))
        assert jpeg.info["jfif"] and jpeg.info["jfif_density"] == (1, 1)  # square pixels
        ours, pillows = (image.convert("RGB").getpixel((161, 91)) for image in (jpeg, png))
        assert isinstance(ours, tuple) and isinstance(pillows, tuple)
        assert all(abs(a - b) <= 6 for a, b in zip(ours, pillows, strict=True)), (ours, pillows)


def test_poster_outside_the_clip_names_the_step_and_the_duration(clip: Path) -> None:
    with pytest.raises(PostprocessError, match=r"^poster: tone.mp4 lasts 2.00 s; there is no frame at 5 s") as caught:
        poster(clip, at_seconds=5)
    assert caught.value.step == "poster"


def test_a_failed_ffmpeg_run_keeps_the_old_output_and_carries_stderr(clip: Path) -> None:
    dest = clip.with_name("old.sheet.nosuchformat")
    dest.write_text("previous")
    with pytest.raises(PostprocessError) as caught:
        contact_sheet(clip, dest)
    assert caught.value.step == "contact-sheet"
    assert caught.value.stderr_tail and "output format" in caught.value.stderr_tail
    assert "ffmpeg said:" in str(caught.value)
    assert dest.read_text() == "previous"
    assert leftovers(clip.parent) == []


def test_an_input_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    with pytest.raises(PostprocessError, match="^web: notes.mp4 is not a recognised"):
        web_transcode(text)
    with pytest.raises(PostprocessError, match="no such file"):
        poster(tmp_path / "missing.mp4")


# ---------------------------------------------------------------- preview


def test_gif_preview_is_animated_and_scaled(clip: Path) -> None:
    out = preview(clip, width=160, fps=10)
    assert out.name == "tone.preview.gif"
    with Image.open(out) as image:
        assert (image.format, image.size) == ("GIF", (160, 90))
        assert getattr(image, "n_frames", 1) == 20  # 2 s at 10 fps
        assert image.info.get("loop") == 0


def test_webp_preview_is_animated_and_never_upscaled(clip: Path, tmp_path: Path) -> None:
    out = preview(clip, tmp_path / "sub" / "p.webp", fmt="webp", width=1000, seconds=1.0)
    with Image.open(out) as image:
        assert (image.format, image.size) == ("WEBP", (320, 180))
        assert getattr(image, "n_frames", 1) == 12


def test_webp_without_libwebp_says_so(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames_module, "encoders", lambda: frozenset({"gif", "libx264"}))
    with pytest.raises(PostprocessError, match=r"no animated WebP encoder \(libwebp_anim\); use fmt='gif'"):
        preview(clip, fmt="webp")


def test_preview_refuses_bad_options(clip: Path) -> None:
    with pytest.raises(PostprocessError, match="fmt must be 'gif' or 'webp', got 'avi'"):
        preview(clip, fmt="avi")  # type: ignore[arg-type]
    with pytest.raises(PostprocessError, match="fps must be greater than 0"):
        preview(clip, fps=0)


# ---------------------------------------------------------------- web


def test_web_transcode_is_h264_high_aac_faststart(clip: Path) -> None:
    out = web_transcode(clip)
    assert out.name == "tone.web.mp4"
    info = probe_av(out)
    assert (info.width, info.height, info.video_codec, info.profile, info.pix_fmt) == (320, 180, "h264", "High", "yuv420p")
    assert info.audio_codec == "aac"
    assert info.duration == pytest.approx(SECONDS, abs=0.1)
    boxes = list(top_level_boxes(out))
    assert boxes.index(b"moov") < boxes.index(b"mdat")


def test_web_transcode_scales_down_and_keeps_silence_silent(mute: Path) -> None:
    info = probe_av(web_transcode(mute, max_width=300))
    assert (info.width, info.height, info.audio_codec) == (300, 168, None)  # 168.75 → even


def test_web_transcode_stays_under_a_size_cap(clip: Path, tmp_path: Path) -> None:
    free = web_transcode(clip, tmp_path / "free.mp4", crf=18).stat().st_size
    cap = free // 2
    out = web_transcode(clip, tmp_path / "capped.mp4", crf=18, max_bytes=cap)
    assert out.stat().st_size <= cap
    assert probe_av(out).duration == pytest.approx(SECONDS, abs=0.1)


def test_web_transcode_retries_once_at_a_lower_bitrate(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    real = encode_module.ffmpeg

    def bloated_first_time(step: str, *args: Any, **kwargs: Any) -> str:
        calls.append(args)
        stderr = real(step, *args, **kwargs)
        if len(calls) == 1:  # as if x264 had overshot its rate cap
            with Path(args[-1]).open("ab") as handle:
                handle.write(b"\0" * 100_000)
        return stderr

    monkeypatch.setattr(encode_module, "ffmpeg", bloated_first_time)
    out = web_transcode(clip, max_bytes=60_000)
    assert out.stat().st_size <= 60_000
    rates = [int(call[call.index("-maxrate") + 1]) for call in calls]
    assert len(rates) == 2 and rates[1] < rates[0]


def test_web_transcode_refuses_a_cap_too_small_for_the_duration(clip: Path) -> None:
    with pytest.raises(PostprocessError, match=r"^web: max_bytes=12000 leaves .* kb/s for 2.00 s of video"):
        web_transcode(clip, max_bytes=12_000)
    assert not clip.with_name("tone.web.mp4").exists()


# ---------------------------------------------------------------- loudness


def test_loudnorm_reaches_the_target_and_copies_the_video(clip: Path) -> None:
    before = measure_loudness(clip)
    assert before == pytest.approx(QUIET_LUFS, abs=2)
    out = loudnorm(clip)
    assert out.name == "tone.loudnorm.mp4"
    assert measure_loudness(out) == pytest.approx(-23.0, abs=1.0)
    info = probe_av(out)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (320, 180, "h264", "aac")
    assert info.duration == pytest.approx(SECONDS, abs=0.1)
    boxes = list(top_level_boxes(out))
    assert boxes.index(b"moov") < boxes.index(b"mdat")


def test_loudnorm_to_a_web_target(clip: Path, tmp_path: Path) -> None:
    out = loudnorm(clip, tmp_path / "loud.mp4", target_lufs=-16.0, true_peak=-1.5)
    assert measure_loudness(out) == pytest.approx(-16.0, abs=1.0)


def test_loudness_of_a_clip_without_audio_is_a_clear_error(mute: Path) -> None:
    with pytest.raises(PostprocessError, match="^loudnorm: mute.mp4 has no audio stream to normalise"):
        loudnorm(mute)
    with pytest.raises(PostprocessError, match="^measure-loudness: mute.mp4 has no audio stream"):
        measure_loudness(mute)


# ---------------------------------------------------------------- concat


def test_concat_joins_shots_of_different_size_and_audio(clip: Path, mute: Path, tmp_path: Path) -> None:
    out = concat([clip, mute, clip], tmp_path / "story" / "joined.mp4")
    info = probe_av(out)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (320, 180, "h264", "aac")
    assert info.duration == pytest.approx(3 * SECONDS, abs=0.1)
    assert info.audio_duration == pytest.approx(3 * SECONDS, abs=0.1)


def test_concat_can_normalise_the_joined_audio(clip: Path, mute: Path, tmp_path: Path) -> None:
    out = concat([mute, clip], tmp_path / "joined.mp4", loudnorm_target=-16.0)
    info = probe_av(out)
    assert (info.width, info.height) == (640, 360)
    assert info.duration == pytest.approx(2 * SECONDS, abs=0.1)
    # half silence, half tone: the gated integrated loudness is the tone's
    assert measure_loudness(out) == pytest.approx(-16.0, abs=1.0)


def test_concat_of_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PostprocessError, match="^concat: no videos to join"):
        concat([], tmp_path / "x.mp4")


# ---------------------------------------------------------------- contact sheet


def test_contact_sheet_is_the_grid(clip: Path) -> None:
    out = contact_sheet(clip)
    assert out.name == "tone.sheet.jpg"
    with Image.open(out) as image:
        assert (image.format, image.size) == ("JPEG", (4 * 320, 3 * 180))


def test_contact_sheet_as_png_with_other_dimensions(mute: Path, tmp_path: Path) -> None:
    out = contact_sheet(mute, tmp_path / "sheet.png", columns=3, rows=2, width=600)
    with Image.open(out) as image:
        assert (image.format, image.size) == ("PNG", (3 * 200, 2 * 112))  # 200 * 9/16 = 112.5 → even


# ---------------------------------------------------------------- steps


@pytest.mark.parametrize(
    ("entry", "name", "options"),
    [
        ("poster", "poster", {}),
        ({"preview": {"fmt": "webp", "width": "320"}}, "preview", {"fmt": "webp", "width": 320}),
        ({"loudnorm": None}, "loudnorm", {}),
        ({"name": "web", "options": {"max_bytes": 8_000_000}}, "web", {"max_bytes": 8_000_000}),
        ({"contact-sheet": {"columns": 5}}, "contact-sheet", {"columns": 5}),
    ],
)
def test_a_step_entry_is_a_name_or_a_name_with_options(entry: object, name: str, options: dict[str, object]) -> None:
    step = PostprocessStep.model_validate(entry)
    assert (step.name, step.options) == (name, options)
    assert PostprocessStep.model_validate(step.model_dump()) == step


def test_a_step_dumps_to_the_spec_form() -> None:
    class Spec(BaseModel):
        postprocess: list[PostprocessStep]

    spec = Spec.model_validate({"postprocess": ["poster", {"preview": {"fmt": "webp"}}, "web", "loudnorm", "contact-sheet"]})
    assert spec.model_dump(mode="json") == {
        "postprocess": ["poster", {"preview": {"fmt": "webp"}}, "web", "loudnorm", "contact-sheet"]
    }
    assert [step.makes_video for step in spec.postprocess] == [False, False, True, True, False]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("thumbnail", "unknown postprocess step 'thumbnail'; allowed: poster, preview, web, loudnorm, contact-sheet"),
        ({"gif": {"fps": 5}}, "unknown postprocess step 'gif'; allowed: poster, preview, web, loudnorm, contact-sheet"),
        ({"poster": {}, "web": {}}, "a step name, or a mapping of one step name"),
        ({"preview": {"colour": "red"}}, "preview: unknown option 'colour' (allowed: fmt, width, fps, seconds)"),
        ({"preview": {"fmt": "avi"}}, "preview: fmt: Input should be 'gif' or 'webp'"),
        ({"loudnorm": {"target_lufs": 3}}, "loudnorm: target_lufs: Input should be less than or equal to -5"),
        ({"web": 23}, "the options of 'web' must be a mapping"),
    ],
)
def test_a_bad_step_entry_says_what_is_allowed(entry: object, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PostprocessStep.model_validate(entry)
    assert message in str(caught.value)


def test_step_options_are_the_functions_keyword_arguments() -> None:
    assert list(STEPS) == ["poster", "preview", "web", "loudnorm", "contact-sheet"]
    for name, func in STEPS.items():
        parameters = [p for p in inspect.signature(func).parameters if p not in ("video", "dest")]
        assert list(STEP_OPTIONS[name].model_fields) == parameters, name


def test_a_step_runs_its_function_with_its_options(clip: Path) -> None:
    out = PostprocessStep.model_validate({"contact-sheet": {"columns": 2, "rows": 1, "width": 320}}).run(clip)
    with Image.open(out) as image:
        assert image.size == (320, 90)
