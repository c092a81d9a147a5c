"""The state every worker shares, one contract on both backends: files with `flock`, and PostgreSQL.

Each contract test runs against a state folder and against a database of its own on a real
PostgreSQL server (the `postgres` session fixture, skipped with its reason where the machine has
none). Races run in separate processes started together, as workers are.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from pydantic import SecretStr

from seedance.ark.client import ArkClient
from seedance.ark.types import CreateTaskRequest, TextContent
from seedance.cost.estimate import Estimate
from seedance.errors import BudgetExceededError, ConfigurationError, StateStoreError
from seedance.intents import Intent, IntentState, IntentStore, intent_key
from seedance.ledger import Budget, EntryStatus, Ledger
from seedance.settings import Settings
from seedance.state import intent_store, spending_ledger
from seedance.stores.files import FileIntentStore, FileLedger
from seedance.stores.postgres import Database, PostgresIntentStore, PostgresLedger, mask
from seedance.submit import submit_once

if TYPE_CHECKING:  # spawned workers import this module: keep Prefect and the media libraries out of them
    from local_gateway.postgres import LocalPostgres
    from tests.conftest import GatewayProcess

SPAWN = multiprocessing.get_context("spawn")
PROCESS_TIMEOUT = 60


@dataclass(frozen=True)
class Backend:
    """A state as every worker process opens it: a state folder, or a database URL (picklable)."""

    state_dir: Path
    url: str | None

    @property
    def settings(self) -> Settings:
        return Settings(state_dir=self.state_dir, state_url=SecretStr(self.url) if self.url else None)

    def intents(self) -> IntentStore:
        return intent_store(self.settings)

    def ledger(self) -> Ledger:
        return spending_ledger(self.settings)

    def ledger_with_clock(self, clock: Any) -> Ledger:
        """The same ledger with another clock (to widen a race window); `seedance.state` opens it with the real one."""
        if self.url:
            return PostgresLedger(Database(SecretStr(self.url)), clock=clock)
        return FileLedger(self.state_dir, clock=clock)


def new_database(server: LocalPostgres, password: str | None = None) -> str:
    """A URL of a new, empty database; the server trusts local connections, so any password is accepted."""
    url = server.create_database(f"state_{uuid.uuid4().hex}")
    return url if password is None else url.replace("postgres@", f"postgres:{password}@")


@pytest.fixture(params=["files", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "files":
        return Backend(tmp_path / "state", None)
    return Backend(tmp_path / "state", new_database(request.getfixturevalue("postgres")))


def intent(key: str, *, owner: str | None = None, task_id: str | None = None) -> Intent:
    now = time.time()
    state = IntentState.SUBMITTED if task_id else IntentState.SUBMITTING
    return Intent(key=key, gateway="g", model="m", state=state, task_id=task_id, owner=owner, created_at=now, updated_at=now)


def estimate(cost: str = "4.968") -> Estimate:
    return Estimate(
        model="doubao-seedance-2-0-260128",
        resolution="720p",
        ratio="16:9",
        width=1280,
        height=720,
        seconds=5.0,
        tokens=108_000,
        price_per_million=Decimal("46"),
        currency="CNY",
        cost=Decimal(cost),
        tier="default",
        price_entry="volcengine / 2.0 480p-720p",
        confidence="inferred",
    )


def cny(amount: str) -> Budget:
    return Budget(amount=Decimal(amount), currency="CNY")


def finish(processes: list[Any]) -> None:
    for process in processes:
        process.join(timeout=PROCESS_TIMEOUT)
        assert process.exitcode == 0


# -- choosing the backend ------------------------------------------------------------------------


def test_the_state_folder_is_the_default(tmp_path: Path) -> None:
    files = Settings(state_dir=tmp_path)
    assert isinstance(intent_store(files), FileIntentStore) and isinstance(spending_ledger(files), FileLedger)
    assert isinstance(intent_store(files.model_copy(update={"state_url": SecretStr("")})), FileIntentStore)  # empty = unset
    assert sorted(path.name for path in tmp_path.iterdir()) == ["intents"]


def test_a_url_picks_postgresql_and_nothing_goes_to_the_state_folder(tmp_path: Path, postgres: LocalPostgres) -> None:
    url = SecretStr(new_database(postgres))
    shared = Settings(state_dir=tmp_path / "unused", state_url=url)
    store, ledger = intent_store(shared), spending_ledger(shared)
    assert isinstance(store, PostgresIntentStore) and isinstance(ledger, PostgresLedger)
    store.put(intent("k", task_id="cgt-1"))
    ledger.reserve("k", estimate())
    handed_in = intent_store(Settings(state_dir=tmp_path / "unused"), url=url)  # a saved block's URL, without the setting
    assert isinstance(handed_in, PostgresIntentStore) and handed_in.get("k") is not None
    assert not (tmp_path / "unused").exists()  # nothing went to a state folder


def test_only_a_postgresql_url_names_a_state_database(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, state_url=SecretStr("mysql://seedance:hunter2@db/seedance"))
    with pytest.raises(ConfigurationError, match=r"postgresql://user:password@host:5432/database") as caught:
        intent_store(settings)
    assert "hunter2" not in str(caught.value)


def test_a_saved_block_and_a_url_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from blocks.state import open_intent_store  # here, not above: it loads Prefect

    monkeypatch.setenv("SEEDANCE_STATE_BLOCK", "shared")
    monkeypatch.setenv("SEEDANCE_STATE_URL", "postgresql://seedance:hunter2@db/seedance")
    with pytest.raises(ConfigurationError, match="SEEDANCE_STATE_BLOCK and SEEDANCE_STATE_URL are both set") as caught:
        open_intent_store()
    assert "hunter2" not in str(caught.value)


# -- intent records ------------------------------------------------------------------------------


def test_intent_records_round_trip_and_answer_every_query(backend: Backend) -> None:
    store = backend.intents()
    written = store.put(intent("a", owner="run-1", task_id="cgt-1"))
    store.put(intent("b", owner="run-1"))
    store.put(intent("c", owner="run-2", task_id="cgt-3"))
    assert store.get("a") == written and store.get("nope") is None
    assert sorted(i.key for i in store.all()) == ["a", "b", "c"]
    assert store.claimed_task_ids() == {"cgt-1", "cgt-3"}
    assert [i.key for i in store.owned_by("run-1")] == ["a"]  # b has no task yet: nothing to cancel

    again = backend.intents()  # another worker, a later run: the records are durable
    again.put(written.model_copy(update={"owner": "run-9"}))
    again.put(intent("b", owner="run-1", task_id="cgt-2"))
    assert [i.key for i in store.owned_by("run-9")] == ["a"]
    assert store.claimed_task_ids() == {"cgt-1", "cgt-2", "cgt-3"}
    store.discard("a")
    assert again.get("a") is None and again.claimed_task_ids() == {"cgt-2", "cgt-3"}
    where = (
        f"the file {backend.state_dir / 'intents' / 'c.json'}"
        if backend.url is None
        else f"the row of table seedance_intents with key 'c' in {mask(backend.url)}"
    )
    assert store.record_of("c") == where  # what the message of an undecidable create tells a person to edit


def _submit(
    backend: Backend, base_url: str, api_key: str, key: str, request: CreateTaskRequest, start: Any, results: Any
) -> None:
    start.wait()
    with ArkClient(base_url, api_key, gateway="local") as client:
        submitted = submit_once(client, backend.intents(), key, request, settle_seconds=5)
    results.put((submitted.task_id, submitted.resumed))


def test_processes_racing_one_intent_create_one_task(backend: Backend, gateway: GatewayProcess) -> None:
    # the gateway answers a create after 0.2 s: the lock must be held across the call, not just around the writes
    request = CreateTaskRequest(
        model="doubao-seedance-1-0-lite-t2v-250428",
        content=[TextContent(text=f"race {uuid.uuid4()}")],
        resolution="480p",
        duration=2,
    )
    key = intent_key(gateway.base_url, request.to_body())
    workers = 4
    start, results = SPAWN.Barrier(workers), SPAWN.Queue()
    before = gateway.stats()["tasks_created"]
    processes = [
        SPAWN.Process(target=_submit, args=(backend, gateway.base_url, gateway.api_key, key, request, start, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=PROCESS_TIMEOUT) for _ in processes]
    finish(processes)
    assert gateway.stats()["tasks_created"] - before == 1
    assert len({task_id for task_id, _ in outcomes}) == 1
    assert sorted(resumed for _, resumed in outcomes) == [False, True, True, True]
    assert backend.intents().get(key).task_id == outcomes[0][0]  # type: ignore[union-attr]


def _hold_forever(backend: Backend, held: Any) -> None:
    with backend.intents().locked("k"):
        held.set()
        time.sleep(600)


def test_the_lock_of_a_killed_holder_is_released(backend: Backend) -> None:
    held = SPAWN.Event()
    holder = SPAWN.Process(target=_hold_forever, args=(backend, held), daemon=True)
    holder.start()
    acquired = threading.Event()
    acquired_at: list[float] = []

    def wait_for_the_lock() -> None:
        with backend.intents().locked("k"):
            acquired_at.append(time.monotonic())
            acquired.set()

    waiter = threading.Thread(target=wait_for_the_lock, daemon=True)
    try:
        assert held.wait(PROCESS_TIMEOUT)
        waiter.start()
        assert not acquired.wait(0.5)  # the holder excludes others while it lives
    finally:
        killed_at = time.monotonic()
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(timeout=PROCESS_TIMEOUT)
    assert acquired.wait(5), "the lock was still held 5 s after its holder was killed"
    waiter.join(timeout=5)
    assert acquired_at[0] - killed_at < 5


# -- the ledger ----------------------------------------------------------------------------------


def test_the_ledger_rules_hold_on_every_backend(backend: Backend) -> None:
    ledger = backend.ledger()
    first = ledger.reserve("a", estimate(), cny("10"), run_id="run-1")
    ledger.reserve("b", estimate(), cny("10"))
    assert ledger.reserve("a", estimate(), cny("10")) == first  # counted once
    with pytest.raises(BudgetExceededError, match="9.9360 CNY already committed"):
        ledger.reserve("c", estimate(), cny("10"))
    settled = ledger.settle("a", 108_900, "succeeded", task_id="cgt-1")
    assert (settled.billed_cost, settled.task_id) == (Decimal("5.0094"), "cgt-1")
    released = ledger.release("b", "create refused")
    assert released is not None and released.status is EntryStatus.RELEASED
    with pytest.raises(LookupError, match="no reservation for intent nope"):
        ledger.settle("nope", 1, "succeeded")

    again = backend.ledger()  # another worker reads the same, in the order first reserved
    assert list(again.entries()) == ["a", "b"] and again.get("a") == settled
    assert again.committed(cny("10")) == Decimal("5.0094") and again.spent() == {"CNY": Decimal("5.0094")}
    summary = again.summary()
    assert (summary.location, summary.entries, summary.unreadable_lines) == (again.location, 2, 0)
    assert [(row.spent, row.succeeded, row.unpaid, row.pending) for row in summary.currencies] == [(Decimal("5.0094"), 1, 1, 0)]


def _slow_clock() -> float:
    time.sleep(0.005)  # the ledger reads the clock between its budget check and its append: widen that window
    return time.time()


def _reserve_many(backend: Backend, worker: int, attempts: int, start: Any, results: Any) -> None:
    ledger = backend.ledger_with_clock(_slow_clock)
    start.wait()
    granted = 0
    for i in range(attempts):
        try:
            ledger.reserve(f"w{worker}-{i}", estimate(cost="0.7"), cny("10"))
            granted += 1
        except BudgetExceededError:
            pass
    results.put(granted)


def test_processes_reserving_at_once_never_pass_the_budget(backend: Backend) -> None:
    workers, attempts = 6, 5
    start, results = SPAWN.Barrier(workers), SPAWN.Queue()
    processes = [SPAWN.Process(target=_reserve_many, args=(backend, w, attempts, start, results)) for w in range(workers)]
    for process in processes:
        process.start()
    granted = [results.get(timeout=PROCESS_TIMEOUT) for _ in processes]
    finish(processes)
    assert sum(granted) == 14  # 14 × 0.7 = 9.8 ≤ 10 < 15 × 0.7
    ledger = backend.ledger()
    assert ledger.committed(cny("10")) == Decimal("9.8") and len(ledger.entries()) == 14


# -- PostgreSQL only: the schema and the password ------------------------------------------------


def _first_use(url: str, start: Any) -> None:
    start.wait()
    intent_store(Settings(state_url=SecretStr(url))).put(intent(f"k-{os.getpid()}"))


def test_processes_using_a_new_database_at_once_all_create_its_tables(postgres: LocalPostgres) -> None:
    url = new_database(postgres)
    workers = 6
    start = SPAWN.Barrier(workers)
    processes = [SPAWN.Process(target=_first_use, args=(url, start)) for _ in range(workers)]
    for process in processes:
        process.start()
    finish(processes)
    with psycopg.connect(url) as connection:
        tables = connection.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'seedance%' ORDER BY 1").fetchall()
        (records,) = connection.execute("SELECT count(*) FROM seedance_intents").fetchone()  # type: ignore[misc]
    assert tables == [("seedance_intents",), ("seedance_ledger",)] and records == workers


def test_the_password_shows_nowhere(postgres: LocalPostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = f"pw-{uuid.uuid4().hex}"
    url = new_database(postgres, password)
    settings = Settings(state_dir=tmp_path, state_url=SecretStr(url))
    store, ledger = intent_store(settings), spending_ledger(settings)
    store.put(intent("k", task_id="cgt-1"))  # the URL with its password works
    ledger.reserve("k", estimate())
    shown = [repr(settings), str(settings), repr(store), str(store), repr(ledger), str(ledger)]
    shown += [store.record_of("k"), ledger.summary().model_dump_json(), ledger.location]
    assert all(password not in text for text in shown)
    assert f"postgres:***@127.0.0.1:{postgres.port}/" in ledger.location

    errors: list[StateStoreError] = []
    closed = url.replace(f":{postgres.port}/", ":1/")  # nothing listens there
    malformed = url.replace(password, f"{password}%zz")  # the driver quotes a bad URL back
    for wrong in (closed, malformed):
        with pytest.raises(StateStoreError) as caught:
            intent_store(Settings(state_url=SecretStr(wrong))).get("k")
        errors.append(caught.value)
    assert "connection refused" in str(errors[0]).lower() and "invalid percent-encoded token" in str(errors[1])
    for error in errors:
        assert "postgres:***@" in str(error)
        assert password not in "".join(traceback.format_exception(error)) + repr(error)
    assert password not in caplog.text


def test_mask_hides_the_password_wherever_the_url_holds_it() -> None:
    assert mask("postgresql://u:p%40ss@db:5432/s?sslmode=require&password=x") == (
        "postgresql://u:***@db:5432/s?sslmode=require&password=***"
    )
    assert mask("postgresql://u@db/s") == "postgresql://u@db/s"
