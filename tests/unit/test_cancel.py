"""A generation whose queued task was cancelled is forgotten: never billed, so its spec runs anew."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from seedance.cancel import forget_cancelled
from seedance.cost.estimate import Estimate
from seedance.intents import Intent, IntentState
from seedance.ledger import Budget, EntryStatus
from seedance.stores.files import FileIntentStore, FileLedger

ESTIMATE = Estimate(
    model="doubao-seedance-2-0-260128",
    resolution="720p",
    ratio="16:9",
    width=1280,
    height=720,
    seconds=5.0,
    tokens=108_000,
    price_per_million=Decimal(46),
    currency="CNY",
    cost=Decimal("4.968"),
    tier="default",
    price_entry="test",
    confidence="inferred",
)


def test_its_intent_is_dropped_and_its_reservation_released(tmp_path: Path) -> None:
    store, ledger, budget = FileIntentStore(tmp_path / "intents"), FileLedger(tmp_path), Budget.parse("10 CNY")
    now = time.time()
    store.put(
        Intent(
            key="k",
            gateway="gw",
            model=ESTIMATE.model,
            state=IntentState.SUBMITTED,
            task_id="cgt-1",
            created_at=now,
            updated_at=now,
        )
    )
    ledger.reserve("k", ESTIMATE, budget)
    forget_cancelled("k", store, ledger)
    assert store.get("k") is None
    entry = ledger.get("k")
    assert entry is not None and entry.status is EntryStatus.RELEASED
    assert ledger.committed(budget) == Decimal(0)


def test_a_generation_with_no_estimate_is_forgotten_too(tmp_path: Path) -> None:
    store, ledger = FileIntentStore(tmp_path / "intents"), FileLedger(tmp_path)
    now = time.time()
    store.put(
        Intent(key="k", gateway="gw", model="ep-x", state=IntentState.SUBMITTED, task_id="cgt-1", created_at=now, updated_at=now)
    )
    forget_cancelled("k", store, ledger)
    assert store.get("k") is None and ledger.get("k") is None
