"""Fetch and check a request's reference media at create time, as Ark does (ark-api.md §2.2, §3.4).

Ark downloads every image, video and audio URL when the task is created and refuses the request
synchronously when one cannot be fetched or breaks the limits. The gateway does the same: bytes are
sniffed and probed (`seedance.media`), never trusted by file name or Content-Type.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import httpx

from local_gateway.errors import from_problems
from local_gateway.plan import Reference
from seedance.ark.types import CreateTaskRequest, ImageContent, MediaContent, VideoContent
from seedance.catalog import ModelSpec
from seedance.errors import Problem
from seedance.media import MAX_BYTES, MB, MediaError, MediaKind, ReferenceMedia, probe, reference_problems
from seedance.validation import media_url

_CHUNK = 256 * 1024


class ReferenceFetcher:
    """Downloads (http, https, data:) and probes the media items of create requests.

    One instance serves every request; it holds a pooled HTTP client. Close it when done.
    """

    def __init__(self, timeout: float) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self._client.close()

    def fetch(self, request: CreateTaskRequest, spec: ModelSpec, into: Path) -> list[Reference]:
        """Fetch every media item of `request` into the directory `into`, probe and check them.

        Raises:
            ArkError: 400 InvalidParameter naming `content[i].<type>.url` of every item that cannot
                be fetched, is not the media its type claims, or breaks a documented limit.
        """
        into.mkdir(parents=True, exist_ok=True)
        problems: list[Problem] = []
        references: list[Reference] = []
        checked: list[ReferenceMedia] = []
        for index, item in enumerate(request.content):
            if not isinstance(item, MediaContent):
                continue
            field = f"content[{index}].{item.type}.url"
            dest = into / f"{index}-{item.type}"
            problem = self._download(media_url(item), _kind(item), field, dest)
            if problem is None:
                try:
                    info = probe(dest)
                except MediaError as exc:
                    problem = Problem(field=field, message=f"{_source(media_url(item))} {exc}")
                else:
                    references.append(Reference(index=index, role=item.role, path=dest, info=info))
                    checked.append(ReferenceMedia.of(index, item, info))
            if problem is not None:
                problems.append(problem)
        if not problems:
            problems = reference_problems(checked, spec)
        if problems:
            raise from_problems(problems)
        return references

    def _download(self, url: str, kind: MediaKind, field: str, dest: Path) -> Problem | None:
        if url.startswith("asset://"):
            return Problem(
                field=field,
                message="asset:// references are not available in the local gateway; use an http(s) URL"
                + (" or a data: URL" if kind != "video" else ""),
            )
        if url.startswith("data:"):
            return _decode_data_url(url, kind, field, dest)
        limit = MAX_BYTES[kind]
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    return Problem(field=field, message=f"{_source(url)} could not be fetched: HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    return _too_large(url, kind, field, int(declared))
                received = 0
                with dest.open("wb") as sink:
                    for chunk in response.iter_bytes(_CHUNK):
                        received += len(chunk)
                        if received > limit:
                            return _too_large(url, kind, field, received)
                        sink.write(chunk)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Problem(field=field, message=f"{_source(url)} could not be fetched: {type(exc).__name__}: {exc}")
        return None


def _decode_data_url(url: str, kind: MediaKind, field: str, dest: Path) -> Problem | None:
    header, comma, payload = url[len("data:") :].partition(",")
    media_type, *params = header.split(";")
    if not comma or "base64" not in params:
        return Problem(field=field, message=f"is not a base64 data URL; expected data:{kind}/<format>;base64,<data>")
    if not media_type.lower().startswith(f"{kind}/"):
        return Problem(
            field=field,
            message=f"data URL type {media_type!r} is not an {kind} type; expected data:{kind}/<format>;base64,<data>",
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        return Problem(field=field, message=f"data URL payload is not valid base64 ({exc})")
    if len(raw) > MAX_BYTES[kind]:
        return _too_large(url, kind, field, len(raw))
    dest.write_bytes(raw)
    return None


def _kind(item: MediaContent) -> MediaKind:
    if isinstance(item, ImageContent):
        return "image"
    return "video" if isinstance(item, VideoContent) else "audio"


def _too_large(url: str, kind: MediaKind, field: str, size: int) -> Problem:
    return Problem(
        field=field,
        message=f"{_source(url)} is larger than allowed ({size / MB:.1f} MB or more); allowed for {kind}: {MAX_BYTES[kind] // MB} MB",
    )


def _source(url: str) -> str:
    if url.startswith("data:"):
        return "the data URL"
    return url if len(url) <= 80 else url[:77] + "..."
