"""Reference assets on S3: content-addressed uploads and SigV4 presigned GET URLs. No Prefect here.

Keys are `<folder>/inputs/sha256/<digest><suffix>`: the same bytes always land on the same key,
so a re-run uploads nothing, and a key can never point at different content.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

PRESIGN_MARGIN_SECONDS: Final = 3600
"""Extra lifetime on top of the task's `execution_expires_after`: Ark fetches references while the task lives."""

PRESIGN_MAX_SECONDS: Final = 7 * 24 * 3600
"""SigV4's ceiling for a presigned URL."""


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
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type}, Config=transfer_config())
    return True


def presign_get(s3: Any, bucket: str, key: str, lifetime_seconds: int) -> str:
    """A SigV4 presigned GET URL valid for `lifetime_seconds` (capped at SigV4's 7 days)."""
    return s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key},
        ExpiresIn=min(lifetime_seconds, PRESIGN_MAX_SECONDS),
    )


def presign_lifetime(execution_expires_after: int) -> int:
    """How long a reference URL must live: the task's whole life plus a margin."""
    return min(execution_expires_after + PRESIGN_MARGIN_SECONDS, PRESIGN_MAX_SECONDS)
