"""The S3 bucket of a run: prefect-aws's `S3Bucket` block by name, or the environment for a one-off run.

The environment names are boto3's own (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL_S3`, …), plus
`SEEDANCE_BUCKET`.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import TYPE_CHECKING

from seedance.errors import ConfigurationError

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials, S3Bucket
    from types_boto3_s3 import S3Client  # the stubs' type of boto3's S3 client (dev only)

# prefect-aws (0.7 s to import, most of it its ECS worker) and botocore are imported where a bucket is
# used: a run that uploads nothing and keeps its outputs locally never needs them.


def load_bucket(name: str | None) -> S3Bucket:
    """The saved S3Bucket block `name`, or one for `SEEDANCE_BUCKET` with boto3's own credential chain.

    Raises:
        ConfigurationError: no block of that name (`blocks.saved.load_saved`); no name and no `SEEDANCE_BUCKET`.
    """
    from prefect_aws import AwsCredentials, S3Bucket

    from blocks.saved import load_saved

    if name:
        return load_saved(S3Bucket, name, "bucket")
    bucket = os.environ.get("SEEDANCE_BUCKET")
    if not bucket:
        raise ConfigurationError("no bucket: pass --bucket NAME (a saved S3Bucket block) or set SEEDANCE_BUCKET")
    return S3Bucket(bucket_name=bucket, credentials=AwsCredentials())


def s3_client(bucket: S3Bucket) -> S3Client:
    """A boto3 S3 client for the bucket's credentials that always signs with SigV4.

    boto3 presigns with SigV2 by default, even for custom endpoints; Ark needs SigV4 URLs.
    One client per set of credentials in a process, shared by every call and thread (boto3's
    clients are thread-safe), as prefect-aws's own `AwsCredentials.get_client` caches them: making
    one cost 70 ms of CPU or more (measured), and a batch kept in S3 asks for one several times per item.
    """
    from prefect_aws import AwsCredentials

    credentials = bucket.credentials
    if not isinstance(credentials, AwsCredentials):
        raise ConfigurationError(f"bucket {bucket.bucket_name!r}: only AwsCredentials are supported")
    environment = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_")))
    with _CLIENTS_LOCK:  # the threads of a batch ask at once: one makes it, the others take it
        return _client_for(credentials, environment)


_CLIENTS_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _client_for(credentials: AwsCredentials, environment: tuple[tuple[str, str], ...]) -> S3Client:
    """Keyed on every field of the credentials (prefect-aws's `AwsCredentials.__hash__` and pydantic's
    equality) and on boto3's `AWS_*` variables, which fill in what the credentials leave out."""
    from botocore.config import Config
    from prefect_aws.client_parameters import AwsClientParameters

    params = (credentials.aws_client_parameters or AwsClientParameters()).get_params_override()
    config = Config(signature_version="s3v4")
    if params.get("config") is not None:
        config = params["config"].merge(config)
    params["config"] = config
    if credentials.region_name:
        params["region_name"] = credentials.region_name
    return credentials.get_boto3_session().client("s3", **params)
