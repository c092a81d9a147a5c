"""The spending ledger: budgets refuse before submit, settles record the bill, processes never overspend together."""

from __future__ import annotations

import multiprocessing
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from seedance.ark.types import ContentGenerationTask
from seedance.cost.estimate import Estimate
from seedance.errors import BudgetExceededError, SpecError
from seedance.ledger import Budget, EntryStatus, LedgerEntry
from seedance.results import GenerationResult, OutputFiles, VideoInfo
from seedance.stores.files import FileLedger

CNY = "CNY"


def estimate(cost: str = "4.968", tokens: int = 108_000, currency: str = CNY, price: str = "46") -> Estimate:
    return Estimate(
        model="doubao-seedance-2-0-260128",
        resolution="720p",
        ratio="16:9",
        width=1280,
        height=720,
        seconds=5.0,
        tokens=tokens,
        price_per_million=Decimal(price),
        currency=currency,
        cost=Decimal(cost),
        tier="default",
        price_entry="volcengine / 2.0 480p-720p",
        confidence="inferred",
    )


def budget(amount: str, currency: str = CNY, **scope: Any) -> Budget:
    return Budget(amount=Decimal(amount), currency=currency, **scope)


def test_reserve_within_budget_commits_the_estimate(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    entry = ledger.reserve("a", estimate(), budget("10"), run_id="run-1")
    assert (entry.status, entry.estimated_cost, entry.billed_tokens, entry.run_id) == (
        EntryStatus.RESERVED,
        Decimal("4.968"),
        None,
        "run-1",
    )
    ledger.reserve("b", estimate(), budget("10"))
    assert ledger.committed(budget("10")) == Decimal("9.936")
    assert FileLedger(tmp_path).get("a") == entry  # durable: a new process reads the same


def test_refusal_past_the_budget_names_the_budget_the_committed_and_the_estimate(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    ledger.reserve("a", estimate(), budget("10"))
    ledger.settle("a", 108_900, "succeeded")
    ledger.reserve("b", estimate(), budget("10"))
    with pytest.raises(BudgetExceededError) as caught:
        ledger.reserve("c", estimate(), budget("10"))
    message = str(caught.value)
    assert "budget 10 CNY would be exceeded" in message
    assert "9.9774 CNY already committed (5.0094 CNY for 1 succeeded, 4.9680 CNY reserved for 1 unsettled)" in message
    assert "+ 4.9680 CNY estimated for this item" in message
    assert "= 14.9454 CNY" in message and "Not submitted" in message
    assert ledger.get("c") is None


def test_re_reserving_the_same_intent_counts_it_once(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    first = ledger.reserve("a", estimate(), budget("5"))
    again = ledger.reserve("a", estimate(), budget("5"))  # would not fit a second time
    assert again == first
    assert ledger.committed(budget("5")) == Decimal("4.968")
    assert len(ledger.path.read_text().splitlines()) == 1
    ledger.settle("a", 108_000, "succeeded")
    assert ledger.reserve("a", estimate(), budget("5")).status is EntryStatus.SUCCEEDED  # still once


def test_settle_records_the_bill_beside_the_estimate(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    ledger.reserve("a", estimate())
    entry = ledger.settle("a", 108_900, "succeeded", task_id="cgt-1")
    assert (entry.estimated_tokens, entry.billed_tokens) == (108_000, 108_900)
    assert (entry.estimated_cost, entry.billed_cost, entry.task_id) == (Decimal("4.968"), Decimal("5.0094"), "cgt-1")
    assert ledger.spent() == {CNY: Decimal("5.0094")}
    summary = ledger.summary()
    assert [(row.currency, row.spent, row.succeeded, row.estimated_tokens, row.billed_tokens) for row in summary.currencies] == [
        (CNY, Decimal("5.0094"), 1, 108_000, 108_900)
    ]


def test_a_bill_above_the_estimate_is_flagged_with_both_figures(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    for key in ("over", "within", "unknown", "failed", "pending"):
        ledger.reserve(key, estimate())
    over = ledger.settle("over", 108_900, "succeeded")
    assert (over.tokens_over_estimate, over.bill_over_estimate) == (900, True)
    assert over.overrun() == (
        "billed above the estimate by 900 tokens: 108,900 tokens (5.0094 CNY) billed, 108,000 (4.9680 CNY) estimated"
    )
    within = ledger.settle("within", 107_500, "succeeded")
    assert (within.tokens_over_estimate, within.bill_over_estimate, within.overrun()) == (-500, False, None)
    unknown = ledger.settle("unknown", None, "succeeded")
    failed = ledger.settle("failed", 120_000, "failed")  # not billed, whatever the tokens
    pending = ledger.get("pending")
    assert pending is not None
    for entry in (unknown, failed, pending):
        assert (entry.tokens_over_estimate, entry.bill_over_estimate, entry.overrun()) == (None, None, None)


def result(tmp_path: Path, billed_tokens: int, cost: LedgerEntry | None) -> GenerationResult:
    """The result of a succeeded 720p task that reported `billed_tokens`, settled as `cost`."""
    generation = ContentGenerationTask.model_validate(
        {
            "id": "cgt-1",
            "model": "doubao-seedance-2-0-260128",
            "status": "succeeded",
            "created_at": 1,
            "updated_at": 2,
            "usage": {"completion_tokens": billed_tokens, "total_tokens": billed_tokens},
        }
    )
    video = VideoInfo(
        width=1280, height=720, duration_seconds=5.0, fps=24.0, video_codec="h264", has_audio=False, size_bytes=1, sha256="0" * 64
    )
    files = OutputFiles(video=tmp_path / "v.mp4", result=tmp_path / "result.json")
    return GenerationResult.build(
        generation, gateway="local", intent_key="a", resumed=False, video=video, files=files, locations={}, cost=cost, timings={}
    )


def test_the_result_carries_whether_the_bill_passed_the_estimate(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    ledger.reserve("a", estimate())
    ledger.reserve("b", estimate())
    over = result(tmp_path, 108_900, ledger.settle("a", 108_900, "succeeded"))
    assert (over.completion_tokens, over.estimated_tokens, over.bill_over_estimate, over.tokens_over_estimate) == (
        108_900,
        108_000,
        True,
        900,
    )
    within = result(tmp_path, 108_000, ledger.settle("b", 108_000, "succeeded"))
    assert (within.bill_over_estimate, within.tokens_over_estimate) == (False, 0)
    unestimated = result(tmp_path, 108_900, None)
    assert (unestimated.estimated_tokens, unestimated.bill_over_estimate, unestimated.tokens_over_estimate) == (None, None, None)


@pytest.mark.parametrize("status", ["failed", "cancelled", "expired"])
def test_an_unsuccessful_task_costs_nothing_and_frees_its_reservation(tmp_path: Path, status: str) -> None:
    ledger = FileLedger(tmp_path)
    ledger.reserve("a", estimate(), budget("6"))
    entry = ledger.settle("a", 108_000, status)
    assert (entry.status.value, entry.billed_cost) == (status, Decimal(0))
    assert ledger.committed(budget("6")) == 0
    assert ledger.spent() == {}
    ledger.reserve("b", estimate(), budget("6"))  # fits again
    retry = ledger.reserve("a", estimate(), budget("10"))  # a new attempt at the failed intent is checked and counted
    assert retry.status is EntryStatus.RESERVED
    assert ledger.committed(budget("10")) == Decimal("9.936")


def test_release_and_settle_errors(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    ledger.reserve("a", estimate(), budget("5"))
    released = ledger.release("a", "create refused: 400")
    assert released is not None and released.status is EntryStatus.RELEASED
    assert ledger.committed(budget("5")) == 0
    with pytest.raises(LookupError, match="no reservation for intent nope"):
        ledger.settle("nope", 1, "succeeded")
    with pytest.raises(ValueError, match="cannot settle with status 'running'"):
        ledger.settle("a", None, "running")


def test_budgets_and_estimates_in_different_currencies_do_not_mix(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    with pytest.raises(SpecError, match="budget: is in CNY but doubao-seedance-2-0-260128 is priced in USD"):
        ledger.reserve("a", estimate(cost="0.756", currency="USD", price="7"), budget("10"))
    ledger.reserve("usd", estimate(cost="0.756", currency="USD", price="7"), budget("1", "USD"))
    assert ledger.committed(budget("10")) == 0  # a CNY budget caps CNY spending only


def test_a_budget_can_be_scoped_to_one_run(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    ledger.reserve("a", estimate(), budget("5", run_id="run-1"), run_id="run-1")
    ledger.reserve("b", estimate(), budget("5", run_id="run-2"), run_id="run-2")
    with pytest.raises(BudgetExceededError, match="budget 5 CNY for run run-2"):
        ledger.reserve("c", estimate(), budget("5", run_id="run-2"), run_id="run-2")
    with pytest.raises(BudgetExceededError):
        ledger.reserve("c", estimate(), budget("5"))  # across runs, 9.936 is already committed


def test_budget_parse() -> None:
    assert Budget.parse("20 CNY") == budget("20")
    assert Budget.parse("usd 2.5") == budget("2.5", "USD")
    with pytest.raises(SpecError, match="is not a budget"):
        Budget.parse("twenty")


def test_a_line_torn_by_a_crash_is_skipped_and_closed_off(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    ledger.reserve("a", estimate())
    with ledger.path.open("a") as handle:
        handle.write('{"intent_key":"b","mod')  # a crash mid-append
    ledger.reserve("c", estimate())
    assert list(ledger.entries()) == ["a", "c"]
    assert ledger.summary().unreadable_lines == 1


def _slow_clock() -> float:
    time.sleep(0.005)  # the ledger reads the clock between its budget check and its append: widen that window
    return time.time()


def _reserve_many(state_dir: str, worker: int, attempts: int, start: Any, results: Any) -> None:
    ledger = FileLedger(Path(state_dir), clock=_slow_clock)
    cap = budget("10")
    start.wait()
    granted = 0
    for i in range(attempts):
        try:
            ledger.reserve(f"w{worker}-{i}", estimate(cost="0.7"), cap)
            granted += 1
        except BudgetExceededError:
            pass
    results.put(granted)


def test_processes_reserving_at_once_never_pass_the_budget(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers, attempts = 6, 5
    start, results = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=_reserve_many, args=(str(tmp_path), w, attempts, start, results)) for w in range(workers)]
    for process in processes:
        process.start()
    granted = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    results.close()
    results.join_thread()
    assert sum(granted) == 14  # 14 × 0.7 = 9.8 ≤ 10 < 15 × 0.7; without the lock it granted 19 in a trial
    ledger = FileLedger(tmp_path)
    assert ledger.committed(budget("10")) == Decimal("9.8")
    assert len(ledger.entries()) == 14
