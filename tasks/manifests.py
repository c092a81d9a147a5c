"""Reading a batch's manifest when the run starts, from the worker's disk or from S3.

A scheduled batch names its manifest rather than carrying its items, so editing the manifest
changes the next run. An S3 manifest is read with the run's bucket credentials; the spec files it
names are read from beside it, and its relative media paths name objects beside it, used in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from prefect import get_run_logger, task

from blocks.bucket import s3_client
from seedance.errors import Problem, SpecError
from seedance.locations import S3Object, is_s3
from seedance.manifest import ManifestItem, load_manifest, load_manifest_at
from seedance.storage import is_missing, s3_errors
from tasks.policy import retrying

if TYPE_CHECKING:
    from prefect_aws import S3Bucket  # imported where a bucket is used: see blocks/bucket.py


@task(name="read-manifest", **retrying(2))
def read_manifest_at(location: str, bucket: S3Bucket | None) -> list[ManifestItem]:
    """The items of the manifest at `location`: a path on the worker, or `s3://bucket/key` (read through `bucket`).

    Raises:
        SpecError: the manifest, or a spec file it names, is missing, unreadable or invalid; the
            error names the file and the item.
    """
    if is_s3(location):
        if bucket is None:
            raise SpecError([Problem(field="manifest", message="an s3:// manifest needs a bucket block (`bucket`)")], location)
        s3 = s3_client(bucket)

        def read(url: str) -> str:
            try:
                found = S3Object.parse(url)
                with s3_errors("read of", url):
                    try:
                        return s3.get_object(Bucket=found.bucket, Key=found.key)["Body"].read().decode("utf-8")
                    except ClientError as exc:
                        if is_missing(exc):
                            raise SpecError([Problem(field="file", message="no such object")], url) from None
                        raise
            except ValueError as exc:  # not s3://bucket/key, or not UTF-8 text
                raise SpecError([Problem(field="file", message=str(exc))], url) from None

        items = load_manifest_at(location, read)
    else:
        items = load_manifest(Path(location))
    get_run_logger().info("manifest %s: %d item(s): %s", location, len(items), ", ".join(item.name for item in items))
    return items
