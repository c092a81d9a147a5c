"""Spec files and manifests: Ark bodies with local paths, shorthands, and errors that name the spec's own fields."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from seedance.errors import SpecError
from seedance.manifest import load_manifest, preflight_items, read_manifest
from seedance.spec import load_spec, read_spec

MODEL = "doubao-seedance-2-0-260128"


@pytest.fixture(autouse=True)
def image(tmp_path: Path, media_dir: Path) -> Path:
    return Path(shutil.copy(media_dir / "frame_640x360.jpg", tmp_path / "img.png"))


def write(tmp_path: Path, data: object, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data))
    return path


def test_an_ark_body_with_a_local_path_reads_as_a_request(tmp_path: Path) -> None:
    body: dict[str, Any] = {
        "model": MODEL,
        "content": [
            {"type": "text", "text": "hi"},
            {"type": "image_url", "image_url": {"url": "img.png"}, "role": "first_frame"},
        ],
        "ratio": "16:9",
        "seed": None,
    }
    spec = load_spec(write(tmp_path, body, "spec.json"))
    assert spec.local_files() == [tmp_path / "img.png"]
    request = spec.to_request("unused", lambda path: f"https://s3/{path.name}")
    assert request.to_body() == {
        **{k: v for k, v in body.items() if v is not None},
        "content": [body["content"][0], {"type": "image_url", "image_url": {"url": "https://s3/img.png"}, "role": "first_frame"}],
    }


def test_shorthands_and_default_model(tmp_path: Path) -> None:
    spec = load_spec(
        write(tmp_path, {"prompt": "p", "references": [{"url": "img.png", "role": "reference_image"}], "duration": 5})
    )
    request = spec.preflight(MODEL)
    assert request.model == MODEL
    assert [item.type for item in request.content] == ["text", "image_url"]


def test_every_problem_is_reported_under_the_spec_field_that_caused_it(tmp_path: Path) -> None:
    spec = load_spec(
        write(
            tmp_path,
            {
                "model": MODEL,
                "prompt": "p",
                "ratio": "5:4",
                "duration": 99,
                "references": [{"url": "missing.png", "role": "first_frame"}],
            },
        )
    )
    with pytest.raises(SpecError) as caught:
        spec.preflight(MODEL)
    fields = [problem.field for problem in caught.value.problems]
    assert fields == ["references[0]", "ratio", "duration"]
    assert "allowed: integers 4-15 or -1" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("model: [unclosed", "file"),
        ("- a list", "file"),
        ("model: x\nsize: 1280x720\n", "size"),
        ("model: x\nreferences: [{url: a.png, role: hero}]\n", "references[0].role"),
    ],
)
def test_unreadable_specs_name_what_is_wrong(tmp_path: Path, content: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.problems[0].field == field


def test_an_unclosed_quote_is_found_at_the_end_and_named_where_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model: doubao-seedance-1-0-lite-t2v-250428\nprompt: 'a boat\nresolution: 480p\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.problems[0].message == (
        "not valid YAML/JSON: line 4, column 1: found unexpected end of stream, "
        "while scanning a quoted scalar that starts at line 2, column 9"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")


def test_unknown_fields_are_listed_beside_the_other_problems_with_the_field_they_resemble(tmp_path: Path) -> None:
    path = write(tmp_path, {"model": MODEL, "prompt": "p", "ratio": "5:4", "durration": 5, "colour": "red"})
    spec, unknown = read_spec(path)
    assert [str(problem) for problem in unknown] == [  # in the file's order (safe_dump sorts the keys)
        "colour: is not a parameter of this API",
        "durration: is not a parameter of this API; did you mean 'duration'?",
    ]
    with pytest.raises(SpecError) as caught:
        spec.preflight(MODEL)
    assert [problem.field for problem in caught.value.problems] == ["ratio"]
    with pytest.raises(SpecError) as loaded:
        load_spec(path)
    assert [problem.field for problem in loaded.value.problems] == ["colour", "durration"]


def test_an_invalid_value_is_listed_with_the_unknown_fields(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        read_spec(write(tmp_path, {"model": MODEL, "prompt": "p", "duration": "long", "ration": "16:9"}))
    assert [problem.field for problem in caught.value.problems] == ["ration", "duration"]
    assert "did you mean 'ratio'?" in str(caught.value)


def test_a_manifest_lists_every_item_s_problems_named_by_item(tmp_path: Path) -> None:
    manifest = write(
        tmp_path,
        {
            "defaults": {"model": MODEL, "resolutoin": "480p"},
            "items": [{"name": "a", "prompt": "p", "ratoi": "16:9"}, {"name": "b", "prompt": "p", "duration": "x"}, 7],
        },
        "batch.yaml",
    )
    items, problems = read_manifest(manifest)
    assert [item.name for item in items] == ["a"]
    assert [problem.field for problem in problems] == ["defaults: resolutoin", "a: ratoi", "b: duration", "items[2]"]
    assert "did you mean 'ratio'?" in problems[1].message
    with pytest.raises(SpecError) as caught:
        load_manifest(manifest)
    assert caught.value.problems == problems and caught.value.source == str(manifest)


def test_pre_flight_of_every_item_names_each_problem_by_its_item(tmp_path: Path) -> None:
    items = load_manifest(
        write(
            tmp_path,
            {"defaults": {"model": MODEL, "prompt": "p"}, "items": [{"name": "ok"}, {"name": "wide", "ratio": "5:4"}]},
            "m.yaml",
        )
    )
    with pytest.raises(SpecError) as caught:
        preflight_items(items, MODEL)
    assert [problem.field for problem in caught.value.problems] == ["wide: ratio"]


def test_a_manifest_with_a_misspelt_items_key_is_told_so_not_read_as_a_spec(tmp_path: Path) -> None:
    path = write(tmp_path, {"defaults": {"model": "doubao-seedance-1-0-lite-t2v-250428"}, "itmes": [{"prompt": "a"}]})
    with pytest.raises(SpecError) as caught:
        load_manifest(path)
    assert [str(problem) for problem in caught.value.problems] == [
        "itmes: is not a manifest field; did you mean 'items'?",
        "items: is missing: a manifest lists its specs under `items:`",
    ]


def test_a_spec_file_a_manifest_names_but_cannot_read_is_one_problem_among_the_others(tmp_path: Path) -> None:
    path = write(tmp_path, {"items": [{"name": "a", "prompt": "a boat"}, "nothere.yaml", {"name": "b", "promt": "x"}]})
    items, problems = read_manifest(path)
    assert [item.name for item in items] == ["a", "b"]
    assert [problem.field for problem in problems] == ["items[1] (nothere.yaml): file", "b: promt"]
    assert problems[0].message.startswith("cannot read")


def test_a_problem_every_item_shares_is_one_line_naming_them(tmp_path: Path) -> None:
    typo = "doubao-seedance-1-0-lite-t2v-25042"
    names = [f"shot-{i}" for i in range(5)]
    items = load_manifest(write(tmp_path, {"defaults": {"model": typo, "prompt": "p"}, "items": [{"name": n} for n in names]}))
    with pytest.raises(SpecError) as caught:
        preflight_items(items, MODEL)
    assert [str(problem) for problem in caught.value.problems] == [
        f"shot-0, shot-1, shot-2 and 2 more: model: {typo!r} is not a Seedance model or endpoint; "
        "did you mean 'doubao-seedance-1-0-lite-t2v-250428'?"
    ]


def test_a_spec_with_a_stray_key_is_a_spec_not_a_manifest_missing_items(tmp_path: Path) -> None:
    path = write(tmp_path, {"model": MODEL, "prompt": "p", "title": "a boat"})
    items, problems = read_manifest(path)
    assert [item.name for item in items] == ["spec"]
    assert [str(problem) for problem in problems] == ["title: is not a parameter of this API"]
