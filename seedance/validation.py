"""Checks a create request against the model catalog before anything is sent or spent.

`check_request` returns every problem at once, each naming the field, the value and what is allowed.
The pipeline runs it before uploading a single byte; the local gateway runs the same function, so
the double is exactly as strict as our own pre-flight.

Where the official API is silent about an unsupported field (ark-api.md §2.4: "ignored or error"),
a neutral value (`false`, `0`, `"default"`) is accepted and a value that asks for the feature is
refused: refusing before a paid task starts is the safe side.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any, Final

from pydantic import ValidationError

from seedance.ark.types import (
    AudioContent,
    CreateTaskRequest,
    DraftTaskContent,
    ImageContent,
    TextContent,
    VideoContent,
)
from seedance.catalog import ADAPTIVE, ImageMode, ModelSpec, catalog, find_model
from seedance.errors import Problem

SEED_MAX: Final = 2**32 - 1
EXPIRES_RANGE: Final = (3600, 259200)
PRIORITY_RANGE: Final = (0, 9)
MEDIA_SCHEMES: Final = ("http://", "https://", "asset://")


def strip_nulls(body: Any) -> Any:
    """Drop keys whose value is JSON null, recursively: Ark treats null as absent and the SDK sends them."""
    if isinstance(body, dict):
        return {key: strip_nulls(value) for key, value in body.items() if value is not None}
    if isinstance(body, list):
        return [strip_nulls(item) for item in body]
    return body


def parse_request(body: Any) -> CreateTaskRequest | list[Problem]:
    """Parse a JSON body into a request, or list what stops it parsing."""
    if not isinstance(body, dict):
        return [Problem(field="body", message="the request body must be a JSON object")]
    body = strip_nulls(body)
    missing = [name for name in ("model", "content") if name not in body]
    if missing:
        return [Problem(field=name, message="is required", code="MissingParameter") for name in missing]
    try:
        return CreateTaskRequest.model_validate(body)
    except ValidationError as exc:
        return problems_from_validation_error(exc)


def problems_from_validation_error(exc: ValidationError) -> list[Problem]:
    """One problem per pydantic error, named by the wire field path (`content[1].image_url`)."""
    return [_problem_from_pydantic(error) for error in exc.errors()]


def unknown_fields(data: Mapping[str, Any], known: Collection[str]) -> list[Problem]:
    """A problem for every key of `data` not in `known`, naming the known field it most looks like.

    Found before validation, so an unknown field is listed beside the spec's other problems
    instead of stopping the checks that would find them.
    """
    problems: list[Problem] = []
    for key in data:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), sorted(known), n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(Problem(field=str(key), message=f"is not a parameter of this API{guess}"))
    return problems


def _problem_from_pydantic(error: Any) -> Problem:
    field = ""
    loc = error["loc"]
    for i, part in enumerate(loc):
        if isinstance(part, int):
            field += f"[{part}]"
        elif part in ("text", "image_url", "video_url", "audio_url", "draft_task") and i and isinstance(loc[i - 1], int):
            # pydantic names the union member it tried (the discriminator tag) right after the index:
            # not a wire field
            continue
        else:
            field += f".{part}" if field else str(part)
    if error["type"] == "extra_forbidden":
        return Problem(field=field, message="is not a parameter of this API")
    if error["type"] == "missing":
        return Problem(field=field, message="is required", code="MissingParameter")
    if error["type"] == "union_tag_invalid":
        return Problem(
            field=f"{field}.type",
            message=f"{error['input'].get('type')!r} is not a content type; "
            "allowed: text, image_url, video_url, audio_url, draft_task",
        )
    return Problem(field=field, message=f"{error['input']!r} is not valid: {error['msg']}")


def check_request(request: CreateTaskRequest) -> list[Problem]:
    """Every problem with a request for the model it names; an empty list means it may be sent.

    Unknown model ids are reported with Ark's `InvalidEndpointOrModel.NotFound` code. Endpoint ids
    (`ep-…`) pass: their model is only known to the server.
    """
    if request.model.startswith("ep-"):
        return []
    spec = find_model(request.model)
    if spec is None:
        known = [id_ for model in catalog().models.values() for id_ in (model.id, model.byteplus_id)]
        close = difflib.get_close_matches(request.model, known, n=1, cutoff=0.8)
        guess = f"did you mean {close[0]!r}?" if close else "see `seedance models` for the known ids"
        return [
            Problem(
                field="model",
                message=f"{request.model!r} is not a Seedance model or endpoint; {guess}",
                code="InvalidEndpointOrModel.NotFound",
            )
        ]
    problems: list[Problem] = []
    mode = _check_content(request, spec, problems)
    _check_output(request, spec, mode, problems)
    _check_features(request, spec, mode, problems)
    return problems


def image_mode(request: CreateTaskRequest) -> ImageMode | None:
    """The mode the content implies, or None when its image roles mix modes."""
    images = [item for item in request.content if isinstance(item, ImageContent)]
    has_media_refs = any(isinstance(item, (VideoContent, AudioContent)) for item in request.content)
    roles = [item.role for item in images]
    if has_media_refs or "reference_image" in roles:
        return ImageMode.REFERENCE if all(role == "reference_image" for role in roles) else None
    if not images:
        return ImageMode.TEXT
    if len(images) == 1 and roles[0] in (None, "first_frame"):
        return ImageMode.FIRST_FRAME
    if sorted(role or "" for role in roles) == ["first_frame", "last_frame"]:
        return ImageMode.FIRST_LAST
    return None


def _check_content(request: CreateTaskRequest, spec: ModelSpec, problems: list[Problem]) -> ImageMode:
    items = request.content
    if not items:
        problems.append(Problem(field="content", message="must hold at least one item"))
        return ImageMode.TEXT
    texts = [i for i, item in enumerate(items) if isinstance(item, TextContent)]
    for i in texts[1:]:
        problems.append(Problem(field=f"content[{i}]", message="only one text item is allowed"))
    for i in texts:
        if not items[i].text.strip():  # type: ignore[union-attr]
            problems.append(Problem(field=f"content[{i}].text", message="must not be empty"))
    if any(isinstance(item, DraftTaskContent) for item in items):
        if not spec.draft:
            problems.append(Problem(field="content", message=f"draft_task items are not supported by {spec.id}"))
        return ImageMode.TEXT

    for i, item in enumerate(items):
        if isinstance(item, (ImageContent, VideoContent, AudioContent)):
            url = media_url(item)
            if isinstance(item, VideoContent) and url.startswith("data:"):
                problems.append(
                    Problem(
                        field=f"content[{i}].video_url.url", message="videos must be a URL or asset://; base64 is not accepted"
                    )
                )
            elif url.startswith("asset://") and not spec.asset_references:
                problems.append(
                    Problem(
                        field=f"content[{i}].{item.type}.url",
                        message=f"asset:// references are not accepted by {spec.id}{_models_that('asset_references')}",
                    )
                )
            elif not url.startswith(MEDIA_SCHEMES + ("data:",)):
                problems.append(
                    Problem(
                        field=f"content[{i}].{item.type}.url",
                        message=f"{_short(url)!r} is not a URL; allowed: http(s)://, asset://, data: (images and audio)",
                    )
                )

    mode = image_mode(request)
    images = [item for item in items if isinstance(item, ImageContent)]
    videos = [item for item in items if isinstance(item, VideoContent)]
    audios = [item for item in items if isinstance(item, AudioContent)]
    if mode is None:
        roles = [item.role or "(none)" for item in images]
        problems.append(
            Problem(
                field="content.role",
                message=f"image roles {roles} mix modes; allowed: one image (first_frame or no role), "
                "first_frame + last_frame, or reference_image on every image"
                + (" (required with reference video or audio)" if videos or audios else ""),
            )
        )
        return ImageMode.REFERENCE if videos or audios else ImageMode.FIRST_FRAME
    if mode is ImageMode.TEXT and not texts:
        problems.append(
            Problem(field="content", message="a text prompt is required when no image is given", code="MissingParameter")
        )
    if mode not in spec.modes:
        allowed = ", ".join(sorted(m.value for m in spec.modes))
        problems.append(Problem(field="content", message=f"{mode.value} is not supported by {spec.id}; allowed: {allowed}"))
    elif mode is ImageMode.REFERENCE:
        if len(images) > spec.max_reference_images:
            problems.append(
                Problem(
                    field="content",
                    message=f"{len(images)} reference images; {spec.id} accepts at most {spec.max_reference_images}",
                )
            )
        if (videos or audios) and not spec.media_references:
            problems.append(
                Problem(
                    field="content",
                    message=f"reference video and audio are not supported by {spec.id}{_models_that('media_references')}",
                )
            )
        elif audios and not images and not videos and not spec.audio_only_references:
            problems.append(Problem(field="content", message="audio cannot be the only reference media; add an image or a video"))
        for kind, found, limit in (
            ("reference videos", videos, spec.max_reference_videos),
            ("reference audio clips", audios, spec.max_reference_audios),
        ):
            if spec.media_references and len(found) > limit:
                problems.append(Problem(field="content", message=f"{len(found)} {kind}; at most {limit} are allowed"))
        total = len(images) + len(videos) + len(audios)
        if spec.max_reference_items is not None and total > spec.max_reference_items:
            problems.append(
                Problem(
                    field="content",
                    message=f"{total} reference items; {spec.id} accepts at most {spec.max_reference_items} in all",
                )
            )
    return mode


def _check_output(request: CreateTaskRequest, spec: ModelSpec, mode: ImageMode, problems: list[Problem]) -> None:
    if request.resolution is not None:
        allowed = spec.resolutions_for(mode)
        if request.resolution not in allowed:
            problems.append(_not_allowed("resolution", request.resolution, spec, allowed))
    if request.ratio is not None:
        allowed = spec.ratios(mode)
        if request.ratio not in allowed:
            problems.append(_not_allowed("ratio", request.ratio, spec, allowed))
    if request.duration is not None:
        d = request.duration
        if not (spec.min_duration <= d <= spec.max_duration or (d == -1 and spec.auto_duration)):
            problems.append(Problem(field="duration", message=f"{d} is not allowed for {spec.id}; allowed: {spec.durations()}"))
    if request.frames is not None:
        f = request.frames
        if not spec.frames:
            problems.append(
                Problem(field="frames", message=f"is not supported by {spec.id}; use duration (only the 1.0 series takes frames)")
            )
        elif not (29 <= f <= 289 and (f - 25) % 4 == 0):
            problems.append(
                Problem(field="frames", message=f"{f} is not allowed; allowed: 25 + 4n within 29-289 (29, 33, …, 289)")
            )
    if request.seed is not None and not -1 <= request.seed <= SEED_MAX:
        problems.append(Problem(field="seed", message=f"{request.seed} is out of range; allowed: -1 (random) to {SEED_MAX}"))
    if request.execution_expires_after is not None:
        low, high = EXPIRES_RANGE
        if not low <= request.execution_expires_after <= high:
            problems.append(
                Problem(
                    field="execution_expires_after",
                    message=f"{request.execution_expires_after} is out of range; allowed: {low}-{high} seconds",
                )
            )


def _check_features(request: CreateTaskRequest, spec: ModelSpec, mode: ImageMode, problems: list[Problem]) -> None:
    def unsupported(field: str, note: str = "") -> None:
        problems.append(Problem(field=field, message=f"is not supported by {spec.id}{note}"))

    if request.generate_audio and not spec.generate_audio:
        unsupported("generate_audio", _models_that("generate_audio"))
    if request.draft:
        if not spec.draft:
            unsupported("draft", _models_that("draft"))
        elif request.resolution not in (None, "480p"):
            problems.append(
                Problem(field="resolution", message=f"{request.resolution!r} is not allowed in draft mode; allowed: 480p")
            )
        if request.return_last_frame:
            problems.append(Problem(field="return_last_frame", message="is not available in draft mode"))
    if request.camera_fixed:
        if not spec.camera_fixed:
            unsupported("camera_fixed")
        elif mode is ImageMode.REFERENCE:
            problems.append(Problem(field="camera_fixed", message="is not available with reference images"))
    if request.service_tier == "flex":
        if not spec.flex:
            unsupported("service_tier", ": 'flex' is not offered for this model; allowed: default")
        elif request.draft:
            problems.append(Problem(field="service_tier", message="'flex' is not available in draft mode; allowed: default"))
    if request.tools and not spec.tools:
        unsupported("tools", _models_that("tools"))
    if request.priority is not None:
        low, high = PRIORITY_RANGE
        if request.priority and not spec.priority:
            unsupported("priority", _models_that("priority"))
        elif not low <= request.priority <= high:
            problems.append(Problem(field="priority", message=f"{request.priority} is out of range; allowed: {low}-{high}"))
        elif request.priority and request.service_tier == "flex":
            problems.append(Problem(field="priority", message="cannot be combined with service_tier 'flex'"))
    if request.safety_identifier is not None and len(request.safety_identifier) > 64:
        problems.append(
            Problem(field="safety_identifier", message=f"is {len(request.safety_identifier)} characters; allowed: at most 64")
        )
    task_type = None if request.omni_reference_task_type == "auto" else request.omni_reference_task_type
    _check_choice(task_type, "omni_reference_task_type", spec.task_types, spec, problems)
    _check_choice(request.output_format, "output_format", spec.output_formats, spec, problems)
    if task_type is not None and task_type in spec.task_types:
        _check_task_type(request, task_type, mode, problems)
    if request.callback_url is not None and not request.callback_url.startswith(("http://", "https://")):
        problems.append(Problem(field="callback_url", message=f"{request.callback_url!r} is not an http(s) URL"))


def _check_choice(value: str | None, field: str, allowed: tuple[str, ...], spec: ModelSpec, problems: list[Problem]) -> None:
    """A field whose values the catalog lists per model; an empty list means the model does not take it."""
    if value is None:
        return
    if not allowed:
        problems.append(Problem(field=field, message=f"is not supported by {spec.id}{_models_that(field)}"))
    elif value not in allowed:
        problems.append(_not_allowed(field, value, spec, allowed))


TASK_TYPE_MEDIA: Final[dict[str, str]] = {
    "reference": "reference images, videos or audio (every image with role reference_image)",
    "first_last_frame": "a first_frame image and a last_frame image",
    "edit": "one source video to edit (reference_video) and no images",
    "extend": "one source video to extend (reference_video) and no images",
}
"""What the content must hold for each explicit `omni_reference_task_type` (ark-api-updates.md §1.2)."""


def task_type_fits(task_type: str, request: CreateTaskRequest, mode: ImageMode) -> bool:
    """Whether the request's media are what `task_type` works on (see `TASK_TYPE_MEDIA`)."""
    videos = sum(isinstance(item, VideoContent) for item in request.content)
    images = sum(isinstance(item, ImageContent) for item in request.content)
    if task_type == "reference":
        return mode is ImageMode.REFERENCE
    if task_type == "first_last_frame":
        return mode is ImageMode.FIRST_LAST
    return videos == 1 and images == 0


def infer_task_type(request: CreateTaskRequest, spec: ModelSpec) -> str | None:
    """The task type the media make clear, for a model that takes the field; None when they do not.

    Reference images or audio mean `reference`; a first and a last frame mean `first_last_frame`.
    A lone video could be a reference, a clip to edit or one to extend: that is left to the model
    (or to the spec, which may name the type itself).
    """
    mode = image_mode(request)
    has_images_or_audio = any(isinstance(item, (ImageContent, AudioContent)) for item in request.content)
    if mode is ImageMode.REFERENCE and has_images_or_audio:
        candidate = "reference"
    elif mode is ImageMode.FIRST_LAST:
        candidate = "first_last_frame"
    else:
        return None
    return candidate if candidate in spec.task_types else None


def _check_task_type(request: CreateTaskRequest, task_type: str, mode: ImageMode, problems: list[Problem]) -> None:
    if not task_type_fits(task_type, request, mode):
        problems.append(
            Problem(
                field="omni_reference_task_type",
                message=f"{task_type!r} needs {TASK_TYPE_MEDIA[task_type]}; the content does not hold that",
                code="InvalidParameter.TaskTypeMismatch",
            )
        )
        return
    # Edit keeps the source clip's frame and length: a fixed ratio or duration contradicts it (ComfyUI
    # forces adaptive and -1 for 2.5 edits); extend keeps the source's frame. Refused here, before create.
    fixed_ratio = request.ratio is not None and request.ratio != ADAPTIVE
    if task_type in ("edit", "extend") and fixed_ratio:
        problems.append(
            Problem(
                field="ratio",
                message=f"{request.ratio!r} conflicts with {task_type}: the output keeps the source clip's frame; allowed: adaptive",
                code="InvalidParameter.TaskTypeConstraint",
            )
        )
    if task_type == "edit" and request.duration not in (None, -1):
        problems.append(
            Problem(
                field="duration",
                message=f"{request.duration} conflicts with edit: the output keeps the source clip's length; allowed: -1",
                code="InvalidParameter.TaskTypeConstraint",
            )
        )


def _models_that(field: str) -> str:
    """`; models that take it: a, b` from the catalog in force, or "" when none does."""
    flags = {"omni_reference_task_type": "task_types", "output_format": "output_formats"}
    attribute = flags.get(field, field)
    ids = [spec.id for spec in catalog().models.values() if getattr(spec, attribute)]
    return f"; models that take it: {', '.join(ids)}" if ids else ""


def _not_allowed(field: str, value: str, spec: ModelSpec, allowed: tuple[str, ...]) -> Problem:
    return Problem(field=field, message=f"{value!r} is not allowed for {spec.id}; allowed: {', '.join(allowed)}")


def media_url(item: ImageContent | VideoContent | AudioContent) -> str:
    """The URL of a media content item, whatever its type."""
    if isinstance(item, ImageContent):
        return item.image_url.url
    if isinstance(item, VideoContent):
        return item.video_url.url
    return item.audio_url.url


def _short(url: str) -> str:
    return url if len(url) <= 60 else url[:57] + "..."
