"""Loading a saved block by name, with a clear error when there is none of that name."""

from __future__ import annotations

import difflib
from typing import TypeVar

import httpx
from prefect.blocks.core import Block
from prefect.client.orchestration import SyncPrefectClient, get_client

from seedance.errors import ConfigurationError

B = TypeVar("B", bound=Block)


def load_saved(cls: type[B], name: str, kind: str) -> B:
    """The saved block of type `cls` called `name`.

    Args:
        cls: the block type.
        name: the saved block's name.
        kind: what the block is, in words, for the error ("gateway", "bucket", "state").

    Raises:
        ConfigurationError: no `kind` block of that name on this Prefect API (the message names the
            saved one it resembles, or the saved ones); or one of that name whose data no longer loads.

    Example:
        >>> load_saved(SeedanceGateway, "volcengine", "gateway")
    """
    try:
        block = cls.load(name)
    except ValueError as exc:
        with get_client(sync_client=True) as client:
            saved = _saved_names(client, cls)
            where = str(client.api_url).rstrip("/")
        if name in saved:  # its type's fields changed since it was saved; the data may hold secrets: not shown
            raise ConfigurationError(
                f"the {kind} block {name!r} on the Prefect API at {where} does not load ({type(exc).__name__}): save it again"
            ) from None
        close = difflib.get_close_matches(name, saved, n=1, cutoff=0.8)
        if close:
            known = f" (did you mean {close[0]!r}?)"
        elif saved:
            known = f" (saved: {', '.join(sorted(saved))})"
        else:
            known = ""
        raise ConfigurationError(f"no {kind} block named {name!r} on the Prefect API at {where}{known}") from None
    assert isinstance(block, cls)  # `load` is typed for sync and async callers alike
    return block


def _saved_names(client: SyncPrefectClient, cls: type[Block]) -> list[str]:
    """The names of the saved blocks of type `cls` (their secrets are not read)."""
    try:
        documents = client.read_block_documents_by_type(cls.get_block_type_slug(), include_secrets=False)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == httpx.codes.NOT_FOUND:  # the type was never registered on this server
            return []
        raise
    return [document.name for document in documents if document.name]
