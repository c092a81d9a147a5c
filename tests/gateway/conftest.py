"""Clients for the session gateway, and in-process gateways for options the session one lacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from local_gateway import GatewayConfig, LocalGateway

if TYPE_CHECKING:
    from tests.conftest import GatewayProcess


def _client(base_url: str, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)


@pytest.fixture(scope="session")
def api(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    """An httpx client for the session gateway process, authenticated, base URL `.../api/v3`."""
    with _client(gateway.base_url, gateway.api_key) as client:
        yield client


@pytest.fixture(scope="module")
def queued_api() -> Iterator[httpx.Client]:
    """An in-process gateway whose tasks stay queued for 30 s, so they can be cancelled."""
    with LocalGateway(GatewayConfig(api_key="slow-key", latency=60, queue_seconds=30)) as running:
        with _client(running.base_url, "slow-key") as client:
            yield client


@pytest.fixture(scope="module")
def running_api() -> Iterator[httpx.Client]:
    """An in-process gateway whose tasks start at once and stay running for a minute."""
    with LocalGateway(GatewayConfig(api_key="slow-key", latency=60, queue_seconds=0)) as running:
        with _client(running.base_url, "slow-key") as client:
            yield client
