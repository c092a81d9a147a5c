"""`seedance list`'s cost column, and which generations a command's budget check counts."""

from __future__ import annotations

import time
from decimal import Decimal
from types import SimpleNamespace
from typing import cast

import pytest

from cli.generations import Listed
from cli.prepare import Generation, to_be_paid
from seedance.ledger import EntryStatus, LedgerEntry


def entry(status: EntryStatus, billed: str | None = None) -> LedgerEntry:
    now = time.time()
    return LedgerEntry(
        intent_key="k" * 64,
        model="doubao-seedance-1-0-lite-t2v-250428",
        estimated_tokens=19_440,
        estimated_cost=Decimal("0.1944"),
        price_per_million=Decimal(10),
        currency="CNY",
        billed_cost=None if billed is None else Decimal(billed),
        status=status,
        reserved_at=now,
        updated_at=now,
    )


@pytest.mark.parametrize(
    ("status", "billed", "shown"),
    [
        (EntryStatus.SUCCEEDED, "0.1900", "0.1900 CNY"),
        (EntryStatus.SUCCEEDED, None, "≈0.1944 CNY"),  # no token count reported: the estimate, never 0
        (EntryStatus.RESERVED, None, "≈0.1944 CNY"),
        (EntryStatus.FAILED, None, "0 CNY"),
        (EntryStatus.RELEASED, None, "0 CNY"),
    ],
)
def test_the_cost_column_never_shows_a_paid_generation_as_free(status: EntryStatus, billed: str | None, shown: str) -> None:
    assert Listed(intent=None, entry=entry(status, billed)).cost == shown


def test_with_a_state_block_the_budget_check_counts_every_generation_without_asking_prefect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEEDANCE_STATE_BLOCK", "shared")  # loading it would need a Prefect API
    planned = [cast(Generation, SimpleNamespace(plan=SimpleNamespace(intent_key=key))) for key in ("a", "b")]
    assert to_be_paid(planned) == planned
