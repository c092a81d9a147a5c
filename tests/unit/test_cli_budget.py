"""The run budget the command line checks before any Prefect server or flow starts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cli.budget import over_budget
from seedance.cost.estimate import Estimate
from seedance.errors import BudgetExceededError, SpecError


def estimate(cost: str, currency: str = "CNY") -> Estimate:
    return Estimate(
        model="doubao-seedance-2-0-260128",
        resolution="480p",
        ratio="16:9",
        width=864,
        height=496,
        seconds=5,
        tokens=50_000,
        price_per_million=Decimal(46),
        currency=currency,
        cost=Decimal(cost),
        tier="default",
        price_entry="test",
        confidence="seen",
    )


def test_items_are_reserved_in_order_and_those_past_the_budget_are_named() -> None:
    items = [("a", estimate("3")), ("b", estimate("3")), ("c", estimate("1"))]
    assert over_budget(items, "5 CNY") == ["b"]
    assert over_budget(items, None) == []
    assert over_budget(items, "7 CNY") == []


def test_nothing_fitting_is_refused_before_anything_runs() -> None:
    with pytest.raises(BudgetExceededError, match=r"budget 1 CNY would be exceeded: 3\.0000 CNY estimated for a .*Not submitted"):
        over_budget([("a", estimate("3")), ("b", estimate("2"))], "1 CNY")


def test_a_run_that_resumes_items_is_not_refused_for_its_new_ones_alone() -> None:
    # 3 items resume their tasks (no new cost); the one new item is past the budget: it alone is refused
    assert over_budget([("new", estimate("3"))], "1 CNY", resumed=3) == ["new"]


@pytest.mark.parametrize(
    ("items", "budget", "message"),
    [
        ([("a", estimate("1", "USD"))], "5 CNY", "is in CNY but doubao-seedance-2-0-260128 is priced in USD"),
        ([("a", None)], "5 CNY", "a: has no price in the price file"),
        ([("a", estimate("1"))], "five yuan", "is not a budget"),
    ],
)
def test_a_budget_that_cannot_be_checked_is_refused(items: list[tuple[str, Estimate | None]], budget: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        over_budget(items, budget)
