"""What each Seedance model accepts and produces (ark-api.md §2.4, §3).

One table, read by the pipeline's pre-flight validation and by the local gateway, so the two can
never disagree about what a model supports. No I/O and no Prefect here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

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


class ModelSpec(BaseModel):
    """Capabilities of one model version."""

    model_config = ConfigDict(frozen=True)

    id: str
    byteplus_id: str
    family: Family
    resolutions: tuple[str, ...]
    default_resolution: str
    min_duration: int
    max_duration: int
    auto_duration: bool
    """`duration: -1` lets the model choose."""
    modes: frozenset[ImageMode]
    max_reference_images: int
    media_references: bool
    """Reference videos and audio (2.0 family)."""
    text_to_video_adaptive: bool
    """`ratio: adaptive` allowed without any image (the model picks from the prompt)."""
    image_adaptive: bool
    """`ratio: adaptive` allowed in first-frame / first+last modes."""
    reference_adaptive: bool
    """`ratio: adaptive` allowed in reference mode."""
    reference_max_resolution: str | None = None
    generate_audio: bool
    draft: bool
    frames: bool
    camera_fixed: bool
    flex: bool
    tools: bool
    priority: bool
    billed_extra_frame: bool = False
    """Billed frames are 24·s + 1, not 24·s (observed on 2.0 bills)."""
    billed_input_video: bool = False
    """Input video seconds are billed as output seconds (2.0 family)."""
    video_input_minimum: bool = False
    """With video input, at least ⌈5·d/3⌉ seconds are billed for a d-second output."""

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


_ALL = frozenset(ImageMode)

MODELS: Final[dict[str, ModelSpec]] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="doubao-seedance-1-0-lite-t2v-250428",
            byteplus_id="seedance-1-0-lite-t2v-250428",
            family=Family.V1_0,
            resolutions=("480p", "720p", "1080p"),
            default_resolution="720p",
            min_duration=2,
            max_duration=12,
            auto_duration=False,
            modes=frozenset({ImageMode.TEXT}),
            max_reference_images=0,
            media_references=False,
            text_to_video_adaptive=False,
            image_adaptive=False,
            reference_adaptive=False,
            generate_audio=False,
            draft=False,
            frames=True,
            camera_fixed=True,
            flex=True,
            tools=False,
            priority=False,
        ),
        ModelSpec(
            id="doubao-seedance-1-0-lite-i2v-250428",
            byteplus_id="seedance-1-0-lite-i2v-250428",
            family=Family.V1_0,
            resolutions=("480p", "720p", "1080p"),
            default_resolution="720p",
            min_duration=2,
            max_duration=12,
            auto_duration=False,
            modes=frozenset({ImageMode.FIRST_FRAME, ImageMode.FIRST_LAST, ImageMode.REFERENCE}),
            max_reference_images=4,
            media_references=False,
            text_to_video_adaptive=False,
            image_adaptive=True,
            reference_adaptive=False,
            reference_max_resolution="720p",
            generate_audio=False,
            draft=False,
            frames=True,
            camera_fixed=True,
            flex=True,
            tools=False,
            priority=False,
        ),
        ModelSpec(
            id="doubao-seedance-1-0-pro-250528",
            byteplus_id="seedance-1-0-pro-250528",
            family=Family.V1_0,
            resolutions=("480p", "720p", "1080p"),
            default_resolution="1080p",
            min_duration=2,
            max_duration=12,
            auto_duration=False,
            modes=frozenset({ImageMode.TEXT, ImageMode.FIRST_FRAME, ImageMode.FIRST_LAST}),
            max_reference_images=0,
            media_references=False,
            text_to_video_adaptive=False,
            image_adaptive=True,
            reference_adaptive=False,
            generate_audio=False,
            draft=False,
            frames=True,
            camera_fixed=True,
            flex=True,
            tools=False,
            priority=False,
        ),
        ModelSpec(
            id="doubao-seedance-1-0-pro-fast-251015",
            byteplus_id="seedance-1-0-pro-fast-251015",
            family=Family.V1_0,
            resolutions=("480p", "720p", "1080p"),
            default_resolution="1080p",
            min_duration=2,
            max_duration=12,
            auto_duration=False,
            modes=frozenset({ImageMode.TEXT, ImageMode.FIRST_FRAME}),
            max_reference_images=0,
            media_references=False,
            text_to_video_adaptive=False,
            image_adaptive=True,
            reference_adaptive=False,
            generate_audio=False,
            draft=False,
            frames=True,
            camera_fixed=True,
            flex=True,
            tools=False,
            priority=False,
        ),
        ModelSpec(
            id="doubao-seedance-1-5-pro-251215",
            byteplus_id="seedance-1-5-pro-251215",
            family=Family.V1_5,
            resolutions=("480p", "720p", "1080p"),
            default_resolution="720p",
            min_duration=4,
            max_duration=12,
            auto_duration=True,
            modes=frozenset({ImageMode.TEXT, ImageMode.FIRST_FRAME, ImageMode.FIRST_LAST}),
            max_reference_images=0,
            media_references=False,
            text_to_video_adaptive=True,
            image_adaptive=True,
            reference_adaptive=False,
            generate_audio=True,
            draft=True,
            frames=False,
            camera_fixed=True,
            flex=True,
            tools=False,
            priority=False,
        ),
        ModelSpec(
            id="doubao-seedance-2-0-260128",
            byteplus_id="dreamina-seedance-2-0-260128",
            family=Family.V2_0,
            resolutions=("480p", "720p", "1080p", "4k"),
            default_resolution="720p",
            min_duration=4,
            max_duration=15,
            auto_duration=True,
            modes=_ALL,
            max_reference_images=9,
            media_references=True,
            text_to_video_adaptive=True,
            image_adaptive=True,
            reference_adaptive=True,
            generate_audio=True,
            draft=False,
            frames=False,
            camera_fixed=False,
            flex=False,
            tools=True,
            priority=True,
            billed_extra_frame=True,
            billed_input_video=True,
            video_input_minimum=True,
        ),
        ModelSpec(
            id="doubao-seedance-2-0-fast-260128",
            byteplus_id="dreamina-seedance-2-0-fast-260128",
            family=Family.V2_0,
            resolutions=("480p", "720p"),
            default_resolution="720p",
            min_duration=4,
            max_duration=15,
            auto_duration=True,
            modes=_ALL,
            max_reference_images=9,
            media_references=True,
            text_to_video_adaptive=True,
            image_adaptive=True,
            reference_adaptive=True,
            generate_audio=True,
            draft=False,
            frames=False,
            camera_fixed=False,
            flex=False,
            tools=True,
            priority=True,
            billed_extra_frame=True,
            billed_input_video=True,
            video_input_minimum=True,
        ),
    )
}

_BY_ANY_ID: Final[dict[str, ModelSpec]] = {
    **MODELS,
    **{spec.byteplus_id: spec for spec in MODELS.values()},
}


def find_model(model_id: str) -> ModelSpec | None:
    """The spec for a Volcengine or BytePlus model id, or None when the id is not a known model.

    Endpoint ids (`ep-…`) are not models: their capabilities are unknown until the server answers.
    """
    return _BY_ANY_ID.get(model_id)


def closest_ratio(width: int, height: int) -> str:
    """The fixed ratio nearest to an image's own, as `adaptive` resolves it (ark-api.md §3.2)."""

    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(w / h - width / height)

    return min(RATIOS, key=distance)
