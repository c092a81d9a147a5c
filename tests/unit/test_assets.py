"""Watched places: what is new is reported once across restarts, and an asset event names its object
in a form the triggered flow reads back (or refuses, saying why)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from seedance.assets import Asset, SeenAssets, WatchedPlace, asset_location
from seedance.errors import SpecError
from tasks import events
from tasks.events import asset_created_event, event_id


def test_a_folder_is_scanned_for_files_but_not_hidden_ones(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"bb")
    (tmp_path / ".c.jpg.part").write_bytes(b"c")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "d.jpg").write_bytes(b"d")
    place = WatchedPlace.parse(str(tmp_path))
    assert [(Path(a.location).relative_to(tmp_path), a.size) for a in place.scan()] == [
        (Path("a.jpg"), 1),
        (Path("sub/b.png"), 2),
    ]


def test_what_was_reported_stays_reported_across_restarts(tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "old.jpg").write_bytes(b"o")
    place = WatchedPlace.parse(str(folder))

    first = SeenAssets.of(tmp_path / "state", place)
    assert not first.started
    first.record(first.new(place.scan()))  # the first look: what is there already
    (folder / "new.jpg").write_bytes(b"n")
    assert [Path(a.location).name for a in first.new(place.scan())] == ["new.jpg"]
    first.record(first.new(place.scan()))

    (folder / "while-down.jpg").write_bytes(b"w")
    restarted = SeenAssets.of(tmp_path / "state", place)
    assert restarted.started
    assert [Path(a.location).name for a in restarted.new(place.scan())] == ["while-down.jpg"]


def test_places_that_are_not_watchable_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="names no bucket"):
        WatchedPlace.parse("s3://")
    with pytest.raises(SpecError, match="neither s3://bucket/prefix nor a folder"):
        WatchedPlace.parse(str(tmp_path / "missing"))
    assert WatchedPlace.parse("s3://assets/incoming/").label == "s3://assets/incoming/"


def test_an_asset_event_names_its_object_and_has_the_same_id_every_time() -> None:
    asset = Asset(location="s3://assets/incoming/lantern.jpg", size=10, etag='"e"')
    event = asset_created_event(asset, "s3://assets/incoming/")
    assert event.event == "seedance.asset.created"
    assert event.resource.id == "seedance.asset.s3://assets/incoming/lantern.jpg"
    assert (event.resource["seedance.bucket"], event.resource["seedance.key"]) == ("assets", "incoming/lantern.jpg")
    assert (
        event.id
        == asset_created_event(asset, "s3://assets/incoming/").id
        == event_id("seedance.asset.created", event.resource.id)
    )
    assert asset_location(event.resource.id) == "s3://assets/incoming/lantern.jpg"


def test_a_local_asset_round_trips_through_a_file_uri(tmp_path: Path) -> None:
    path = tmp_path / "a picture.jpg"
    asset = Asset(location=str(path), size=1)
    assert asset.resource_id == f"seedance.asset.{path.as_uri()}"
    assert asset_location(asset.resource_id) == str(path)


@pytest.mark.parametrize(
    ("resource_id", "says"),
    [
        ("", "no asset given"),
        ("prefect.flow-run.123", "is not an asset resource id"),
        ("seedance.asset.not-an-object", "names no object"),
        ("seedance.asset.s3://assets", "names no object"),
    ],
)
def test_a_malformed_asset_is_refused_with_what_was_expected(resource_id: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        asset_location(resource_id)
    message = str(caught.value)
    assert says in message and "seedance.asset.s3://bucket/key" in message


def test_seedance_watch_reports_each_new_file_once_and_what_was_there_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    monkeypatch.setattr(events, "send_events", lambda batch: sent.extend(event.resource.id for event in batch))
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "old.jpg").write_bytes(b"o")

    def look(state: str, *options: str) -> str:
        monkeypatch.setenv("SEEDANCE_STATE_DIR", str(tmp_path / state))
        result = CliRunner().invoke(app, ["watch", str(folder), "--once", *options])
        assert result.exit_code == 0, result.output
        return result.output

    assert "1 object(s) already there" in look("state")
    (folder / "new.jpg").write_bytes(b"n")
    look("state")
    look("state")
    assert sent == [f"seedance.asset.{(folder / 'new.jpg').as_uri()}"]

    look("fresh-state", "--include-existing")
    assert sent[1:] == [f"seedance.asset.{(folder / name).as_uri()}" for name in ("new.jpg", "old.jpg")]
