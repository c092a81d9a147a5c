"""Result URLs: presigned-style links to the gateway's own files, and byte ranges.

Ark hands out TOS URLs signed for 24 hours; anyone holding one can download without an API key.
The gateway mimics that: `/_local/files/<task_id>/<name>?expires=<unix>&signature=<hmac>`, signed
with a secret that lives as long as the process.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from typing import Final
from urllib.parse import urlencode

FILES_PREFIX: Final = "/_local/files/"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class UrlSigner:
    """Signs and checks result URLs; `ttl` is how long a URL stays valid, in seconds."""

    def __init__(self, ttl: float, secret: bytes | None = None) -> None:
        self.ttl = ttl
        self._secret = secret or secrets.token_bytes(32)

    def url(self, origin: str, task_id: str, name: str, issued_at: float) -> str:
        """An absolute URL for `name` of a task, valid for `ttl` seconds after `issued_at`."""
        expires = math.ceil(issued_at + self.ttl)
        query = urlencode({"expires": expires, "signature": self._sign(task_id, name, expires)})
        return f"{origin}{FILES_PREFIX}{task_id}/{name}?{query}"

    def check(self, task_id: str, name: str, expires: str, signature: str, now: float) -> str | None:
        """None when the link is valid at `now`, else why not (for the 403 body)."""
        if not expires.isdigit() or not hmac.compare_digest(signature, self._sign(task_id, name, int(expires))):
            return "The request signature we calculated does not match the signature you provided."
        if now > int(expires):
            return "Request has expired."
        return None

    def _sign(self, task_id: str, name: str, expires: int) -> str:
        message = f"{task_id}/{name}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single `Range: bytes=…` header.

    Returns None to serve the whole file (no header, several ranges, or a syntax we ignore, as
    RFC 9110 allows). Raises `ValueError` when the range lies outside the file (416).
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise ValueError("empty suffix range")
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise ValueError("range not satisfiable")
    return start, end
