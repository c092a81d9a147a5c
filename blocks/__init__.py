"""Prefect blocks: gateway credentials, the shared-state database, and helpers over prefect-aws's S3 blocks."""

from blocks.gateway import SeedanceGateway
from blocks.state import SeedanceState

__all__ = ["SeedanceGateway", "SeedanceState"]
