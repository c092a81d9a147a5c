"""Estimating what a generation costs, and keeping runs inside their budget.

Bookkeeping on the spending ledger, run in the flow (or a batch's threads) as plain functions that
log to the flow run, not as Prefect tasks: a task run costs the flow and the Prefect server about
as much CPU as these steps themselves, and one per step of every item of a batch added up to a
third of its time (bench P1), for lines the run's logs show anyway."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.runtime import flow_run

from blocks.gateway import SeedanceGateway
from blocks.state import open_ledger
from seedance.ark.types import ContentGenerationTask
from seedance.cost.estimate import Estimate, estimate_checked_spec
from seedance.cost.prices import PriceTable
from seedance.errors import Problem, SpecError
from seedance.ledger import Budget, LedgerEntry
from seedance.settings import get_settings
from seedance.spec import GenerationSpec


def reserve_budget(spec: GenerationSpec, gateway: SeedanceGateway, intent_key: str, run_budget: str | None) -> Estimate | None:
    """Estimate the generation and commit the estimate to the ledger, or refuse before anything is spent.

    The model is priced as the gateway bills it: on BytePlus, its own id, in USD. `spec` has passed
    pre-flight already (the flow checks it first), so it is not checked again here.

    Budgets: `run_budget` (e.g. "20 CNY") caps this flow run; `SEEDANCE_BUDGET` caps the whole ledger.
    A spec that cannot be priced (an `ep-` endpoint id, a model the price file has no entry for) is
    refused under any budget, never priced at 0; without a budget it runs with a warning.

    Raises:
        BudgetExceededError: the estimate does not fit; the message gives budget, committed and estimate.
        SpecError: a budget is set and the spec cannot be priced; the message says what to add to the price file.
    """
    logger = get_run_logger()
    settings = get_settings()
    budgets = [Budget.parse(run_budget, run_id=flow_run.get_id())] if run_budget else []
    budgets += [Budget.parse(settings.budget)] if settings.budget else []
    try:
        wire = gateway.get_dialect().wire_model
        billed = spec.model_copy(update={"model": wire(spec.model or gateway.default_model)})
        estimate = estimate_checked_spec(billed, wire(gateway.default_model), PriceTable.load())
    except SpecError as exc:
        if budgets:
            refusal = Problem(
                field="budget", message=f"cannot be checked without a price ({', '.join(map(str, budgets))}); not submitted"
            )
            raise SpecError([*exc.problems, refusal], exc.source) from None
        logger.warning("no cost estimate (%s); running without one, since no budget is set", exc)
        return None
    logger.info(
        "estimate: %s×%s, %g s → %s tokens ≈ %s %s (%s price)",
        estimate.width,
        estimate.height,
        estimate.seconds,
        f"{estimate.tokens:,}",
        estimate.cost,
        estimate.currency,
        estimate.confidence,
    )
    ledger = open_ledger(settings)
    scopes: list[Budget | None] = [*budgets] or [None]  # without a budget the entry is still recorded
    for budget in scopes:
        ledger.reserve(intent_key, estimate, budget, run_id=flow_run.get_id())
    return estimate


def release_budget(intent_key: str, reason: str) -> None:
    """Free the reservation of a generation that provably was not created."""
    open_ledger().release(intent_key, note=reason)


def settle_cost(intent_key: str, generation: ContentGenerationTask) -> LedgerEntry | None:
    """Record the billed `usage.completion_tokens` beside the estimate, with a warning when the bill is above it.

    Returns None when there was no estimate.
    """
    ledger = open_ledger()
    if ledger.get(intent_key) is None:
        return None
    billed = generation.usage.completion_tokens if generation.usage else None
    entry = ledger.settle(intent_key, billed, generation.status.value, task_id=generation.id)
    overrun = entry.overrun()
    if overrun is not None:
        get_run_logger().warning("task %s: %s", generation.id, overrun)
    return entry
