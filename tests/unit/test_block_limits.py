"""A gateway's limits as the block holds them, and the Prefect limits they are kept as."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from blocks.gateway import SeedanceGateway
from seedance.errors import ConfigurationError
from tasks.limits import TaskSlots, creates_limit, tasks_limit


@pytest.fixture
def ark_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARK_API_KEY", "k")
    monkeypatch.setenv("ARK_BASE_URL", "http://127.0.0.1:8000/api/v3")


def test_a_one_off_gateway_reads_its_limits_from_the_environment(ark_key: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDANCE_MAX_CONCURRENT_TASKS", "3")
    monkeypatch.setenv("SEEDANCE_REQUESTS_PER_MINUTE", " 120 ")
    gateway = SeedanceGateway.from_environment()
    assert (gateway.max_concurrent_tasks, gateway.requests_per_minute) == (3, 120)
    assert tasks_limit(gateway) == "seedance-tasks-127-0-0-1-8000"
    assert creates_limit(gateway) == "seedance-creates-127-0-0-1-8000"


def test_unset_or_empty_limits_mean_no_limit(ark_key: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDANCE_MAX_CONCURRENT_TASKS", "")
    monkeypatch.delenv("SEEDANCE_REQUESTS_PER_MINUTE", raising=False)
    gateway = SeedanceGateway.from_environment()
    assert (gateway.max_concurrent_tasks, gateway.requests_per_minute) == (None, None)
    assert not TaskSlots(gateway).limited


@pytest.mark.parametrize("value", ["0", "-2", "2.5", "ten"])
def test_a_limit_that_is_not_a_positive_whole_number_is_refused(
    ark_key: None, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SEEDANCE_REQUESTS_PER_MINUTE", value)
    with pytest.raises(ConfigurationError, match=f"SEEDANCE_REQUESTS_PER_MINUTE='{value}': expected a positive whole number"):
        SeedanceGateway.from_environment()


def test_a_saved_block_names_its_limits_after_itself_and_refuses_a_zero_limit() -> None:
    gateway = SeedanceGateway(base_url="http://127.0.0.1:8000/api/v3", api_key=SecretStr("k"), max_concurrent_tasks=2)
    gateway._block_document_name = "Volcengine Main"
    assert tasks_limit(gateway) == "seedance-tasks-volcengine-main"
    assert TaskSlots(gateway).limit_name == "seedance-tasks-volcengine-main"
    with pytest.raises(ValidationError, match="max_concurrent_tasks"):
        SeedanceGateway(api_key=SecretStr("k"), max_concurrent_tasks=0)
