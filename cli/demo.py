"""`seedance demo`: the whole pipeline on this machine, against the local S3 server and gateway."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Protocol

from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters
from pydantic import SecretStr

from blocks.gateway import SeedanceGateway
from flows.generate import generate_video
from seedance.ark.dialects import DialectName
from seedance.results import GenerationResult
from seedance.spec import load_spec

GATEWAY_BLOCK = "local"
BUCKET_BLOCK = "local-assets"


class LocalStack(Protocol):
    """What blocks need of a running local stack (`local_gateway.devstack.DevStack` is one)."""

    gateway_url: str
    api_key: str
    s3_endpoint: str
    s3_access_key: str
    s3_region: str
    s3_secret_key: str
    bucket: str


def save_local_blocks(
    stack: LocalStack,
    *,
    gateway_block: str = GATEWAY_BLOCK,
    bucket_block: str = BUCKET_BLOCK,
    dialect: DialectName = DialectName.ARK,
) -> None:
    """Save a gateway block and a bucket block (with its credentials block) for a running DevStack."""
    SeedanceGateway(base_url=stack.gateway_url, api_key=SecretStr(stack.api_key), dialect=dialect).save(
        gateway_block, overwrite=True
    )
    credentials = AwsCredentials(
        aws_access_key_id=stack.s3_access_key,
        aws_secret_access_key=SecretStr(stack.s3_secret_key),
        region_name=stack.s3_region,
        aws_client_parameters=AwsClientParameters(endpoint_url=stack.s3_endpoint, config={"signature_version": "s3v4"}),
    )
    credentials.save(f"{bucket_block}-credentials", overwrite=True)
    S3Bucket(bucket_name=stack.bucket, credentials=credentials, bucket_folder="seedance").save(bucket_block, overwrite=True)


def run_demo(
    out_dir: Path, *, latency: float = 2.0, then: Callable[[LocalStack, GenerationResult], None] | None = None
) -> GenerationResult:
    """Start the local stack, save blocks for it, run generate-video on the bundled sample, call
    `then` (with the stack still up), stop the stack.

    The outputs stay on this machine, under `out_dir/demo/<task id>/`: the stack's S3 server goes with it.
    """
    from local_gateway.devstack import DevStack  # the dev-only servers, imported only by the demo

    samples = Path(str(files("seedance") / "samples"))
    with DevStack(api_key=secrets.token_urlsafe(24), latency=latency, log_dir=out_dir / "logs") as stack:
        save_local_blocks(stack)
        spec = load_spec(samples / "demo.yaml")
        result = generate_video(spec=spec, out_dir=str(out_dir), gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, name="demo")
        if then is not None:
            then(stack, result)
        return result
