"""Prefect blocks: gateway credentials, and helpers over prefect-aws's S3 blocks."""

from blocks.gateway import SeedanceGateway

__all__ = ["SeedanceGateway"]
