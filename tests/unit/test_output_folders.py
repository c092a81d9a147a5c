"""seedance/outputs.py: output folders, the place of a generation, and finding what a run kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedance.ark.types import ContentGenerationTask
from seedance.errors import ConfigurationError, SpecError
from seedance.files import sha256_file
from seedance.outputs import Folder, check_name, cut_place, find_result, locations, output_paths, workspace
from seedance.results import GenerationResult, OutputFiles, VideoInfo


@pytest.mark.parametrize(
    ("out", "bucket", "path"),
    [
        ("s3://assets/outputs", "assets", "outputs"),
        ("s3://assets/outputs/nightly/", "assets", "outputs/nightly"),
        ("s3://assets", "assets", ""),
        ("s3://assets/", "assets", ""),
    ],
)
def test_an_s3_url_names_the_bucket_and_the_prefix(out: str, bucket: str, path: str) -> None:
    folder = Folder.parse(out)
    assert (folder.bucket, folder.path, folder.in_s3) == (bucket, path, True)
    assert Folder.parse(str(folder)) == folder


def test_an_s3_url_without_a_bucket_is_refused() -> None:
    with pytest.raises(SpecError, match="out: 's3:///x' names no bucket"):
        Folder.parse("s3:///x")


def test_a_local_folder_is_made_absolute_from_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = Folder.parse("out/first")
    assert (folder.bucket, folder.path, folder.in_s3) == (None, str(tmp_path.resolve() / "out" / "first"), False)
    assert Folder.parse(str(folder)) == folder


def test_a_generation_has_a_place_of_its_own_under_its_name() -> None:
    s3 = Folder.parse("s3://assets/outputs").join("boat", "cgt-1")
    assert s3.location("boat.mp4") == "s3://assets/outputs/boat/cgt-1/boat.mp4"
    assert Folder.parse("s3://assets").join("boat", "cgt-1").location("result.json") == "s3://assets/boat/cgt-1/result.json"
    assert Folder.parse("/srv/out").join("boat", "cgt-1").location("boat.mp4") == "/srv/out/boat/cgt-1/boat.mp4"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../up", "a\\b"])
def test_a_name_that_could_leave_the_folder_is_refused(name: str) -> None:
    with pytest.raises(SpecError, match="cannot name a folder of outputs"):
        check_name(name)
    with pytest.raises(SpecError):
        Folder.parse("s3://assets/outputs").join(name)


def test_names_may_hold_spaces_and_dots() -> None:
    check_name("item 1")
    check_name("take.2")


def test_a_cut_is_placed_by_its_shots_and_loudness() -> None:
    board = Folder.parse("s3://assets/outputs/boat")
    place = cut_place(board, ["cgt-1", "cgt-2"], -16.0)
    assert place.path.startswith("outputs/boat/") and len(place.path.rsplit("/", 1)[1]) == 16
    assert cut_place(board, ["cgt-1", "cgt-2"], -16.0) == place
    assert cut_place(board, ["cgt-2", "cgt-1"], -16.0) != place
    assert cut_place(board, ["cgt-1", "cgt-2"], -14.0) != place


def test_an_s3_place_is_made_in_a_staging_folder_removed_afterwards(tmp_path: Path) -> None:
    with workspace(Folder.parse("s3://assets/boat/cgt-1")) as staging:
        assert staging.is_dir() and staging != tmp_path
    assert not staging.exists()
    with workspace(Folder.parse(str(tmp_path))) as local:
        assert local == tmp_path.resolve()
    assert local.exists()


def kept(place: Path, task_id: str = "cgt-1") -> GenerationResult:
    """A generation kept at the local `place`: its video, poster, a step's output and result.json."""
    place.mkdir(parents=True)
    (place / "boat.mp4").write_bytes(b"the video")
    files = OutputFiles(
        video=place / "boat.mp4",
        poster=place / "boat.poster.jpg",
        result=place / "result.json",
        postprocessed={"preview": place / "boat.preview.gif"},
    )
    generation = ContentGenerationTask.model_validate(
        {"id": task_id, "model": "doubao-seedance-2-0-260128", "status": "succeeded", "created_at": 1, "updated_at": 2}
    )
    video = VideoInfo(
        width=864,
        height=496,
        duration_seconds=4.0,
        fps=24.0,
        video_codec="h264",
        has_audio=False,
        size_bytes=9,
        sha256=sha256_file(place / "boat.mp4"),
    )
    folder = Folder.parse(str(place))
    result = GenerationResult.build(
        generation,
        gateway="local",
        intent_key="k",
        resumed=False,
        video=video,
        files=files,
        locations=locations(files, folder),
        cost=None,
        timings={},
    )
    (place / "result.json").write_text(result.model_dump_json())
    return result


def test_result_json_is_uploaded_last_and_lists_every_file(tmp_path: Path) -> None:
    result = kept(tmp_path / "boat" / "cgt-1")
    assert [path.name for path in output_paths(result.files)] == [
        "boat.mp4",
        "boat.poster.jpg",
        "boat.preview.gif",
        "result.json",
    ]
    place = Folder.parse("s3://assets/out/boat/cgt-1")
    assert locations(result.files, place) == {
        "video": "s3://assets/out/boat/cgt-1/boat.mp4",
        "poster": "s3://assets/out/boat/cgt-1/boat.poster.jpg",
        "preview": "s3://assets/out/boat/cgt-1/boat.preview.gif",
        "result": "s3://assets/out/boat/cgt-1/result.json",
    }


def test_a_kept_result_is_found_when_its_video_is_intact(tmp_path: Path) -> None:
    result = kept(tmp_path / "boat" / "cgt-1")
    place = Folder.parse(str(tmp_path / "boat" / "cgt-1"))
    assert find_result(place, "cgt-1", None) == result
    assert find_result(place, "cgt-2", None) is None  # another task's place
    (tmp_path / "boat" / "cgt-1" / "boat.mp4").write_bytes(b"other bytes")
    assert find_result(place, "cgt-1", None) is None


def test_no_result_is_found_where_there_is_none_or_it_is_unreadable(tmp_path: Path) -> None:
    assert find_result(Folder.parse(str(tmp_path / "nothing")), "cgt-1", None) is None
    kept(tmp_path / "boat" / "cgt-1")
    (tmp_path / "boat" / "cgt-1" / "result.json").write_text("{ cut short")
    assert find_result(Folder.parse(str(tmp_path / "boat" / "cgt-1")), "cgt-1", None) is None


def test_a_place_in_s3_needs_the_runs_bucket() -> None:
    with pytest.raises(ConfigurationError, match="outputs in s3://assets/boat/cgt-1: pass --bucket"):
        find_result(Folder.parse("s3://assets/boat/cgt-1"), "cgt-1", None)
