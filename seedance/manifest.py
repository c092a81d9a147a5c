"""Manifests: many specs in one file, with shared defaults.

    defaults: {model: doubao-seedance-2-0-260128, resolution: 720p, ratio: "16:9"}
    items:
      - {name: boat, prompt: A paper boat in the rain, duration: 5}
      - shots/harbour.yaml          # a spec file, relative to the manifest

Each item starts from the defaults; its own fields win, and lists such as `references` are
replaced, not joined. Relative media paths are taken from the file they were written in. A file
without `items:` is a single spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from seedance.ark.dialects import Dialect
from seedance.errors import Problem, SpecError
from seedance.files import read_mapping
from seedance.spec import SPEC_FIELDS, GenerationSpec, read_spec
from seedance.validation import problems_from_validation_error, unknown_fields

MANIFEST: Final = "a spec, or a manifest with `items:`"


class ManifestItem(BaseModel):
    name: str
    source: str
    """Where the item was written, for errors (`batch.yaml items[2]`)."""
    spec: GenerationSpec


def load_manifest(path: Path) -> list[ManifestItem]:
    """The items of a manifest (or the one spec of a spec file), defaults merged in.

    Raises:
        SpecError: a file cannot be read or an item is not a valid spec; every problem of every
            item is listed, each field named by its item (`boat: ratio`).
    """
    items, problems = read_manifest(path)
    if problems:
        raise SpecError(problems, str(path))
    return items


def read_manifest(path: Path) -> tuple[list[ManifestItem], list[Problem]]:
    """`load_manifest` that hands back its problems instead of raising them, to report beside what
    pre-flight finds in the valid items: the valid items (unknown fields set aside) and every problem.

    Raises:
        SpecError: a file cannot be read, or the manifest itself is malformed (no items, unknown keys).
    """
    data = read_mapping(path, MANIFEST)
    if "items" not in data:
        spec, unknown = read_spec(path)
        return [ManifestItem(name=spec.name or path.stem, source=str(path), spec=spec)], unknown
    unknown_keys = sorted(set(data) - {"defaults", "items"})
    if unknown_keys:
        raise SpecError(
            [Problem(field=key, message="is not a manifest field; allowed: defaults, items") for key in unknown_keys], str(path)
        )
    raw_defaults = data.get("defaults") or {}
    items = data["items"]
    if not isinstance(raw_defaults, dict):
        raise SpecError([Problem(field="defaults", message="must be a mapping of spec fields")], str(path))
    if not isinstance(items, list) or not items:
        raise SpecError([Problem(field="items", message="must be a non-empty list of specs or spec file paths")], str(path))
    defaults, problems = _normalised(raw_defaults, path.parent, "defaults")
    if defaults is None:
        raise SpecError(problems, str(path))  # every item starts from the defaults

    loaded: list[ManifestItem] = []
    for i, raw in enumerate(items):
        source = f"{path} items[{i}]"
        if isinstance(raw, str):
            item_path = path.parent / raw
            raw_item, base, source = read_mapping(item_path, MANIFEST), item_path.parent, f"{source} ({item_path})"
            name = str(raw_item.get("name") or item_path.stem)
        elif isinstance(raw, dict):
            raw_item, base, name = raw, path.parent, str(raw.get("name") or f"item {i + 1}")
        else:
            problems.append(Problem(field=f"items[{i}]", message="must be a spec mapping or a spec file path"))
            continue
        fields, item_problems = _normalised(raw_item, base, name)
        problems += item_problems
        if fields is None:
            continue
        try:
            spec = GenerationSpec.model_validate({**defaults, **fields})
        except ValidationError as exc:
            problems += _within(name, problems_from_validation_error(exc))
            continue
        loaded.append(ManifestItem(name=name, source=source, spec=spec))
    return loaded, problems


def _normalised(data: Mapping[str, Any], base: Path, where: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Spec fields as given, with local paths taken from `base` (the file they were written in), and
    the problems found, named inside `where`: unknown fields are set aside, an invalid value leaves
    no fields (None)."""
    problems = unknown_fields(data, SPEC_FIELDS)
    known = {key: value for key, value in data.items() if key in SPEC_FIELDS}
    try:
        spec = GenerationSpec.model_validate(known).relative_to(base)
    except ValidationError as exc:
        return None, _within(where, problems + problems_from_validation_error(exc))
    return spec.model_dump(mode="json", include=set(known)), _within(where, problems)


def _within(where: str, problems: list[Problem]) -> list[Problem]:
    """The problems, each field named by the item (or `defaults`) it is in: `boat: ratio`."""
    return [problem.model_copy(update={"field": f"{where}: {problem.field}"}) for problem in problems]


def preflight_items(items: list[ManifestItem], default_model: str, dialect: Dialect | None = None) -> None:
    """Pre-flight every item before any is paid for (`GenerationSpec.preflight`).

    Raises:
        SpecError: listing every problem of every item, each named by its item.
    """
    problems: list[Problem] = []
    for item in items:
        try:
            item.spec.preflight(default_model, dialect)
        except SpecError as exc:
            problems += _within(item.name, exc.problems)
    if problems:
        raise SpecError(problems, "batch")
