"""The pipeline's core for one generation, without Prefect: what flows/generate.py does, step by step.

submit once (intent record, reconciliation) → wait for the task → download, verified with PyAV,
into place. Each step is retried the way its Prefect task is (`retries`, only errors that
`is_retryable` allows), and a download retry first GETs the task for a fresh result URL, like
tasks/results.py. Used by tests/e2e/test_fault_soak.py and bench/soak.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from seedance.ark.client import ArkClient
from seedance.ark.types import ContentGenerationTask, CreateTaskRequest, TaskStatus, TextContent
from seedance.catalog import FPS, find_model
from seedance.download import download
from seedance.errors import DownloadError, GenerationFailedError, SeedanceError
from seedance.intents import intent_key
from seedance.media import MediaError, probe
from seedance.retry import retried
from seedance.settings import Settings
from seedance.state import intent_store
from seedance.submit import submit_once
from seedance.waiting import PollSchedule, wait_for_task

LITE_T2V = "doubao-seedance-1-0-lite-t2v-250428"
FAST_2_0 = "doubao-seedance-2-0-fast-260128"
SUBMIT_RETRIES, WAIT_RETRIES, DOWNLOAD_RETRIES = 2, 3, 3
"""As declared on the Prefect tasks (tasks/generation.py, tasks/results.py)."""
DURATION_TOLERANCE_SECONDS = 0.25


def soak_request(index: int) -> CreateTaskRequest:
    """A small, distinct request: mostly 1.0-lite 480p 2 s (every third on the flex tier), every
    fifth 2.0-fast 480p 4 s. Each gets its own seed: the task list echoes the seed (not the prompt),
    so reconciliation can tell concurrent generations apart."""
    prompt = TextContent(
        text=f"soak #{index}: a paper boat on a pond, wind from the {('north', 'east', 'south', 'west')[index % 4]}"
    )
    if index % 5 == 4:
        return CreateTaskRequest(
            model=FAST_2_0, content=[prompt], resolution="480p", ratio="16:9", duration=4, seed=10_000 + index
        )
    tier = "flex" if index % 3 == 2 else None
    return CreateTaskRequest(
        model=LITE_T2V, content=[prompt], resolution="480p", ratio="16:9", duration=2, seed=10_000 + index, service_tier=tier
    )


@dataclass(frozen=True)
class PipelineConfig:
    base_url: str
    api_key: str
    workdir: Path
    """The state folder (intent records in `workdir/intents`, unless `SEEDANCE_STATE_URL` names a
    database) and the videos (`workdir/videos`)."""
    timeout: httpx.Timeout
    settle_seconds: float
    schedule: PollSchedule
    deadline_seconds: float
    retry_delay_seconds: float
    """Pause between retries of a whole step (the Prefect task retry delay)."""
    read_retry_base_seconds: float = 0.05
    """The client's own backoff between retries of one call (Retry-After still wins)."""


@dataclass(frozen=True)
class Outcome:
    """How one generation ended: a verified video, or the permanent error that stopped it."""

    index: int
    intent_key: str
    task_id: str | None
    video: Path | None
    error: SeedanceError | None
    seconds: float
    """Wall time from the first submit attempt to the verified video (or the error)."""


def generate(config: PipelineConfig, index: int, request: CreateTaskRequest) -> Outcome:
    """Run one generation to its end. Never raises a SeedanceError: it is returned in the outcome."""
    start = time.monotonic()
    key = intent_key(config.base_url, request.to_body())
    store = intent_store(Settings(state_dir=config.workdir))
    task_id: str | None = None

    def pause(attempt: int) -> float:  # a whole step's retries wait a fixed time
        return config.retry_delay_seconds

    client = ArkClient(
        config.base_url, config.api_key, gateway="soak", timeout=config.timeout, retry_base_seconds=config.read_retry_base_seconds
    )
    try:
        with client:
            submitted: str = retried(
                lambda _: submit_once(client, store, key, request, settle_seconds=config.settle_seconds).task_id,
                SUBMIT_RETRIES,
                pause,
            )
            task_id = submitted
            task = retried(
                lambda _: wait_for_task(client, submitted, schedule=config.schedule, deadline_seconds=config.deadline_seconds),
                WAIT_RETRIES,
                pause,
            )
            if task.status is not TaskStatus.SUCCEEDED:
                raise GenerationFailedError.for_task(task, gateway=client.gateway)
            video = config.workdir / "videos" / f"{index:04d}-{task.id}.mp4"
            retried(_downloader(client, task, video), DOWNLOAD_RETRIES, pause)
    except SeedanceError as exc:
        return Outcome(index=index, intent_key=key, task_id=task_id, video=None, error=exc, seconds=time.monotonic() - start)
    return Outcome(index=index, intent_key=key, task_id=task_id, video=video, error=None, seconds=time.monotonic() - start)


def generate_many(
    config: PipelineConfig, requests: Iterable[tuple[int, CreateTaskRequest]], *, concurrency: int
) -> list[Outcome]:
    """Run generations on `concurrency` threads; outcomes in the order of `requests`."""
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="generation") as pool:
        return list(pool.map(lambda item: generate(config, *item), requests))


def verify_video(path: Path, task: ContentGenerationTask) -> None:
    """The file decodes, and its size and duration are what the task reported.

    Raises:
        DownloadError: it is not (the download removes the file).
    """
    try:
        info = probe(path)
    except MediaError as exc:
        raise DownloadError(f"{task.id}: not a readable video ({exc})") from exc
    spec = find_model(task.model)
    expected = spec.output_size(task.resolution, task.ratio) if spec and task.resolution and task.ratio else None
    seconds = task.duration if task.duration is not None else (task.frames or 0) / FPS
    if info.kind != "video" or (expected and (info.width, info.height) != expected):
        raise DownloadError(f"{task.id}: {info.describe()}, expected a {expected} video")
    if info.duration is None or abs(info.duration - seconds) > DURATION_TOLERANCE_SECONDS:
        raise DownloadError(f"{task.id}: lasts {info.duration} s, the task reported {seconds} s")


def _downloader(client: ArkClient, task: ContentGenerationTask, dest: Path) -> Callable[[int], None]:
    def step(attempt: int) -> None:
        # after the first attempt the URL may have expired: a fresh GET hands out a fresh one
        current = client.get_task(task.id) if attempt > 1 else task
        url = current.content.video_url if current.content else None
        if not url:
            raise DownloadError(f"task {current.id} succeeded without a video_url")
        download(url, dest, verify=lambda path: verify_video(path, current), retry_base_seconds=0.05)

    return step
