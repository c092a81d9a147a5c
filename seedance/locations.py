"""`s3://bucket/key` locations: S3 objects named in specs, manifests and asset events. No Prefect here.

An S3 reference is used where it lies: the pipeline presigns it with the run's bucket credentials
and never downloads or re-uploads it. Relative paths written in a file that itself lives on S3 (a
manifest) are taken from that file's "folder", the part of its key up to the last `/`.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

S3_SCHEME: Final = "s3://"


def is_s3(location: str) -> bool:
    return location.startswith(S3_SCHEME)


class S3Object(BaseModel):
    """One object: its bucket and key."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str) -> S3Object:
        """The object `s3://bucket/key` names.

        Raises:
            ValueError: `url` is not `s3://` followed by a bucket (3 characters or more) and a key.
        """
        if not is_s3(url):
            raise ValueError(f"{url!r} is not an s3://bucket/key URL")
        bucket, _, key = url.removeprefix(S3_SCHEME).partition("/")
        if len(bucket) < 3 or not key or key.endswith("/"):
            raise ValueError(f"{url!r} names no object: expected s3://bucket/key")
        return cls(bucket=bucket, key=key)

    @property
    def url(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"

    @property
    def name(self) -> str:
        """The last part of the key, e.g. `lantern.jpg`."""
        return posixpath.basename(self.key)


def folder_of(location: str) -> str:
    """Where relative paths written in the file at `location` start: its folder, local or on S3."""
    if is_s3(location):
        return location.rsplit("/", 1)[0] + "/"
    return str(Path(location).parent)


def join(folder: str, relative: str) -> str:
    """`relative` taken from `folder` (see `folder_of`); an absolute local path stays as it is."""
    if Path(relative).expanduser().is_absolute():
        return str(Path(relative).expanduser())
    if is_s3(folder):
        bucket, _, prefix = folder.removeprefix(S3_SCHEME).partition("/")
        return f"{S3_SCHEME}{bucket}/{posixpath.normpath(posixpath.join(prefix, relative))}"
    return str(Path(folder) / relative)
