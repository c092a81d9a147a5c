"""`s3://bucket/key` in specs and manifests: used where it lies (presigned, never uploaded), and a
manifest on S3 whose relative paths name the objects beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from seedance.errors import SpecError
from seedance.locations import S3Object, folder_of, join
from seedance.manifest import ManifestItem, load_manifest_at
from seedance.spec import GenerationSpec, Reference

V2 = "doubao-seedance-2-0-260128"


@pytest.mark.parametrize(
    ("url", "problem"),
    [("s3://assets", "names no object"), ("s3://assets/", "names no object"), ("s3://ab/key", "names no object")],
)
def test_an_s3_url_must_name_an_object(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        S3Object.parse(url)


def test_relative_paths_are_taken_from_the_folder_of_the_file_that_wrote_them() -> None:
    assert folder_of("s3://assets/daily/manifest.yaml") == "s3://assets/daily/"
    assert join("s3://assets/daily/", "../frames/lantern.jpg") == "s3://assets/frames/lantern.jpg"
    assert join("s3://assets/", "lantern.jpg") == "s3://assets/lantern.jpg"
    assert join("s3://assets/daily/", "/srv/frames/a.jpg") == "/srv/frames/a.jpg"
    assert join("/srv/specs", "a.jpg") == "/srv/specs/a.jpg"


def test_an_s3_reference_is_neither_uploaded_nor_probed_and_is_presigned_only_when_asked(tmp_path: Path, media_dir: Path) -> None:
    local = Path(shutil.copy(media_dir / "frame_640x360.jpg", tmp_path / "last.jpg"))
    spec = GenerationSpec(
        model=V2,
        prompt="a lantern",
        references=[
            Reference(url="s3://assets/incoming/lantern.jpg", role="first_frame"),
            Reference(url=str(local), role="last_frame"),
        ],
    )
    assert spec.uploads() == [local]
    assert spec.s3_objects() == ["s3://assets/incoming/lantern.jpg"]
    spec.preflight(V2)  # the object is not probed here: check-references fetches it, presigned, before create

    keyed = spec.to_request(V2, lambda path: "sha256:x")
    assert [item.image_url.url for item in keyed.content[1:]] == ["s3://assets/incoming/lantern.jpg", "sha256:x"]  # type: ignore[union-attr]
    sent = spec.to_request(V2, lambda path: "https://up/last", lambda url: f"https://signed/{url[5:]}")
    assert [item.image_url.url for item in sent.content[1:]] == ["https://signed/assets/incoming/lantern.jpg", "https://up/last"]  # type: ignore[union-attr]


def test_a_malformed_s3_reference_is_refused_before_anything_is_sent() -> None:
    spec = GenerationSpec(model=V2, prompt="p", references=[Reference(url="s3://assets", role="first_frame")])
    with pytest.raises(SpecError) as caught:
        spec.preflight(V2)
    assert [(p.field, "names no object" in p.message) for p in caught.value.problems] == [("references[0]", True)]


def test_a_manifest_on_s3_reads_its_spec_files_and_media_from_beside_it() -> None:
    files = {
        "s3://assets/daily/manifest.yaml": yaml.safe_dump(
            {
                "defaults": {"model": V2, "resolution": "720p"},
                "items": [
                    {"name": "lantern", "prompt": "a lantern", "references": [{"url": "lantern.jpg", "role": "first_frame"}]},
                    "shots/harbour.yaml",
                ],
            }
        ),
        "s3://assets/daily/shots/harbour.yaml": yaml.safe_dump(
            {"prompt": "the harbour", "references": [{"url": "../frames/boat.jpg", "role": "first_frame"}]}
        ),
    }
    read: list[str] = []

    def reader(location: str) -> str:
        read.append(location)
        return files[location]

    items = load_manifest_at("s3://assets/daily/manifest.yaml", reader)
    assert read == ["s3://assets/daily/manifest.yaml", "s3://assets/daily/shots/harbour.yaml"]
    assert [(item.name, item.spec.resolution, item.spec.s3_objects()) for item in items] == [
        ("lantern", "720p", ["s3://assets/daily/lantern.jpg"]),
        ("harbour", "720p", ["s3://assets/daily/frames/boat.jpg"]),
    ]
    assert items[1].source == "s3://assets/daily/manifest.yaml items[1] (s3://assets/daily/shots/harbour.yaml)"


def test_an_inline_item_needs_no_internal_field() -> None:
    item = ManifestItem.model_validate({"name": "rain", "spec": {"prompt": "rain on a window"}})
    assert item.source == ""
