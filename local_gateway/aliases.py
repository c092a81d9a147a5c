"""aiid's own request fields, mapped onto Ark's (seed 001, ark-api.md §7).

api.aiid.edu.kg documents, beside Ark's `content[]`, fields of its own that say the same things
another way. `to_ark_body` rewrites them into an Ark body; what is left is checked like any Ark
request. The required top-level `prompt` is the dialect's business (`dialects.py`), not an alias.

    aiid field                       Ark
    seconds                          duration
    aspect_ratio                     ratio
    size "1280x720" (or "720p")      resolution and ratio: the model's pixel table (ark-api.md §3.3)
    quality "720p"                   resolution; other values have no Ark counterpart and no effect
    fps                              nothing: 24 is the only rate Seedance renders, others are refused
    image_url, input_reference       an image item: first_frame (reference_image in a reference mode)
    end_image_url, last_image_url    an image item: last_frame
    image_urls[]                     image items: reference_image (first_frame, last_frame under i2v modes)
    video_urls[], audio_urls[]       reference_video / reference_audio items
    mode, function_mode              only the roles above; the content decides the mode, as in Ark
    content[].name                   dropped: it labels an item for the prompt to refer to

An alias and its Ark field may both be given only when they agree: which one aiid honours is not
documented, and a paid video made from the other one is worse than a clear refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from local_gateway.errors import invalid_parameter
from seedance.catalog import FPS, RATIOS, ModelSpec

MODES: Final = ("t2v", "i2v", "i2v_first_last", "reference_images", "reference_material")
"""aiid's Seedance modes; gemini-omni's own (r2v, edit) name a model this gateway does not serve."""
REFERENCE_MODES: Final = frozenset({"reference_images", "reference_material"})
REFERENCE_FUNCTION_MODES: Final = frozenset({"omni_reference"})
FRAME_MODES: Final = frozenset({"i2v", "i2v_first_last"})

_SIZE: Final = re.compile(r"^\s*(\d+)\s*[xX×*]\s*(\d+)\s*$")


def to_ark_body(body: dict[str, Any], spec: ModelSpec | None) -> dict[str, Any]:
    """`body` (nulls already dropped) with aiid's fields replaced by Ark's.

    `spec` is the requested model's, for `size`; None when the model is unknown (its 404 follows).

    Raises:
        ArkError: 400 for an alias whose value is malformed or contradicts its Ark field.
    """
    body = dict(body)
    mode = _string(body.pop("mode", None), "mode")
    if mode is not None and mode not in MODES:
        raise invalid_parameter("mode", f"{mode!r} is not a mode; allowed: {', '.join(MODES)}")
    function_mode = _string(body.pop("function_mode", None), "function_mode")
    reference = mode in REFERENCE_MODES or function_mode in REFERENCE_FUNCTION_MODES

    _merge(body, "duration", "seconds", _seconds(body.pop("seconds", None)))
    _merge(body, "ratio", "aspect_ratio", _string(body.pop("aspect_ratio", None), "aspect_ratio"))
    size = _string(body.pop("size", None), "size")
    if size is not None and spec is not None:
        resolution, ratio = _size(size, spec)
        _merge(body, "resolution", "size", resolution)
        _merge(body, "ratio", "size", ratio)
    quality = _string(body.pop("quality", None), "quality")
    if quality is not None and spec is not None and quality.lower() in spec.resolutions:
        _merge(body, "resolution", "quality", quality.lower())
    fps = body.pop("fps", None)
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps != FPS):
        raise invalid_parameter("fps", f"{fps!r} is not a frame rate Seedance renders; allowed: {FPS}")

    items: list[dict[str, Any]] = []
    first = _one_of(body, "image_url", "input_reference")
    last = _one_of(body, "end_image_url", "last_image_url")
    if first is not None:
        items.append(_image(first, "reference_image" if reference else "first_frame"))
    if last is not None:
        items.append(_image(last, "last_frame"))
    many = _strings(body.pop("image_urls", None), "image_urls")
    frame_roles = iter(("first_frame", "last_frame")) if mode in FRAME_MODES and first is None else iter(())
    items += [_image(url, next(frame_roles, "reference_image")) for url in many]
    items += [
        {"type": "video_url", "video_url": {"url": url}, "role": "reference_video"}
        for url in _strings(body.pop("video_urls", None), "video_urls")
    ]
    items += [
        {"type": "audio_url", "audio_url": {"url": url}, "role": "reference_audio"}
        for url in _strings(body.pop("audio_urls", None), "audio_urls")
    ]

    content = body.get("content", [])
    if isinstance(content, list):
        body["content"] = [_unnamed(item, index) for index, item in enumerate(content)] + items
    elif items:
        raise invalid_parameter("content", "must be an array of content items")
    return body


def _merge(body: dict[str, Any], field: str, alias: str, value: Any) -> None:
    """Set Ark's `field` from `alias`, unless the body gives it already: then they must agree."""
    if value is None:
        return
    given = body.get(field)
    if given is not None and given != value:
        raise invalid_parameter(alias, f"{value!r} contradicts {field} {given!r}; give one of them")
    body[field] = value


def _one_of(body: dict[str, Any], name: str, alias: str) -> str | None:
    value, other = _string(body.pop(name, None), name), _string(body.pop(alias, None), alias)
    if value is not None and other is not None and value != other:
        raise invalid_parameter(alias, f"names another image than {name}; give one of them")
    return value if value is not None else other


def _seconds(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise invalid_parameter("seconds", f"{value!r} is not a whole number of seconds")


def _size(size: str, spec: ModelSpec) -> tuple[str, str | None]:
    """(resolution, ratio) of a `WxH` size in the model's table, or (resolution, None) for `720p`."""
    if size.lower() in spec.resolutions:
        return size.lower(), None
    match = _SIZE.match(size)
    if match:
        wanted = (int(match.group(1)), int(match.group(2)))
        for resolution in spec.resolutions:
            for ratio in RATIOS:
                if spec.output_size(resolution, ratio) == wanted:
                    return resolution, ratio
    allowed = ", ".join(f"{w}x{h}" for resolution in spec.resolutions for w, h in spec.sizes[resolution])
    raise invalid_parameter("size", f"{size!r} is not a size {spec.id} renders; allowed: {allowed}, or a resolution")


def _image(url: str, role: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, "role": role}


def _unnamed(item: Any, index: int) -> Any:
    if not isinstance(item, dict) or "name" not in item:
        return item
    if not isinstance(item["name"], str):
        raise invalid_parameter(f"content[{index}].name", f"{item['name']!r} is not a string")
    return {key: value for key, value in item.items() if key != "name"}


def _string(value: Any, field: str) -> str | None:
    return _typed(value, field, lambda v: isinstance(v, str), "a string")


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    checked = _typed(
        value, field, lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v), "an array of URL strings"
    )
    return list(checked)


def _typed(value: Any, field: str, ok: Callable[[Any], bool], what: str) -> Any:
    if value is not None and not ok(value):
        raise invalid_parameter(field, f"{value!r} is not {what}")
    return value
