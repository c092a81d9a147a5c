"""parse_request and check_request: every refusal names the field and lists what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from seedance.ark.types import CreateTaskRequest
from seedance.catalog import find_model
from seedance.errors import Problem
from seedance.reachability import unreachable
from seedance.spec import GenerationSpec, Reference
from seedance.validation import check_request, infer_task_type, media_url, parse_request

V2 = "doubao-seedance-2-0-260128"
V2_FAST = "doubao-seedance-2-0-fast-260128"
V1_5 = "doubao-seedance-1-5-pro-251215"
V1_PRO = "doubao-seedance-1-0-pro-250528"
V1_T2V = "doubao-seedance-1-0-lite-t2v-250428"
V1_I2V = "doubao-seedance-1-0-lite-i2v-250428"
V2_5 = "doubao-seedance-2-5-260628"
MINI = "doubao-seedance-2-0-mini-260615"
URL = "https://example.com/a.png"


def text(prompt: str = "a fox in snow") -> dict[str, Any]:
    return {"type": "text", "text": prompt}


def img(role: str | None = None, url: str = URL) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}} | ({"role": role} if role else {})


def vid(url: str = "https://example.com/a.mp4") -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": url}, "role": "reference_video"}


def aud() -> dict[str, Any]:
    return {"type": "audio_url", "audio_url": {"url": "https://example.com/a.mp3"}, "role": "reference_audio"}


def body(model: str = V2, *content: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": model, "content": list(content) or [text()], **fields}


def problems_of(raw: Any) -> list[Problem]:
    parsed = parse_request(raw)
    return parsed if isinstance(parsed, list) else check_request(parsed)


REFUSED: list[tuple[str, Any, str, str, str]] = [
    # id, body, field, code, fragment of the message (the value and/or what is allowed)
    (
        "ratio the model lacks",
        body(V1_T2V, ratio="adaptive"),
        "ratio",
        "InvalidParameter",
        "'adaptive' is not allowed for doubao-seedance-1-0-lite-t2v-250428; allowed: 16:9, 4:3, 1:1, 3:4, 9:16, 21:9",
    ),
    ("unknown ratio", body(V2, ratio="5:4"), "ratio", "InvalidParameter", "allowed: 16:9, 4:3, 1:1, 3:4, 9:16, 21:9, adaptive"),
    (
        "1080p on 2.0-fast",
        body(V2_FAST, resolution="1080p"),
        "resolution",
        "InvalidParameter",
        "'1080p' is not allowed for doubao-seedance-2-0-fast-260128; allowed: 480p, 720p",
    ),
    (
        "1080p in 1.0-lite reference mode",
        body(V1_I2V, text(), img("reference_image"), resolution="1080p"),
        "resolution",
        "InvalidParameter",
        "allowed: 480p, 720p",
    ),
    (
        "three first frames",
        body(V2, img("first_frame"), img("first_frame"), img("first_frame")),
        "content.role",
        "InvalidParameter",
        "allowed: one image (first_frame or no role), first_frame + last_frame, or reference_image on every image",
    ),
    (
        "mixed image modes",
        body(V2, text(), img("first_frame"), img("reference_image")),
        "content.role",
        "InvalidParameter",
        "mix modes",
    ),
    ("last frame without first", body(V2, img("last_frame")), "content.role", "InvalidParameter", "first_frame + last_frame"),
    (
        "audio as the only media",
        body(V2, text(), aud()),
        "content",
        "InvalidParameter",
        "audio cannot be the only reference media; add an image or a video",
    ),
    (
        "video on a 1.0 model",
        body(V1_I2V, text(), img("reference_image"), vid()),
        "content",
        "InvalidParameter",
        "not supported by doubao-seedance-1-0-lite-i2v-250428; models that take it: doubao-seedance-2-0-260128",
    ),
    (
        "reference images on 1.0-pro",
        body(V1_PRO, text(), img("reference_image")),
        "content",
        "InvalidParameter",
        "reference is not supported by doubao-seedance-1-0-pro-250528; allowed: first-and-last-frame, first-frame, text-to-video",
    ),
    (
        "text only on an i2v model",
        body(V1_I2V),
        "content",
        "InvalidParameter",
        "allowed: first-and-last-frame, first-frame, reference",
    ),
    (
        "ten reference images on 2.0",
        body(V2, text(), *[img("reference_image")] * 10),
        "content",
        "InvalidParameter",
        "accepts at most 9",
    ),
    (
        "four reference videos",
        body(V2, text(), *[vid()] * 4),
        "content",
        "InvalidParameter",
        "4 reference videos; at most 3 are allowed",
    ),
    (
        "31 reference images on 2.5",
        body(V2_5, text(), *[img("reference_image")] * 31),
        "content",
        "InvalidParameter",
        "31 reference images; doubao-seedance-2-5-260628 accepts at most 30",
    ),
    (
        "11 reference videos on 2.5",
        body(V2_5, text(), *[vid()] * 11),
        "content",
        "InvalidParameter",
        "11 reference videos; at most 10",
    ),
    (
        "51 reference items on 2.5",
        body(V2_5, text(), *[img("reference_image")] * 30, *[vid()] * 10, *[aud()] * 10, aud()),
        "content",
        "InvalidParameter",
        "11 reference audio clips; at most 10 are allowed",
    ),
    (
        "four reference videos on 2.0 Mini",
        body(MINI, text(), *[vid()] * 4),
        "content",
        "InvalidParameter",
        "4 reference videos; at most 3 are allowed",
    ),
    ("2.5 for 31 s", body(V2_5, duration=31), "duration", "InvalidParameter", "allowed: integers 4-30 or -1 (model chooses)"),
    (
        "task type on 2.0",
        body(V2, text(), img("reference_image"), omni_reference_task_type="reference"),
        "omni_reference_task_type",
        "InvalidParameter",
        "is not supported by doubao-seedance-2-0-260128; models that take it: doubao-seedance-2-5-260628",
    ),
    (
        "first_last_frame with reference images",
        body(V2_5, text(), img("reference_image"), omni_reference_task_type="first_last_frame"),
        "omni_reference_task_type",
        "InvalidParameter.TaskTypeMismatch",
        "'first_last_frame' needs a first_frame image and a last_frame image",
    ),
    (
        "edit without a source video",
        body(V2_5, text(), img("reference_image"), omni_reference_task_type="edit"),
        "omni_reference_task_type",
        "InvalidParameter.TaskTypeMismatch",
        "'edit' needs one source video to edit",
    ),
    (
        "edit with a fixed ratio",
        body(V2_5, text(), vid(), omni_reference_task_type="edit", ratio="16:9"),
        "ratio",
        "InvalidParameter.TaskTypeConstraint",
        "'16:9' conflicts with edit: the output keeps the source clip's frame; allowed: adaptive",
    ),
    (
        "edit with a fixed duration",
        body(V2_5, text(), vid(), omni_reference_task_type="edit", duration=5),
        "duration",
        "InvalidParameter.TaskTypeConstraint",
        "5 conflicts with edit: the output keeps the source clip's length; allowed: -1",
    ),
    (
        "asset on 1.0",
        body(V1_PRO, text(), img(url="asset://asset-1")),
        "content[1].image_url.url",
        "InvalidParameter",
        "asset:// references are not accepted by doubao-seedance-1-0-pro-250528; models that take it: doubao-seedance-2-0-260128",
    ),
    ("output format on 1.0", body(V1_PRO, output_format="mp4"), "output_format", "InvalidParameter", "is not supported by"),
    ("output format not offered", body(V2_5, output_format="avi"), "output_format", "InvalidParameter", "allowed: mp4"),
    ("empty content", {"model": V2, "content": []}, "content", "InvalidParameter", "at least one item"),
    ("empty prompt", body(V2, text("  ")), "content[0].text", "InvalidParameter", "must not be empty"),
    (
        "base64 video",
        body(V2, text(), vid("data:video/mp4;base64,AAAA")),
        "content[1].video_url.url",
        "InvalidParameter",
        "base64 is not accepted",
    ),
    (
        "not a URL",
        body(V2, img(url="ftp://example.com/a.png")),
        "content[0].image_url.url",
        "InvalidParameter",
        "allowed: http(s)://, asset://, data:",
    ),
    ("frames on 2.0", body(V2, frames=57), "frames", "InvalidParameter", "use duration (only the 1.0 series takes frames)"),
    ("frames off the 25+4n grid", body(V1_T2V, frames=30), "frames", "InvalidParameter", "allowed: 25 + 4n within 29-289"),
    (
        "draft on 2.0",
        body(V2, draft=True),
        "draft",
        "InvalidParameter",
        "models that take it: doubao-seedance-1-5-pro-251215, doubao-seedance-2-5-260628",
    ),
    ("draft at 720p", body(V1_5, draft=True, resolution="720p"), "resolution", "InvalidParameter", "allowed: 480p"),
    (
        "duration -1 on 1.0",
        body(V1_T2V, duration=-1),
        "duration",
        "InvalidParameter",
        "-1 is not allowed for doubao-seedance-1-0-lite-t2v-250428; allowed: integers 2-12",
    ),
    ("negative duration", body(V2, duration=-3), "duration", "InvalidParameter", "allowed: integers 4-15 or -1 (model chooses)"),
    ("duration too long", body(V1_5, duration=13), "duration", "InvalidParameter", "allowed: integers 4-12 or -1"),
    ("seed out of range", body(V2, seed=2**32), "seed", "InvalidParameter", "allowed: -1 (random) to 4294967295"),
    ("seed below -1", body(V2, seed=-2), "seed", "InvalidParameter", "-2 is out of range"),
    (
        "flex on 2.0",
        body(V2, service_tier="flex"),
        "service_tier",
        "InvalidParameter",
        "'flex' is not offered for this model; allowed: default",
    ),
    ("unknown service tier", body(V2, service_tier="gold"), "service_tier", "InvalidParameter", "'gold' is not valid"),
    (
        "camera_fixed on 2.0",
        body(V2, camera_fixed=True),
        "camera_fixed",
        "InvalidParameter",
        "is not supported by doubao-seedance-2-0-260128",
    ),
    (
        "audio on 1.0",
        body(V1_PRO, generate_audio=True),
        "generate_audio",
        "InvalidParameter",
        "models that take it: doubao-seedance-1-5-pro-251215, doubao-seedance-2-0-260128",
    ),
    (
        "tools on 1.5",
        body(V1_5, tools=[{"type": "web_search"}]),
        "tools",
        "InvalidParameter",
        "models that take it: doubao-seedance-2-0-260128",
    ),
    ("priority out of range", body(V2, priority=10), "priority", "InvalidParameter", "allowed: 0-9"),
    (
        "expiry too short",
        body(V2, execution_expires_after=60),
        "execution_expires_after",
        "InvalidParameter",
        "allowed: 3600-259200 seconds",
    ),
    (
        "long safety identifier",
        body(V2, safety_identifier="x" * 65),
        "safety_identifier",
        "InvalidParameter",
        "allowed: at most 64",
    ),
    (
        "callback not http",
        body(V2, callback_url="mailto:me@example.com"),
        "callback_url",
        "InvalidParameter",
        "is not an http(s) URL",
    ),
    (
        "unknown model",
        body("doubao-seedance-9-0-999999"),
        "model",
        "InvalidEndpointOrModel.NotFound",
        "is not a Seedance model or endpoint",
    ),
    ("unknown top-level field", body(V2, fps=24), "fps", "InvalidParameter", "is not a parameter of this API"),
    (
        "unknown content type",
        body(V2, {"type": "pdf_url", "pdf_url": {"url": URL}}),
        "content[0].type",
        "InvalidParameter",
        "allowed: text, image_url, video_url, audio_url, draft_task",
    ),
    ("unknown role", body(V2, img("cover")), "content[0].role", "InvalidParameter", "'cover' is not valid"),
    (
        "image without url",
        body(V2, {"type": "image_url", "image_url": {}}),
        "content[0].image_url.url",
        "MissingParameter",
        "is required",
    ),
    ("prompt not a string", body(V2, {"type": "text", "text": 5}), "content[0].text", "InvalidParameter", "5 is not valid"),
    ("unknown key in an item", body(V2, text() | {"name": "shot"}), "content[0].name", "InvalidParameter", "is not a parameter"),
    ("missing content", {"model": V2}, "content", "MissingParameter", "is required"),
    ("missing model", {"content": [text()]}, "model", "MissingParameter", "is required"),
    ("null content is missing", {"model": V2, "content": None}, "content", "MissingParameter", "is required"),
    ("not an object", [body()], "body", "InvalidParameter", "must be a JSON object"),
]


@pytest.mark.parametrize(("raw", "field", "code", "fragment"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_refusals_name_the_field_and_what_is_allowed(raw: Any, field: str, code: str, fragment: str) -> None:
    problems = problems_of(raw)

    assert problems, "expected a refusal"
    first = problems[0]
    assert (first.field, first.code) == (field, code), problems
    assert fragment in first.message, first.message


ACCEPTED: list[tuple[str, Any]] = [
    ("text only", body(V2)),
    ("first frame without role", body(V1_PRO, img())),
    ("first and last frame", body(V1_5, text(), img("last_frame"), img("first_frame"))),
    ("reference images, video and audio", body(V2, text(), img("reference_image"), vid(), aud())),
    ("video and audio without images", body(V2_FAST, text(), vid(), aud())),
    ("neutral values of unsupported features", body(V2, camera_fixed=False, draft=False, service_tier="default", priority=0)),
    ("frames on 1.0", body(V1_T2V, frames=29)),
    ("duration -1 on 2.0", body(V2, duration=-1)),
    ("draft at 480p", body(V1_5, draft=True, resolution="480p")),
    ("endpoint id", body("ep-20260101000000-abcde", ratio="anything")),
    ("2.5 at its limits", body(V2_5, text(), *[img("reference_image")] * 30, *[vid()] * 10, *[aud()] * 10, duration=30)),
    ("2.5 with audio as the only reference", body(V2_5, text(), aud())),
    ("2.5 draft", body(V2_5, draft=True, resolution="480p")),
    ("2.0 Mini at 720p", body(MINI, resolution="720p")),
    ("2.5 edit", body(V2_5, text(), vid(), omni_reference_task_type="edit", ratio="adaptive", duration=-1)),
    ("2.5 extend", body(V2_5, text(), vid(), omni_reference_task_type="extend", duration=10)),
    ("2.5 auto task type", body(V2_5, text(), vid(), omni_reference_task_type="auto", ratio="16:9")),
    ("2.5 mp4", body(V2_5, output_format="mp4")),
    ("2.5 by its BytePlus id", body("dreamina-seedance-2-5-260628", duration=20)),
    ("BytePlus model id", body("dreamina-seedance-2-0-260128", resolution="1080p")),
    (
        "asset and data URLs",
        body(V2, text(), img("reference_image", url="asset://asset-1"), img("reference_image", url="data:image/png;base64,AA")),
    ),
]


@pytest.mark.parametrize("raw", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
def test_valid_requests_have_no_problems(raw: Any) -> None:
    assert problems_of(raw) == []


def test_nulls_are_stripped_everywhere_before_parsing() -> None:
    raw = body(V2, text() | {"role": None}, img(url=URL) | {"role": None}, seed=None, ratio=None, tools=None, output_format=None)

    parsed = parse_request(raw)

    assert isinstance(parsed, CreateTaskRequest)
    assert parsed.seed is None and parsed.ratio is None
    assert check_request(parsed) == []
    assert parsed.to_body() == {"model": V2, "content": [text(), img()]}


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(body(V2_FAST, resolution="1080p", ratio="5:4", duration=99, seed=-7))

    assert [p.field for p in problems] == ["resolution", "ratio", "duration", "seed"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (body(V2_5, text(), img("reference_image"), vid()), "reference"),
        (body(V2_5, text(), aud()), "reference"),
        (body(V2_5, text(), img("first_frame"), img("last_frame")), "first_last_frame"),
        (body(V2_5, text(), vid()), None),  # a lone video may be a reference, a clip to edit or one to extend
        (body(V2_5, text(), img("first_frame")), None),
        (body(V2_5), None),
        (body(V2, text(), img("reference_image")), None),  # 2.0 does not take the field
    ],
)
def test_the_task_type_is_inferred_only_when_the_media_make_it_clear(raw: dict[str, Any], expected: str | None) -> None:
    request = CreateTaskRequest.model_validate(raw)
    spec = find_model(request.model)
    assert spec is not None
    assert infer_task_type(request, spec) == expected


def test_asset_references_pass_through_untouched(tmp_path: Path) -> None:
    local = tmp_path / "still.png"
    local.write_bytes(b"not read here")
    spec = GenerationSpec(
        model=V2_5,
        prompt="the portrait walks along the harbour",
        references=[
            Reference(url="asset://asset-20260801-portrait", role="reference_image"),
            Reference(url="asset://asset-20260801-voice", role="reference_audio"),
            Reference(url=str(local), role="reference_image"),
        ],
    )
    assert spec.uploads() == [local]  # the assets are not uploaded
    request = spec.to_request(V2_5, lambda path: f"https://s3.example/{path.name}")
    assert [media_url(item) for item in request.media()] == [
        "asset://asset-20260801-portrait",
        "asset://asset-20260801-voice",
        "https://s3.example/still.png",
    ]
    assets = [(f"references[{i}]", item) for i, item in enumerate(request.media()) if media_url(item).startswith("asset://")]
    assert unreachable(assets, transport=httpx.MockTransport(lambda r: pytest.fail(f"fetched {r.url}"))) == []
    assert check_request(request) == []
