"""The `generate-batch` flow: many specs, started as the gateway's task limit allows, polled
together, each collected the moment it finishes."""

# Real annotations (no `from __future__`): Prefect builds the parameter schema from them.
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect_aws import S3Bucket
from pydantic import BaseModel

from blocks.gateway import SeedanceGateway
from flows.generate import cancel_upstream
from flows.manifests import batch_items
from flows.naming import batch_run_name
from flows.steps import Submission, collect, output_folder, resolve_bucket, submit
from seedance.ark.client import ArkClient
from seedance.ark.types import ContentGenerationTask
from seedance.errors import SeedanceError, SpecError, describe
from seedance.manifest import ManifestItem
from seedance.outputs import Folder, check_name
from seedance.results import GenerationResult
from seedance.settings import get_settings
from seedance.waiting import PollSchedule, StatusChange, Watchlist
from tasks.limits import NoFreeSlot, TaskSlots, ensure_limits
from tasks.logs import route_core_logs


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


@dataclass
class Flight:
    """An item whose task is queued or running upstream."""

    item: ManifestItem
    submission: Submission
    timeline: list[StatusChange] = field(default_factory=list)


class BatchRun:
    """One run's items: those waiting for a task slot, those in flight, and the outcome of each."""

    def __init__(
        self,
        items: list[ManifestItem],
        *,
        gateway: SeedanceGateway,
        bucket: S3Bucket | None,
        budget: str | None,
        out: Folder,
        slots: TaskSlots,
        client: ArkClient,
    ) -> None:
        self.waiting = deque(items)
        self.flights: dict[str, Flight] = {}
        self.outcome = {item.name: BatchItem(name=item.name) for item in items}
        self._gateway, self._bucket, self._budget, self._out = gateway, bucket, budget, out
        self._slots = slots
        self._watchlist = Watchlist(client, on_change=self._changed)
        self._settings = get_settings()
        self._logger = get_run_logger()
        # called from a sync flow, it returns the artifact's id (its type also allows the async form)
        self._progress = cast(
            UUID, create_progress_artifact(progress=0.0, key="batch-progress", description=f"{len(items)} videos")
        )
        self._settled = 0
        self._polls = 0
        self._started = time.monotonic()

    def _changed(self, task: ContentGenerationTask) -> None:
        """Record and log a status change of a task in flight (the watchlist's `on_change`)."""
        flight = self.flights[task.id]
        flight.timeline.append(StatusChange(task_id=task.id, status=task.status, at=time.time()))
        self._logger.info("%s (%s): %s", flight.item.name, task.id, task.status.value)

    def admit(self, wait: float) -> None:
        """Submit waiting items, in order, while task slots come free.

        With tasks in flight, the next item waits for a slot no longer than `wait` (the pause before
        the next poll): only collecting those tasks frees this run's own slots. With none, it waits
        as long as it takes.
        """
        while self.waiting:
            item = self.waiting[0]
            try:
                submission = submit(
                    item.spec, self._gateway, self._bucket, self._budget, None, self._slots, wait if self.flights else None
                )
            except NoFreeSlot:
                return
            except SeedanceError as exc:
                self._logger.error("%s: not submitted: %s", item.name, exc)
                self._settle(item.name, exc)
            else:
                self.flights[submission.task_id] = Flight(item, submission)
                self._watchlist.add(submission.task_id, submission.deadline_seconds)
                self.outcome[item.name].task_id = submission.task_id
            self.waiting.popleft()

    def collect_finished(self) -> None:
        """Poll every task in flight once; collect those now terminal, freeing their slots, and
        give up on those past their deadline."""
        self._polls += 1
        for finished in self._watchlist.poll():
            flight = self.flights.pop(finished.id)
            self._slots.give_back(flight.submission.intent_key)
            item = flight.item
            try:
                result = collect(
                    item.spec,
                    flight.submission,
                    finished,
                    flight.timeline,
                    gateway=self._gateway,
                    out=self._out,
                    name=item.name,
                    bucket=self._bucket,
                )
            except SeedanceError as exc:
                self._logger.error("%s: %s", item.name, exc)
                self._settle(item.name, exc)
            else:
                self._settle(item.name, result)
        for late in self._watchlist.drop_overdue():
            flight = self.flights.pop(late.task_id)
            self._slots.give_back(flight.submission.intent_key)
            self._logger.error("%s: %s", flight.item.name, late)
            self._settle(flight.item.name, late)

    def pause(self) -> float:
        """The pause before the next poll: the settings' schedule, tightening near the soonest expected finish."""
        expected = min(
            (f.submission.expected_seconds for f in self.flights.values() if f.submission.expected_seconds), default=None
        )
        schedule = PollSchedule.from_settings(self._settings, expected)
        pause = schedule.pause(max(self._polls - 1, 0), time.monotonic() - self._started)
        return min(pause, self._watchlist.seconds_left())

    def _settle(self, name: str, outcome: GenerationResult | SeedanceError) -> None:
        """Record an item's result or error, and move the progress artifact."""
        if isinstance(outcome, SeedanceError):
            self.outcome[name].error = describe(outcome)
        else:
            self.outcome[name].result = outcome
        self._settled += 1
        update_progress_artifact(self._progress, progress=100.0 * self._settled / len(self.outcome))


@flow(name="generate-batch", flow_run_name=batch_run_name, validate_parameters=True, on_cancellation=[cancel_upstream])
def generate_batch(
    out_dir: str,
    items: list[ManifestItem] | None = None,
    gateway: str | None = None,
    bucket: str | None = None,
    budget: str | None = None,
    manifest: str | None = None,
) -> BatchResult:
    """Generate every item of a manifest; one failure does not stop the others.

    Every item is checked before any is paid for. Items are then submitted in order as the gateway
    block's `max_concurrent_tasks` allows (a limit every run on that gateway shares; none: all at
    once). The tasks in flight are polled together (one list request per round, not one GET each)
    and each video is downloaded as soon as its task succeeds, its slot going to the next item.
    A progress artifact moves as items finish; a table artifact sums the batch up.
    `out_dir` is a local folder or `s3://bucket/prefix` (see `generate-video`); each item's outputs
    go to `<out_dir>/<item name>/<task id>/`.

    `manifest` names a manifest read as the run starts (a path on the worker, or `s3://bucket/key`
    read through `bucket`), so a scheduled batch follows the manifest as it is on the day; its items
    come after the inline `items`.
    """
    route_core_logs()
    items = batch_items(items, manifest, bucket)
    logger = get_run_logger()
    out = output_folder(out_dir)
    gateway_block = SeedanceGateway.resolve(gateway)
    preflight_all(items, gateway_block)
    bucket_block = resolve_bucket(bucket, [item.spec for item in items], out)
    ensure_limits(gateway_block)

    with TaskSlots(gateway_block) as slots, gateway_block.get_client() as client:
        run = BatchRun(
            items,
            gateway=gateway_block,
            bucket=bucket_block,
            budget=budget,
            out=out,
            slots=slots,
            client=client,
        )
        while run.waiting or run.flights:
            run.admit(wait=run.pause())  # while items wait for slots, that wait is the pause between polls
            run.collect_finished()
            if run.flights and not run.waiting:
                time.sleep(run.pause())

    result = BatchResult(items=list(run.outcome.values()))
    publish_summary(result)
    logger.info("batch done: %d of %d videos", result.succeeded, len(items))
    return result


def preflight_all(items: list[ManifestItem], gateway: SeedanceGateway) -> None:
    """Check every item, and its name as a folder of outputs, before any is paid for.

    Raises:
        SpecError: every problem of every item, each field prefixed with its item's name.
    """
    dialect = gateway.get_dialect()
    problems = []
    for item in items:
        for check in (partial(check_name, item.name), partial(item.spec.preflight, gateway.default_model, dialect)):
            try:
                check()
            except SpecError as exc:
                problems += [problem.model_copy(update={"field": f"{item.name}: {problem.field}"}) for problem in exc.problems]
    if problems:
        raise SpecError(problems, "batch")


def publish_summary(result: BatchResult) -> None:
    """The `batch-summary` table artifact: one row per item, with its task, status, tokens and video."""
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
                "video": entry.result.locations["video"] if entry.result else None,
            }
            for entry in result.items
        ],
        description=f"{result.succeeded} of {len(result.items)} videos",
    )
