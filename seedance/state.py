"""Where the pipeline's durable state lives, opened in one place: the intent store and the ledger.

Both sit under `Settings.state_dir` (`SEEDANCE_STATE_DIR`, default `$PREFECT_HOME/seedance`).
"""

from __future__ import annotations

from seedance.intents import IntentStore
from seedance.ledger import Ledger
from seedance.settings import Settings, get_settings
from seedance.stores.files import FileIntentStore, FileLedger


def intent_store(settings: Settings | None = None) -> IntentStore:
    """The submit-once records (`<state dir>/intents`)."""
    return FileIntentStore((settings or get_settings()).state_dir / "intents")


def spending_ledger(settings: Settings | None = None) -> Ledger:
    """The spending ledger (`<state dir>/ledger.jsonl`)."""
    return FileLedger((settings or get_settings()).state_dir)
