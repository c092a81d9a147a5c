"""`seedance demo`: the whole pipeline on this machine, against the local S3 server and gateway."""

from __future__ import annotations

import secrets
from importlib.resources import files
from pathlib import Path

from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters
from pydantic import SecretStr

from blocks.gateway import SeedanceGateway
from seedance.ark.dialects import DialectName
from flows.generate import generate_video
from seedance.devstack import S3_ACCESS_KEY, S3_REGION, DevStack
from seedance.results import GenerationResult
from seedance.spec import load_spec

GATEWAY_BLOCK = "local"
BUCKET_BLOCK = "local-assets"


def save_local_blocks(
    stack: DevStack,
    *,
    gateway_block: str = GATEWAY_BLOCK,
    bucket_block: str = BUCKET_BLOCK,
    dialect: DialectName = DialectName.ARK,
) -> None:
    """Save a gateway block and a bucket block (with its credentials block) for a running DevStack."""
    SeedanceGateway(base_url=stack.gateway_url, api_key=SecretStr(stack.api_key), dialect=dialect).save(gateway_block, overwrite=True)
    credentials = AwsCredentials(
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=SecretStr(stack.s3_secret_key),
        region_name=S3_REGION,
        aws_client_parameters=AwsClientParameters(endpoint_url=stack.s3_endpoint, config={"signature_version": "s3v4"}),
    )
    credentials.save(f"{bucket_block}-credentials", overwrite=True)
    S3Bucket(bucket_name=stack.bucket, credentials=credentials, bucket_folder="seedance").save(bucket_block, overwrite=True)


def run_demo(out_dir: Path, *, latency: float = 2.0) -> GenerationResult:
    """Start the local stack, save blocks for it, run generate-video on the bundled sample, stop the stack."""
    samples = Path(str(files("seedance") / "samples"))
    with DevStack(api_key=secrets.token_urlsafe(24), latency=latency, log_dir=out_dir / "logs") as stack:
        save_local_blocks(stack)
        spec = load_spec(samples / "demo.yaml")
        return generate_video(spec=spec, out_dir=out_dir, gateway=GATEWAY_BLOCK, bucket=BUCKET_BLOCK, name="demo")
