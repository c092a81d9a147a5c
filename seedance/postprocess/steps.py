"""The steps a spec may name under `postprocess`, and the model of one entry of that list.

    postprocess:
      - poster
      - preview: {fmt: webp, width: 320}
      - web: {max_bytes: 8000000}
      - loudnorm
      - contact-sheet

Options are checked when the spec is read, before anything is generated or paid for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer, model_validator
from pydantic_core import PydanticCustomError

from seedance.postprocess.encode import web_transcode
from seedance.postprocess.frames import PreviewFormat, contact_sheet, poster, preview
from seedance.postprocess.loudness import loudnorm


class StepOptions(BaseModel):
    """Options of one step. A field left out (or null) means the step function's own default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PosterOptions(StepOptions):
    at_seconds: float | None = Field(default=None, ge=0, description="Moment of the frame; default 1 s in.")


class PreviewOptions(StepOptions):
    fmt: PreviewFormat | None = Field(default=None, description="gif (default) or webp.")
    width: int | None = Field(default=None, gt=0, description="Width in pixels; default 480.")
    fps: float | None = Field(default=None, gt=0, le=60, description="Frames per second; default 12.")
    seconds: float | None = Field(default=None, gt=0, description="Length from the start; default 3 s.")


class WebOptions(StepOptions):
    crf: int | None = Field(default=None, ge=1, le=51, description="x264 quality, lower is better; default 23.")
    max_bytes: int | None = Field(default=None, gt=0, description="Largest file allowed, in bytes.")
    max_width: int | None = Field(default=None, ge=2, description="Scale down to at most this width.")


class LoudnormOptions(StepOptions):
    # The ranges loudnorm itself accepts.
    target_lufs: float | None = Field(default=None, ge=-70, le=-5, description="Integrated loudness, LUFS; default -23.")
    true_peak: float | None = Field(default=None, ge=-9, le=0, description="True-peak ceiling, dBTP; default -1.")
    lra: float | None = Field(default=None, ge=1, le=50, description="Loudness range target, LU; default 7.")


class ContactSheetOptions(StepOptions):
    columns: int | None = Field(default=None, ge=1, le=32, description="Cells across; default 4.")
    rows: int | None = Field(default=None, ge=1, le=32, description="Cells down; default 3.")
    width: int | None = Field(default=None, gt=0, description="Sheet width in pixels; default 1280.")


STEPS: Final[dict[str, Callable[..., Path]]] = {
    "poster": poster,
    "preview": preview,
    "web": web_transcode,
    "loudnorm": loudnorm,
    "contact-sheet": contact_sheet,
}
"""Each step a spec can name → the function that runs it as `func(video, **options) -> Path`."""

STEP_OPTIONS: Final[dict[str, type[StepOptions]]] = {
    "poster": PosterOptions,
    "preview": PreviewOptions,
    "web": WebOptions,
    "loudnorm": LoudnormOptions,
    "contact-sheet": ContactSheetOptions,
}

VIDEO_STEPS: Final = frozenset({"web", "loudnorm"})
"""Steps whose output is a new video (the others make pictures of one)."""


class PostprocessStep(BaseModel):
    """One entry of a spec's `postprocess` list: a step name, or a mapping of one name to options.

    Accepts `"poster"`, `{"preview": {"fmt": "webp"}}`, `{"preview": None}` (YAML `- preview:`)
    and its own dump `{"name": "preview", "options": {...}}`; serialises back to the short form.

    Example:
        >>> step = PostprocessStep.model_validate({"preview": {"fmt": "webp"}})
        >>> step.run(Path("shot.mp4"))
        PosixPath('shot.preview.webp')
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(description=f"One of: {', '.join(STEPS)}.")
    options: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the step function.")

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, PostprocessStep):
            return data
        if isinstance(data, str):
            name, options = data, None
        elif isinstance(data, Mapping) and "name" in data and set(data) <= {"name", "options"}:
            name, options = data["name"], data.get("options")
        elif isinstance(data, Mapping) and len(data) == 1:
            [(name, options)] = data.items()
        else:
            raise PydanticCustomError(
                "postprocess_step",
                "a postprocess step is a step name, or a mapping of one step name to its options; allowed steps: {allowed}",
                {"allowed": ", ".join(STEPS)},
            )
        if name not in STEPS:
            raise PydanticCustomError(
                "unknown_postprocess_step",
                "unknown postprocess step '{name}'; allowed: {allowed}",
                {"name": str(name), "allowed": ", ".join(STEPS)},
            )
        return {"name": name, "options": _check_options(name, options)}

    @model_serializer(mode="plain")
    def _short_form(self) -> str | dict[str, dict[str, Any]]:
        return {self.name: dict(self.options)} if self.options else self.name

    @property
    def makes_video(self) -> bool:
        """Whether the output is a new video that later steps may take as their input."""
        return self.name in VIDEO_STEPS

    def run(self, video: Path) -> Path:
        """Run this step on `video` with its options and return the file it wrote."""
        return STEPS[self.name](video, **self.options)


def _check_options(name: str, options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    model = STEP_OPTIONS[name]
    if not isinstance(options, Mapping):
        raise PydanticCustomError(
            "postprocess_options",
            "the options of '{name}' must be a mapping of option names to values; allowed options: {allowed}",
            {"name": name, "allowed": ", ".join(model.model_fields)},
        )
    try:
        return model.model_validate(options).model_dump(exclude_none=True)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown option '{where}' (allowed: {', '.join(model.model_fields)})")
            else:
                problems.append(f"{where}: {error['msg']}")
        raise PydanticCustomError(
            "postprocess_options", "{name}: {problems}", {"name": name, "problems": "; ".join(problems)}
        ) from None
