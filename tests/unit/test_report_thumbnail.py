"""The poster thumbnail in a generation's report, and in a batch report's rows: decoded small, never
wider than the cap."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from tasks.report import ROW_THUMBNAIL_MAX_WIDTH, ROW_THUMBNAIL_MIN_WIDTH, THUMBNAIL_MAX_WIDTH, thumbnail_data_url


def picture(path: Path, size: tuple[int, int]) -> Path:
    Image.new("RGB", size, (40, 90, 160)).save(path)
    return path


def decoded_size(data_url: str) -> tuple[int, int]:
    head, _, body = data_url.partition(",")
    assert head == "data:image/jpeg;base64"
    with Image.open(io.BytesIO(base64.b64decode(body))) as image:
        assert image.format == "JPEG"
        return image.size


@pytest.mark.parametrize(
    ("name", "size", "thumbnail"),
    [
        ("480p.jpg", (864, 480), (432, 240)),  # JPEG's 1/2 scale: at least 400 px wide
        ("720p.jpg", (1248, 704), (624, 352)),
        ("1080p.jpg", (1920, 1088), (480, 272)),  # 1/4
        ("small.jpg", (320, 180), (320, 180)),  # never enlarged
        ("480p.png", (864, 480), (THUMBNAIL_MAX_WIDTH, 356)),  # no scales of its own: resized to the cap
    ],
)
def test_a_poster_thumbnail_is_decoded_at_the_smallest_jpeg_scale_at_least_400_px_wide(
    tmp_path: Path, name: str, size: tuple[int, int], thumbnail: tuple[int, int]
) -> None:
    assert decoded_size(thumbnail_data_url(picture(tmp_path / name, size))) == thumbnail


@pytest.mark.parametrize(
    ("name", "size", "thumbnail"),
    [
        ("480p.jpg", (864, 480), (108, 60)),  # 1/8: at least 100 px wide
        ("720p.jpg", (1248, 704), (156, 88)),
        ("1080p.jpg", (1920, 1088), (ROW_THUMBNAIL_MAX_WIDTH, 91)),  # 1/8 is 240 px: resized to the cap
        ("480p.png", (864, 480), (ROW_THUMBNAIL_MAX_WIDTH, 89)),
    ],
)
def test_a_batch_report_row_thumbnail_is_decoded_at_the_smallest_jpeg_scale_at_least_100_px_wide(
    tmp_path: Path, name: str, size: tuple[int, int], thumbnail: tuple[int, int]
) -> None:
    image = picture(tmp_path / name, size)
    assert decoded_size(thumbnail_data_url(image, ROW_THUMBNAIL_MIN_WIDTH, ROW_THUMBNAIL_MAX_WIDTH)) == thumbnail
