"""Task ids and request ids shaped like Ark's (ark-api.md §4.1)."""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta, timezone
from typing import Final

ARK_TIMEZONE: Final = timezone(timedelta(hours=8))
"""Ark stamps task ids with Beijing time: cgt-20260514183217 ↔ 10:32:17Z."""

_SUFFIX_ALPHABET: Final = string.ascii_lowercase + string.digits


ARK_PREFIX: Final = "cgt-"
GATEWAY_SUFFIX_LENGTH: Final = 24
"""Random characters after a gateway's own prefix (aiid documents only `task_xxx`)."""


def task_id(created_at: float, prefix: str = ARK_PREFIX) -> str:
    """Ark's `cgt-YYYYMMDDhhmmss-xxxxx` (creation time in UTC+8, then 5 random lowercase
    alphanumerics), or a gateway's own prefix followed by 24 random lowercase alphanumerics."""
    if prefix != ARK_PREFIX:
        return prefix + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(GATEWAY_SUFFIX_LENGTH))
    stamp = datetime.fromtimestamp(created_at, ARK_TIMEZONE).strftime("%Y%m%d%H%M%S")
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
    return f"{ARK_PREFIX}{stamp}-{suffix}"


def request_id(now: float) -> str:
    """A unique id for one HTTP exchange, sent as `X-Request-Id` and quoted in error messages."""
    stamp = datetime.fromtimestamp(now, ARK_TIMEZONE).strftime("%Y%m%d%H%M%S")
    return f"{stamp}{secrets.token_hex(10)}"
