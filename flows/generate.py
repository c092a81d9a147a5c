"""The `generate-video` flow: a spec becomes a verified MP4, a poster and `result.json`."""

# No `from __future__ import annotations` here: Prefect builds the flow's parameter schema from
# the real annotations, and a deployment run cannot resolve string annotations such as "GenerationSpec".
import time
from pathlib import Path

from typing import Any

from prefect import Flow, flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.logging.loggers import flow_run_logger
from prefect.runtime import flow_run as current_run
from prefect.states import State

from blocks.resolve import load_gateway
from seedance.ark.dialects import get_dialect
from seedance.cancel import cancel_tasks
from seedance.errors import CreateOutcomeUnknownError, GenerationFailedError
from seedance.files import sha256_file
from seedance.intents import IntentStore, intent_key
from seedance.results import GenerationResult, OutputFiles, VideoInfo
from seedance.settings import get_settings
from seedance.spec import GenerationSpec
from seedance.storage import presign_lifetime
from seedance.waiting import expected_seconds
from tasks.cost import release_budget, reserve_budget, settle_cost
from tasks.generation import submit_generation, wait_for_generation
from tasks.references import check_references, upload_references
from tasks.report import publish_report
from tasks.results import (
    download_last_frame,
    download_video,
    make_poster,
    persist_outputs,
    run_postprocess_step,
    write_result,
)

DEFAULT_EXPIRES_AFTER = 172800
"""Ark's default `execution_expires_after` (48 h)."""


def cancel_upstream(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    """`on_cancellation` hook: cancel the run's queued tasks upstream and report the running ones.

    Ark cannot cancel a running task: it finishes and is billed; its result stays collectable
    with the same spec (the intent record keeps its task id) for 7 days.
    """
    logger = flow_run_logger(flow_run, flow)  # hooks may run in the runner, outside any run context
    intents = IntentStore(get_settings().state_dir / "intents").owned_by(str(flow_run.id))
    if not intents:
        return
    with load_gateway(flow_run.parameters.get("gateway")).get_client() as client:
        report = cancel_tasks(client, [intent.task_id for intent in intents if intent.task_id])
    if report.cancelled:
        logger.info("cancelled queued task(s) upstream: %s", ", ".join(report.cancelled))
    if report.running:
        logger.warning(
            "task(s) %s were already running and cannot be cancelled; they will finish and be billed. "
            "Run the same spec again to collect the result.",
            ", ".join(report.running),
        )


@flow(name="generate-video", validate_parameters=True, on_cancellation=[cancel_upstream])
def generate_video(
    spec: GenerationSpec,
    out_dir: Path,
    gateway: str | None = None,
    bucket: str | None = None,
    name: str = "video",
    salt: str | None = None,
    budget: str | None = None,
    keep_in_s3: bool = False,
) -> GenerationResult:
    """Generate one video from `spec` and save it, verified, under `out_dir`.

    Args:
        spec: what to generate; local media paths are uploaded to S3 and presigned.
        out_dir: where `<name>.mp4`, the poster `<name>.poster.jpg`, the last frame
            `<name>.last.png`, post-processing outputs and `result.json` go.
        gateway: a saved SeedanceGateway block, or None for `ARK_BASE_URL` / `ARK_API_KEY`.
        bucket: a saved S3Bucket block, or None for `SEEDANCE_BUCKET` and boto3's environment.
        name: the stem of the output files.
        salt: any new value asks for a new generation of an identical spec; by default a
            re-run of the same spec on the same gateway resumes the task it already created.
        budget: a cap for this run, e.g. "20 CNY"; the estimate must fit before anything is spent.
        keep_in_s3: also copy every output to `outputs/<task id>/` in the bucket (result URLs last 24 h).

    Raises:
        SpecError: the spec is invalid (nothing was uploaded or sent).
        BudgetExceededError: the estimate does not fit the run's or the ledger's budget.
        GenerationFailedError: the task ended failed, expired or cancelled.
    """
    logger = get_run_logger()
    timings: dict[str, float] = {}
    started = time.monotonic()
    block = load_gateway(gateway)
    spec.preflight(block.default_model, get_dialect(block.dialect))

    local_files = spec.local_files()
    digests = {path: sha256_file(path) for path in local_files}
    keyed = spec.to_request(block.default_model, lambda path: f"sha256:{digests[path]}")
    key = intent_key(block.base_url, keyed.to_body(), salt)
    store = IntentStore(get_settings().state_dir / "intents")
    known = store.get(key)

    if known is not None and known.task_id is not None:
        task_id, resumed = known.task_id, True
        store.put(known.model_copy(update={"owner": current_run.get_id()}))  # cancelling this run now cancels it
        logger.info("resuming task %s created by an earlier run (intent %s)", task_id, key)
    else:
        estimate = reserve_budget(spec, block.default_model, key, budget)
        try:
            lifetime = presign_lifetime(spec.execution_expires_after or DEFAULT_EXPIRES_AFTER)
            urls: dict[str, str] = {str(path): url for path, url in spec.inlined().items()}
            to_upload = [path for path in local_files if str(path) not in urls]
            urls |= upload_references(to_upload, bucket, lifetime) if to_upload else {}
            timings["upload"] = time.monotonic() - started
            request = spec.to_request(block.default_model, lambda path: urls[str(path)])
            check_references(request, spec.fields())
            mark = time.monotonic()
            submitted = submit_generation(request, key, gateway)
        except CreateOutcomeUnknownError:
            raise  # a task may exist and be billed: its reservation stays
        except Exception as exc:
            if estimate is not None:
                release_budget(key, f"not submitted: {type(exc).__name__}")
            raise
        task_id, resumed = submitted.task_id, submitted.resumed
        timings["submit"] = time.monotonic() - mark

    mark = time.monotonic()
    deadline = (spec.execution_expires_after or DEFAULT_EXPIRES_AFTER) + get_settings().wait_margin_seconds
    expected = expected_seconds(keyed.model, keyed.resolution, keyed.ratio, keyed.duration)
    waited = wait_for_generation(task_id, gateway, deadline, expected)
    generation = waited.task
    timings["wait"] = time.monotonic() - mark
    cost = settle_cost(key, generation)
    if generation.status != "succeeded":
        raise GenerationFailedError(generation, gateway=block.label)

    mark = time.monotonic()
    out_dir = out_dir.resolve()
    video, info = download_video(generation, gateway, out_dir / f"{name}.mp4")
    last_frame = (
        download_last_frame(generation, gateway, out_dir / f"{name}.last.png").path
        if generation.content and generation.content.last_frame_url
        else None
    )
    timings["download"] = time.monotonic() - mark
    mark = time.monotonic()
    poster = make_poster(video.path)
    postprocessed: dict[str, Path] = {}
    current = video.path
    for step in spec.postprocess:
        output = run_postprocess_step(step, current)
        postprocessed[step.name] = output
        if step.makes_video:
            current = output  # later steps work on the transcoded / normalised video
    timings["postprocess"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - started

    result = GenerationResult(
        task_id=generation.id,
        gateway=block.label,
        model=generation.model,
        status=generation.status.value,
        intent_key=key,
        resumed=resumed,
        completion_tokens=generation.usage.completion_tokens if generation.usage else None,
        estimated_tokens=cost.estimated_tokens if cost else None,
        estimated_cost=cost.estimated_cost if cost else None,
        billed_cost=cost.billed_cost if cost else None,
        currency=cost.currency if cost else None,
        seed=generation.seed,
        resolution=generation.resolution,
        ratio=generation.ratio,
        duration=generation.duration,
        video=VideoInfo(
            width=info.width or 0,
            height=info.height or 0,
            duration_seconds=info.duration or 0.0,
            fps=info.fps or 0.0,
            video_codec=info.video_codec or "",
            has_audio=info.has_audio,
            audio_codec=info.audio_codec,
            audio_channels=info.audio_channels,
            size_bytes=video.size_bytes,
            sha256=video.sha256,
        ),
        files=OutputFiles(
            video=video.path, poster=poster, last_frame=last_frame, result=out_dir / "result.json", postprocessed=postprocessed
        ),
        timings={step: round(seconds, 3) for step, seconds in timings.items()},
        created_at=generation.created_at,
        finished_at=generation.updated_at,
    )
    write_result(result)
    if keep_in_s3:
        persist_outputs(result, bucket)
    publish_report(result, waited.timeline, name)
    logger.info("video ready: %s", video.path)
    return result
