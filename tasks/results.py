"""Collecting results: verified downloads, a poster frame, `result.json`, and keeping them where the run's `out` says."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from blocks.bucket import s3_client
from blocks.gateway import SeedanceGateway
from seedance.ark.types import ContentGenerationTask
from seedance.catalog import FPS, find_model
from seedance.download import Downloaded, download, result_url_lifetime_over
from seedance.errors import DownloadError, ResultGoneError, ResultURLExpiredError
from seedance.files import atomic_write_text
from seedance.media import MediaInfo, probe
from seedance.outputs import Folder, exists, fetch, find_result, upload
from seedance.postprocess import PostprocessStep, probed_poster
from seedance.results import GenerationResult
from tasks.policy import retried, retrying

if TYPE_CHECKING:
    from prefect_aws import S3Bucket  # imported where a bucket is used: see blocks/bucket.py
    from types_boto3_s3 import S3Client  # the stubs' type of boto3's S3 client (dev only)

DURATION_TOLERANCE_SECONDS = 0.25
DOWNLOAD_RETRIES = 3


@task(name="download-video", **retrying(DOWNLOAD_RETRIES))
def download_video(generation: ContentGenerationTask, gateway: SeedanceGateway, dest: Path) -> tuple[Downloaded, MediaInfo]:
    """Download the task's video to `dest`, verified with PyAV against what the task reported.

    Returns the download (path, size, sha256) and the video's probed properties.

    A retry asks the gateway for the task again first: result URLs expire (24 h), a fresh GET
    hands out a fresh one.

    Raises:
        ResultGoneError: the task finished more than 24 h ago and its video was never collected.
    """
    return fetch_video(generation, gateway, dest, fresh=task_run.run_count > 1)


def download_video_in_run(
    generation: ContentGenerationTask, gateway: SeedanceGateway, dest: Path
) -> tuple[Downloaded, MediaInfo]:
    """`download-video` with the same retries, logged to the run, without a task run of its own (a batch's)."""
    return retried(
        lambda attempt: fetch_video(generation, gateway, dest, fresh=attempt > 1),
        DOWNLOAD_RETRIES,
        f"download of {dest.name} (task {generation.id})",
    )


def fetch_video(
    generation: ContentGenerationTask, gateway: SeedanceGateway, dest: Path, *, fresh: bool
) -> tuple[Downloaded, MediaInfo]:
    """What `download_video` does; with `fresh`, it GETs the task again first for fresh result URLs."""
    generation = _current(generation, gateway, fresh)
    url = generation.content.video_url if generation.content else None
    if not url:
        raise DownloadError(f"task {generation.id} succeeded without a video_url")
    probed: list[MediaInfo] = []
    try:
        result = download(url, dest, verify=lambda path: probed.append(verify_video(path, generation)))
    except ResultURLExpiredError:  # a retry asks for a fresh URL, unless the files are past their lifetime
        if result_url_lifetime_over(generation.updated_at):
            raise ResultGoneError(generation.id, generation.updated_at, gateway=gateway.label) from None
        raise
    get_run_logger().info("downloaded %s (%d bytes, sha256 %s…)", dest.name, result.size_bytes, result.sha256[:12])
    return result, probed[-1]


@task(name="download-last-frame", **retrying(3))
def download_last_frame(generation: ContentGenerationTask, gateway: SeedanceGateway, dest: Path) -> Downloaded:
    """Download the task's last-frame PNG (present when the request set `return_last_frame`)."""
    generation = _current(generation, gateway, task_run.run_count > 1)
    url = generation.content.last_frame_url if generation.content else None
    if not url:
        raise DownloadError(f"task {generation.id} has no last_frame_url")
    return download(url, dest, verify=lambda path: _expect_image(probe(path), path))


def _current(generation: ContentGenerationTask, gateway: SeedanceGateway, fresh: bool) -> ContentGenerationTask:
    """`generation`, or with `fresh` (a retry) the task as the gateway has it now, with fresh result URLs."""
    if not fresh:
        return generation
    with gateway.get_client() as client:
        return client.get_task(generation.id)


def verify_video(path: Path, generation: ContentGenerationTask) -> MediaInfo:
    """Check a downloaded video decodes and matches the task: size, duration, 24 fps, H.264/H.265.

    Raises:
        DownloadError: the file is not what the task reported (it is not kept).
    """
    try:
        info = probe(path)
    except Exception as exc:
        raise DownloadError(f"{generation.id}: the downloaded file is not a readable video ({exc})") from exc
    problems: list[str] = []
    if info.kind != "video":
        problems.append(f"is {info.kind}, not video")
    expected = _expected_size(generation)
    if expected and (info.width, info.height) != expected:
        problems.append(f"is {info.width}x{info.height}, the task reported {expected[0]}x{expected[1]}")
    seconds = generation.duration if generation.duration is not None else (generation.frames or 0) / FPS
    if seconds and info.duration is not None and abs(info.duration - seconds) > DURATION_TOLERANCE_SECONDS:
        problems.append(f"lasts {info.duration:.2f} s, the task reported {seconds} s")
    if info.fps is not None and abs(info.fps - (generation.framespersecond or FPS)) > 0.01:
        problems.append(f"runs at {info.fps:.2f} fps, expected {generation.framespersecond or FPS}")
    if problems:
        raise DownloadError(f"{generation.id}: the downloaded video " + "; ".join(problems))
    return info


def _expected_size(generation: ContentGenerationTask) -> tuple[int, int] | None:
    spec = find_model(generation.model)
    if spec is None or generation.resolution not in spec.resolutions or generation.ratio is None or ":" not in generation.ratio:
        return None
    return spec.output_size(generation.resolution, generation.ratio)


def _expect_image(info: MediaInfo, path: Path) -> None:
    if info.kind != "image":
        raise DownloadError(f"{path.name}: expected an image, got {info.kind}")


def make_poster(video: Path, probed: MediaInfo) -> Path:
    """A JPEG poster from one second in (or the middle of a shorter video), beside the video
    (`probed`: the video's probe from its verified download).

    A plain function (see `write_result`): the run's report artifact shows the poster."""
    return probed_poster(video, probed)


@task(name="postprocess", task_run_name="postprocess-{step.name}", cache_policy=NO_CACHE)
def run_postprocess_step(step: PostprocessStep, video: Path) -> Path:
    """Run one post-processing step on `video` and return the file it wrote."""
    output = step.run(video)
    get_run_logger().info("%s → %s", step.name, output.name)
    return output


def write_result(result: GenerationResult) -> Path:
    """Write `result.json` beside the video, atomically (for a place in S3, `keep_outputs` uploads it last).

    A plain function, like `find_outputs`: a local file write is not worth a task run (see tasks/cost.py)."""
    atomic_write_text(result.files.result, result.model_dump_json(indent=2))
    return result.files.result


def find_outputs(place: Folder, task_id: str, bucket: S3Bucket | None) -> GenerationResult | None:
    """The result an earlier run of the task kept at `place`, its video intact; None when there is none.

    `bucket` gives the credentials when the place is in S3 (None for a local place).
    """
    found = find_result(place, task_id, _s3(bucket))
    if found is not None:
        get_run_logger().info("the outputs of task %s are already kept at %s: nothing to download", task_id, place)
    return found


@task(name="keep-outputs", **retrying(3))
def keep_outputs(files: list[Path], place: Folder, metadata: dict[str, str], bucket: S3Bucket) -> list[str]:
    """Upload `files` to their place in S3, in order, each with `metadata`; returns their s3:// URIs.

    The bucket block gives the credentials; the bucket is the place's (the `out` URL names it).
    """
    return keep_outputs_in_run(files, place, metadata, bucket)


def keep_outputs_in_run(files: list[Path], place: Folder, metadata: dict[str, str], bucket: S3Bucket) -> list[str]:
    """`keep-outputs` without a task run of its own (a batch's). It loses no retry: botocore retries
    S3's transient errors (throttling, 5xx, broken connections) inside the call, and the StorageError
    it raises after that is one the task's policy never retries either."""
    written = upload(files, place, metadata, s3_client(bucket))
    get_run_logger().info("kept %d output file(s) under %s/", len(written), place)
    return written


@task(name="fetch-output", **retrying(3))
def fetch_output(location: str, staging: Path, bucket: S3Bucket | None) -> Path:
    """A local copy of a kept output: the file itself when local, downloaded from S3 into `staging` otherwise."""
    return fetch(location, staging, _s3(bucket))


@task(name="output-exists", cache_policy=NO_CACHE)
def output_exists(location: str, bucket: S3Bucket | None) -> bool:
    """Whether an output is kept at `location` (a local path or an s3:// URI)."""
    return exists(location, _s3(bucket))


def _s3(bucket: S3Bucket | None) -> S3Client | None:
    """An S3 client for the run's bucket block, when it has one."""
    return s3_client(bucket) if bucket is not None else None
