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

from seedance.errors import Problem, SpecError
from seedance.files import read_mapping
from seedance.spec import GenerationSpec, load_spec
from seedance.validation import problems_from_validation_error

MANIFEST: Final = "a spec, or a manifest with `items:`"


class ManifestItem(BaseModel):
    name: str
    source: str
    """Where the item was written, for errors (`batch.yaml items[2]`)."""
    spec: GenerationSpec


def load_manifest(path: Path) -> list[ManifestItem]:
    """The items of a manifest (or the one spec of a spec file), defaults merged in.

    Raises:
        SpecError: a file cannot be read or an item is not a valid spec; the error names the item.
    """
    data = read_mapping(path, MANIFEST)
    if "items" not in data:
        spec = load_spec(path)
        return [ManifestItem(name=spec.name or path.stem, source=str(path), spec=spec)]
    unknown = sorted(set(data) - {"defaults", "items"})
    if unknown:
        raise SpecError(
            [Problem(field=key, message="is not a manifest field; allowed: defaults, items") for key in unknown], str(path)
        )
    raw_defaults = data.get("defaults") or {}
    items = data["items"]
    if not isinstance(raw_defaults, dict):
        raise SpecError([Problem(field="defaults", message="must be a mapping of spec fields")], str(path))
    if not isinstance(items, list) or not items:
        raise SpecError([Problem(field="items", message="must be a non-empty list of specs or spec file paths")], str(path))
    defaults = _normalised(raw_defaults, path.parent, f"{path} defaults")

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
            raise SpecError([Problem(field=f"items[{i}]", message="must be a spec mapping or a spec file path")], str(path))
        try:
            spec = GenerationSpec.model_validate({**defaults, **_normalised(raw_item, base, source)})
        except ValidationError as exc:
            raise SpecError(problems_from_validation_error(exc), source) from None
        loaded.append(ManifestItem(name=name, source=source, spec=spec))
    return loaded


def _normalised(data: Mapping[str, Any], base: Path, source: str) -> dict[str, Any]:
    """Spec fields as given, checked, with local paths taken from `base` (the file they were written in)."""
    try:
        spec = GenerationSpec.model_validate(data).relative_to(base)
    except ValidationError as exc:
        raise SpecError(problems_from_validation_error(exc), source) from None
    return spec.model_dump(mode="json", include=set(data))
