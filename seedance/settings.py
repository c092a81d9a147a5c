"""Settings, all read from `SEEDANCE_*` environment variables.

The one secret among them, the state database URL, is a `SecretStr` (it never prints); the other
secrets live in blocks or in their own environment variables.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_state_dir() -> Path:
    home = os.environ.get("PREFECT_HOME")
    return (Path(home) if home else Path.home() / ".prefect") / "seedance"


class Settings(BaseSettings):
    """Tuning knobs for the pipeline. Example: `SEEDANCE_POLL_MAX_SECONDS=30`."""

    model_config = SettingsConfigDict(env_prefix="SEEDANCE_", extra="ignore", frozen=True)

    state_dir: Path = Field(
        default_factory=_default_state_dir,
        description="Where intent records and the ledger live when no state database is set (workers on one machine).",
    )
    state_url: SecretStr | None = Field(
        default=None,
        description="A PostgreSQL database for intent records and the ledger, shared by workers on many machines: "
        "postgresql://user:password@host:5432/database. Secret: it holds the password.",
    )
    state_block: str | None = Field(
        default=None,
        description="A saved SeedanceState block naming that database, instead of state_url (flows and tasks only).",
    )
    poll_initial_seconds: float = Field(default=2.0, gt=0, description="First pause between status checks.")
    poll_max_seconds: float = Field(default=15.0, gt=0, description="Longest pause between status checks.")
    poll_growth: float = Field(default=1.5, ge=1, description="Each pause is this much longer than the last.")
    task_retry_base_seconds: float = Field(
        default=5.0,
        ge=0,
        description="First delay before a Prefect task retry; later ones double (with jitter). "
        "Read when the tasks are imported: Prefect computes retry delays at decoration.",
    )
    api_read_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long an API call may wait for the gateway's answer. A create past it has an unknown "
        "outcome (reconciled, never repeated blindly); a read past it is retried.",
    )
    reconcile_settle_seconds: float = Field(
        default=60.0,
        ge=0,
        description="After a create with an unknown outcome, wait this long before searching the task list "
        "(a slow server may still be making the task).",
    )
    budget: str | None = Field(
        default=None, description='A cap over every run recorded in the ledger, e.g. "500 CNY"; none by default.'
    )
    prices_file: Path | None = Field(default=None, description="Your own price table; default: the bundled prices.yaml.")
    models_file: Path | None = Field(
        default=None, description="Your own model catalog, laid over the bundled models.yaml (new or changed models)."
    )
    callback_url: str | None = Field(
        default=None,
        description="Where the gateway reaches `seedance callbacks serve`, e.g. http://receiver:8790: tasks are created "
        "with a callback URL under it (signed with SEEDANCE_CALLBACK_SECRET) and waiting wakes on their callbacks.",
    )
    batch_threads: int = Field(
        default=8, ge=1, description="Items a batch submits at once, and items it collects at once (downloads, posters)."
    )
    wait_margin_seconds: float = Field(
        default=600.0, ge=0, description="Waiting ends this long after the task's own expiry (execution_expires_after)."
    )


def get_settings() -> Settings:
    """The settings of the environment as it is now: read again when a variable they depend on changes.

    Reading them costs about a millisecond, and a batch asks for them many times per item.
    """
    read_from = tuple(sorted((name, value) for name, value in os.environ.items() if name.upper().startswith(_READ_PREFIXES)))
    return _settings_for(read_from)


_READ_PREFIXES = ("SEEDANCE_", "PREFECT_HOME", "HOME")
"""What `Settings` reads: its own variables (case-insensitively, as pydantic-settings does) and the
variables its default state folder comes from."""


@functools.lru_cache(maxsize=8)
def _settings_for(environment: tuple[tuple[str, str], ...]) -> Settings:
    return Settings()
