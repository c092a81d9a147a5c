"""Identify and measure media files, and check them against Ark's reference limits (ark-api.md §3.4).

Three layers, each usable alone:

* `sniff(head)` names the media type from the first bytes (magic numbers), never from a file
  name or a Content-Type header, which third-party hosts get wrong.
* `probe(path)` measures a file: Pillow reads image headers, PyAV reads containers. Both read
  only what they need, so a probe takes milliseconds.
* `reference_problems(references, spec)` applies the documented limits to probed files and
  returns `validation.Problem`s, so the local gateway and the pipeline's pre-flight refuse the
  very same inputs.

No HTTP and no Prefect here.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict

from seedance.ark.types import AudioContent, ImageContent, MediaContent, VideoContent
from seedance.catalog import Family, ModelSpec
from seedance.errors import Problem

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

MediaKind = Literal["image", "video", "audio"]

SNIFF_BYTES: Final = 64
"""How many leading bytes `sniff` needs to decide."""

MB: Final = 1024 * 1024

IMAGE_FORMATS: Final = ("jpeg", "png", "webp", "bmp", "tiff", "gif")
HEIF_FORMATS: Final = ("heic", "heif")
"""Accepted from Seedance 1.5-pro up only."""
IMAGE_SIDE_PX: Final = (300, 6000)
"""Exclusive bounds on each side of an image, as the docs write them: (300, 6000)."""
ASPECT_RATIO: Final = (0.4, 2.5)
"""Inclusive bounds on width / height, for images and reference videos."""
IMAGE_MAX_BYTES: Final = 30 * MB
"""Images must be smaller than this."""

VIDEO_FORMATS: Final = ("mp4", "mov")
VIDEO_CODECS: Final = ("h264", "hevc")
VIDEO_FPS: Final = (24.0, 60.0)
VIDEO_PIXELS: Final = (409_600, 8_295_044)
"""Width × height of a reference video: 640×640 up to 3326×2494 (latest docs, S10)."""
VIDEO_SIDE_PX: Final = (300, 6000)
"""Inclusive bounds on each side of a reference video."""
VIDEO_MAX_BYTES: Final = 200 * MB

AUDIO_FORMATS: Final = ("wav", "mp3")
AUDIO_MAX_BYTES: Final = 15 * MB

REFERENCE_SECONDS: Final = (2.0, 15.0)
"""Each reference video or audio clip, when the model is unknown (an endpoint id): the 2.0 limits.
A known model's own limits come from the catalog (`reference_seconds`)."""
TOTAL_SECONDS: Final = 15.0
"""All reference videos together, and all reference audio clips together, when the model is unknown;
a known model's limit is `reference_total_seconds` in the catalog."""

DURATION_TOLERANCE: Final = 0.05
"""Containers round durations (AAC priming, edit lists), so a 15 s clip may probe as 15.02 s."""

MAX_BYTES: Final[dict[MediaKind, int]] = {
    "image": IMAGE_MAX_BYTES,
    "video": VIDEO_MAX_BYTES,
    "audio": AUDIO_MAX_BYTES,
}
"""The largest file of each kind worth reading: anything bigger is refused anyway."""

_HEIC_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_BRANDS: Final = frozenset({b"mif1", b"msf1", b"heif"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})
_MOV_ATOMS: Final = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_RIFF_FORMATS: Final[dict[bytes, tuple[MediaKind, str]]] = {
    b"WEBP": ("image", "webp"),
    b"WAVE": ("audio", "wav"),
    b"AVI ": ("video", "avi"),
}


class MediaError(Exception):
    """A file is not media we can recognise or decode. The message reads after the file's name."""


class MediaInfo(BaseModel):
    """What a media file really is, measured from its bytes."""

    model_config = ConfigDict(frozen=True)

    kind: MediaKind
    format: str
    """Short lowercase name: jpeg, png, webp, bmp, tiff, gif, heic, heif, mp4, mov, wav, mp3, …"""
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    """Seconds, over all streams (the container's duration)."""
    fps: float | None = None
    video_codec: str | None = None
    """FFmpeg's codec name, as ffprobe reports it: `h264`, `hevc`, …"""
    audio_codec: str | None = None
    """Likewise: `aac`, `mp3`, `pcm_s16le`, …"""
    audio_channels: int | None = None
    has_audio: bool = False
    size_bytes: int

    def describe(self) -> str:
        """A short human description, e.g. `mp4 video 864x496, 3.00 s, 24 fps, with audio`."""
        parts = [f"{self.format} {self.kind}"]
        if self.width is not None:
            parts[0] += f" {self.width}x{self.height}"
        if self.duration is not None:
            parts.append(f"{self.duration:.2f} s")
        if self.fps is not None:
            parts.append(f"{self.fps:g} fps")
        if self.kind == "video":
            parts.append("with audio" if self.has_audio else "without audio")
        return ", ".join(parts)


class ReferenceMedia(BaseModel):
    """One probed reference file, with the request field it came from and the kind that field claims."""

    model_config = ConfigDict(frozen=True)

    field: str
    """Where it sits in the request, e.g. `content[1].image_url.url`."""
    expected: MediaKind
    info: MediaInfo

    @classmethod
    def of(cls, index: int, item: MediaContent, info: MediaInfo) -> ReferenceMedia:
        """The reference for `content[index]` of a request."""
        expected: MediaKind
        if isinstance(item, ImageContent):
            expected = "image"
        elif isinstance(item, VideoContent):
            expected = "video"
        else:
            assert isinstance(item, AudioContent)
            expected = "audio"
        return cls(field=f"content[{index}].{item.type}.url", expected=expected, info=info)


def sniff(head: bytes) -> tuple[MediaKind, str] | None:
    """The kind and format that a file's first bytes announce, or None when they announce no media.

    Pass at least `SNIFF_BYTES` bytes when the file has them. Formats Ark refuses (avi, webm, ogg,
    flac, avif, m4a …) are still named, so that a refusal can say what was found.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[:2] == b"BM" and len(head) >= 14 and head[6:10] == b"\0\0\0\0":
        return "image", "bmp"
    if head[:4] in (b"II*\0", b"MM\0*"):
        return "image", "tiff"
    if head[:4] == b"RIFF":
        return _RIFF_FORMATS.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[4:8] in _MOV_ATOMS:
        return "video", "mov"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "video", "webm" if b"webm" in head else "mkv"
    if head.startswith(b"ID3") or _is_mpeg_layer3_frame(head):
        return "audio", "mp3"
    if head.startswith(b"OggS"):
        return "audio", "ogg"
    if head.startswith(b"fLaC"):
        return "audio", "flac"
    return None


def _sniff_ftyp(head: bytes) -> tuple[MediaKind, str]:
    box_size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if brands & _AVIF_BRANDS:
        return "image", "avif"
    if major in _HEIC_BRANDS:
        return "image", "heic"
    if major in _HEIF_BRANDS:
        return "image", "heic" if brands & _HEIC_BRANDS else "heif"
    if major == b"qt  ":
        return "video", "mov"
    if major in (b"M4A ", b"M4B "):
        return "audio", "m4a"
    if major.startswith(b"3g"):
        return "video", "3gp"
    return "video", "mp4"


def _is_mpeg_layer3_frame(head: bytes) -> bool:
    # An MPEG audio frame header: 11 sync bits, a version that is not "reserved", layer bits 01 (III).
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    return version != 0b01 and layer == 0b01


def _describe_unknown(head: bytes) -> str:
    stripped = head.lstrip()
    if head.startswith(b"%PDF"):
        return "the bytes are a PDF document"
    if stripped[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "the bytes are an HTML page"
    if head.startswith(b"PK\x03\x04"):
        return "the bytes are a ZIP archive"
    if stripped[:1] in (b"{", b"["):
        return "the bytes look like JSON"
    if not head:
        return "the file is empty"
    return "the bytes match no known media signature"


def probe(path: Path) -> MediaInfo:
    """Measure a media file: kind and format from its bytes, then size, duration, rate and codecs.

    Raises:
        MediaError: the bytes are not a known media type, or the file cannot be decoded as the
            type its bytes announce.

    Example:
        >>> info = probe(Path("out.mp4"))
        >>> (info.width, info.height, info.duration, info.has_audio)
        (1280, 720, 5.0, True)
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    found = sniff(head)
    if found is None:
        raise MediaError(f"is not a recognised image, video or audio file ({_describe_unknown(head)})")
    kind, fmt = found
    if kind == "image":
        return _probe_image(path, fmt, size)
    return _probe_container(path, fmt, size)


def _probe_image(path: Path, fmt: str, size: int) -> MediaInfo:
    if fmt in HEIF_FORMATS:
        width, height = _heif_size(path)
    else:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise MediaError(f"starts like a {fmt} image but cannot be decoded ({exc})") from exc
    return MediaInfo(kind="image", format=fmt, width=width, height=height, size_bytes=size)


def _heif_size(path: Path) -> tuple[int, int]:
    # Pillow cannot read HEIF without a plugin; the image size sits in `ispe` property boxes
    # (ISO/IEC 23008-12), one per coded image. The largest is the primary image, not a thumbnail.
    data = path.read_bytes()[: 4 * MB]
    sizes = []
    at = data.find(b"ispe")
    while at != -1 and at + 16 <= len(data):
        sizes.append(struct.unpack(">II", data[at + 8 : at + 16]))
        at = data.find(b"ispe", at + 4)
    if not sizes:
        raise MediaError("starts like a HEIF image but declares no image size")
    return max(sizes, key=lambda wh: wh[0] * wh[1])


def _moving_pictures(container: InputContainer) -> list[VideoStream]:
    """The container's video streams, without a cover picture (an attached still, not video)."""
    from av.stream import Disposition

    return [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]


def _probe_container(path: Path, fmt: str, size: int) -> MediaInfo:
    import av  # here: PyAV takes 60-90 ms to import, and most commands probe no container
    import av.error

    try:
        with av.open(str(path)) as container:
            videos = _moving_pictures(container)
            audios = list(container.streams.audio)
            if container.duration is not None:
                duration: float | None = container.duration / av.time_base
            else:
                ends = [float(s.duration * s.time_base) for s in (*videos, *audios) if s.duration and s.time_base]
                duration = max(ends) if ends else None
            video = videos[0] if videos else None
            audio = audios[0] if audios else None
            if video is None and audio is None:
                raise MediaError(f"is a {fmt} file without video or audio streams")
            rate = video and (video.average_rate or video.guessed_rate)
            return MediaInfo(
                kind="video" if video is not None else "audio",
                format=fmt,
                width=video.codec_context.width if video else None,
                height=video.codec_context.height if video else None,
                duration=duration,
                fps=float(rate) if rate else None,
                video_codec=video.codec_context.codec.canonical_name if video else None,
                audio_codec=audio.codec_context.codec.canonical_name if audio else None,
                audio_channels=audio.codec_context.channels if audio else None,
                has_audio=audio is not None,
                size_bytes=size,
            )
    except av.error.FFmpegError as exc:
        raise MediaError(f"starts like a {fmt} file but cannot be decoded ({exc})") from exc


JPEG_QSCALE: Final = 2
"""The quantiser a JPEG frame is written with, as `ffmpeg -q:v 2`: for the bench's 480p frames as close to
the decoded picture as Pillow's quality 95 (PSNR 32.1 against 31.9 dB), in 34.1 KB against 41.0 KB."""


def save_frame(video: Path, dest: Path, at_seconds: float) -> None:
    """Write the frame of `video` shown at `at_seconds` (the first at or after it) to `dest`, an
    image whose format follows its suffix.

    Decoded in this process with PyAV (FFmpeg's libraries), one thread, where starting the ffmpeg
    program alone costs 15-20 ms and the whole run 40-50 ms. A JPEG is encoded from the decoded
    picture by FFmpeg's own encoder (`_jpeg`): for a 480p frame 3.3 ms of CPU, against 6.8 ms for
    converting it to RGB and saving it with Pillow; other formats go through Pillow.

    Raises:
        MediaError: `video` has no video stream, or no frame could be decoded at that time.
    """
    import av  # here: see _probe_container
    import av.error

    try:
        with av.open(str(video)) as container:
            streams = _moving_pictures(container)
            if not streams:
                raise MediaError("has no video stream")
            stream = streams[0]
            stream.thread_type = "NONE"
            if stream.time_base is not None:
                container.seek(int(at_seconds / stream.time_base), stream=stream, backward=True, any_frame=False)
            frame = next((f for f in container.decode(stream) if f.time is not None and f.time >= at_seconds - 1e-3), None)
            if frame is None:
                raise MediaError(f"has no frame at {at_seconds:g} s")
            if dest.suffix.lower() in (".jpg", ".jpeg"):
                dest.write_bytes(_jpeg(frame))
            else:
                frame.to_image().save(dest)
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot be decoded at {at_seconds:g} s ({exc})") from exc


def _jpeg(frame: VideoFrame) -> bytes:
    """`frame` as a baseline JFIF JPEG: 4:2:0, full range, BT.601 (what JPEG decoders assume, where a
    video may carry BT.709), square pixels, one thread (slices would add restart markers and 12% to
    the size), `JPEG_QSCALE`."""
    import av

    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    encoder.sample_aspect_ratio = Fraction(1, 1)
    encoder.thread_count = 1
    encoder.options = {"qmin": str(JPEG_QSCALE), "qmax": str(JPEG_QSCALE)}
    picture = frame.reformat(format="yuvj420p", dst_colorspace="ITU601")
    packets = encoder.encode(picture) + encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)


def reference_problems(references: Sequence[ReferenceMedia], spec: ModelSpec | None) -> list[Problem]:
    """Every way the probed references break Ark's input limits (ark-api.md §3.4).

    `spec` decides whether HEIC/HEIF images are accepted (1.5-pro and later); None (an endpoint id
    whose model is unknown) accepts them and leaves the decision to the server. Counts of items per
    role are `validation.check_request`'s business, not repeated here.
    """
    problems: list[Problem] = []
    image_formats = IMAGE_FORMATS + (HEIF_FORMATS if spec is None or spec.family is not Family.V1_0 else ())
    seconds = spec.reference_seconds if spec is not None else REFERENCE_SECONDS
    total_limit = spec.reference_total_seconds if spec is not None else TOTAL_SECONDS
    for ref in references:
        info = ref.info
        if info.kind != ref.expected:
            problems.append(Problem(field=ref.field, message=f"is {_a(info.describe())}, not {_a(ref.expected)}"))
        elif info.kind == "image":
            problems.extend(_image_problems(ref, image_formats))
        elif info.kind == "video":
            problems.extend(_video_problems(ref, seconds))
        else:
            problems.extend(_audio_problems(ref, seconds))
    for kind, low in (("video", "reference videos"), ("audio", "reference audio clips")):
        timed = [r for r in references if r.expected == kind and r.info.kind == kind and r.info.duration]
        total = sum(r.info.duration or 0.0 for r in timed)
        if total > total_limit + DURATION_TOLERANCE:
            problems.append(
                Problem(
                    field=timed[0].field,
                    message=f"the {low} last {total:.2f} s together; allowed: at most {total_limit:g} s in total",
                )
            )
    return problems


def _image_problems(ref: ReferenceMedia, formats: tuple[str, ...]) -> list[Problem]:
    info, field = ref.info, ref.field
    problems = []
    if info.format not in formats:
        problems.append(Problem(field=field, message=f"is a {info.format} image; allowed formats: {', '.join(formats)}"))
    width, height = info.width or 0, info.height or 0
    low, high = IMAGE_SIDE_PX
    if not (low < width < high and low < height < high):
        problems.append(
            Problem(
                field=field, message=f"image is {width}x{height} px; allowed: each side more than {low} and less than {high} px"
            )
        )
    problems.extend(_aspect_problems(field, "image", width, height))
    if info.size_bytes >= IMAGE_MAX_BYTES:
        problems.append(
            Problem(field=field, message=f"image is {info.size_bytes / MB:.1f} MB; allowed: less than {IMAGE_MAX_BYTES // MB} MB")
        )
    return problems


def _video_problems(ref: ReferenceMedia, seconds: tuple[float, float]) -> list[Problem]:
    info, field = ref.info, ref.field
    problems = []
    if info.format not in VIDEO_FORMATS:
        problems.append(Problem(field=field, message=f"is a {info.format} video; allowed formats: {', '.join(VIDEO_FORMATS)}"))
    if info.video_codec not in VIDEO_CODECS:
        problems.append(Problem(field=field, message=f"video codec is {info.video_codec}; allowed: H.264 (h264), H.265 (hevc)"))
    problems.extend(_seconds_problems(field, "video", info.duration, seconds))
    fps_low, fps_high = VIDEO_FPS
    if info.fps is None or not fps_low <= info.fps <= fps_high:
        problems.append(
            Problem(field=field, message=f"video runs at {info.fps or 0:g} fps; allowed: {fps_low:g}-{fps_high:g} fps")
        )
    width, height = info.width or 0, info.height or 0
    px_low, px_high = VIDEO_PIXELS
    if not px_low <= width * height <= px_high:
        problems.append(
            Problem(
                field=field,
                message=f"video is {width}x{height} = {width * height} pixels; allowed: {px_low}-{px_high} pixels (640x640 to 3326x2494)",
            )
        )
    side_low, side_high = VIDEO_SIDE_PX
    if not (side_low <= width <= side_high and side_low <= height <= side_high):
        problems.append(
            Problem(field=field, message=f"video is {width}x{height} px; allowed: each side {side_low}-{side_high} px")
        )
    problems.extend(_aspect_problems(field, "video", width, height))
    if info.size_bytes > VIDEO_MAX_BYTES:
        problems.append(
            Problem(field=field, message=f"video is {info.size_bytes / MB:.1f} MB; allowed: at most {VIDEO_MAX_BYTES // MB} MB")
        )
    return problems


def _audio_problems(ref: ReferenceMedia, seconds: tuple[float, float]) -> list[Problem]:
    info, field = ref.info, ref.field
    problems = []
    if info.format not in AUDIO_FORMATS:
        problems.append(Problem(field=field, message=f"is {info.format} audio; allowed formats: {', '.join(AUDIO_FORMATS)}"))
    problems.extend(_seconds_problems(field, "audio clip", info.duration, seconds))
    if info.size_bytes > AUDIO_MAX_BYTES:
        problems.append(
            Problem(field=field, message=f"audio is {info.size_bytes / MB:.1f} MB; allowed: at most {AUDIO_MAX_BYTES // MB} MB")
        )
    return problems


def _seconds_problems(field: str, what: str, duration: float | None, bounds: tuple[float, float]) -> list[Problem]:
    low, high = bounds
    if duration is None:
        return [Problem(field=field, message=f"{what} has no measurable duration; allowed: {low:g}-{high:g} s")]
    if not low - DURATION_TOLERANCE <= duration <= high + DURATION_TOLERANCE:
        return [Problem(field=field, message=f"{what} lasts {duration:.2f} s; allowed: {low:g}-{high:g} s")]
    return []


def _aspect_problems(field: str, what: str, width: int, height: int) -> list[Problem]:
    low, high = ASPECT_RATIO
    if height and low <= width / height <= high:
        return []
    ratio = width / height if height else 0.0
    return [Problem(field=field, message=f"{what} width/height is {ratio:.2f} ({width}x{height}); allowed: {low:g}-{high:g}")]


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def image_data_url(path: Path) -> str:
    """`data:image/<format>;base64,…` for an image file (Ark accepts inline images; never videos).

    Raises:
        MediaError: the file is not an image.
    """
    with path.open("rb") as handle:
        found = sniff(handle.read(SNIFF_BYTES))
    if found is None or found[0] != "image":
        raise MediaError(f"{path.name} is not an image; only images may be inlined")
    return f"data:image/{found[1]};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
