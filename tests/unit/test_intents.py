"""Intent records: deterministic keys, atomic writes, one holder of a key at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from seedance.intents import Intent, IntentState, intent_key
from seedance.stores.files import FileIntentStore

BODY = {"model": "m", "content": [{"type": "text", "text": "t"}], "duration": 5}


def test_key_depends_on_body_gateway_and_salt_only() -> None:
    key = intent_key("http://gw/api/v3", BODY)
    assert key == intent_key("http://gw/api/v3/", dict(reversed(list(BODY.items()))))
    assert key != intent_key("http://other/api/v3", BODY)
    assert key != intent_key("http://gw/api/v3", {**BODY, "duration": 6})
    assert key != intent_key("http://gw/api/v3", BODY, salt="again")


def test_records_round_trip_and_leave_no_temporary_files(tmp_path: Path) -> None:
    store = FileIntentStore(tmp_path)
    now = time.time()
    written = store.put(Intent(key="k", gateway="g", model="m", state=IntentState.SUBMITTING, created_at=now, updated_at=now))
    assert store.get("k") == written
    store.put(written.model_copy(update={"state": IntentState.SUBMITTED, "task_id": "cgt-1"}))
    assert store.get("k").task_id == "cgt-1"  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["k.json"]
    store.discard("k")
    assert store.get("k") is None


def test_lock_admits_one_holder_at_a_time(tmp_path: Path) -> None:
    store = FileIntentStore(tmp_path)
    inside: list[int] = []
    overlaps: list[int] = []

    def hold() -> None:
        with store.locked("k"):
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(1)
            time.sleep(0.02)
            inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not overlaps
