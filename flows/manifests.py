"""What a batch run generates: the items given inline, then those of its manifest, read as the run starts."""

# Real annotations (no `from __future__`): these models travel between flows and tasks.
from blocks.bucket import load_bucket
from seedance.errors import Problem, SpecError
from seedance.locations import is_s3
from seedance.manifest import ManifestItem
from tasks.manifests import read_manifest_at


def batch_items(items: list[ManifestItem] | None, manifest: str | None, bucket: str | None) -> list[ManifestItem]:
    """`items`, then the items of the manifest at `manifest` (a path or `s3://bucket/key`, read through the
    bucket block `bucket`).

    Raises:
        SpecError: there is nothing to generate, or the manifest cannot be read (the error names it).
    """
    found = list(items or [])
    if manifest:
        found += read_manifest_at(manifest, load_bucket(bucket) if is_s3(manifest) else None)
    if not found:
        raise SpecError([Problem(field="items", message="nothing to generate: give `items`, or a `manifest` location")], "batch")
    return found
