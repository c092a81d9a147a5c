"""The `generate-video` flow: a spec becomes a verified MP4, a poster and `result.json`, kept locally or in S3."""

# No `from __future__ import annotations` here: Prefect builds the flow's parameter schema from
# the real annotations, and a deployment run cannot resolve string annotations such as "GenerationSpec".
import time
from typing import Any

from prefect import Flow, flow
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext
from prefect.logging.loggers import flow_run_logger
from prefect.states import State

from blocks.gateway import SeedanceGateway
from blocks.state import open_intent_store
from flows.naming import generation_run_name
from flows.steps import collect, output_folder, resolve_bucket, submit
from seedance.cancel import cancel_tasks
from seedance.outputs import check_name
from seedance.results import GenerationResult
from seedance.spec import GenerationSpec
from tasks.generation import wait_for_generation
from tasks.limits import TaskSlots, ensure_limits
from tasks.logs import route_core_logs
from tasks.report import artifact_key


def cancel_upstream(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    """`on_cancellation` hook: cancel the run's queued tasks upstream and report the running ones.

    Ark cannot cancel a running task: it finishes and is billed; its result stays collectable
    with the same spec (the intent record keeps its task id) for 7 days.
    """
    logger = flow_run_logger(flow_run, flow)  # hooks may run in the runner, outside any run context
    intents = open_intent_store().owned_by(str(flow_run.id))
    if not intents:
        return
    with SeedanceGateway.resolve(flow_run.parameters.get("gateway")).get_client() as client:
        report = cancel_tasks(client, [intent.task_id for intent in intents if intent.task_id])
    if report.cancelled:
        logger.info("cancelled queued task(s) upstream: %s", ", ".join(report.cancelled))
    if report.running:
        logger.warning(
            "task(s) %s were already running and cannot be cancelled; they will finish and be billed. "
            "Run the same spec again to collect the result.",
            ", ".join(report.running),
        )


@flow(
    name="generate-video",
    flow_run_name=generation_run_name,
    validate_parameters=True,
    on_cancellation=[cancel_upstream],
)
def generate_video(
    spec: GenerationSpec,
    out_dir: str,
    gateway: str | None = None,
    bucket: str | None = None,
    name: str = "video",
    salt: str | None = None,
    budget: str | None = None,
    new_generation_per_run: bool = False,
) -> GenerationResult:
    """Generate one video from `spec` and keep it, verified, in a place of its own under `out_dir`.

    Args:
        spec: what to generate; local media paths are uploaded to S3 and presigned, `s3://bucket/key`
            objects are presigned where they lie.
        out_dir: a local folder or `s3://bucket/prefix`. The generation's place is
            `<out_dir>/<name>/<task id>/`: `<name>.mp4`, the poster `<name>.poster.jpg`, the last
            frame `<name>.last.png`, post-processing outputs and `result.json` (which lists where
            each is kept). For S3 the run works in a temporary folder and uploads every file with
            the task's metadata; a deployment run needs S3 or an absolute path.
        gateway: a saved SeedanceGateway block, or None for `ARK_BASE_URL` / `ARK_API_KEY`.
        bucket: a saved S3Bucket block, or None for `SEEDANCE_BUCKET` and boto3's environment:
            its credentials upload references and, for an s3:// `out_dir`, the outputs.
        name: the stem of the output files and the folder of every generation of that name.
        salt: any new value asks for a new generation of an identical spec; by default a
            re-run of the same spec on the same gateway resumes the task it already created,
            and finds its outputs already kept (nothing is downloaded again).
        budget: a cap for this run, e.g. "20 CNY"; the estimate must fit before anything is spent.
        new_generation_per_run: a new generation on every run, for a schedule: the run's scheduled
            start time (and its deployment) salt the intent, so each tick pays for a new video while a
            retry of the same run resumes that run's task.

    When the gateway block sets `max_concurrent_tasks`, the run waits for a slot of that limit
    (shared by every run on the gateway) before creating its task, and frees it once the task is
    terminal; `requests_per_minute` paces its create.

    Raises:
        SpecError: the spec, `name` or `out_dir` is invalid (nothing was uploaded or sent).
        BudgetExceededError: the estimate does not fit the run's or the ledger's budget.
        GenerationFailedError: the task ended failed, expired or cancelled (`AudioPolicyViolationError`
            when only its generated audio was refused: the message says how to re-run without audio).
        ResultGoneError: a resumed task finished more than 24 h ago and was never collected.
    """
    route_core_logs()
    return make_video(
        spec,
        out_dir,
        gateway=gateway,
        bucket=bucket,
        name=name,
        salt=run_salt(salt) if new_generation_per_run else salt,
        budget=budget,
    )


def make_video(
    spec: GenerationSpec,
    out_dir: str,
    *,
    gateway: str | None,
    bucket: str | None,
    name: str,
    salt: str | None,
    budget: str | None,
) -> GenerationResult:
    """The steps of one generation, inside whichever flow asked for it (generate-video, generate-from-asset)."""
    out = output_folder(out_dir)
    check_name(name)
    gateway_block = SeedanceGateway.resolve(gateway)
    spec.preflight(gateway_block.default_model, gateway_block.get_dialect())
    bucket_block = resolve_bucket(bucket, [spec], out)
    ensure_limits(gateway_block)
    with TaskSlots(gateway_block) as slots:  # the task holds its slot until it is terminal, however this ends
        submission = submit(spec, gateway_block, bucket_block, budget, salt, slots)
        mark = time.monotonic()
        waited = wait_for_generation(
            submission.task_id,
            gateway_block,
            submission.deadline_seconds,
            submission.expected_seconds,
            progress_key=f"{artifact_key(name)}-progress",
        )
    submission.timings["wait"] = time.monotonic() - mark
    return collect(spec, submission, waited.task, waited.timeline, gateway=gateway_block, out=out, name=name, bucket=bucket_block)


def run_salt(salt: str | None) -> str:
    """`salt` joined with this run's tick: its deployment (or, outside one, the run itself) and its
    scheduled start time. The same for every retry of the run, new for every tick of a schedule."""
    run = FlowRunContext.get()
    assert run is not None and run.flow_run is not None, "run_salt is called inside a flow run"
    owner = run.flow_run.deployment_id or run.flow_run.id
    start = run.flow_run.expected_start_time
    tick = f"{owner}@{start.isoformat()}" if start is not None else f"run {run.flow_run.id}"
    return f"{salt}|{tick}" if salt else tick
