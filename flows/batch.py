"""The `generate-batch` flow: many specs, polled together, each collected the moment it finishes."""

# Real annotations (no `from __future__`): Prefect builds the parameter schema from them.
import time
from pathlib import Path
from typing import cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from pydantic import BaseModel

from blocks.gateway import SeedanceGateway
from flows.generate import cancel_upstream
from flows.steps import Submission, collect, resolve_bucket, submit
from seedance.ark.types import ContentGenerationTask
from seedance.errors import SeedanceError, SpecError, describe
from seedance.manifest import ManifestItem
from seedance.results import GenerationResult
from seedance.settings import get_settings
from seedance.waiting import PollSchedule, StatusChange, watch


class BatchItem(BaseModel):
    name: str
    task_id: str | None = None
    result: GenerationResult | None = None
    error: dict[str, object] | None = None


class BatchResult(BaseModel):
    items: list[BatchItem]

    @property
    def succeeded(self) -> int:
        return sum(item.result is not None for item in self.items)


@flow(name="generate-batch", validate_parameters=True, on_cancellation=[cancel_upstream])
def generate_batch(
    items: list[ManifestItem],
    out_dir: Path,
    gateway: str | None = None,
    bucket: str | None = None,
    budget: str | None = None,
    keep_in_s3: bool = False,
) -> BatchResult:
    """Generate every item of a manifest; one failure does not stop the others.

    Every item is checked before any is paid for. All tasks are then polled together (one list
    request per round, not one GET each) and each video is downloaded as soon as its task
    succeeds. A progress artifact moves as videos finish; a table artifact sums the batch up.
    Outputs go to `out_dir/<item name>/`.
    """
    logger = get_run_logger()
    gateway_block = SeedanceGateway.resolve(gateway)
    dialect = gateway_block.get_dialect()
    problems = []
    for item in items:
        try:
            item.spec.preflight(gateway_block.default_model, dialect)
        except SpecError as exc:
            problems += [problem.model_copy(update={"field": f"{item.name}: {problem.field}"}) for problem in exc.problems]
    if problems:
        raise SpecError(problems, "batch")
    bucket_block = resolve_bucket(bucket, [item.spec for item in items], keep_in_s3)
    keep_in = bucket_block if keep_in_s3 else None

    outcome = {item.name: BatchItem(name=item.name) for item in items}
    submitted: dict[str, tuple[ManifestItem, Submission]] = {}
    for item in items:
        try:
            submission = submit(item.spec, gateway_block, bucket_block, budget, None)
        except SeedanceError as exc:
            outcome[item.name].error = describe(exc)
            logger.error("%s: not submitted: %s", item.name, exc)
            continue
        submitted[submission.task_id] = (item, submission)
        outcome[item.name].task_id = submission.task_id

    # called from a sync flow, it returns the artifact's id (its type also allows the async form)
    progress = cast(UUID, create_progress_artifact(progress=0.0, key="batch-progress", description=f"{len(items)} videos"))
    timelines: dict[str, list[StatusChange]] = {task_id: [] for task_id in submitted}
    settings = get_settings()
    schedule = PollSchedule.from_settings(
        settings, min((s.expected_seconds for _, s in submitted.values() if s.expected_seconds), default=None)
    )
    deadline = max((s.deadline_seconds for _, s in submitted.values()), default=0.0)
    done = 0

    def changed(task: ContentGenerationTask) -> None:
        timelines[task.id].append(StatusChange(task_id=task.id, status=task.status, at=time.time()))
        logger.info("%s (%s): %s", submitted[task.id][0].name, task.id, task.status.value)

    with gateway_block.get_client() as client:
        for finished in watch(client, list(submitted), schedule=schedule, deadline_seconds=deadline, on_change=changed):
            item, submission = submitted[finished.id]
            try:
                outcome[item.name].result = collect(
                    item.spec,
                    submission,
                    finished,
                    timelines[finished.id],
                    gateway=gateway_block,
                    out_dir=out_dir / item.name,
                    name=item.name,
                    keep_in=keep_in,
                )
            except SeedanceError as exc:
                outcome[item.name].error = describe(exc)
                logger.error("%s: %s", item.name, exc)
            done += 1
            update_progress_artifact(progress, progress=100.0 * done / max(len(submitted), 1))

    result = BatchResult(items=list(outcome.values()))
    create_table_artifact(
        key="batch-summary",
        table=[
            {
                "item": entry.name,
                "task id": entry.task_id or "—",
                "status": entry.result.status
                if entry.result
                else (str(entry.error.get("code") or entry.error.get("type")) if entry.error else "—"),
                "tokens": entry.result.completion_tokens if entry.result else None,
                "video": str(entry.result.files.video) if entry.result else None,
            }
            for entry in result.items
        ],
        description=f"{result.succeeded} of {len(items)} videos",
    )
    logger.info("batch done: %d of %d videos", result.succeeded, len(items))
    return result
