"""The run's `--budget`, checked by the command before any Prefect server or flow starts.

The flow checks it again when it reserves each estimate in the ledger (that check also covers
`SEEDANCE_BUDGET` across runs); this one needs no ledger: a new run has committed nothing, so its
items fit the budget in order, as the flow will reserve them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from seedance.ark.dialects import Dialect
from seedance.cost.estimate import Estimate, estimate_checked_spec
from seedance.cost.prices import PriceTable
from seedance.errors import BUDGET, BudgetExceededError, Problem, SpecError
from seedance.ledger import Budget
from seedance.spec import GenerationSpec


def estimate_billed(spec: GenerationSpec, default_model: str, dialect: Dialect, prices: PriceTable) -> Estimate | None:
    """The estimate of a spec that passed pre-flight, priced as the gateway bills it (BytePlus ids
    in USD), as the flow's `reserve-budget` task prices it; None when the price file has no price."""
    wire = dialect.wire_model
    billed = spec.model_copy(update={"model": wire(spec.model or default_model)})
    try:
        return estimate_checked_spec(billed, wire(default_model), prices)
    except SpecError:
        return None


def over_budget(estimates: Sequence[tuple[str, Estimate | None]], budget_text: str | None, *, resumed: int = 0) -> list[str]:
    """The items (by name) the run budget would refuse, reserved in order as the flow reserves them.
    `estimates` are the items that would be paid for; `resumed` more resume a task, at no new cost.

    Raises:
        BudgetExceededError: not one item fits and none resumes; nothing would be sent.
        SpecError: the budget is not an amount and a currency, is in another currency than the
            prices, or an item cannot be priced (a budget cannot be checked without a price).
    """
    if not budget_text:
        return []
    budget = Budget.parse(budget_text)
    problems = [
        Problem(field=BUDGET, message=f"{name}: has no price in the price file, so {budget} cannot be checked; not submitted")
        for name, estimate in estimates
        if estimate is None
    ]
    problems += [
        Problem(
            field=BUDGET,
            message=f"is in {budget.currency} but {estimate.model} is priced in {estimate.currency}; "
            f"give a {estimate.currency} budget for this model",
        )
        for _, estimate in estimates
        if estimate is not None and estimate.currency != budget.currency
    ]
    if problems:
        raise SpecError(problems, BUDGET)
    committed = Decimal(0)
    refused: list[str] = []
    for name, estimate in estimates:
        assert estimate is not None  # unpriced items were refused above
        if committed + estimate.cost > budget.amount:
            refused.append(name)
        else:
            committed += estimate.cost
    if refused and len(refused) == len(estimates) and not resumed:
        first = estimates[0][1]
        assert first is not None
        raise BudgetExceededError(
            f"budget {budget} would be exceeded: {first.cost:.4f} {budget.currency} estimated for "
            f"{estimates[0][0]} ({first.model} {first.width}×{first.height} {first.seconds:g} s, {first.tokens:,} tokens). "
            "Not submitted."
        )
    return refused
