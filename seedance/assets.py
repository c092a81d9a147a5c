"""Assets: objects arriving in a watched place (an S3 prefix or a local folder), each reported once. No Prefect here.

`seedance watch` scans a place every few seconds and reports every object it has not reported
before as a `seedance.asset.created` event. What it reported is remembered in a small state file
(`<state dir>/watch/<digest of the place>.json`, rewritten atomically after every report), so a
watcher restarted after a crash or a deploy reports the objects that arrived while it was down,
and none twice.

The first scan of a place only records what is already there: a watcher started on a bucket of
10 000 pictures must not start 10 000 paid generations (`--include-existing` reports them too).

An asset event names its object in its resource id, `seedance.asset.<where>`, where `<where>` is
`s3://bucket/key` or a `file://` URI; `asset_location` reads it back, refusing anything else with
a message a person can act on (the triggered flow run fails with it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict

from seedance.errors import Problem, SpecError
from seedance.files import atomic_write_text
from seedance.locations import S3_SCHEME, S3Object, is_s3
from seedance.storage import s3_errors

ASSET_RESOURCE_PREFIX: Final = "seedance.asset."
ASSET_CREATED: Final = "seedance.asset.created"
FILE_SCHEME: Final = "file://"


class Asset(BaseModel):
    """One object found in a watched place."""

    model_config = ConfigDict(frozen=True)

    location: str
    """`s3://bucket/key`, or the absolute path of a local file."""
    size: int
    etag: str | None = None

    @property
    def uri(self) -> str:
        return self.location if is_s3(self.location) else Path(self.location).as_uri()

    @property
    def resource_id(self) -> str:
        """The id of the asset event's resource: `seedance.asset.s3://bucket/key` or `seedance.asset.file:///…`."""
        return ASSET_RESOURCE_PREFIX + self.uri

    @property
    def name(self) -> str:
        return S3Object.parse(self.location).name if is_s3(self.location) else Path(self.location).name


class WatchedPlace(BaseModel):
    """Where new assets appear: an S3 prefix (`s3://bucket/prefix/`) or a local folder."""

    model_config = ConfigDict(frozen=True)

    bucket: str | None = None
    prefix: str = ""
    folder: Path | None = None

    @classmethod
    def parse(cls, where: str) -> WatchedPlace:
        """`s3://bucket[/prefix]` or a folder path.

        Raises:
            SpecError: an S3 URL without a bucket, or a path that is not a folder.
        """
        if is_s3(where):
            bucket, _, prefix = where.removeprefix(S3_SCHEME).partition("/")
            if len(bucket) < 3:
                raise SpecError([Problem(field="location", message=f"{where!r} names no bucket: expected s3://bucket/prefix")])
            return cls(bucket=bucket, prefix=prefix)
        folder = Path(where).expanduser().resolve()
        if not folder.is_dir():
            raise SpecError([Problem(field="location", message=f"{where!r} is neither s3://bucket/prefix nor a folder")])
        return cls(folder=folder)

    @property
    def label(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}" if self.bucket else str(self.folder)

    def scan(self, s3: Any = None) -> list[Asset]:
        """Every object in the place now, in a stable order; `s3` is a boto3 S3 client (S3 places only).

        Keys ending in `/` (folder markers) and hidden files (a name starting with `.`: partial
        downloads and editors' temporary files) are not assets.
        """
        if self.folder is not None:
            return [
                Asset(location=str(path), size=path.stat().st_size)
                for path in sorted(self.folder.rglob("*"))
                if path.is_file() and not any(part.startswith(".") for part in path.relative_to(self.folder).parts)
            ]
        found: list[Asset] = []
        with s3_errors("listing of", f"{S3_SCHEME}{self.bucket}/{self.prefix}"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for entry in page.get("Contents", []):
                    key = entry["Key"]
                    if key.endswith("/") or key.rsplit("/", 1)[-1].startswith("."):
                        continue
                    found.append(Asset(location=f"{S3_SCHEME}{self.bucket}/{key}", size=entry["Size"], etag=entry.get("ETag")))
        return found


class SeenAssets:
    """The assets of one watched place already reported, kept in a JSON file that survives restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = path.exists()
        """False until the first scan of the place has been recorded."""
        self._seen: set[str] = set(json.loads(path.read_text(encoding="utf-8"))["seen"]) if self.started else set()

    @classmethod
    def of(cls, state_dir: Path, place: WatchedPlace) -> SeenAssets:
        """The record of `place` under `state_dir` (one file per place)."""
        digest = hashlib.sha256(place.label.encode()).hexdigest()[:16]
        return cls(state_dir / "watch" / f"{digest}.json")

    def new(self, assets: list[Asset]) -> list[Asset]:
        """The assets not reported yet."""
        return [asset for asset in assets if asset.location not in self._seen]

    def record(self, assets: list[Asset]) -> None:
        """Remember `assets` as reported, durably (temporary file, fsync, rename)."""
        self._seen.update(asset.location for asset in assets)
        self.started = True
        atomic_write_text(self.path, json.dumps({"seen": sorted(self._seen)}, indent=1))


def asset_location(resource_id: str) -> str:
    """Where the asset an event names lies: `s3://bucket/key`, or a local path for a `file://` URI.

    Raises:
        SpecError: the id is not `seedance.asset.` followed by `s3://bucket/key` or `file:///path`;
            the message quotes it and says what was expected.
    """
    expected = (
        f"expected {ASSET_RESOURCE_PREFIX}s3://bucket/key or {ASSET_RESOURCE_PREFIX}file:///path (as `seedance watch` sends)"
    )
    if not resource_id:
        raise SpecError([Problem(field="asset", message=f"no asset given: this flow runs on asset events; {expected}")])
    where = resource_id.removeprefix(ASSET_RESOURCE_PREFIX)
    if where == resource_id:
        raise SpecError([Problem(field="asset", message=f"{resource_id!r} is not an asset resource id; {expected}")])
    if is_s3(where):
        try:
            return S3Object.parse(where).url
        except ValueError as exc:
            raise SpecError([Problem(field="asset", message=f"{exc}; {expected}")]) from None
    if where.startswith(FILE_SCHEME) and urlsplit(where).path:
        return unquote(urlsplit(where).path)
    raise SpecError([Problem(field="asset", message=f"{resource_id!r} names no object; {expected}")])
