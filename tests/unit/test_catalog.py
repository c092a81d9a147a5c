"""The model catalog as data: the bundled file, facts marked seen or inferred, and the user's own file laid over it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seedance.catalog import Family, ImageMode, catalog, find_model, load_catalog
from seedance.errors import SpecError

V2_5 = "doubao-seedance-2-5-260628"
MINI = "doubao-seedance-2-0-mini-260615"


def write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_the_bundled_catalog_knows_spring_and_late_2026_models() -> None:
    models = load_catalog().models
    assert set(models) == {
        "doubao-seedance-1-0-lite-t2v-250428",
        "doubao-seedance-1-0-lite-i2v-250428",
        "doubao-seedance-1-0-pro-250528",
        "doubao-seedance-1-0-pro-fast-251015",
        "doubao-seedance-1-5-pro-251215",
        "doubao-seedance-2-0-260128",
        "doubao-seedance-2-0-fast-260128",
        MINI,
        V2_5,
    }


def test_seedance_2_5_limits() -> None:
    spec = load_catalog().models[V2_5]
    assert spec.family is Family.V2_5 and spec.byteplus_id == "dreamina-seedance-2-5-260628"
    assert (spec.min_duration, spec.max_duration, spec.auto_duration) == (4, 30, True)
    assert (spec.max_reference_images, spec.max_reference_videos, spec.max_reference_audios, spec.max_reference_items) == (
        30,
        10,
        10,
        50,
    )
    assert spec.reference_seconds == (2.0, 30.0) and spec.reference_total_seconds == 30.0
    assert spec.audio_only_references and spec.draft and spec.generate_audio
    assert spec.task_types == ("reference", "edit", "extend", "first_last_frame")
    assert spec.modes == frozenset(ImageMode)


def test_facts_are_marked_seen_or_inferred() -> None:
    v25, mini, v2 = (load_catalog().models[key] for key in (V2_5, MINI, "doubao-seedance-2-0-260128"))
    assert v25.confidence("resolutions") == "inferred"  # 1080p came after launch, from ComfyUI
    assert v25.confidence("max_duration") == "seen"
    assert mini.confidence("max_reference_videos") == "inferred"
    assert v2.confidence("resolutions") == "seen" and v2.confidence("billed_extra_frame") == "inferred"
    assert all(spec.source for spec in load_catalog().models.values())


def test_an_entry_that_extends_another_inherits_what_it_does_not_say() -> None:
    models = load_catalog().models
    fast, full = models["doubao-seedance-2-0-fast-260128"], models["doubao-seedance-2-0-260128"]
    assert fast.resolutions == ("480p", "720p") and full.resolutions == ("480p", "720p", "1080p", "4k")
    assert fast.model_dump(exclude={"id", "byteplus_id", "resolutions"}) == full.model_dump(
        exclude={"id", "byteplus_id", "resolutions"}
    )


def test_a_user_file_adds_a_model_and_changes_a_known_one(tmp_path: Path) -> None:
    user = write(
        tmp_path / "models.yaml",
        {
            "models": [
                {
                    "id": "acme-seedance-9-991231",
                    "extends": "doubao-seedance-2-0-260128",
                    "byteplus_id": "acme-9",
                    "max_duration": 20,
                },
                {"id": V2_5, "resolutions": ["480p", "720p"]},
            ]
        },
    )
    known = load_catalog(user)
    added = known.models["acme-seedance-9-991231"]
    assert (added.max_duration, added.max_reference_images, added.family) == (20, 9, Family.V2_0)
    assert known.find("acme-9") is added
    assert known.models[V2_5].resolutions == ("480p", "720p") and known.models[V2_5].max_duration == 30
    assert str(user) in known.origin


def test_catalog_follows_seedance_models_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_model("acme-seedance-9-991231") is None
    user = write(tmp_path / "m.yaml", {"models": [{"id": "acme-seedance-9-991231", "extends": V2_5, "byteplus_id": "acme-9"}]})
    monkeypatch.setenv("SEEDANCE_MODELS_FILE", str(user))
    assert find_model("acme-seedance-9-991231") is not None
    assert catalog().models["acme-seedance-9-991231"].max_duration == 30


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        ({"id": "new-model", "byteplus_id": "x"}, "new-model.family", "is required (or give `extends: <known model id>`)"),
        ({"id": V2_5, "max_fps": 60}, f"{V2_5}.max_fps", "is not a catalog field"),
        ({"id": V2_5, "default_resolution": "8k"}, V2_5, "default_resolution '8k' is not one of resolutions"),
        ({"id": V2_5, "min_duration": 40}, V2_5, "min_duration 40 is above max_duration 30"),
        ({"id": V2_5, "inferred": ["colour"]}, V2_5, "inferred names ['colour'], which are not fields"),
        ({"id": "x", "extends": "no-such-model"}, "models[0] (x).extends", "'no-such-model' is not a known model id"),
    ],
)
def test_a_malformed_user_entry_is_named_with_its_field(
    tmp_path: Path, entry: dict[str, object], field: str, message: str
) -> None:
    user = write(tmp_path / "models.yaml", {"models": [entry]})
    with pytest.raises(SpecError) as raised:
        load_catalog(user)
    problems = {(problem.field, problem.message) for problem in raised.value.problems}
    assert any(name == field and message in text for name, text in problems), problems
    assert str(user) in str(raised.value)
