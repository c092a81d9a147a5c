"""The `storyboard` flow: shots that continue one another, cut into one loudness-normalised video."""

# Real annotations (no `from __future__`): Prefect builds the parameter schema from them.
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, cast
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from blocks.bucket import load_bucket
from blocks.gateway import SeedanceGateway
from flows.generate import generate_video
from flows.naming import storyboard_run_name
from flows.steps import output_folder
from seedance.outputs import Folder, cut_place, workspace
from seedance.postprocess import concat
from seedance.results import GenerationResult
from seedance.storyboard import Storyboard
from tasks.logs import route_core_logs
from tasks.results import fetch_output, keep_outputs, output_exists

if TYPE_CHECKING:
    from prefect_aws import S3Bucket  # imported where a bucket is used: see blocks/bucket.py


class StoryboardResult(BaseModel):
    video: str = Field(description="Where the cut is kept: an absolute local path or an s3:// URI.")
    shots: list[GenerationResult]


@task(name="cut-storyboard", cache_policy=NO_CACHE)
def cut_storyboard(videos: list[Path], dest: Path, loudness: float) -> Path:
    """Concatenate the shots into one video with its audio normalised to `loudness` LUFS (EBU R128)."""
    return concat(videos, dest, loudnorm_target=loudness)


@flow(name="storyboard", flow_run_name=storyboard_run_name, validate_parameters=True)
def storyboard(
    board: Storyboard,
    out_dir: str,
    gateway: str | None = None,
    bucket: str | None = None,
    name: str = "storyboard",
) -> StoryboardResult:
    """Generate the shots in order, each opening on the last frame of the one before, then cut them.

    Every shot is checked before the first is paid for. Each shot is a `generate-video` subflow
    kept at `<out_dir>/<name>/shot-NN/<task id>/`; the cut goes beside them, at
    `<out_dir>/<name>/<cut id>/<name>.mp4`, its id a digest of the shots' tasks and the loudness.
    `out_dir` is a local folder or `s3://bucket/prefix` (see `generate-video`). A re-run resumes
    the shots already generated, downloads none of them again, and finds the cut already made.
    """
    route_core_logs()
    logger = get_run_logger()
    folder = output_folder(out_dir).join(name)
    gateway_block = SeedanceGateway.resolve(gateway)
    board.preflight(gateway_block.default_model, gateway_block.get_dialect())
    bucket_block = load_bucket(bucket) if folder.in_s3 else None
    # called from a sync flow, it returns the artifact's id (its type also allows the async form)
    progress = cast(
        UUID, create_progress_artifact(progress=0.0, key="storyboard-progress", description=f"{len(board.shots)} shots")
    )
    frame = board.first_frame
    shots: list[GenerationResult] = []
    with tempfile.TemporaryDirectory(prefix="seedance-storyboard-") as scratch:
        for index in range(len(board.shots)):
            shot_name = f"shot-{index + 1:02d}"
            if shots:  # every shot asks for return_last_frame: the next one opens on it
                frame = str(fetch_output(shots[-1].locations["last_frame"], Path(scratch), bucket_block))
            result = generate_video(
                spec=board.shot_spec(index, frame), out_dir=str(folder), gateway=gateway, bucket=bucket, name=shot_name
            )
            shots.append(result)
            update_progress_artifact(progress, progress=100.0 * len(shots) / len(board.shots))
            logger.info("%s done: task %s", shot_name, result.task_id)
        video = keep_cut(shots, folder, name, board.loudness, bucket_block, Path(scratch))
    logger.info("storyboard ready: %s", video)
    return StoryboardResult(video=video, shots=shots)


def keep_cut(
    shots: list[GenerationResult], folder: Folder, name: str, loudness: float, bucket: "S3Bucket | None", scratch: Path
) -> str:
    """Where the cut of `shots` is kept: found beside them when a run already made it, else cut and kept there.

    The shots' videos are fetched into `scratch` when they are kept in S3; `bucket` gives the
    credentials for an S3 `folder`.
    """
    place = cut_place(folder, [shot.task_id for shot in shots], loudness)
    location = place.location(f"{name}.mp4")
    if output_exists(location, bucket):
        return location
    videos = [fetch_output(shot.locations["video"], scratch, bucket) for shot in shots]
    with workspace(place) as work:
        cut = cut_storyboard(videos, work / f"{name}.mp4", loudness)
        if place.in_s3:
            assert bucket is not None, "an S3 storyboard resolves its bucket block"
            keep_outputs([cut], place, {"shot-task-ids": ",".join(shot.task_id for shot in shots)}, bucket)
    return location
