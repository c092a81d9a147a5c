"""Ark status callbacks: the per-task URL a create carries, and the check its receiver makes.

Ark POSTs the task object to a task's `callback_url` on every status change and signs nothing
(ark-api.md §4.5), so whoever knows the URL can post to it. The URL therefore carries its own
proof: `<base>/callbacks/<intent key>/<token>`, the token an HMAC-SHA256 of the intent key under a
secret that only the pipeline and the receiver (`seedance callbacks serve`) hold
(`SEEDANCE_CALLBACK_SECRET`). Why this shape:

- the receiver checks a URL with no state of its own: no table of issued tokens to share or lose;
- the token follows from the intent key, so a re-run of the same generation sends the same body;
- a callback is only ever a hint to look now: the waiting step reads the task from the gateway, so
  even a forged callback with a valid token costs one GET, never a wrong result.

The token is a credential: it is put in the request to Ark and nowhere else (no logs, no events,
no exception messages), and `CallbackSigner` never shows the secret in its repr.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import uuid
from typing import Final

from pydantic import SecretStr

from seedance.ark.dialects import Dialect
from seedance.ark.types import CreateTaskRequest

SECRET_ENV: Final = "SEEDANCE_CALLBACK_SECRET"
"""The environment variable holding the secret the pipeline and the receiver share."""
PATH_PREFIX: Final = "/callbacks/"
EVENT: Final = "seedance.task.status"
"""The Prefect event the receiver emits for each accepted callback."""
EVENT_NAMESPACE: Final = uuid.UUID("6c1d3f0e-5b7a-4f5e-9a51-2f2c0b7d9e41")
"""Namespace of the event ids: one id per (task, status), so Ark's retries of a callback are one event."""

_PATH = re.compile(r"/callbacks/(?P<key>[0-9A-Za-z_-]{1,128})/(?P<token>[0-9a-f]{64})/?$")
"""A callback path; anything may come before it (a proxy may serve the receiver under a prefix)."""


def task_resource_id(task_id: str) -> str:
    """The Prefect resource id of an upstream task: what the receiver emits about and waiters listen to."""
    return f"seedance.task.{task_id}"


def event_id(task_id: str, status: str) -> uuid.UUID:
    """The same id for every delivery of one status of one task (Prefect keeps an event id once)."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{task_id}/{status}")


class CallbackSigner:
    """Makes and checks callback URLs with the shared secret.

    Example:
        >>> signer = CallbackSigner(SecretStr("s3cret"))
        >>> url = signer.url("http://receiver:8790", "0123abcd")
        >>> signer.intent_of(url.removeprefix("http://receiver:8790"))
        '0123abcd'
    """

    def __init__(self, secret: SecretStr) -> None:
        if not secret.get_secret_value():
            raise ValueError(f"the callback secret is empty; set {SECRET_ENV}")
        self._secret = secret

    @classmethod
    def from_environment(cls) -> CallbackSigner | None:
        """The signer of `SEEDANCE_CALLBACK_SECRET`, or None when it is unset or empty."""
        secret = os.environ.get(SECRET_ENV, "")
        return cls(SecretStr(secret)) if secret else None

    def __repr__(self) -> str:
        return f"CallbackSigner(secret={self._secret})"

    def _token(self, intent_key: str) -> str:
        return hmac.new(self._secret.get_secret_value().encode(), intent_key.encode(), hashlib.sha256).hexdigest()

    def url(self, base_url: str, intent_key: str) -> str:
        """The callback URL of one intent under the receiver's `base_url` (as the gateway reaches it)."""
        return f"{base_url.rstrip('/')}{PATH_PREFIX}{intent_key}/{self._token(intent_key)}"

    def intent_of(self, path: str) -> str | None:
        """The intent key of a request path carrying a valid token; None for any other path."""
        match = _PATH.search(path.split("?", 1)[0])
        if match is None:
            return None
        key = match["key"]
        return key if hmac.compare_digest(match["token"], self._token(key)) else None


def with_callback(
    request: CreateTaskRequest, intent_key: str, *, base_url: str | None, signer: CallbackSigner | None, dialect: Dialect
) -> CreateTaskRequest:
    """`request` with its intent's callback URL, when callbacks are set up (`base_url` and `signer`),
    the gateway documents `callback_url`, and the spec names no callback of its own; else unchanged.

    The intent key is computed before this, from the body without the URL, so switching callbacks
    on or off never turns a known generation into a new one.
    """
    documented = dialect.documented_fields is None or "callback_url" in dialect.documented_fields
    if base_url is None or signer is None or not documented or request.callback_url is not None:
        return request
    return request.model_copy(update={"callback_url": signer.url(base_url, intent_key)})
