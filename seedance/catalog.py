"""What each Seedance model accepts and produces (ark-api.md §2.4, §3; ark-api-updates.md §1).

The facts are data: `seedance/models.yaml`, extended or overridden by the user's own file
(`SEEDANCE_MODELS_FILE`), so a model added or changed upstream is a file edit, not a release. The
pipeline's pre-flight checks, the estimates and the local gateway all read this one catalog, so they
can never disagree about what a model supports. No Prefect here.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seedance.errors import Problem, SpecError
from seedance.files import load_yaml, read_mapping
from seedance.settings import get_settings

FPS: Final = 24
"""Every Seedance model renders at 24 frames per second (ark-api.md §3.2)."""

DEFAULT_MODEL: Final = "doubao-seedance-2-0-260128"
"""The model used when neither the spec nor the gateway block names one."""

RATIOS: Final = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
ADAPTIVE: Final = "adaptive"


class Family(StrEnum):
    V1_0 = "1.0"
    V1_5 = "1.5"
    V2_0 = "2.0"
    V2_5 = "2.5"


class ImageMode(StrEnum):
    """The three mutually exclusive ways images are used, plus text only (ark-api.md §2.2)."""

    TEXT = "text-to-video"
    FIRST_FRAME = "first-frame"
    FIRST_LAST = "first-and-last-frame"
    REFERENCE = "reference"


# Pixel sizes per resolution and ratio, in RATIOS order (ark-api.md §3.3).
_SIZES_1_0: Final[dict[str, tuple[tuple[int, int], ...]]] = {
    "480p": ((864, 480), (736, 544), (640, 640), (544, 736), (480, 864), (960, 416)),
    "720p": ((1248, 704), (1120, 832), (960, 960), (832, 1120), (704, 1248), (1504, 640)),
    "1080p": ((1920, 1088), (1664, 1248), (1440, 1440), (1248, 1664), (1088, 1920), (2176, 928)),
}
_SIZES_LATER: Final[dict[str, tuple[tuple[int, int], ...]]] = {
    "480p": ((864, 496), (752, 560), (640, 640), (560, 752), (496, 864), (992, 432)),
    "720p": ((1280, 720), (1112, 834), (960, 960), (834, 1112), (720, 1280), (1470, 630)),
    "1080p": ((1920, 1080), (1664, 1248), (1440, 1440), (1248, 1664), (1080, 1920), (2206, 946)),
    "4k": ((3840, 2160), (3326, 2494), (2880, 2880), (2494, 3326), (2160, 3840), (4398, 1886)),
}


Confidence = Literal["seen", "inferred"]
TaskType = Literal["reference", "edit", "extend", "first_last_frame"]


class ModelSpec(BaseModel):
    """Capabilities of one model version: one entry of the catalog file (see `seedance/models.yaml`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    byteplus_id: str = Field(min_length=1)
    family: Family
    resolutions: tuple[str, ...] = Field(min_length=1)
    default_resolution: str
    min_duration: int = Field(ge=1)
    max_duration: int = Field(ge=1)
    auto_duration: bool = False
    """`duration: -1` lets the model choose."""
    modes: frozenset[ImageMode] = Field(min_length=1)
    max_reference_images: int = Field(default=0, ge=0)
    max_reference_videos: int = Field(default=0, ge=0)
    max_reference_audios: int = Field(default=0, ge=0)
    max_reference_items: int | None = Field(default=None, ge=1)
    """Reference images, videos and audio clips together; None: only the per-kind limits."""
    reference_seconds: tuple[float, float] = (2.0, 15.0)
    """Shortest and longest reference video or audio clip."""
    reference_total_seconds: float = Field(default=15.0, gt=0)
    """All reference videos together, and all reference audio clips together, last at most this long."""
    audio_only_references: bool = False
    """Reference audio may come without any image or video."""
    asset_references: bool = False
    """`asset://` ids from Ark's asset library are accepted as media (sent as they are: no upload, no fetch check)."""
    text_to_video_adaptive: bool = False
    """`ratio: adaptive` allowed without any image (the model picks from the prompt)."""
    image_adaptive: bool = False
    """`ratio: adaptive` allowed in first-frame / first+last modes."""
    reference_adaptive: bool = False
    """`ratio: adaptive` allowed in reference mode."""
    reference_max_resolution: str | None = None
    generate_audio: bool = False
    draft: bool = False
    frames: bool = False
    camera_fixed: bool = False
    flex: bool = False
    tools: bool = False
    priority: bool = False
    task_types: tuple[TaskType, ...] = ()
    """`omni_reference_task_type` values the model takes; empty: the field is not sent."""
    output_formats: tuple[str, ...] = ()
    """`output_format` values the model takes; empty: the field is not sent."""
    billed_extra_frame: bool = False
    """Billed frames are 24·s + 1, not 24·s (observed on 2.0 bills)."""
    billed_input_video: bool = False
    """Input video seconds are billed as output seconds (2.0 family)."""
    video_input_minimum: bool = False
    """With video input, at least ⌈5·d/3⌉ seconds are billed for a d-second output."""
    source: str = ""
    """Where the facts come from."""
    inferred: frozenset[str] = frozenset()
    """The fields whose value is inferred (third parties, gateways, one observation); the rest are seen."""

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        problems = []
        if self.default_resolution not in self.resolutions:
            problems.append(f"default_resolution {self.default_resolution!r} is not one of resolutions {list(self.resolutions)}")
        unknown = sorted(set(self.resolutions) - set(_SIZES_LATER))
        if unknown:
            problems.append(f"resolutions {unknown} have no pixel sizes; known: {', '.join(_SIZES_LATER)}")
        if self.min_duration > self.max_duration:
            problems.append(f"min_duration {self.min_duration} is above max_duration {self.max_duration}")
        if self.reference_max_resolution is not None and self.reference_max_resolution not in self.resolutions:
            problems.append(f"reference_max_resolution {self.reference_max_resolution!r} is not one of resolutions")
        if self.reference_seconds[0] > self.reference_seconds[1]:
            problems.append(f"reference_seconds {list(self.reference_seconds)} is not [shortest, longest]")
        not_fields = sorted(self.inferred - set(type(self).model_fields))
        if not_fields:
            problems.append(f"inferred names {not_fields}, which are not fields")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def media_references(self) -> bool:
        """Whether reference videos or audio clips are accepted at all."""
        return bool(self.max_reference_videos or self.max_reference_audios)

    def confidence(self, field: str) -> Confidence:
        """Whether a field's value was seen in vendor material or inferred."""
        return "inferred" if field in self.inferred else "seen"

    @property
    def sizes(self) -> dict[str, tuple[tuple[int, int], ...]]:
        return _SIZES_1_0 if self.family is Family.V1_0 else _SIZES_LATER

    def output_size(self, resolution: str, ratio: str) -> tuple[int, int]:
        """Width and height in pixels for a resolution and a concrete (non-adaptive) ratio."""
        return self.sizes[resolution][RATIOS.index(ratio)]

    def default_ratio(self, mode: ImageMode) -> str:
        if mode is ImageMode.TEXT:
            return ADAPTIVE if self.text_to_video_adaptive else "16:9"
        if mode is ImageMode.REFERENCE:
            return ADAPTIVE if self.reference_adaptive else "16:9"
        return ADAPTIVE if self.image_adaptive else "16:9"

    def ratios(self, mode: ImageMode) -> tuple[str, ...]:
        """Ratios allowed in a mode, `adaptive` last when allowed."""
        return RATIOS + ((ADAPTIVE,) if self.default_ratio(mode) == ADAPTIVE else ())

    def resolutions_for(self, mode: ImageMode) -> tuple[str, ...]:
        if mode is ImageMode.REFERENCE and self.reference_max_resolution:
            cap = self.resolutions.index(self.reference_max_resolution)
            return self.resolutions[: cap + 1]
        return self.resolutions

    def durations(self) -> str:
        """The allowed durations, as a person reads them."""
        text = f"integers {self.min_duration}-{self.max_duration}"
        return text + (" or -1 (model chooses)" if self.auto_duration else "")


class Catalog(BaseModel):
    """Every known model, by Volcengine id, and the files it was read from."""

    model_config = ConfigDict(frozen=True)

    models: dict[str, ModelSpec]
    origin: str

    def find(self, model_id: str) -> ModelSpec | None:
        """The model for a Volcengine or BytePlus id, or None."""
        spec = self.models.get(model_id)
        if spec is not None:
            return spec
        return next((spec for spec in self.models.values() if spec.byteplus_id == model_id), None)


BUNDLED: Final = "seedance/models.yaml (bundled)"


def load_catalog(user_file: Path | None = None) -> Catalog:
    """The bundled catalog, with `user_file`'s entries laid over it.

    In the user file, an entry whose `id` is known changes only the fields it gives; a new id gives
    every field, or `extends: <known id>` and only what differs.

    Raises:
        SpecError: a file cannot be read, or an entry is malformed; each problem names the file,
            the entry (by position and id) and the field.
    """
    bundled = load_yaml(resources.files("seedance").joinpath("models.yaml").read_text(encoding="utf-8"))
    raw: dict[str, dict[str, Any]] = {}
    _lay(raw, bundled, BUNDLED)
    origin = BUNDLED
    if user_file is not None:
        _lay(raw, read_mapping(user_file, "a model catalog with `models:`"), str(user_file))
        origin = f"{user_file} over {BUNDLED}"
    models: dict[str, ModelSpec] = {}
    problems: list[Problem] = []
    for model_id, entry in raw.items():
        try:
            models[model_id] = ModelSpec.model_validate(entry)
        except ValidationError as exc:
            problems += [_problem(model_id, error) for error in exc.errors()]
    if problems:
        raise SpecError(problems, origin)
    return Catalog(models=models, origin=origin)


def _lay(raw: dict[str, dict[str, Any]], data: Any, origin: str) -> None:
    """Add or update the raw entries of one catalog file, resolving `extends`."""
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SpecError([Problem(field="models", message="must be a list of model entries")], origin)
    problems: list[Problem] = []
    for index, entry in enumerate(entries):
        where = f"models[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            problems.append(Problem(field=where, message="must be a mapping with an `id`", code="MissingParameter"))
            continue
        entry = dict(entry)
        base_id = entry.pop("extends", None)
        if base_id is not None:
            if base_id not in raw:
                problems.append(Problem(field=f"{where} ({entry['id']}).extends", message=f"{base_id!r} is not a known model id"))
                continue
            base = {key: value for key, value in raw[base_id].items() if key != "byteplus_id"}
            entry = base | entry
        elif entry["id"] in raw:
            entry = raw[entry["id"]] | entry
        raw[entry["id"]] = entry
    if problems:
        raise SpecError(problems, origin)


def _problem(model_id: str, error: Any) -> Problem:
    loc = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        message = "is not a catalog field"
    elif error["type"] == "missing":
        message = "is required (or give `extends: <known model id>`)"
    elif error["type"] == "value_error":
        message = str(error["ctx"]["error"])
    else:
        message = f"{error['input']!r} is not valid: {error['msg']}"
    return Problem(field=f"{model_id}.{loc}" if loc else model_id, message=message)


@functools.lru_cache(maxsize=4)
def _cached(user_file: Path | None, mtime: float | None) -> Catalog:
    return load_catalog(user_file)


def catalog() -> Catalog:
    """The catalog in force: the bundled file and `SEEDANCE_MODELS_FILE`, re-read when that file changes."""
    user_file = get_settings().models_file
    mtime = user_file.stat().st_mtime if user_file is not None and user_file.exists() else None
    return _cached(user_file, mtime)


def find_model(model_id: str) -> ModelSpec | None:
    """The spec for a Volcengine or BytePlus model id, or None when the id is not a known model.

    Endpoint ids (`ep-…`) are not models: their capabilities are unknown until the server answers.
    """
    return catalog().find(model_id)


def closest_ratio(width: int, height: int) -> str:
    """The fixed ratio nearest to an image's own, as `adaptive` resolves it (ark-api.md §3.2)."""

    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(w / h - width / height)

    return min(RATIOS, key=distance)
