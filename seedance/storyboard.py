"""Storyboards: shots that continue one another, read from a file with shared defaults.

    defaults:                       # any spec field, applied to every shot
      model: doubao-seedance-2-0-fast-260128
      resolution: 480p
      duration: 4
    first_frame: opening.png        # optional: the image the first shot opens on
    loudness: -16                   # optional: integrated LUFS of the final cut (EBU R128)
    shots:
      - prompt: A paper boat is set on a rain-soaked street
      - prompt: The boat drifts toward a storm drain
      - {prompt: It sails out into the harbour, duration: 5}

Each shot after the first opens on the previous shot's last frame (`return_last_frame`), so the
cut between shots is continuous. Shots are generated in order: each needs the one before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seedance.ark.dialects import Dialect
from seedance.errors import Problem, SpecError
from seedance.files import read_mapping
from seedance.spec import GenerationSpec
from seedance.validation import problems_from_validation_error

DEFAULT_LOUDNESS = -16.0
"""Integrated loudness of the final cut: the common target for web video."""


LAST_FRAME_STAND_IN = "https://local.invalid/previous-shot-last-frame.png"
"""Where a later shot's first frame will come from, for checks made before any shot exists."""


class Storyboard(BaseModel):
    """A storyboard file: shared defaults and the shots in order."""

    model_config = ConfigDict(extra="forbid")

    defaults: dict[str, Any] = Field(default_factory=dict)
    first_frame: str | None = None
    loudness: float = DEFAULT_LOUDNESS
    shots: list[dict[str, Any]] = Field(min_length=1)
    base_dir: Path = Field(default=Path("."), description="Relative paths are taken from here (the file's folder).")

    def shot_spec(self, index: int, first_frame: str | None) -> GenerationSpec:
        """Shot `index` as a spec: defaults, then the shot's own fields, opening on `first_frame`."""
        fields = {**self.defaults, **self.shots[index], "return_last_frame": True}
        if first_frame is not None:
            fields["references"] = [{"url": first_frame, "role": "first_frame"}, *fields.get("references", [])]
        try:
            spec = GenerationSpec.model_validate(fields)
        except ValidationError as exc:
            problems = [
                problem.model_copy(update={"field": f"shots[{index}].{problem.field}"})
                for problem in problems_from_validation_error(exc)
            ]
            raise SpecError(problems, "storyboard") from None
        return spec.relative_to(self.base_dir)

    def shot_to_check(self, index: int) -> GenerationSpec:
        """Shot `index` as it can be checked or estimated before any shot exists: a later shot's
        opening frame stands in as `LAST_FRAME_STAND_IN`."""
        return self.shot_spec(index, self.first_frame if index == 0 else LAST_FRAME_STAND_IN)

    def preflight(self, default_model: str, dialect: Dialect | None = None) -> None:
        """Check every shot before the first is paid for; raise SpecError listing every problem."""
        problems: list[Problem] = []
        for index in range(len(self.shots)):
            try:
                self.shot_to_check(index).preflight(default_model, dialect)
            except SpecError as exc:
                problems += [
                    problem
                    if problem.field.startswith("shots[")
                    else problem.model_copy(update={"field": f"shots[{index}].{problem.field}"})
                    for problem in exc.problems
                ]
        if problems:
            raise SpecError(problems, "storyboard")


def load_storyboard(path: Path) -> Storyboard:
    """Read a storyboard file; relative paths are taken from its folder.

    Raises:
        SpecError: the file cannot be read or is not a storyboard.
    """
    data = read_mapping(path, "a storyboard with `shots:`")
    try:
        board = Storyboard.model_validate({**data, "base_dir": path.parent})
    except ValidationError as exc:
        raise SpecError(problems_from_validation_error(exc), str(path)) from None
    if board.first_frame is not None and not Path(board.first_frame).is_absolute():
        # absolute: `shot_spec` takes relative paths from `base_dir` again
        board = board.model_copy(update={"first_frame": str((path.parent / board.first_frame).absolute())})
    return board
