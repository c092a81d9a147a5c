"""The `generate-from-asset` flow: a new object (a `seedance.asset.created` event) becomes a video.

`seedance watch s3://bucket/prefix` reports each new object; the deployment trigger in prefect.yaml
starts this flow with the event's resource id as `asset` and a spec template as `spec`. The asset
joins the template's references in `role` (the first frame by default) and the generation runs as
generate-video's does, the object presigned where it lies. The trigger's parameters read only
what every event has (`event.resource.id`, `event.id`), so a malformed event still starts a run,
and that run fails saying what is wrong with it.
"""

# Real annotations (no `from __future__`): Prefect builds the parameter schema from them.
from pathlib import PurePosixPath

from prefect import flow, get_run_logger

from flows.generate import cancel_upstream, make_video
from flows.naming import asset_run_name
from seedance.assets import asset_location
from seedance.results import GenerationResult
from seedance.spec import GenerationSpec, Reference, ReferenceRole
from tasks.logs import route_core_logs


@flow(
    name="generate-from-asset",
    flow_run_name=asset_run_name,
    validate_parameters=True,
    on_cancellation=[cancel_upstream],
)
def generate_from_asset(
    spec: GenerationSpec,
    out_dir: str,
    asset: str = "",
    role: ReferenceRole = "first_frame",
    gateway: str | None = None,
    bucket: str | None = None,
    budget: str | None = None,
    event: str = "",
) -> GenerationResult:
    """Generate a video from the template `spec` with the asset an event named as its `role` reference.

    Args:
        spec: the template: everything but the asset (model, prompt, resolution, …).
        out_dir: a local folder or `s3://bucket/prefix`; outputs go to `<out_dir>/<asset file stem>/<task id>/`.
        asset: the event's resource id, `seedance.asset.s3://bucket/key` or `seedance.asset.file:///path`.
        role: what the asset is to the model: first_frame, last_frame, reference_image, ….
        event: the id of the event that started the run, for the log.

    The same asset with the same template is the same generation: a repeated event resumes its
    task instead of paying again.

    Raises:
        SpecError: `asset` names no object (the message quotes it), or the asset with the template
            is not a valid request (e.g. the object is not an image a first frame can be).
    """
    route_core_logs()
    location = asset_location(asset)
    stem = PurePosixPath(location).stem
    get_run_logger().info("asset %s (event %s) as the %s of %s", location, event or "—", role, stem)
    with_asset = spec.model_copy(update={"references": [*spec.references, Reference(url=location, role=role)]})
    return make_video(
        with_asset,
        out_dir,
        gateway=gateway,
        bucket=bucket,
        name=stem,
        salt=None,
        budget=budget,
    )
