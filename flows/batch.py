"""The `generate-batch` flow: many specs, submitted side by side as the gateway's task limit allows,
polled together, each collected the moment it finishes."""

# Real annotations (no `from __future__`): Prefect builds the parameter schema from them.
import math
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import copy_context
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from pydantic import BaseModel

from blocks.gateway import SeedanceGateway
from flows.generate import cancel_upstream
from flows.manifests import batch_items
from flows.naming import batch_run_name
from flows.steps import IN_RUN, ItemSteps, Submission, collect, output_folder, resolve_bucket, submit
from seedance.ark.client import ArkClient
from seedance.ark.types import ContentGenerationTask
from seedance.errors import ArkAPIError, BatchStoppedError, Problem, SeedanceError, SpecError, describe
from seedance.manifest import ManifestItem, preflight_items, within
from seedance.outputs import Folder, check_name
from seedance.results import GenerationResult
from seedance.settings import get_settings
from seedance.waiting import PollSchedule, StatusChange, Watchlist, shared_pause
from tasks.limits import TaskSlots, ensure_limits
from tasks.logs import route_core_logs
from tasks.report import ROW_THUMBNAIL_MAX_WIDTH, ROW_THUMBNAIL_MIN_WIDTH, ReportRow, poster_thumbnail, publish_batch_report

if TYPE_CHECKING:
    from prefect_aws import S3Bucket  # imported where a bucket is used: see blocks/bucket.py


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


NOT_FINISHED = "not finished: the run stopped"
"""The status of an item that a batch stopped halfway (Ctrl-C, a cancel) had not made, nor failed."""

PROGRESS_EVERY_SECONDS = 1.0
"""The progress artifact moves at most this often (and once more when the last item settles): each
move is a call to the Prefect API, and a batch can settle many items a second."""


class BatchRun:
    """One run's items: those being submitted, those in flight upstream, those being collected, and
    the outcome of each.

    Submitting (estimate, upload, check, create) and collecting (settle, download, poster, report)
    run on two pools of `Settings.batch_threads` threads each, so that no item waits for an
    unrelated one; the flow's own thread polls every task in flight together and hands each
    finished one to a collecting thread. Submitting threads may wait for a task slot (the gateway's
    limit); collecting threads never do, and they are the ones that free this run's slots.
    Each thread runs in a copy of the flow run's context, as Prefect's ThreadPoolTaskRunner does, so
    the Prefect tasks it calls are task runs of this flow run.

    An item's create is a task run (`submit-generation`: what is paid for, with its retries in the
    UI); its references' upload and check, its download and its upload to S3 are steps of this run
    (`flows.steps.IN_RUN`, which says what that saves). A download is retried the same way, each
    retry a line in the run's logs, and the batch's report shows what each item made and where it
    is kept, its poster's thumbnail made by the collecting thread (`_note_thumbnail`).
    """

    def __init__(
        self,
        items: list[ManifestItem],
        *,
        gateway: SeedanceGateway,
        bucket: "S3Bucket | None",
        budget: str | None,
        out: Folder,
        slots: TaskSlots,
        client: ArkClient,
    ) -> None:
        self.waiting = deque(items)
        """Items not yet handed to a submitting thread, in manifest order."""
        self.flights: dict[str, Flight] = {}
        self.finished: deque[tuple[Flight, ContentGenerationTask]] = deque()
        """Terminal tasks not yet handed to a collecting thread."""
        self.outcome = {item.name: BatchItem(name=item.name) for item in items}
        self.thumbnails: dict[str, str] = {}
        """Each collected item's poster, for the batch's report (`ReportRow.thumbnail`)."""
        self._gateway, self._bucket, self._budget, self._out = gateway, bucket, budget, out
        self._slots = slots
        self._watchlist = Watchlist(client, on_change=self._changed)
        self._settings = get_settings()
        self._logger = get_run_logger()
        # called from a sync flow, it returns the artifact's id (its type also allows the async form)
        self._progress = cast(
            UUID, create_progress_artifact(progress=0.0, key="batch-progress", description=f"{len(items)} videos")
        )
        self._steps: ItemSteps = replace(IN_RUN, report=self._note_thumbnail)
        self._threads = self._settings.batch_threads
        self._submitters = ThreadPoolExecutor(self._threads, thread_name_prefix="batch-submit")
        self._collectors = ThreadPoolExecutor(self._threads, thread_name_prefix="batch-collect")
        self._submitting: dict[Future[Submission], ManifestItem] = {}
        self._collecting: dict[Future[GenerationResult], Flight] = {}
        self._settled = 0
        self._quiet_polls = 0
        """Polls in a row that found nothing finished while no task joined: the pause grows with them."""
        self._next_poll = math.inf
        self._progress_shown = 0.0

    def __enter__(self) -> "BatchRun":
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop: items not yet started are dropped, and the threads finish the step they are in
        (a create or a download is never cut halfway; one waiting for a slot gives up). What they
        finish is recorded, so that a run stopped halfway reports it."""
        self._slots.stop_waiting()
        for pool in (self._submitters, self._collectors):
            pool.shutdown(wait=True, cancel_futures=True)
        for submitting, item in self._submitting.items():
            if _ended_as_planned(submitting):
                self._submitted(item, submitting)
        for collecting, flight in self._collecting.items():
            if _ended_as_planned(collecting):
                self._collected(flight, collecting)

    def result(self) -> "BatchResult":
        """Each item's outcome so far, in manifest order."""
        return BatchResult(items=list(self.outcome.values()))

    @property
    def busy(self) -> bool:
        return bool(self.waiting or self._submitting or self.flights or self.finished or self._collecting)

    def step(self) -> None:
        """Keep both pools busy, then wait for a submission or collection to end, or for the next
        poll, whichever comes first."""
        while self.waiting and len(self._submitting) < self._threads:
            item = self.waiting.popleft()
            self._submitting[self._submitters.submit(copy_context().run, self._submit, item)] = item
        while self.finished and len(self._collecting) < self._threads:
            flight, task = self.finished.popleft()
            self._collecting[self._collectors.submit(copy_context().run, self._collect, flight, task)] = flight
        timeout = max(0.0, self._next_poll - time.monotonic()) if self.flights else None
        running: list[Future[Any]] = [*self._submitting, *self._collecting]
        if running:
            done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
        else:
            time.sleep(timeout or 0.0)
            done = set()
        for future in done:
            if future in self._submitting:
                self._submitted(self._submitting.pop(future), future)
            else:
                self._collected(self._collecting.pop(future), future)
        if self.flights and time.monotonic() >= self._next_poll:
            self._poll()  # what it finds terminal is collected from the next step on

    def _submit(self, item: ManifestItem) -> Submission:
        """Estimate, upload, check and create the item's task (on a submitting thread), once it has a
        task slot; a run that stops ends the wait (NoFreeSlot)."""
        return submit(item.spec, self._gateway, self._bucket, self._budget, None, self._slots, None, self._steps)

    def _submitted(self, item: ManifestItem, future: "Future[Submission]") -> None:
        try:
            submission = future.result()
        except SeedanceError as exc:
            self._logger.error("%s: not submitted: %s", item.name, exc)
            self._settle(item.name, exc)
            if isinstance(exc, ArkAPIError) and exc.refuses_every_request() and self.waiting:
                self._stop_submitting(item.name, exc)
            return
        self.flights[submission.task_id] = Flight(item, submission)
        self._watchlist.add(submission.task_id, submission.deadline_seconds)
        self.outcome[item.name].task_id = submission.task_id
        self._quiet_polls = 0
        if len(self.flights) == 1:
            self._next_poll = min(self._next_poll, time.monotonic() + self._pause())

    def _stop_submitting(self, name: str, refused: ArkAPIError) -> None:
        """Settle every item not yet handed to a submitting thread as not submitted: the gateway
        refused `name` in a way it would refuse them all. Tasks already in flight are collected."""
        stopped = BatchStoppedError(refused, name)
        self._logger.error("%s (%d items)", stopped, len(self.waiting))
        while self.waiting:
            self._settle(self.waiting.popleft().name, stopped)

    def _poll(self) -> None:
        """Poll every task in flight once; hand those now terminal to the collecting threads, freeing
        their slots, and give up on those past their deadline."""
        finished_now = self._watchlist.poll()
        self._quiet_polls = 0 if finished_now else self._quiet_polls + 1
        for finished in finished_now:
            flight = self.flights.pop(finished.id)
            self._slots.give_back(flight.submission.intent_key)
            self.finished.append((flight, finished))
        for late in self._watchlist.drop_overdue():
            flight = self.flights.pop(late.task_id)
            self._slots.give_back(flight.submission.intent_key)
            self._logger.error("%s: %s", flight.item.name, late)
            self._settle(flight.item.name, late)
        self._next_poll = time.monotonic() + self._pause()

    def _collect(self, flight: Flight, finished: ContentGenerationTask) -> GenerationResult:
        """Settle the cost of a finished task and keep its outputs (on a collecting thread)."""
        return collect(
            flight.item.spec,
            flight.submission,
            finished,
            flight.timeline,
            gateway=self._gateway,
            out=self._out,
            name=flight.item.name,
            bucket=self._bucket,
            steps=self._steps,
        )

    def _note_thumbnail(self, result: GenerationResult, timeline: list[StatusChange], name: str) -> None:
        """The batch's `ItemSteps.report`: the item's row in the batch's report gets its poster's
        thumbnail, made while the poster is on this machine (outputs kept in S3 are made in a
        staging folder, removed once uploaded)."""
        thumbnail = poster_thumbnail(result, ROW_THUMBNAIL_MIN_WIDTH, ROW_THUMBNAIL_MAX_WIDTH)
        if thumbnail is not None:
            self.thumbnails[name] = thumbnail

    def _collected(self, flight: Flight, future: "Future[GenerationResult]") -> None:
        try:
            result = future.result()
        except SeedanceError as exc:
            self._logger.error("%s: %s", flight.item.name, exc)
            self._settle(flight.item.name, exc)
        else:
            self._settle(flight.item.name, result)

    def _changed(self, task: ContentGenerationTask) -> None:
        """Record and log a status change of a task in flight (the watchlist's `on_change`)."""
        flight = self.flights[task.id]
        flight.timeline.append(StatusChange(task_id=task.id, status=task.status, at=time.time()))
        self._logger.info("%s (%s): %s", flight.item.name, task.id, task.status.value)

    def _pause(self) -> float:
        """The pause before the next poll: the settings' first pause while tasks keep finishing or
        joining, growing over quiet polls, and tightening near the soonest expected finish (each
        task's expected time from the waiting prior, counted from its own submission).

        One list request answers for every task in flight: `shared_pause` shortens the pause with
        their number.
        """
        now = time.monotonic()
        schedule = min(
            (
                PollSchedule.from_settings(self._settings, f.submission.expected_seconds).pause(
                    self._quiet_polls, now - f.submission.started
                )
                for f in self.flights.values()
            ),
            default=PollSchedule.from_settings(self._settings).pause(self._quiet_polls, 0.0),
        )
        return min(shared_pause(schedule, len(self.flights)), self._watchlist.seconds_left())

    def _settle(self, name: str, outcome: GenerationResult | SeedanceError) -> None:
        """Record an item's result or error, and move the progress artifact."""
        if isinstance(outcome, SeedanceError):
            self.outcome[name].error = describe(outcome)
        else:
            self.outcome[name].result = outcome
        self._settled += 1
        now = time.monotonic()
        if self._settled == len(self.outcome) or now - self._progress_shown >= PROGRESS_EVERY_SECONDS:
            self._progress_shown = now
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

    Every item is checked before any is paid for. Items are then submitted, `SEEDANCE_BATCH_THREADS`
    (8) at a time and in manifest order, as the gateway block's `max_concurrent_tasks` allows (a
    limit every run on that gateway shares; none: all at once). The tasks in flight are polled
    together (one list request per round, not one GET each) and each video is downloaded as soon as
    its task succeeds, beside the others, its slot going to the next item.
    A progress artifact moves as items finish; a table artifact sums the batch up, and a report
    shows each item's poster beside what it made, also when the run is stopped halfway.
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
        run = BatchRun(items, gateway=gateway_block, bucket=bucket_block, budget=budget, out=out, slots=slots, client=client)
        with reported(run), run:
            while run.busy:
                run.step()

    result = run.result()
    logger.info("batch done: %d of %d videos", result.succeeded, len(items))
    return result


def _ended_as_planned(future: "Future[Any]") -> bool:
    """Whether a submitting or collecting thread's step ended with its result or a SeedanceError
    (not cancelled before it began, nor ended by a bug)."""
    return future.done() and not future.cancelled() and isinstance(future.exception(), (SeedanceError, type(None)))


@contextmanager
def reported(run: BatchRun) -> Iterator[None]:
    """Publish the batch's summary and report once `run` has ended, however it ends: a batch stopped
    halfway (Ctrl-C, a cancel in the UI, an error) shows the items it made beside those it did not."""
    try:
        yield
    except BaseException:
        try:
            publish_outcome(run)
        except Exception as exc:  # what stopped the run is the error to raise, not this one
            # its type only: the error of a request may quote the API's URL, and so its credentials
            get_run_logger().warning("the stopped batch's report could not be published (%s)", type(exc).__name__)
        raise
    publish_outcome(run)


def publish_outcome(run: BatchRun) -> None:
    """The batch's `batch-summary` table and `batch-report` markdown artifacts."""
    result = run.result()
    publish_summary(result)
    publish_batch_report([ReportRow(e.name, e.result, _problem(e), run.thumbnails.get(e.name)) for e in result.items])


def preflight_all(items: list[ManifestItem], gateway: SeedanceGateway) -> None:
    """Check every item, and its name as a folder of outputs, before any is paid for.

    Raises:
        SpecError: every problem of every item, each field prefixed with its item's name (the items
            a problem is shared by, together: see `preflight_items`).
    """
    problems: list[Problem] = []
    for item in items:
        try:
            check_name(item.name)
        except SpecError as exc:
            problems += within(item.name, exc.problems)
    try:
        preflight_items(items, gateway.default_model, gateway.get_dialect())
    except SpecError as exc:
        problems += exc.problems
    if problems:
        raise SpecError(problems, "batch")


def _error_code(error: dict[str, object]) -> str:
    """What an item's error (`describe`) is called: Ark's code when it has one, else its type."""
    return str(error.get("code") or error.get("type"))


def _problem(entry: BatchItem) -> str | None:
    """Why an item has no result, in one line: its error's code (or type) and message, or that the
    run stopped before the item was done."""
    if entry.error is not None:
        return f"{_error_code(entry.error)}: {entry.error.get('message', '')}"
    if entry.result is None:
        return NOT_FINISHED + (f" (task {entry.task_id})" if entry.task_id else "")
    return None


def publish_summary(result: BatchResult) -> None:
    """The `batch-summary` table artifact: one row per item, with its task, status, tokens and video."""
    create_table_artifact(
        key="batch-summary",
        table=[
            {
                "item": entry.name,
                "task id": entry.task_id or "—",
                "status": entry.result.status if entry.result else (_error_code(entry.error) if entry.error else NOT_FINISHED),
                "tokens": entry.result.completion_tokens if entry.result else None,
                "video": entry.result.locations["video"] if entry.result else None,
            }
            for entry in result.items
        ],
        description=f"{result.succeeded} of {len(result.items)} videos",
    )
