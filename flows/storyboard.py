"""The `storyboard` flow: shots that continue one another, cut into one loudness-normalised video."""

# Real annotations (no `from __future__`): Prefect builds the parameter schema from them.
from pathlib import Path
from typing import cast
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from blocks.gateway import SeedanceGateway
from flows.generate import generate_video
from flows.naming import storyboard_run_name
from seedance.postprocess import concat
from seedance.results import GenerationResult
from seedance.storyboard import Storyboard
from tasks.logs import route_core_logs


class StoryboardResult(BaseModel):
    video: Path
    shots: list[GenerationResult]


@task(name="cut-storyboard", cache_policy=NO_CACHE)
def cut_storyboard(videos: list[Path], dest: Path, loudness: float) -> Path:
    """Concatenate the shots into one video with its audio normalised to `loudness` LUFS (EBU R128)."""
    return concat(videos, dest, loudnorm_target=loudness)


@flow(name="storyboard", flow_run_name=storyboard_run_name, validate_parameters=True)
def storyboard(
    board: Storyboard,
    out_dir: Path,
    gateway: str | None = None,
    bucket: str | None = None,
    name: str = "storyboard",
) -> StoryboardResult:
    """Generate the shots in order, each opening on the last frame of the one before, then cut them.

    Every shot is checked before the first is paid for. Each shot is a `generate-video` subflow
    with its own result under `out_dir/shot-NN/`; a re-run resumes shots already generated.
    """
    route_core_logs()
    logger = get_run_logger()
    gateway_block = SeedanceGateway.resolve(gateway)
    board.preflight(gateway_block.default_model, gateway_block.get_dialect())
    # called from a sync flow, it returns the artifact's id (its type also allows the async form)
    progress = cast(
        UUID, create_progress_artifact(progress=0.0, key="storyboard-progress", description=f"{len(board.shots)} shots")
    )
    frame = board.first_frame
    shots: list[GenerationResult] = []
    for index in range(len(board.shots)):
        shot_name = f"shot-{index + 1:02d}"
        result = generate_video(
            spec=board.shot_spec(index, frame), out_dir=out_dir / shot_name, gateway=gateway, bucket=bucket, name=shot_name
        )
        shots.append(result)
        assert result.files.last_frame is not None  # every shot asks for return_last_frame
        frame = str(result.files.last_frame)
        update_progress_artifact(progress, progress=100.0 * len(shots) / len(board.shots))
        logger.info("%s done: task %s", shot_name, result.task_id)
    video = cut_storyboard([shot.files.video for shot in shots], out_dir.resolve() / f"{name}.mp4", board.loudness)
    logger.info("storyboard ready: %s", video)
    return StoryboardResult(video=video, shots=shots)
