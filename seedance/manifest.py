"""Manifests: many specs in one file, with shared defaults.

    defaults: {model: doubao-seedance-2-0-260128, resolution: 720p, ratio: "16:9"}
    items:
      - {name: boat, prompt: A paper boat in the rain, duration: 5}
      - shots/harbour.yaml          # a spec file, relative to the manifest

Each item starts from the defaults; its own fields win, and lists such as `references` are
replaced, not joined. Relative paths (media and spec files) are taken from the file they were
written in. A file without `items:` is a single spec.

A manifest may also live on S3 (`load_manifest_at`, the pipeline handing it a reader): a daily batch
then follows whatever the manifest says on the day it runs, and its relative paths name objects
beside it (`lantern.jpg` in `s3://b/daily/manifest.yaml` is `s3://b/daily/lantern.jpg`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from seedance.ark.dialects import Dialect
from seedance.errors import Problem, SpecError
from seedance.files import parse_mapping, read_text
from seedance.locations import folder_of, join
from seedance.spec import SPEC_FIELDS, GenerationSpec
from seedance.validation import problems_from_validation_error, unknown_fields

MANIFEST: Final = "a spec, or a manifest with `items:`"

Reader = Callable[[str], str]
"""The text of the file at a location (a local path or `s3://bucket/key`); raises SpecError when it cannot."""


class ManifestItem(BaseModel):
    name: str
    source: str = ""
    """Where the item was written, for errors (`batch.yaml items[2]`); empty for items given inline."""
    spec: GenerationSpec


def load_manifest(path: Path) -> list[ManifestItem]:
    """The items of a manifest (or the one spec of a spec file), defaults merged in.

    Raises:
        SpecError: a file cannot be read or an item is not a valid spec; every problem of every
            item is listed, each field named by its item (`boat: ratio`).
    """
    return load_manifest_at(str(path), _read_local)


def load_manifest_at(location: str, read: Reader) -> list[ManifestItem]:
    """The items of the manifest at `location` (a path or `s3://bucket/key`), every file read with `read`.

    Raises:
        SpecError: as `load_manifest`.
    """
    items, problems = read_manifest(location, read)
    if problems:
        raise SpecError(problems, location)
    return items


def read_manifest(location: Path | str, read: Reader | None = None) -> tuple[list[ManifestItem], list[Problem]]:
    """`load_manifest_at` that hands back its problems instead of raising them, to report beside what
    pre-flight finds in the valid items: the valid items (unknown fields set aside) and every problem.
    Files are read with `read` (default: the local file system).

    Raises:
        SpecError: a file cannot be read, or the manifest itself is malformed (no items, unknown keys).
    """
    location, read = str(location), read or _read_local
    data = parse_mapping(read(location), location, MANIFEST)
    folder = folder_of(location)
    if "items" not in data:
        _refuse_a_manifest_without_items(data, location)
        fields, named = _normalised(data, folder, "spec")
        unknown = [problem.model_copy(update={"field": problem.field.removeprefix("spec: ")}) for problem in named]
        if fields is None:
            raise SpecError(unknown, location)
        spec = GenerationSpec.model_validate(fields)
        return [ManifestItem(name=spec.name or _stem(location), source=location, spec=spec)], unknown
    unknown_keys = sorted(set(data) - {"defaults", "items"})
    if unknown_keys:
        raise SpecError(
            [Problem(field=key, message="is not a manifest field; allowed: defaults, items") for key in unknown_keys], location
        )
    raw_defaults = data.get("defaults") or {}
    items = data["items"]
    if not isinstance(raw_defaults, dict):
        raise SpecError([Problem(field="defaults", message="must be a mapping of spec fields")], location)
    if not isinstance(items, list) or not items:
        raise SpecError([Problem(field="items", message="must be a non-empty list of specs or spec file paths")], location)
    defaults, problems = _normalised(raw_defaults, folder, "defaults")
    if defaults is None:
        raise SpecError(problems, location)  # every item starts from the defaults

    loaded: list[ManifestItem] = []
    for i, raw in enumerate(items):
        source = f"{location} items[{i}]"
        if isinstance(raw, str):
            item_location = join(folder, raw)
            try:
                raw_item, base = parse_mapping(read(item_location), item_location, MANIFEST), folder_of(item_location)
            except SpecError as exc:  # listed with the other items' problems, named by its place in the manifest
                problems += within(f"items[{i}] ({raw})", exc.problems)
                continue
            source = f"{source} ({item_location})"
            name = str(raw_item.get("name") or _stem(item_location))
        elif isinstance(raw, dict):
            raw_item, base, name = raw, folder, str(raw.get("name") or f"item {i + 1}")
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
            problems += within(name, problems_from_validation_error(exc))
            continue
        loaded.append(ManifestItem(name=name, source=source, spec=spec))
    return loaded, problems


MANIFEST_KEYS: Final = ("defaults", "items")


def _refuse_a_manifest_without_items(data: Mapping[str, Any], location: str) -> None:
    """A file with `defaults:`, or with a key that is no spec field but looks like `items`, is a
    manifest whose `items:` is misspelt or missing, not a spec: say so, instead of listing its keys
    as unknown spec fields.

    Raises:
        SpecError: one problem per key that is neither a spec field nor a manifest key, with the
            manifest key it resembles, and one for the missing `items`.
    """
    strays = [str(key) for key in data if key not in SPEC_FIELDS and key not in MANIFEST_KEYS]
    # 0.75: `itmes` (0.8) and `iterms` look like `items`; `title`, `notes`, `steps` (0.6) do not
    resembling = {key: difflib.get_close_matches(key, MANIFEST_KEYS, n=1, cutoff=0.75) for key in strays}
    if "defaults" not in data and not any(resembling.values()):
        return
    problems = [
        Problem(
            field=key,
            message="is not a manifest field" + (f"; did you mean {close[0]!r}?" if close else "; allowed: defaults, items"),
        )
        for key, close in resembling.items()
    ]
    problems.append(Problem(field="items", message="is missing: a manifest lists its specs under `items:`"))
    raise SpecError(problems, location)


def _read_local(location: str) -> str:
    return read_text(Path(location))


def _stem(location: str) -> str:
    return PurePosixPath(location).stem


def _normalised(data: Mapping[str, Any], base: str, where: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Spec fields as given, with local paths taken from `base` (the file they were written in), and
    the problems found, named inside `where`: unknown fields are set aside, an invalid value leaves
    no fields (None)."""
    problems = unknown_fields(data, SPEC_FIELDS)
    known = {key: value for key, value in data.items() if key in SPEC_FIELDS}
    try:
        spec = GenerationSpec.model_validate(known).relative_to(base)
    except ValidationError as exc:
        return None, within(where, problems + problems_from_validation_error(exc))
    return spec.model_dump(mode="json", include=set(known)), within(where, problems)


def within(where: str, problems: list[Problem]) -> list[Problem]:
    """The problems, each field named by the item (or `defaults`) it is in: `boat: ratio`."""
    return [problem.model_copy(update={"field": f"{where}: {problem.field}"}) for problem in problems]


def preflight_items(items: list[ManifestItem], default_model: str, dialect: Dialect | None = None) -> None:
    """Pre-flight every item before any is paid for (`GenerationSpec.preflight`).

    Raises:
        SpecError: listing every problem of every item, each named by its item.
    """
    found: dict[Problem, list[str]] = {}
    for item in items:
        try:
            item.spec.preflight(default_model, dialect)
        except SpecError as exc:
            for problem in exc.problems:
                found.setdefault(problem, []).append(item.name)
    if found:
        raise SpecError([_shared(problem, names) for problem, names in found.items()], "batch")


SHOWN_ITEMS: Final = 3
"""Items named in a problem several share; the count gives the rest."""


def _shared(problem: Problem, names: list[str]) -> Problem:
    """The problem named by every item that has it (`a, b, c and 2 more: model`): one line for what
    the defaults gave every item, not one per item."""
    shown = ", ".join(names[:SHOWN_ITEMS]) + (f" and {len(names) - SHOWN_ITEMS} more" if len(names) > SHOWN_ITEMS else "")
    return problem.model_copy(update={"field": f"{shown}: {problem.field}"})
