"""Where the pipeline's durable state lives, chosen in this one place: the intent store and the ledger.

* A PostgreSQL URL (`SEEDANCE_STATE_URL`, or one handed in, e.g. from a saved `SeedanceState`
  block): workers on many machines share intent records, their locks and budgets.
* Otherwise files under `Settings.state_dir` (`SEEDANCE_STATE_DIR`, default `$PREFECT_HOME/seedance`):
  workers on this machine share them.

Every worker that may start the same generation or spend from the same budget must open the same
state: workers with separate states can create the same generation twice and pass a budget together.
"""

from __future__ import annotations

from pydantic import SecretStr

from seedance.intents import IntentStore
from seedance.ledger import Ledger
from seedance.settings import Settings, get_settings
from seedance.stores.files import FileIntentStore, FileLedger
from seedance.stores.postgres import Database, PostgresIntentStore, PostgresLedger


def intent_store(settings: Settings | None = None, *, url: SecretStr | None = None) -> IntentStore:
    """The submit-once records: in the database at `url` or `SEEDANCE_STATE_URL`, else `<state dir>/intents`."""
    settings = settings or get_settings()
    database = _database(settings, url)
    return FileIntentStore(settings.state_dir / "intents") if database is None else PostgresIntentStore(database)


def spending_ledger(settings: Settings | None = None, *, url: SecretStr | None = None) -> Ledger:
    """The spending ledger: in the database at `url` or `SEEDANCE_STATE_URL`, else `<state dir>/ledger.jsonl`."""
    settings = settings or get_settings()
    database = _database(settings, url)
    return FileLedger(settings.state_dir) if database is None else PostgresLedger(database)


def _database(settings: Settings, url: SecretStr | None) -> Database | None:
    """The database `url` names, else the one `SEEDANCE_STATE_URL` names; None (files) when both are unset or empty."""
    chosen = url if url is not None else settings.state_url
    return Database(chosen) if chosen is not None and chosen.get_secret_value() else None
