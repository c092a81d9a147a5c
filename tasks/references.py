"""Reference assets: local files to S3, and S3 objects where they lie, handed to the API as presigned GET URLs."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.bucket import s3_client
from seedance.ark.types import AudioContent, CreateTaskRequest, ImageContent, MediaContent, VideoContent
from seedance.errors import SpecError
from seedance.locations import S3Object
from seedance.reachability import unreachable
from seedance.storage import content_key, presign_get, upload_if_absent
from tasks.policy import retrying

if TYPE_CHECKING:
    from prefect_aws import S3Bucket  # imported where a bucket is used: see blocks/bucket.py


@task(name="upload-references", **retrying(3))
def upload_references(files: dict[Path, str], bucket: S3Bucket, lifetime_seconds: int) -> dict[str, str]:
    """Upload local reference files under content-addressed keys and presign them.

    Args:
        files: local files and their sha256 (the flow has them from the intent key); each is
            uploaded once per content (a re-run sends no bytes).
        bucket: the run's S3 bucket block.
        lifetime_seconds: how long the presigned GET URLs stay valid.

    Returns:
        The presigned URL of each file, keyed by its path as given.
    """
    return upload_references_in_run(files, bucket, lifetime_seconds)


def upload_references_in_run(files: dict[Path, str], bucket: S3Bucket, lifetime_seconds: int) -> dict[str, str]:
    """`upload-references` without a task run of its own (a batch's). It loses no retry: botocore
    retries S3's transient errors inside the call, and the StorageError it raises after that is one
    the task's policy never retries either."""
    logger = get_run_logger()
    s3 = s3_client(bucket)
    urls: dict[str, str] = {}
    for path, digest in files.items():
        key = content_key(bucket.bucket_folder, digest, path.suffix)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        sent = upload_if_absent(s3, bucket.bucket_name, key, path, content_type)
        logger.info("%s %s → s3://%s/%s", "uploaded" if sent else "already stored", path.name, bucket.bucket_name, key)
        urls[str(path)] = presign_get(s3, bucket.bucket_name, key, lifetime_seconds)
    return urls


@task(name="presign-references", **retrying(3))
def presign_references(objects: list[str], bucket: S3Bucket, lifetime_seconds: int) -> dict[str, str]:
    """Presign `s3://bucket/key` references with the run's bucket credentials; nothing is copied.

    The objects may be in another bucket than the block's own, if its credentials may read it.
    Whether each serves the media its role claims is `check_references`' job.

    Returns:
        The presigned URL of each object, keyed by its `s3://` URL.
    """
    return presign_references_in_run(objects, bucket, lifetime_seconds)


def presign_references_in_run(objects: list[str], bucket: S3Bucket, lifetime_seconds: int) -> dict[str, str]:
    """`presign-references` without a task run of its own (a batch's): presigning is local, nothing to retry."""
    s3 = s3_client(bucket)
    urls: dict[str, str] = {}
    for url in objects:
        found = S3Object.parse(url)
        urls[url] = presign_get(s3, found.bucket, found.key, lifetime_seconds)
    get_run_logger().info("%d S3 reference(s) presigned where they lie: %s", len(urls), ", ".join(urls))
    return urls


def media_items(request: CreateTaskRequest, fields: list[str]) -> list[tuple[str, MediaContent]]:
    """The request's reference media, each with the spec field it came from (`fields`, in content order)."""
    return [
        (field, item)
        for field, item in zip(fields, request.content, strict=True)
        if isinstance(item, (ImageContent, VideoContent, AudioContent))
    ]


@task(name="check-references", cache_policy=NO_CACHE)
def check_references(items: list[tuple[str, MediaContent]]) -> None:
    """Prove every http(s) reference among `items` (from `media_items`) fetchable and of the media its
    role claims, before create.

    Raises:
        SpecError: naming each reference Ark would not be able to use; nothing is created.
    """
    check_references_in_run(items)


def check_references_in_run(items: list[tuple[str, MediaContent]]) -> None:
    """`check-references` without a task run of its own (a batch's); like it, never retried."""
    problems = unreachable(items)
    if problems:
        raise SpecError(problems, "references")
    get_run_logger().info("%d reference URL(s) fetchable and of the right media type", len(items))
