"""Find the gateway and bucket for a run: saved blocks by name, or the environment for a one-off run.

The environment names are the official SDK's (`ARK_API_KEY`, `ARK_BASE_URL`) and boto3's own
(`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL_S3`, …), plus `SEEDANCE_BUCKET`.
"""

from __future__ import annotations

import os
from botocore.client import BaseClient
from botocore.config import Config
from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters
from pydantic import SecretStr

from blocks.gateway import SeedanceGateway
from seedance.ark.dialects import DialectName, get_dialect
from seedance.errors import ConfigurationError


def load_gateway(name: str | None) -> SeedanceGateway:
    """The saved gateway block `name`, or one built from `ARK_BASE_URL`, `ARK_API_KEY` and `SEEDANCE_DIALECT`."""
    if name:
        return SeedanceGateway.load(name)
    api_key = os.environ.get("ARK_API_KEY")
    if not api_key:
        raise ConfigurationError("no gateway: pass --gateway NAME (a saved block) or set ARK_API_KEY (and ARK_BASE_URL)")
    try:
        dialect = get_dialect(os.environ.get("SEEDANCE_DIALECT") or DialectName.ARK)
    except ValueError as exc:
        raise ConfigurationError(f"SEEDANCE_DIALECT: {exc}") from None
    base_url = os.environ.get("ARK_BASE_URL") or dialect.base_url
    if not base_url:
        raise ConfigurationError(f"the {dialect.name} gateway has no public address on record: set ARK_BASE_URL")
    return SeedanceGateway(base_url=base_url, api_key=SecretStr(api_key), dialect=dialect.name)


def load_bucket(name: str | None) -> S3Bucket:
    """The saved S3Bucket block `name`, or one for `SEEDANCE_BUCKET` with boto3's own credential chain."""
    if name:
        return S3Bucket.load(name)
    bucket = os.environ.get("SEEDANCE_BUCKET")
    if not bucket:
        raise ConfigurationError("no bucket: pass --bucket NAME (a saved S3Bucket block) or set SEEDANCE_BUCKET")
    return S3Bucket(bucket_name=bucket, credentials=AwsCredentials())


def s3_client(bucket: S3Bucket) -> BaseClient:
    """A boto3 S3 client for the bucket's credentials that always signs with SigV4.

    boto3 presigns with SigV2 by default, even for custom endpoints; Ark needs SigV4 URLs.
    """
    credentials = bucket.credentials
    if not isinstance(credentials, AwsCredentials):
        raise ConfigurationError(f"bucket {bucket.bucket_name!r}: only AwsCredentials are supported")
    params = (credentials.aws_client_parameters or AwsClientParameters()).get_params_override()
    config = Config(signature_version="s3v4")
    if params.get("config") is not None:
        config = params["config"].merge(config)
    params["config"] = config
    if credentials.region_name:
        params["region_name"] = credentials.region_name
    return credentials.get_boto3_session().client("s3", **params)
