"""Proving reference URLs fetchable before a paid task depends on them.

Ark fetches every reference itself; a URL it cannot fetch, or that serves something other than
what its role claims, fails the task. Each URL is asked for its first bytes with a ranged GET
(presigned URLs are signed for GET, not HEAD) and the bytes are sniffed: the media type comes
from the content, never from the name or the Content-Type header.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from seedance.ark.types import AudioContent, ImageContent, MediaContent, VideoContent
from seedance.errors import Problem
from seedance.media import SNIFF_BYTES, MediaKind, sniff
from seedance.tls import tls_context
from seedance.validation import media_url

PROBE_TIMEOUT = httpx.Timeout(10.0)
_KIND: dict[type, MediaKind] = {ImageContent: "image", VideoContent: "video", AudioContent: "audio"}


def check_url(client: httpx.Client, url: str, expected: MediaKind) -> str | None:
    """Why `url` cannot serve as a reference of kind `expected`, or None when it can."""
    shown = url.split("?", 1)[0]
    try:
        with client.stream("GET", url, headers={"Range": f"bytes=0-{SNIFF_BYTES - 1}"}) as response:
            if response.status_code not in (200, 206):
                return f"{shown} answered HTTP {response.status_code}"
            head = b""
            for chunk in response.iter_bytes():
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    break
    except httpx.HTTPError as exc:
        return f"{shown} cannot be fetched ({type(exc).__name__})"
    found = sniff(head)
    if found is None:
        return f"{shown} does not serve a recognised media file"
    kind, fmt = found
    if kind != expected:
        return f"{shown} serves {fmt} {kind}, not {expected}"
    return None


def unreachable(items: Iterable[tuple[str, MediaContent]], *, transport: httpx.BaseTransport | None = None) -> list[Problem]:
    """A problem for every http(s) reference among `items` (field name, content item) that cannot serve its role."""
    problems: list[Problem] = []
    fetched = [(field, item) for field, item in items if media_url(item).startswith(("http://", "https://"))]
    if not fetched:
        return problems
    with httpx.Client(timeout=PROBE_TIMEOUT, follow_redirects=True, transport=transport, verify=tls_context()) as client:
        for field, item in fetched:
            reason = check_url(client, media_url(item), _KIND[type(item)])
            if reason is not None:
                problems.append(Problem(field=field, message=reason))
    return problems
