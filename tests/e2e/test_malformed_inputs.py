"""Bad input gets a clear error before anything is uploaded or sent: 45 malformed specs, 0 requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.demo import BUCKET_BLOCK, GATEWAY_BLOCK
from flows.generate import generate_video
from local_gateway.devstack import DevStack
from seedance.errors import SpecError
from seedance.spec import load_spec
from tests.e2e.support import gateway_stats, s3_object_count

pytestmark = pytest.mark.e2e

V2_5 = "doubao-seedance-2-5-260628"
V2, FAST, PRO, PRO_FAST, LITE_T2V, LITE_I2V, V15 = (
    "doubao-seedance-2-0-260128",
    "doubao-seedance-2-0-fast-260128",
    "doubao-seedance-1-0-pro-250528",
    "doubao-seedance-1-0-pro-fast-251015",
    "doubao-seedance-1-0-lite-t2v-250428",
    "doubao-seedance-1-0-lite-i2v-250428",
    "doubao-seedance-1-5-pro-251215",
)
IMG, SQUARE, TINY, PDF = "frame_640x360.jpg", "square_720x720.png", "tiny_200x200.png", "document.png"
VIDEO, LONG, MP3 = "reference_864x496.mp4", "long_20s.mp4", "music_3s.mp3"


def ref(name: str, role: str) -> dict[str, str]:
    return {"url": name, "role": role}


# (case id, spec fields, field named in the error, text the message must contain)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("ratio-model-lacks", {"ratio": "5:4"}, "ratio", "allowed: 16:9, 4:3, 1:1, 3:4, 9:16, 21:9, adaptive"),
    ("1080p-on-2.0-fast", {"model": FAST, "resolution": "1080p"}, "resolution", "allowed: 480p, 720p"),
    ("4k-on-2.0-fast", {"model": FAST, "resolution": "4k"}, "resolution", "allowed: 480p, 720p"),
    ("resolution-typo", {"resolution": "720"}, "resolution", "allowed: 480p, 720p, 1080p, 4k"),
    ("three-first-frames", {"references": [ref(IMG, "first_frame")] * 3}, "content.role", "first_frame + last_frame"),
    ("mixed-image-modes", {"references": [ref(IMG, "first_frame"), ref(SQUARE, "reference_image")]}, "content.role", "mix modes"),
    ("last-frame-alone", {"references": [ref(IMG, "last_frame")]}, "content.role", "mix modes"),
    ("audio-only-media", {"references": [ref(MP3, "reference_audio")]}, "content", "audio cannot be the only reference media"),
    ("20s-reference-video", {"references": [ref(LONG, "reference_video")]}, "references[0]", "15"),
    ("200x200-image", {"references": [ref(TINY, "first_frame")]}, "references[0]", "300"),
    ("pdf-named-png", {"references": [ref(PDF, "first_frame")]}, "references[0]", "PDF"),
    ("missing-file", {"references": [ref("nowhere.png", "first_frame")]}, "references[0]", "file not found"),
    ("image-as-video", {"references": [ref(IMG, "reference_video")]}, "references[0]", "image"),
    ("video-as-first-frame", {"references": [ref(VIDEO, "first_frame")]}, "references[0]", "video"),
    ("negative-duration", {"duration": -5}, "duration", "allowed: integers 4-15 or -1"),
    ("duration-too-short", {"duration": 3}, "duration", "allowed: integers 4-15 or -1"),
    ("duration-too-long", {"duration": 16}, "duration", "allowed: integers 4-15 or -1"),
    ("auto-duration-on-1.0", {"model": PRO, "duration": -1}, "duration", "allowed: integers 2-12"),
    ("duration-not-integer", {"duration": 4.5}, "duration", "integer"),
    ("frames-on-2.0", {"frames": 57}, "frames", "only the 1.0 series"),
    ("frames-off-grid", {"model": PRO, "frames": 30}, "frames", "25 + 4n"),
    ("seed-below-range", {"seed": -2}, "seed", "allowed: -1 (random) to 4294967295"),
    ("seed-above-range", {"seed": 2**32}, "seed", "allowed: -1 (random) to 4294967295"),
    ("draft-on-2.0", {"draft": True}, "draft", "models that take it: doubao-seedance-1-5-pro-251215"),
    ("draft-at-720p", {"model": V15, "draft": True, "resolution": "720p"}, "resolution", "allowed: 480p"),
    ("camera-fixed-on-2.0", {"camera_fixed": True}, "camera_fixed", "not supported"),
    ("flex-on-2.0", {"service_tier": "flex"}, "service_tier", "allowed: default"),
    ("tier-typo", {"service_tier": "fast"}, "service_tier", "'default' or 'flex'"),
    (
        "tools-on-1.0",
        {"model": PRO, "tools": [{"type": "web_search"}]},
        "tools",
        "models that take it: doubao-seedance-2-0-260128",
    ),
    ("priority-out-of-range", {"priority": 10}, "priority", "allowed: 0-9"),
    ("priority-on-1.0", {"model": LITE_T2V, "priority": 3}, "priority", "models that take it: doubao-seedance-2-0-260128"),
    (
        "audio-on-1.0",
        {"model": PRO, "generate_audio": True},
        "generate_audio",
        "models that take it: doubao-seedance-1-5-pro-251215",
    ),
    ("expiry-too-short", {"execution_expires_after": 100}, "execution_expires_after", "allowed: 3600-259200"),
    ("unknown-model", {"model": "doubao-seedance-9-9"}, "model", "not a Seedance model"),
    ("unknown-field", {"size": "1280x720"}, "size", "not a parameter"),
    ("adaptive-text-on-1.0", {"model": LITE_T2V, "ratio": "adaptive"}, "ratio", "allowed: 16:9, 4:3, 1:1, 3:4, 9:16, 21:9"),
    ("images-on-t2v-model", {"model": LITE_T2V, "references": [ref(IMG, "first_frame")]}, "content", "allowed: text-to-video"),
    (
        "reference-images-on-1.0-pro",
        {"model": PRO, "references": [ref(IMG, "reference_image")]},
        "content",
        "reference is not supported by",
    ),
    ("ten-reference-images", {"references": [ref(IMG, "reference_image")] * 10}, "content", "at most 9"),
    (
        "first-last-on-pro-fast",
        {"model": PRO_FAST, "references": [ref(IMG, "first_frame"), ref(SQUARE, "last_frame")]},
        "content",
        "first-and-last-frame is not supported",
    ),
    (
        "video-ref-on-lite-i2v",
        {"model": LITE_I2V, "references": [ref(IMG, "reference_image"), ref(VIDEO, "reference_video")]},
        "content",
        "reference video and audio are not supported by doubao-seedance-1-0-lite-i2v-250428",
    ),
    ("four-reference-videos", {"references": [ref(VIDEO, "reference_video")] * 4}, "content", "at most 3"),
    (
        "31-reference-images-on-2.5",
        {"model": V2_5, "references": [ref(IMG, "reference_image")] * 31},
        "content",
        "31 reference images; doubao-seedance-2-5-260628 accepts at most 30",
    ),
    (
        "2.5-reference-videos-over-30-s",
        {"model": V2_5, "references": [ref(LONG, "reference_video")] * 2},
        "references[0]",
        "the reference videos last 40.",
    ),
    (
        "1080p-reference-mode-lite-i2v",
        {"model": LITE_I2V, "resolution": "1080p", "references": [ref(IMG, "reference_image")]},
        "resolution",
        "allowed: 480p, 720p",
    ),
    ("empty-prompt", {"prompt": "  "}, "prompt", "must not be empty"),
    ("long-safety-identifier", {"safety_identifier": "x" * 65}, "safety_identifier", "at most 64"),
    ("callback-not-http", {"callback_url": "ftp://example.com/hook"}, "callback_url", "not an http(s) URL"),
]


@pytest.mark.parametrize(("fields", "field", "text"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_malformed_input_is_refused_before_any_request(
    local_blocks: DevStack, media_dir: Path, tmp_path: Path, fields: dict[str, Any], field: str, text: str
) -> None:
    body: dict[str, Any] = {"model": V2, "prompt": "a lantern over the harbour"} | fields
    for reference in body.get("references", []):
        reference["url"] = str(media_dir / reference["url"])
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(body))
    out = tmp_path / "out"
    before, objects = gateway_stats(local_blocks)["requests"], s3_object_count(local_blocks)
    with pytest.raises(SpecError) as caught:
        generate_video(spec=load_spec(spec_file), out_dir=str(out), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK)
    named = [(problem.field, problem.message) for problem in caught.value.problems]
    assert any(name == field or name.startswith(f"{field}.") for name, _ in named), f"{field} not named in: {caught.value}"
    assert any(text in message for name, message in named if name.startswith(field)), str(caught.value)
    assert gateway_stats(local_blocks)["requests"] == before
    assert s3_object_count(local_blocks) == objects
    assert not out.exists()


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
