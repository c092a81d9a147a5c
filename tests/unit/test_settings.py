"""`get_settings()` is read once per environment: the same object while the variables it reads stay
as they are, fresh ones as soon as one of them changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedance.settings import get_settings


def test_settings_follow_the_environment_they_are_read_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDANCE_POLL_MAX_SECONDS", raising=False)
    monkeypatch.delenv("SEEDANCE_STATE_DIR", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    first = get_settings()
    assert get_settings() is first
    assert first.state_dir == tmp_path / "home" / "seedance"

    monkeypatch.setenv("SEEDANCE_POLL_MAX_SECONDS", "3")
    assert get_settings().poll_max_seconds == 3.0
    monkeypatch.setenv("seedance_poll_max_seconds", "4")  # pydantic-settings reads names in any case
    monkeypatch.delenv("SEEDANCE_POLL_MAX_SECONDS")
    assert get_settings().poll_max_seconds == 4.0
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "other"))
    assert get_settings().state_dir == tmp_path / "other" / "seedance"
