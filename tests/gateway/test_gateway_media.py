"""seedance.media: sniffing by magic numbers, probing real files, and Ark's reference limits."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from seedance.catalog import find_model
from seedance.media import MB, MediaError, MediaInfo, ReferenceMedia, probe, reference_problems, sniff

V2 = find_model("doubao-seedance-2-0-260128")
V1 = find_model("doubao-seedance-1-0-lite-i2v-250428")


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\0\x10JFIF", ("image", "jpeg")),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", ("image", "png")),
        (b"GIF89a\x01\0", ("image", "gif")),
        (b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0", ("image", "bmp")),
        (b"II*\0\x08\0\0\0", ("image", "tiff")),
        (b"MM\0*\0\0\0\x08", ("image", "tiff")),
        (b"RIFF\0\0\0\0WEBPVP8 ", ("image", "webp")),
        (b"RIFF\0\0\0\0WAVEfmt ", ("audio", "wav")),
        (b"RIFF\0\0\0\0AVI LIST", ("video", "avi")),
        (ftyp(b"isom", b"isom", b"avc1"), ("video", "mp4")),
        (ftyp(b"qt  ", b"qt  "), ("video", "mov")),
        (b"\0\0\0\x08wide\0\0\0\0mdat", ("video", "mov")),
        (ftyp(b"M4A ", b"isom"), ("audio", "m4a")),
        (ftyp(b"heic", b"mif1", b"heic"), ("image", "heic")),
        (ftyp(b"mif1", b"heic"), ("image", "heic")),
        (ftyp(b"mif1", b"miaf"), ("image", "heif")),
        (ftyp(b"avif", b"mif1"), ("image", "avif")),
        (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01webm", ("video", "webm")),
        (b"ID3\x04\0\0\0\0\0\0", ("audio", "mp3")),
        (b"\xff\xfb\x90\x64", ("audio", "mp3")),
        (b"OggS\0\x02", ("audio", "ogg")),
        (b"fLaC\0\0\0\x22", ("audio", "flac")),
        (b"\xff\xf1\x50\x80", None),  # ADTS AAC: frame sync, but not layer III
        (b"%PDF-1.7\n", None),
        (b"<!DOCTYPE html><html>", None),
        (b"", None),
    ],
)
def test_sniff_reads_magic_numbers(head: bytes, expected: tuple[str, str] | None) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("frame_640x360.jpg", {"kind": "image", "format": "jpeg", "width": 640, "height": 360, "duration": None}),
        ("square_720x720.png", {"kind": "image", "format": "png", "width": 720, "height": 720}),
        (
            "reference_864x496.mp4",
            {
                "kind": "video",
                "format": "mp4",
                "width": 864,
                "height": 496,
                "fps": 24.0,
                "video_codec": "h264",
                "audio_codec": "aac",
                "audio_channels": 1,
                "has_audio": True,
            },
        ),
        ("music_3s.mp3", {"kind": "audio", "format": "mp3", "audio_codec": "mp3", "width": None, "has_audio": True}),
        ("voice_3s.wav", {"kind": "audio", "format": "wav", "audio_codec": "pcm_s16le", "audio_channels": 1}),
    ],
)
def test_probe_measures_real_files(media_dir: Path, name: str, expected: dict[str, Any]) -> None:
    info = probe(media_dir / name)

    assert {key: getattr(info, key) for key in expected} == expected
    assert info.size_bytes == (media_dir / name).stat().st_size
    if info.kind != "image":
        assert info.duration == pytest.approx(3.0, abs=0.06)


def test_probe_names_what_it_found_instead_of_media(media_dir: Path) -> None:
    with pytest.raises(MediaError, match="PDF document"):
        probe(media_dir / "document.png")


def test_probe_refuses_a_truncated_image(tmp_path: Path, media_dir: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes((media_dir / "square_720x720.png").read_bytes()[:12])

    with pytest.raises(MediaError, match="cannot be decoded"):
        probe(broken)


def test_probe_reads_heif_sizes_from_the_ispe_boxes(tmp_path: Path) -> None:
    def ispe(width: int, height: int) -> bytes:
        return struct.pack(">I", 20) + b"ispe" + b"\0\0\0\0" + struct.pack(">II", width, height)

    path = tmp_path / "photo.heic"
    path.write_bytes(ftyp(b"heic", b"mif1", b"heic") + b"\0\0\0\x40meta" + ispe(320, 240) + ispe(4032, 3024))

    info = probe(path)

    assert (info.kind, info.format, info.width, info.height) == ("image", "heic", 4032, 3024)


def image(width: int = 1280, height: int = 720, fmt: str = "jpeg", size: int = 1000) -> MediaInfo:
    return MediaInfo(kind="image", format=fmt, width=width, height=height, size_bytes=size)


def video(
    seconds: float = 5.0,
    fps: float = 24.0,
    width: int = 864,
    height: int = 496,
    fmt: str = "mp4",
    codec: str = "h264",
    size: int = 1000,
) -> MediaInfo:
    return MediaInfo(
        kind="video", format=fmt, width=width, height=height, duration=seconds, fps=fps, video_codec=codec, size_bytes=size
    )


def audio(seconds: float = 5.0, fmt: str = "mp3", size: int = 1000) -> MediaInfo:
    return MediaInfo(
        kind="audio", format=fmt, duration=seconds, audio_codec=fmt, audio_channels=1, has_audio=True, size_bytes=size
    )


def refs(*infos: MediaInfo) -> list[ReferenceMedia]:
    kinds = {"image": "image_url", "video": "video_url", "audio": "audio_url"}
    return [
        ReferenceMedia(field=f"content[{i}].{kinds[info.kind]}.url", expected=info.kind, info=info)
        for i, info in enumerate(infos)
    ]


@pytest.mark.parametrize(
    ("references", "says"),
    [
        (refs(image(fmt="avif")), "allowed formats: jpeg, png, webp, bmp, tiff, gif, heic, heif"),
        (refs(image(300, 720)), "300x720 px; allowed: each side more than 300 and less than 6000 px"),
        (refs(image(6000, 4000)), "less than 6000 px"),
        (refs(image(301, 760)), "width/height is 0.40"),
        (refs(image(1000, 399)), "width/height is 2.51"),
        (refs(image(size=30 * MB)), "less than 30 MB"),
        (refs(video(fmt="avi")), "allowed formats: mp4, mov"),
        (refs(video(codec="vp9")), "H.264 (h264), H.265 (hevc)"),
        (refs(video(seconds=1.9)), "lasts 1.90 s; allowed: 2-15 s"),
        (refs(video(seconds=15.2)), "lasts 15.20 s"),
        (refs(video(fps=23.976)), "23.976 fps; allowed: 24-60 fps"),
        (refs(video(fps=61)), "61 fps"),
        (refs(video(width=640, height=639)), "408960 pixels; allowed: 409600-8295044"),
        (refs(video(size=201 * MB)), "at most 200 MB"),
        (refs(video(seconds=10), video(seconds=6)), "the reference videos last 16.00 s together; allowed: at most 15 s"),
        (refs(audio(fmt="ogg")), "allowed formats: wav, mp3"),
        (refs(audio(seconds=16)), "audio clip lasts 16.00 s"),
        (refs(audio(size=16 * MB)), "at most 15 MB"),
        (refs(audio(seconds=8), audio(seconds=8)), "the reference audio clips last 16.00 s together"),
        ([ReferenceMedia(field="content[1].image_url.url", expected="image", info=video())], "is a mp4 video 864x496"),
    ],
)
def test_reference_limits_name_the_value_and_what_is_allowed(references: list[ReferenceMedia], says: str) -> None:
    problems = reference_problems(references, V2)

    assert problems
    assert all(p.field.startswith("content[") and p.code == "InvalidParameter" for p in problems)
    assert any(says in p.message for p in problems), problems


@pytest.mark.parametrize(
    "references",
    [
        refs(image(302, 755), image(5999, 5999), image(2500, 1000, fmt="webp")),
        refs(video(seconds=15.04, fps=60, width=640, height=640), audio(seconds=2.0, fmt="wav")),
        refs(video(seconds=5), video(seconds=5), video(seconds=5)),
        refs(image(fmt="heic")),
    ],
)
def test_references_inside_the_limits_pass(references: list[ReferenceMedia]) -> None:
    assert reference_problems(references, V2) == []


def test_heif_images_need_seedance_1_5_or_later() -> None:
    assert V1 is not None
    (problem,) = reference_problems(refs(image(fmt="heif")), V1)

    assert "allowed formats: jpeg, png, webp, bmp, tiff, gif" in problem.message
    assert reference_problems(refs(image(fmt="heif")), None) == []
