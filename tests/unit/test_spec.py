"""Spec files: Ark bodies with local paths, shorthands, and errors that name the spec's own fields."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from seedance.errors import SpecError
from seedance.spec import load_spec

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


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")
