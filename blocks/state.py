"""The shared-state block: the PostgreSQL database where every worker keeps intent records and the ledger.

Save it once, and name it in every worker's environment:

    >>> SeedanceState(url="postgresql://seedance:…@db.internal:5432/seedance").save("shared")
    $ export SEEDANCE_STATE_BLOCK=shared

Tasks and flows open their stores here: in the saved block's database when `SEEDANCE_STATE_BLOCK`
names one, else where `seedance.state` puts them (`SEEDANCE_STATE_URL`, or the state folder).
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from blocks.saved import load_saved
from seedance.errors import ConfigurationError
from seedance.intents import IntentStore
from seedance.ledger import Ledger
from seedance.settings import Settings, get_settings
from seedance.state import intent_store, spending_ledger


class SeedanceState(Block):
    """Where every worker keeps submit-once records and the spending ledger: one PostgreSQL database.

    Example:
        >>> SeedanceState(url="postgresql://seedance:…@db.internal:5432/seedance").save("shared")
    """

    _block_type_name = "Seedance State"
    _block_type_slug = "seedance-state"
    _description = "The PostgreSQL database that workers on many machines share for submit-once records and budgets."

    url: SecretStr = Field(
        title="Database URL",
        description="postgresql://user:password@host:5432/database. Stored encrypted; shown with the password masked.",
    )


def open_intent_store(settings: Settings | None = None) -> IntentStore:
    """This worker's intent store: see the module docstring."""
    settings = settings or get_settings()
    return intent_store(settings, url=_saved_url(settings))


def open_ledger(settings: Settings | None = None) -> Ledger:
    """This worker's spending ledger: see the module docstring."""
    settings = settings or get_settings()
    return spending_ledger(settings, url=_saved_url(settings))


def _saved_url(settings: Settings) -> SecretStr | None:
    """The URL of the block `SEEDANCE_STATE_BLOCK` names; None when it names none.

    Raises:
        ConfigurationError: `SEEDANCE_STATE_URL` is set too (one name for the state keeps workers
            agreeing), or no state block has that name.
    """
    if not settings.state_block:
        return None
    if settings.state_url is not None and settings.state_url.get_secret_value():
        raise ConfigurationError(
            "SEEDANCE_STATE_BLOCK and SEEDANCE_STATE_URL are both set; keep one, so that every worker opens the same state"
        )
    return load_saved(SeedanceState, settings.state_block, "state").url
