"""Reference assets on S3: content-addressed uploads and SigV4 presigned GET URLs. No Prefect here.

Keys are `<folder>/inputs/sha256/<digest><suffix>`: the same bytes always land on the same key,
so a re-run uploads nothing, and a key can never point at different content.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from seedance.errors import StorageError

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

PRESIGN_MARGIN_SECONDS: Final = 3600
"""Extra lifetime on top of the task's `execution_expires_after`: Ark fetches references while the task lives."""

PRESIGN_MAX_SECONDS: Final = 7 * 24 * 3600
"""SigV4's ceiling for a presigned URL."""


MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})
"""The error codes of S3's answer for an object that is not there."""


def is_missing(exc: ClientError) -> bool:
    """Whether S3 answered that the object is not there."""
    return exc.response.get("Error", {}).get("Code") in MISSING


@contextmanager
def s3_errors(action: str, uri: str) -> Iterator[None]:
    """Raise what boto3 raises inside as a StorageError naming `action` and the object's `uri`, with
    S3's error code and message: one line for the user, where boto3's own is a traceback.

    Example:
        >>> with s3_errors("upload to", "s3://assets/inputs/sha256/ab12.jpg"):
        ...     s3.upload_file(...)
        StorageError: S3 upload to s3://assets/inputs/sha256/ab12.jpg failed: NoSuchBucket: The specified bucket does not exist
    """
    try:
        yield
    except Exception as exc:
        from boto3.exceptions import Boto3Error  # here: 0.23 s to import, and a client made by boto3 has loaded it

        if not isinstance(exc, (ClientError, BotoCoreError, Boto3Error)):
            raise
        # boto3's transfer errors (S3UploadFailedError) wrap the ClientError that says why
        cause = exc if isinstance(exc, ClientError) else exc.__cause__ or exc.__context__
        if isinstance(cause, ClientError):
            error = cause.response.get("Error", {})
            why = f"{error.get('Code') or 'error'}: {error.get('Message') or cause}"
        else:
            why = str(exc)
        raise StorageError(f"S3 {action} {uri} failed: {why}") from exc


@functools.cache
def transfer_config() -> TransferConfig:
    """16 MiB parts, 4 at a time. Built on first use: boto3 is imported only by a run that uploads."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=16 * 2**20, multipart_chunksize=16 * 2**20, max_concurrency=4)


def content_key(folder: str, digest: str, suffix: str) -> str:
    """The object key for content with this digest."""
    key = f"inputs/sha256/{digest}{suffix.lower()}"
    return f"{folder.strip('/')}/{key}" if folder.strip("/") else key


def upload_if_absent(s3: Any, bucket: str, key: str, path: Path, content_type: str) -> bool:
    """Upload `path` to `key` unless the object is already there; True when bytes were sent.

    The key is content-addressed, so an existing object is the same content.
    """
    with s3_errors("upload to", f"s3://{bucket}/{key}"):
        try:
            s3.head_object(Bucket=bucket, Key=key)
            return False
        except ClientError as exc:
            if not is_missing(exc):
                raise
        s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type}, Config=transfer_config())
        return True


def presign_get(s3: Any, bucket: str, key: str, lifetime_seconds: int) -> str:
    """A SigV4 presigned GET URL valid for `lifetime_seconds` (capped at SigV4's 7 days)."""
    with s3_errors("presign", f"s3://{bucket}/{key}"):
        return s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key},
            ExpiresIn=min(lifetime_seconds, PRESIGN_MAX_SECONDS),
        )


def presign_lifetime(execution_expires_after: int) -> int:
    """How long a reference URL must live: the task's whole life plus a margin."""
    return min(execution_expires_after + PRESIGN_MARGIN_SECONDS, PRESIGN_MAX_SECONDS)
