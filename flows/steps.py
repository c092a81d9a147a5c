"""The steps every generation takes, shared by the generate-video and generate-batch flows.

Plain functions that call Prefect tasks: they run inside a flow and only orchestrate.
"""

# Real annotations (no `from __future__`): these models travel between flows and tasks.
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.runtime import flow_run as current_run
from pydantic import BaseModel

from blocks.bucket import load_bucket
from blocks.gateway import SeedanceGateway
from blocks.state import open_intent_store
from seedance.ark.types import ContentGenerationTask, MediaContent
from seedance.download import Downloaded
from seedance.errors import CreateOutcomeUnknownError, GenerationFailedError, Problem, SpecError
from seedance.files import sha256_file
from seedance.intents import intent_key, intent_seed
from seedance.ledger import LedgerEntry
from seedance.media import MediaInfo
from seedance.outputs import RESULT_FILE, Folder, locations, output_metadata, output_paths, workspace
from seedance.results import GenerationResult, OutputFiles, VideoInfo
from seedance.settings import get_settings
from seedance.spec import GenerationSpec
from seedance.storage import presign_lifetime
from seedance.submit import Submitted
from seedance.waiting import StatusChange, expected_seconds
from tasks.cost import release_budget, reserve_budget, settle_cost
from tasks.events import emit_generation_event, failed_payload, succeeded_payload
from tasks.generation import read_generation, submit_generation
from tasks.limits import LAPSED_WITHIN_SECONDS, NoFreeSlot, TaskSlots
from tasks.references import (
    check_references,
    check_references_in_run,
    media_items,
    presign_references,
    presign_references_in_run,
    upload_references,
    upload_references_in_run,
)
from tasks.report import publish_report
from tasks.results import (
    download_last_frame,
    download_video,
    download_video_in_run,
    find_outputs,
    keep_outputs,
    keep_outputs_in_run,
    make_poster,
    run_postprocess_step,
    write_result,
)

if TYPE_CHECKING:
    from prefect_aws import S3Bucket  # imported where a bucket is used: see blocks/bucket.py

RESUMED_CHECK_SECONDS = 5.0
"""How often a resumed task that waits for a slot is looked at again (a read-generation task run each time)."""
DEFAULT_EXPIRES_AFTER = 172800
"""Ark's default `execution_expires_after` (48 h)."""


@dataclass(frozen=True)
class ItemSteps:
    """How a flow runs the steps around a create that a batch repeats for every item: uploading,
    presigning and checking its references, downloading its video, keeping its outputs in S3 and
    reporting it in the UI.

    A single generation runs each as a task run of its own (`AS_TASK_RUNS`). A batch runs them in
    its run (`IN_RUN`); only its creates stay task runs, being what is paid for. Measured at latency
    0 on 2 cores: 100 `download-video` task runs cost the Prefect server 5 s of CPU and the flow
    1.5 s; 50 `keep-outputs` task runs 2.3 s of server CPU; the 60 `check-references` and
    `upload-references` task runs of a 30-item image-to-video batch 2.5 s of server CPU (its
    makespan 13.5 s with them, 12.7 s without). What they show, the run's logs and the batch's
    report show too.
    """

    upload: "Callable[[dict[Path, str], S3Bucket, int], dict[str, str]]"
    presign: "Callable[[list[str], S3Bucket, int], dict[str, str]]"
    check: Callable[[list[tuple[str, MediaContent]]], None]
    download: Callable[[ContentGenerationTask, SeedanceGateway, Path], tuple[Downloaded, MediaInfo]]
    keep: "Callable[[list[Path], Folder, dict[str, str], S3Bucket], list[str]]"
    report: Callable[[GenerationResult, list[StatusChange], str], None]
    """What reports the generation in the UI, called while its files are on this machine: its own
    report artifact (`publish_report`); a batch puts its items in one report instead (`flows.batch`)."""


AS_TASK_RUNS = ItemSteps(upload_references, presign_references, check_references, download_video, keep_outputs, publish_report)
IN_RUN = ItemSteps(
    upload_references_in_run,
    presign_references_in_run,
    check_references_in_run,
    download_video_in_run,
    keep_outputs_in_run,
    publish_report,
)


class Submission(BaseModel):
    """A generation that has its task: created now or by an earlier run."""

    intent_key: str
    task_id: str
    resumed: bool
    deadline_seconds: float
    expected_seconds: float | None
    started: float
    """`time.monotonic()` when the generation's steps began."""
    timings: dict[str, float]


def output_folder(out_dir: str) -> Folder:
    """The run's `out_dir` as a folder of outputs: local or in S3.

    Raises:
        SpecError: a deployment run was given a relative local folder. A process worker runs each
            flow in a temporary folder that it deletes afterwards, and the outputs with it.
    """
    folder = Folder.parse(out_dir)
    if _in_deployment() and not folder.in_s3 and not Path(out_dir).expanduser().is_absolute():
        message = (
            f"{out_dir!r} is relative, and a worker runs flows in a temporary folder: use s3://bucket/prefix or an absolute path"
        )
        raise SpecError([Problem(field="out_dir", message=message)], "parameters")
    return folder


def _in_deployment() -> bool:
    """Whether the current flow run is a deployment's, from its context. Prefect 3.8's
    `prefect.runtime.deployment.id` looks for the deployment on the context itself rather than on
    its flow run, finds none, and reads the flow run from the API: a round trip for every run."""
    context = FlowRunContext.get()
    return context is not None and context.flow_run is not None and context.flow_run.deployment_id is not None


def resolve_bucket(name: str | None, specs: list[GenerationSpec], out: Folder) -> "S3Bucket | None":
    """The run's bucket block, resolved once, when some spec has files to upload or S3 objects to
    presign, or the outputs go to S3."""
    needed = out.in_s3 or any(spec.uploads() or spec.s3_objects() for spec in specs)
    return load_bucket(name) if needed else None


def submit(
    spec: GenerationSpec,
    gateway: SeedanceGateway,
    bucket: "S3Bucket | None",
    budget: str | None,
    salt: str | None,
    slots: TaskSlots,
    slot_wait: float | None = None,
    steps: ItemSteps = AS_TASK_RUNS,
) -> Submission:
    """Estimate, upload, check and create (once) the task of a spec that passed pre-flight.

    `bucket` is the run's bucket block; it may be None only when the spec uploads nothing. The
    generation takes a slot of `slots` (the gateway's task limit) before anything is spent, or when
    it resumes a task that is still unfinished; the caller gives it back once the task is terminal.
    `steps` says whether the references' upload, presigning and check are task runs of their own
    or, in a batch, steps of its run; the create is a task run either way.

    Raises:
        NoFreeSlot: no task slot came free within `slot_wait` seconds (None: waits as long as it
            takes, or until `slots.stop_waiting`). Nothing was spent or created.
    """
    logger = get_run_logger()
    started = time.monotonic()
    timings: dict[str, float] = {}
    settings = get_settings()
    spec = spec.with_task_type(gateway.default_model, gateway.get_dialect())
    digests = {path: sha256_file(path) for path in spec.local_files()}
    keyed = spec.to_request(gateway.default_model, lambda path: f"sha256:{digests[path]}")
    key = intent_key(gateway.base_url, keyed.to_body(), salt)
    store = open_intent_store(settings)
    known = store.get(key)

    if known is not None and known.task_id is not None:
        task_id, resumed = known.task_id, True
        store.put(known.model_copy(update={"owner": current_run.get_id()}))  # cancelling this run now cancels it
        logger.info("resuming task %s created by an earlier run (intent %s)", task_id, key)
        _slot_for_resumed(slots, key, task_id, gateway, slot_wait)
    else:
        slots.take(key, slot_wait)
        try:
            submitted = _create(spec, key, digests, gateway, bucket, budget, timings, steps)
        except Exception:
            slots.give_back(key)  # no task of this run is waited for: the slot goes to the next one
            raise
        task_id, resumed = submitted.task_id, submitted.resumed
    emit_generation_event("submitted", task_id, gateway=gateway, model=keyed.model, payload={"intent": key, "resumed": resumed})
    return Submission(
        intent_key=key,
        task_id=task_id,
        resumed=resumed,
        deadline_seconds=(spec.execution_expires_after or DEFAULT_EXPIRES_AFTER) + settings.wait_margin_seconds,
        expected_seconds=expected_seconds(keyed.model, keyed.resolution, keyed.ratio, keyed.duration),
        started=started,
        timings=timings,
    )


def _slot_for_resumed(slots: TaskSlots, key: str, task_id: str, gateway: SeedanceGateway, slot_wait: float | None) -> None:
    """Hold a slot for a resumed task while it is unfinished upstream; a task that has ended needs none.

    When other runs hold the slots, one of them may be the run that created the task and died
    holding it: its slot frees itself only when the lease lapses (`LAPSED_WITHIN_SECONDS`), and the
    task may end first. So the wait is said once in the run's logs, and the task is looked at again
    every `RESUMED_CHECK_SECONDS`, the wait ending with it. While this run holds every slot itself
    (a batch), it waits for one of them without looking.

    Raises:
        NoFreeSlot: as `submit`.
    """
    if not slots.limited:
        return
    give_up = None if slot_wait is None else time.monotonic() + slot_wait
    said = False
    task = read_generation(task_id, gateway)
    while not task.status.terminal:
        left = RESUMED_CHECK_SECONDS if give_up is None else max(0.0, min(RESUMED_CHECK_SECONDS, give_up - time.monotonic()))
        try:
            slots.take(key, left)
            return
        except NoFreeSlot:
            if slots.stopped_waiting or (give_up is not None and time.monotonic() >= give_up):
                raise
        if slots.all_held:
            continue
        if not said:
            said = True
            get_run_logger().info(
                "task %s is %s: waiting for a slot of %s (a run that died holding one frees it within about %.0f s)",
                task_id,
                task.status.value,
                slots.limit_name,
                LAPSED_WITHIN_SECONDS,
            )
        task = read_generation(task_id, gateway)


def _create(
    spec: GenerationSpec,
    key: str,
    digests: dict[Path, str],
    gateway: SeedanceGateway,
    bucket: "S3Bucket | None",
    budget: str | None,
    timings: dict[str, float],
    steps: ItemSteps,
) -> Submitted:
    """Reserve the estimate, upload and check the references, and create the task of intent `key`.

    The reservation is released when nothing was created, and kept when a task may exist.
    """
    if spec.seed in (None, -1) and "seed" in (gateway.get_dialect().documented_fields or {"seed"}):
        spec = spec.model_copy(update={"seed": intent_seed(key)})
    mark = time.monotonic()
    estimate = reserve_budget(spec, gateway, key, budget)
    try:
        lifetime = presign_lifetime(spec.execution_expires_after or DEFAULT_EXPIRES_AFTER)
        urls: dict[str, str] = {str(path): url for path, url in spec.inlined().items()}
        to_upload = {path: digest for path, digest in digests.items() if str(path) not in urls}
        if to_upload:
            assert bucket is not None, "resolve_bucket gives a bucket to every spec that uploads"
            urls |= steps.upload(to_upload, bucket, lifetime)
        if spec.s3_objects():
            assert bucket is not None, "resolve_bucket gives a bucket to every spec with S3 objects"
            urls |= steps.presign(spec.s3_objects(), bucket, lifetime)
        timings["upload"] = time.monotonic() - mark
        request = spec.to_request(gateway.default_model, lambda path: urls[str(path)], lambda url: urls[url])
        references = media_items(request, spec.fields())
        if references:  # a text-only request has nothing to fetch: nothing to check
            steps.check(references)
        mark = time.monotonic()
        submitted = submit_generation(request, key, gateway)
    except CreateOutcomeUnknownError:
        raise  # a task may exist and be billed: its reservation stays
    except Exception as exc:
        if estimate is not None:
            release_budget(key, f"not submitted: {type(exc).__name__}")
        raise
    timings["submit"] = time.monotonic() - mark
    return submitted


def collect(
    spec: GenerationSpec,
    submission: Submission,
    generation: ContentGenerationTask,
    timeline: list[StatusChange],
    *,
    gateway: SeedanceGateway,
    out: Folder,
    name: str,
    bucket: "S3Bucket | None",
    steps: ItemSteps = AS_TASK_RUNS,
) -> GenerationResult:
    """Settle the cost of a terminal task and, when it succeeded, keep its outputs at `<out>/<name>/<task id>/`.

    A place an earlier run of the task already filled is returned as it is (marked resumed):
    nothing is downloaded, post-processed or uploaded again. Otherwise the video is downloaded,
    verified, post-processed and reported, and for S3 every file is uploaded with the task's
    metadata (`bucket` gives the credentials). `steps` says whether the download and the upload
    are task runs of their own or, in a batch, steps of its run, and how the result is reported.

    Raises:
        GenerationFailedError: the task ended failed, expired or cancelled (its cost is settled at 0).
        AudioPolicyViolationError: (a GenerationFailedError) only its generated audio was refused; the
            message ends with the re-run without audio. Never retried: a retry is a new paid task.
    """
    cost = settle_cost(submission.intent_key, generation)
    if generation.status != "succeeded":
        failure = GenerationFailedError.for_task(generation, gateway=gateway.label)
        emit_generation_event(
            "failed", generation.id, gateway=gateway, model=generation.model, payload=failed_payload(failure, cost)
        )
        raise failure

    place = out.join(name, generation.id)
    found = find_outputs(place, generation.id, bucket)
    if found is not None:
        result = found.model_copy(update={"resumed": True})
        steps.report(result, timeline, name)
        get_run_logger().info("outputs already kept by an earlier run of task %s: nothing downloaded", generation.id)
    else:
        with workspace(place) as work:
            result = _make_outputs(spec, submission, generation, gateway, work, name, place, cost, steps)
            write_result(result)
            steps.report(result, timeline, name)
            if place.in_s3:
                assert bucket is not None, "resolve_bucket gives a bucket to every run whose outputs go to S3"
                steps.keep(output_paths(result.files), place, output_metadata(result), bucket)
    get_run_logger().info("video ready: %s", result.locations["video"])
    emit_generation_event("succeeded", result.task_id, gateway=gateway, model=result.model, payload=succeeded_payload(result))
    return result


def _make_outputs(
    spec: GenerationSpec,
    submission: Submission,
    generation: ContentGenerationTask,
    gateway: SeedanceGateway,
    work: Path,
    name: str,
    place: Folder,
    cost: LedgerEntry | None,
    steps: ItemSteps,
) -> GenerationResult:
    """Download and verify the video (and last frame) to `work/<name>.mp4`, make the poster and run
    the post-processing steps beside it; the result lists where `place` keeps each file."""
    timings = dict(submission.timings)
    mark = time.monotonic()
    video, info = steps.download(generation, gateway, work / f"{name}.mp4")
    last_frame = (
        download_last_frame(generation, gateway, work / f"{name}.last.png").path
        if generation.content and generation.content.last_frame_url
        else None
    )
    timings["download"] = time.monotonic() - mark

    mark = time.monotonic()
    poster = make_poster(video.path, info)
    postprocessed: dict[str, Path] = {}
    current = video.path
    for step in spec.postprocess:
        output = run_postprocess_step(step, current)
        postprocessed[step.name] = output
        if step.makes_video:
            current = output  # later steps work on the transcoded / normalised video
    timings["postprocess"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - submission.started

    files = OutputFiles(
        video=video.path,
        poster=poster,
        last_frame=last_frame,
        result=work / RESULT_FILE,
        postprocessed=postprocessed,
    )
    return GenerationResult.build(
        generation,
        gateway=gateway.label,
        intent_key=submission.intent_key,
        resumed=submission.resumed,
        video=VideoInfo.of(video, info),
        files=files,
        locations=locations(files, place),
        cost=cost,
        timings=timings,
    )
