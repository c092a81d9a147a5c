"""The Seedance gateway block: one saved document per gateway, holding its URL and API key."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import httpx
from prefect.blocks.core import Block
from pydantic import Field, HttpUrl, SecretStr

from blocks.saved import load_saved
from seedance.ark._constants import API_TIMEOUT
from seedance.ark.client import ArkClient
from seedance.ark.dialects import OFFICIAL_BASE_URL, Dialect, DialectName, get_dialect
from seedance.catalog import DEFAULT_MODEL
from seedance.errors import ConfigurationError
from seedance.settings import get_settings


class SeedanceGateway(Block):
    """Credentials and defaults for one Ark-compatible gateway; hands out `ArkClient`s.

    The official endpoint, a reseller and the bundled local gateway differ only in the values
    saved here, so pointing a pipeline at a real gateway means saving a different block.

    Example:
        >>> SeedanceGateway(base_url="https://ark.cn-beijing.volces.com/api/v3",
        ...                 api_key="…").save("volcengine")
        >>> client = SeedanceGateway.load("volcengine").get_client()
    """

    _block_type_name = "Seedance Gateway"
    _block_type_slug = "seedance-gateway"
    _description = "An Ark-compatible Seedance endpoint (official, reseller or local) and its API key."
    _documentation_url = HttpUrl("https://www.volcengine.com/docs/82379/1520757")

    base_url: str = Field(
        default=OFFICIAL_BASE_URL,
        title="Base URL",
        description="The API root, ending in /api/v3 (tasks live under /contents/generations/tasks).",
    )
    api_key: SecretStr = Field(
        title="API key",
        description="Sent as `Authorization: Bearer …`. Stored encrypted; never logged.",
    )
    dialect: DialectName = Field(
        default=DialectName.ARK,
        title="Dialect",
        description="How this gateway differs from the official API: ark, byteplus, kkiai, aiid, maxtoken, aimanyi, quickrouter.",
    )
    default_model: str = Field(
        default=DEFAULT_MODEL,
        title="Default model",
        description="Model id (or ep- endpoint id) used when a spec names none.",
    )
    max_concurrent_tasks: int | None = Field(
        default=None,
        ge=1,
        title="Max concurrent tasks",
        description="Tasks queued or running upstream at once, across every worker using this block; empty: no limit. "
        "Kept as the Prefect global concurrency limit seedance-tasks-<block name>.",
    )
    requests_per_minute: int | None = Field(
        default=None,
        ge=1,
        title="Creates per minute",
        description="Tasks created per minute, across every worker using this block; empty: no limit. "
        "Kept as the Prefect global concurrency limit seedance-creates-<block name>, a rate limit.",
    )

    @classmethod
    def resolve(cls, name: str | None) -> SeedanceGateway:
        """The saved block `name`, or for a one-off run (None) the gateway the environment names.

        Flows call this once per run and hand the block itself to their tasks.

        Raises:
            ConfigurationError: no block of that name (`blocks.saved.load_saved`), or as `from_environment`.
        """
        if not name:
            return cls.from_environment()
        return load_saved(cls, name, "gateway")

    @classmethod
    def from_environment(cls) -> SeedanceGateway:
        """A gateway from the official SDK's `ARK_API_KEY` and `ARK_BASE_URL`, and `SEEDANCE_DIALECT`,
        `SEEDANCE_MAX_CONCURRENT_TASKS` and `SEEDANCE_REQUESTS_PER_MINUTE`.

        Raises:
            ConfigurationError: no key, an unknown dialect, a dialect with no public address and no URL,
                or a limit that is not a positive whole number.
        """
        api_key = os.environ.get("ARK_API_KEY")
        if not api_key:
            raise ConfigurationError("no gateway: pass --gateway NAME (a saved block) or set ARK_API_KEY (and ARK_BASE_URL)")
        try:
            dialect = get_dialect(os.environ.get("SEEDANCE_DIALECT") or DialectName.ARK)
        except ValueError as exc:
            raise ConfigurationError(f"SEEDANCE_DIALECT: {exc}") from None
        base_url = os.environ.get("ARK_BASE_URL") or dialect.base_url
        if not base_url:
            raise ConfigurationError(f"the {dialect.name} gateway has no public address on record: set ARK_BASE_URL")
        return cls(
            base_url=base_url,
            api_key=SecretStr(api_key),
            dialect=dialect.name,
            max_concurrent_tasks=_limit_from_environment("SEEDANCE_MAX_CONCURRENT_TASKS"),
            requests_per_minute=_limit_from_environment("SEEDANCE_REQUESTS_PER_MINUTE"),
        )

    def get_dialect(self) -> Dialect:
        """How this gateway differs from the official API (field names, defaults, billing ids)."""
        return get_dialect(self.dialect)

    @property
    def label(self) -> str:
        """The name errors and logs use for this gateway: the saved block name, else the host."""
        return self._block_document_name or urlsplit(self.base_url).netloc or self.base_url

    def get_client(self, **options: Any) -> ArkClient:
        """A new client for this gateway; `options` go to `ArkClient` (timeouts, retries).

        Reads wait `SEEDANCE_API_READ_TIMEOUT_SECONDS` for an answer unless `options` set a timeout.
        """
        read = get_settings().api_read_timeout_seconds
        options.setdefault(
            "timeout", httpx.Timeout(API_TIMEOUT.connect, read=read, write=API_TIMEOUT.write, pool=API_TIMEOUT.pool)
        )
        return ArkClient(
            self.base_url, self.api_key.get_secret_value(), gateway=self.label, dialect=self.get_dialect(), **options
        )


def _limit_from_environment(name: str) -> int | None:
    """The positive whole number the variable `name` holds, or None when it is unset or empty (no limit).

    Raises:
        ConfigurationError: any other value, so a typo never means "no limit".
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigurationError(f"{name}={value!r}: expected a positive whole number, or nothing for no limit")
    return int(value)
