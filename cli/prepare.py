"""What `generate` and `batch` do before a flow starts: resolve the gateway, plan and price each
generation, and check the run's budget, so that every mistake that can be found without spending
is reported before a Prefect server or flow is started.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cli.budget import estimate_billed
from cli.errors import UsageError
from cli.progress import Row
from cli.resolve import bucket_block, gateway_block
from cli.server import connect, reachable_api_url
from seedance.cost.estimate import Estimate
from seedance.cost.prices import PriceTable
from seedance.errors import Problem, SpecError
from seedance.manifest import ManifestItem, preflight_items
from seedance.plan import SubmissionPlan, plan_submission
from seedance.spec import GenerationSpec
from seedance.storyboard import Storyboard
from seedance.waiting import expected_seconds

if TYPE_CHECKING:
    from blocks.gateway import SeedanceGateway
    from seedance.intents import Intent


@dataclass(frozen=True)
class Generation:
    """One generation of a command, planned and priced before anything is sent."""

    name: str
    spec: GenerationSpec
    plan: SubmissionPlan
    estimate: Estimate | None

    def row(self) -> Row:
        """Its row in the progress display, found by its intent key."""
        return _row(self.name, self.plan.spec, self.plan.default_model, self.estimate, self.plan.intent_key)


def shot_rows(board: Storyboard, gateway: SeedanceGateway) -> list[Row]:
    """A progress row per shot of a storyboard that passed pre-flight, in order.

    A shot's intent key depends on the frame the shot before it ends on, so shots are not planned:
    each row takes the next task that appears.
    """
    prices = PriceTable.load()
    rows = []
    for index in range(len(board.shots)):
        spec = board.shot_to_check(index)
        estimate = estimate_billed(spec, gateway.default_model, gateway.get_dialect(), prices)
        rows.append(_row(f"shot-{index + 1:02d}", spec, gateway.default_model, estimate, None))
    return rows


def _row(name: str, spec: GenerationSpec, default_model: str, estimate: Estimate | None, intent_key: str | None) -> Row:
    return Row(
        name=name,
        intent_key=intent_key,
        expected_seconds=expected_seconds(spec.model or default_model, spec.resolution, spec.ratio, spec.duration),
        cost=estimate.cost if estimate else None,
        currency=estimate.currency if estimate else None,
    )


def open_gateway(name: str | None, *, dry_run: bool) -> tuple[SeedanceGateway, str | None]:
    """The gateway, and the Prefect API its block was read from (None for one from the environment).

    A saved block needs a Prefect API: a run connects (starting the shared server if needed); a
    dry run starts nothing, so it reads blocks only from an API that is already up.

    Raises:
        UsageError: no such block; or a dry run names a block and no Prefect API is up.
        ConfigurationError: no block named and no `ARK_API_KEY`.
    """
    if not name:
        return gateway_block(None), None
    api_url = reachable_api_url() if dry_run else connect()
    if api_url is None:
        raise UsageError(
            f"--dry-run reads the gateway block {name!r} from a Prefect API, and none is running (it starts none)",
            "start the shared one with `seedance server start`, or leave --gateway out to use ARK_API_KEY and ARK_BASE_URL",
        )
    return gateway_block(name), api_url


def preflight_spec(spec: GenerationSpec, unknown: list[Problem], gateway: SeedanceGateway, source: Path) -> None:
    """Pre-flight a spec file's spec on `gateway`, its unknown fields listed with every other problem.

    Raises:
        SpecError: naming the file, one problem per field.
    """
    try:
        spec.preflight(gateway.default_model, gateway.get_dialect())
    except SpecError as exc:
        raise SpecError(unknown + exc.problems, str(source)) from None
    if unknown:
        raise SpecError(unknown, str(source))


def preflight_manifest(items: list[ManifestItem], problems: list[Problem], gateway: SeedanceGateway, source: Path) -> None:
    """Pre-flight a manifest's valid items on `gateway`, listing the problems reading it found too.

    Raises:
        SpecError: naming the file, one problem per field, each named by its item.
    """
    try:
        preflight_items(items, gateway.default_model, gateway.get_dialect())
    except SpecError as exc:
        raise SpecError(problems + exc.problems, str(source)) from None
    if problems:
        raise SpecError(problems, str(source))


def dry_run_bucket(name: str | None, generations: list[Generation]) -> tuple[str, str] | None:
    """(bucket name, key folder) of the bucket a dry run's uploads would go to; None when nothing uploads.

    Raises:
        UsageError / ConfigurationError: as `cli.resolve.bucket_block`, or no Prefect API is up to read a block from.
    """
    if not any(generation.plan.spec.uploads() for generation in generations):
        return None
    api_url = reachable_api_url() if name else None
    if name and api_url is None:
        raise UsageError(
            f"--dry-run reads the bucket block {name!r} from a Prefect API, and none is running (it starts none)",
            "start the shared one with `seedance server start`, or leave --bucket out to use SEEDANCE_BUCKET",
        )
    bucket = bucket_block(name)
    return bucket.bucket_name, bucket.bucket_folder


def plan_generations(named: list[tuple[str, GenerationSpec]], gateway: SeedanceGateway, salt: str | None) -> list[Generation]:
    """Plan and price specs that passed pre-flight on `gateway`."""
    dialect = gateway.get_dialect()
    prices = PriceTable.load()
    return [
        Generation(
            name=name,
            spec=spec,
            plan=plan_submission(
                spec, gateway_url=gateway.base_url, default_model=gateway.default_model, dialect=dialect, salt=salt
            ),
            estimate=estimate_billed(spec, gateway.default_model, dialect, prices),
        )
        for name, spec in named
    ]


def to_be_paid(generations: list[Generation]) -> list[Generation]:
    """The generations a run would pay for: those whose intent has no task yet. One with a task is
    resumed, at no new cost (its estimate is already in the ledger), so a budget check leaves it out.

    Read from the intent store without Prefect (this check runs before any Prefect server): files or
    `SEEDANCE_STATE_URL`. A `SEEDANCE_STATE_BLOCK` would need Prefect, so then every generation is
    counted, as if none resumed: the check can only refuse too much, never too little.
    """
    from seedance.settings import get_settings
    from seedance.state import intent_store

    settings = get_settings()
    if settings.state_block:
        return generations
    store = intent_store(settings)
    return [generation for generation in generations if not _has_task(store.get(generation.plan.intent_key))]


def _has_task(intent: Intent | None) -> bool:
    return intent is not None and intent.task_id is not None
