"""The gateway and bucket of a command, resolved before its flow starts.

The flows resolve them again by name; resolving them here first turns a block that is not saved
into one line and a hint before any flow run starts, and gives the command what its checks need:
the gateway's default model and dialect, and a client to cancel with on Ctrl-C.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cli.errors import UsageError
from seedance.errors import ConfigurationError

if TYPE_CHECKING:
    from prefect_aws import S3Bucket

    from blocks.gateway import SeedanceGateway


def gateway_block(name: str | None) -> SeedanceGateway:
    """The saved SeedanceGateway `name` (from the Prefect API the command uses), or the one the
    environment names (`ARK_*`) when None.

    Raises:
        UsageError: no block of that name.
        ConfigurationError: no name, and no `ARK_API_KEY`.
    """
    from blocks.gateway import SeedanceGateway

    if not name:
        return SeedanceGateway.from_environment()
    try:
        return SeedanceGateway.resolve(name)
    except ConfigurationError as missing:
        raise UsageError(
            str(missing),
            f"save it with `seedance blocks save-gateway {name}`, or leave --gateway out to use ARK_API_KEY and ARK_BASE_URL",
        ) from None


def bucket_block(name: str | None) -> S3Bucket:
    """The saved S3Bucket `name` (from the Prefect API the command uses), or one for `SEEDANCE_BUCKET` when None.

    Raises:
        UsageError: no block of that name.
        ConfigurationError: no name, and no `SEEDANCE_BUCKET`.
    """
    from blocks.bucket import load_bucket

    if not name:
        return load_bucket(None)
    try:
        return load_bucket(name)
    except ConfigurationError as missing:
        raise UsageError(
            str(missing),
            f"save it with `seedance blocks save-bucket {name} --bucket BUCKET`, or leave --bucket out to use SEEDANCE_BUCKET",
        ) from None
