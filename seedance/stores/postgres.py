"""The shared backend: intent records and the ledger in PostgreSQL, for workers on many machines.

    seedance_intents   one row per intent key: the record as JSON, its task id and owner beside it
    seedance_ledger    the ledger log, one row per change (the last row of a key is its entry)

Locks are advisory locks, which the server holds for a session or a transaction and drops when
that ends, however it ends:

* an intent key's lock is a session lock (`pg_advisory_lock` on a 64-bit hash of the key) on a
  connection of its own, held for the whole `with` block, across the create call. Closing the
  connection releases it, and so does the death of the holder, whose socket its kernel closes; a
  holder whose whole machine vanishes is dropped by TCP keepalives within about a minute. Should
  the lock's connection be lost mid-block, another worker may take the key: it finds the record
  `submitting` and reconciles through the task list, as after a crash, instead of creating blindly.
* every ledger change is one transaction under a ledger-wide transaction lock
  (`pg_advisory_xact_lock`): read the committed entries, check the budget, append. Two workers
  can never reserve past a budget together, and appends commit in the order of their ids.

The tables are created on first use, under a transaction lock of their own, so workers starting
together do not trip over each other's `CREATE TABLE`. Each call opens a short connection of its
own: stores are opened per task, their calls are few next to a generation's minutes, and a
restarted database never leaves a stale connection behind. The password is unwrapped only to
connect; reprs, messages and errors show the URL with it masked.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from pydantic import SecretStr

from seedance.errors import ConfigurationError, StateStoreError
from seedance.intents import Intent
from seedance.ledger import Ledger, LedgerChange, LedgerEntry, latest_entries

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_SECONDS: Final = 10
KEEPALIVES: Final = {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}
"""Server-side TCP keepalives of an intent lock's session: a vanished holder is dropped within ~60 s, not hours."""

SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS seedance_intents (
        key text PRIMARY KEY,
        task_id text,
        owner text,
        record jsonb NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS seedance_intents_owner ON seedance_intents (owner)",
    "CREATE TABLE IF NOT EXISTS seedance_ledger (id bigserial PRIMARY KEY, entry jsonb NOT NULL)",
)

_prepared: set[str] = set()
"""Databases (masked URLs) whose tables this process has made sure of."""


def advisory_key(name: str) -> int:
    """A 64-bit advisory lock key for `name`, signed as the server's bigint wants."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


SCHEMA_LOCK: Final = advisory_key("seedance schema")
LEDGER_LOCK: Final = advisory_key("seedance ledger")


def mask(url: str) -> str:
    """`url` with its password, in the user part or a `password=` parameter, replaced by `***`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        users, _, hosts = netloc.rpartition("@")
        netloc = f"{users.partition(':')[0]}:***@{hosts}"
    query = "&".join("password=***" if item.startswith("password=") else item for item in parts.query.split("&"))
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


class Database:
    """A PostgreSQL database named by a `postgresql://` URL: connections to it, and how to name it safely.

    Raises:
        ConfigurationError: the URL is not a `postgresql://` (or `postgres://`) URL.
    """

    def __init__(self, url: SecretStr) -> None:
        self._url = url
        parts = urlsplit(url.get_secret_value())
        if parts.scheme not in ("postgresql", "postgres"):
            raise ConfigurationError("the state database must be a URL such as postgresql://user:password@host:5432/database")
        self.location = mask(url.get_secret_value())
        """The URL with its password masked: what messages show."""
        secrets = [parts.password] + [
            item.removeprefix("password=") for item in parts.query.split("&") if item.startswith("password=")
        ]
        self._secrets = {form for secret in secrets if secret for form in (secret, unquote(secret))}

    def __repr__(self) -> str:
        return f"Database({self.location!r})"

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """An autocommit connection for the block, closed at its end; the tables exist by then.

        Raises:
            StateStoreError: the database could not be reached or failed a statement of the block.
        """
        import psycopg  # here: 100-200 ms to import, paid only by a run that uses the database

        try:
            with psycopg.connect(
                self._url.get_secret_value(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            ) as connection:
                if self.location not in _prepared:
                    self._create_tables(connection)
                yield connection
        except psycopg.Error as exc:
            raise StateStoreError(f"the state database {self.location}: {self._scrub(str(exc).strip())}") from None

    def _create_tables(self, connection: psycopg.Connection[tuple[Any, ...]]) -> None:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in SCHEMA:
                connection.execute(statement)
        _prepared.add(self.location)

    def _scrub(self, text: str) -> str:
        """A driver message without the password: a malformed URL is quoted back in it."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class PostgresIntentStore:
    """Intent records in table `seedance_intents` (an `IntentStore`)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"PostgresIntentStore({self.database.location!r})"

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the session advisory lock of one intent key on a connection of its own.

        Blocks until other holders release it. Closing the connection at the end of the block
        releases the lock the same way the server releases a dead holder's.
        """
        with self.database.connect() as connection:
            connection.execute(
                "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in KEEPALIVES),
                [item for setting in KEEPALIVES.items() for item in setting],
            )
            connection.execute("SELECT pg_advisory_lock(%s)", (advisory_key(f"seedance intent {key}"),))
            yield

    def get(self, key: str) -> Intent | None:
        with self.database.connect() as connection:
            row = connection.execute("SELECT record::text FROM seedance_intents WHERE key = %s", (key,)).fetchone()
        return None if row is None else Intent.model_validate_json(row[0])

    def put(self, intent: Intent) -> Intent:
        """Insert or replace a record in one statement."""
        intent = intent.model_copy(update={"updated_at": time.time()})
        with self.database.connect() as connection:
            connection.execute(
                "INSERT INTO seedance_intents (key, task_id, owner, record) VALUES (%s, %s, %s, %s::jsonb) "
                "ON CONFLICT (key) DO UPDATE SET task_id = excluded.task_id, owner = excluded.owner, record = excluded.record",
                (intent.key, intent.task_id, intent.owner, intent.model_dump_json()),
            )
        return intent

    def all(self) -> list[Intent]:
        return self._select("SELECT record::text FROM seedance_intents ORDER BY key")

    def claimed_task_ids(self) -> set[str]:
        with self.database.connect() as connection:
            rows = connection.execute("SELECT task_id FROM seedance_intents WHERE task_id IS NOT NULL").fetchall()
        return {row[0] for row in rows}

    def owned_by(self, owner: str) -> list[Intent]:
        return self._select(
            "SELECT record::text FROM seedance_intents WHERE owner = %s AND task_id IS NOT NULL ORDER BY key", owner
        )

    def discard(self, key: str) -> None:
        with self.database.connect() as connection:
            connection.execute("DELETE FROM seedance_intents WHERE key = %s", (key,))

    def record_of(self, key: str) -> str:
        return f"the row of table seedance_intents with key '{key}' in {self.database.location}"

    def _select(self, query: str, *params: str) -> list[Intent]:
        with self.database.connect() as connection:
            rows = connection.execute(query, params).fetchall()
        return [Intent.model_validate_json(row[0]) for row in rows]


class PostgresLedger(Ledger):
    """The ledger log in table `seedance_ledger`, one row per change."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self.database = database

    @property
    def location(self) -> str:
        return self.database.location

    def _read(self) -> tuple[dict[str, LedgerEntry], int]:
        with self.database.connect() as connection:
            return latest_entries(row[0] for row in connection.execute("SELECT entry::text FROM seedance_ledger ORDER BY id"))

    @contextmanager
    def _change(self) -> Iterator[LedgerChange]:
        with self.database.connect() as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (LEDGER_LOCK,))
            rows = connection.execute("SELECT entry::text FROM seedance_ledger ORDER BY id")
            change = LedgerChange(entries=latest_entries(row[0] for row in rows)[0])
            yield change
            if change.appended is not None:
                connection.execute("INSERT INTO seedance_ledger (entry) VALUES (%s::jsonb)", (change.appended.model_dump_json(),))
