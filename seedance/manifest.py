"""Manifests: many specs in one file, with shared defaults.

    defaults: {model: doubao-seedance-2-0-260128, resolution: 720p, ratio: "16:9"}
    items:
      - {name: boat, prompt: A paper boat in the rain, duration: 5}
      - shots/harbour.yaml          # a spec file, relative to the manifest

Each item starts from the defaults; its own fields win, and lists such as `references` are
replaced, not joined. Relative paths (media and spec files) are taken from the file they were
written in. A file without `items:` is a single spec.

A manifest may also live on S3 (`read_manifest`, the pipeline handing it a reader): a daily batch
then follows whatever the manifest says on the day it runs, and its relative paths name objects
beside it (`lantern.jpg` in `s3://b/daily/manifest.yaml` is `s3://b/daily/lantern.jpg`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from seedance.errors import Problem, SpecError
from seedance.files import parse_mapping, read_text
from seedance.locations import folder_of, join
from seedance.spec import GenerationSpec
from seedance.validation import problems_from_validation_error

MANIFEST: Final = "a spec, or a manifest with `items:`"

Reader = Callable[[str], str]
"""The text of the file at a location (a local path or `s3://bucket/key`); raises SpecError when it cannot."""


class ManifestItem(BaseModel):
    name: str
    source: str = ""
    """Where the item was written, for errors (`batch.yaml items[2]`); empty for items given inline."""
    spec: GenerationSpec


def load_manifest(path: Path) -> list[ManifestItem]:
    """The items of a local manifest (or the one spec of a spec file), defaults merged in.

    Raises:
        SpecError: a file cannot be read or an item is not a valid spec; the error names the item.
    """
    return read_manifest(str(path), lambda location: read_text(Path(location)))


def read_manifest(location: str, read: Reader) -> list[ManifestItem]:
    """The items of the manifest at `location` (a path or `s3://bucket/key`), every file read with `read`.

    Raises:
        SpecError: a file cannot be read or an item is not a valid spec; the error names the item.
    """
    data = parse_mapping(read(location), location, MANIFEST)
    folder = folder_of(location)
    if "items" not in data:
        spec = _spec(data, folder, location)
        return [ManifestItem(name=spec.name or _stem(location), source=location, spec=spec)]
    unknown = sorted(set(data) - {"defaults", "items"})
    if unknown:
        raise SpecError(
            [Problem(field=key, message="is not a manifest field; allowed: defaults, items") for key in unknown], location
        )
    raw_defaults = data.get("defaults") or {}
    items = data["items"]
    if not isinstance(raw_defaults, dict):
        raise SpecError([Problem(field="defaults", message="must be a mapping of spec fields")], location)
    if not isinstance(items, list) or not items:
        raise SpecError([Problem(field="items", message="must be a non-empty list of specs or spec file paths")], location)
    defaults = _normalised(raw_defaults, folder, f"{location} defaults")

    loaded: list[ManifestItem] = []
    for i, raw in enumerate(items):
        source = f"{location} items[{i}]"
        if isinstance(raw, str):
            item_location = join(folder, raw)
            raw_item, base = parse_mapping(read(item_location), item_location, MANIFEST), folder_of(item_location)
            source = f"{source} ({item_location})"
            name = str(raw_item.get("name") or _stem(item_location))
        elif isinstance(raw, dict):
            raw_item, base, name = raw, folder, str(raw.get("name") or f"item {i + 1}")
        else:
            raise SpecError([Problem(field=f"items[{i}]", message="must be a spec mapping or a spec file path")], location)
        try:
            spec = GenerationSpec.model_validate({**defaults, **_normalised(raw_item, base, source)})
        except ValidationError as exc:
            raise SpecError(problems_from_validation_error(exc), source) from None
        loaded.append(ManifestItem(name=name, source=source, spec=spec))
    return loaded


def _spec(data: Mapping[str, Any], folder: str, source: str) -> GenerationSpec:
    try:
        return GenerationSpec.model_validate(data).relative_to(folder)
    except ValidationError as exc:
        raise SpecError(problems_from_validation_error(exc), source) from None


def _normalised(data: Mapping[str, Any], folder: str, source: str) -> dict[str, Any]:
    """Spec fields as given, checked, with relative paths taken from `folder` (where they were written)."""
    return _spec(data, folder, source).model_dump(mode="json", include=set(data))


def _stem(location: str) -> str:
    return PurePosixPath(location).stem
