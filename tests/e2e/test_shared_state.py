"""A flow run keeps its state in the PostgreSQL database of a saved `SeedanceState` block."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from blocks.state import SeedanceState
from cli.demo import GATEWAY_BLOCK
from flows.generate import generate_video
from local_gateway.devstack import DevStack
from local_gateway.postgres import LocalPostgres
from seedance.ledger import EntryStatus
from seedance.spec import GenerationSpec
from seedance.state import intent_store, spending_ledger
from tests.e2e.support import gateway_stats

pytestmark = pytest.mark.e2e


def test_a_run_keeps_its_intent_and_its_cost_in_the_saved_state_database(
    local_blocks: DevStack, postgres: LocalPostgres, fast_pipeline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = f"pw-{uuid.uuid4().hex}"  # the server trusts local connections: any password is accepted
    url = postgres.create_database("flow_state").replace("postgres@", f"postgres:{password}@")
    SeedanceState(url=SecretStr(url)).save("shared", overwrite=True)
    monkeypatch.setenv("SEEDANCE_STATE_BLOCK", "shared")
    spec = GenerationSpec(model="doubao-seedance-1-0-lite-t2v-250428", prompt="kept in postgres", resolution="480p", duration=2)

    first = generate_video(spec=spec, out_dir=str(tmp_path / "first"), gateway=GATEWAY_BLOCK, budget="10 CNY")
    creates = gateway_stats(local_blocks)["requests"]["create"]
    again = generate_video(spec=spec, out_dir=str(tmp_path / "again"), gateway=GATEWAY_BLOCK, budget="10 CNY")

    assert (again.task_id, again.resumed) == (first.task_id, True)
    assert gateway_stats(local_blocks)["requests"]["create"] == creates  # the re-run found the record and created nothing
    record = intent_store(url=SecretStr(url)).get(first.intent_key)
    entry = spending_ledger(url=SecretStr(url)).get(first.intent_key)
    assert record is not None and record.task_id == first.task_id
    assert entry is not None and (entry.status, entry.task_id) == (EntryStatus.SUCCEEDED, first.task_id)
    assert not fast_pipeline.exists()  # nothing went to the state folder
    assert password not in SeedanceState.load("shared").model_dump_json()  # type: ignore[union-attr]
