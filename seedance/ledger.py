"""A spending ledger across runs, and the budget check made before every create.

    reserve ──► reserved ──settle──► succeeded (billed tokens and cost beside the estimate)
                   │           └───► failed / cancelled / expired (cost 0: only videos are billed, §6.3)
                   └──release──► released (the create was refused; nothing was made)

What a budget counts as committed: the billed cost of succeeded items (their estimate while the
bill is unknown) plus the estimates of items not yet settled. `reserve` refuses an item, before it
is submitted, when committed + its estimate would pass the budget.

The ledger is an append-only log: each record is the whole entry after a change, so the last record
of an intent key is its state. Every change reads the log and appends under one ledger-wide lock,
so workers sharing a ledger can never reserve past a budget together. `Ledger` holds these rules;
its backends (`seedance/stores/`: a JSON-lines file, or a PostgreSQL table) only keep the log and
the lock, and `seedance.state.spending_ledger()` opens the configured one.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seedance.cost.estimate import Estimate
from seedance.cost.prices import Tier
from seedance.errors import BUDGET, BudgetExceededError, Problem, SpecError

_MILLION: Final = Decimal(1_000_000)


class EntryStatus(StrEnum):
    RESERVED = "reserved"
    """Estimated and about to be (or being) generated; its estimate counts against budgets."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    RELEASED = "released"
    """The create was refused or never made: nothing to pay."""

    @property
    def settled(self) -> bool:
        return self is not EntryStatus.RESERVED


SETTLE_STATUSES: Final = (EntryStatus.SUCCEEDED, EntryStatus.FAILED, EntryStatus.CANCELLED, EntryStatus.EXPIRED)


class Budget(BaseModel):
    """A spending cap in one currency, over the whole ledger or a part of it.

    Example:
        >>> Budget.parse("20 CNY", run_id="nightly-0412")
        Budget(amount=Decimal('20'), currency='CNY', run_id='nightly-0412', since=None)
    """

    model_config = ConfigDict(frozen=True)

    amount: Decimal = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CNY or USD.")
    run_id: str | None = Field(default=None, description="Count only entries reserved by this run; None: every run.")
    since: float | None = Field(default=None, description="Count only entries reserved at or after this Unix time.")

    @classmethod
    def parse(cls, text: str, *, run_id: str | None = None, since: float | None = None) -> Budget:
        """`"20 CNY"`, `"CNY 20"` or `"2.5USD"`.

        Raises:
            SpecError: the text is not an amount and a three-letter currency code.
        """
        match = re.fullmatch(r"\s*(?:([A-Za-z]{3})\s*([0-9.]+)|([0-9.]+)\s*([A-Za-z]{3}))\s*", text)
        try:
            if match is None:
                raise InvalidOperation
            amount = Decimal(match.group(2) or match.group(3))
        except InvalidOperation:
            raise SpecError(
                [
                    Problem(
                        field=BUDGET,
                        message=f"{text!r} is not a budget; write an amount and a currency, e.g. '20 CNY' or '5 USD'",
                    )
                ],
                BUDGET,
            ) from None
        currency = (match.group(1) or match.group(4)).upper()
        return cls(amount=amount, currency=currency, run_id=run_id, since=since)

    def __str__(self) -> str:
        scope = f" for run {self.run_id}" if self.run_id else ""
        scope += f" since {time.strftime('%Y-%m-%d %H:%M', time.localtime(self.since))}" if self.since else ""
        return f"{self.amount} {self.currency}{scope}"

    def covers(self, entry: LedgerEntry) -> bool:
        return (
            entry.currency == self.currency
            and (self.run_id is None or entry.run_id == self.run_id)
            and (self.since is None or entry.reserved_at >= self.since)
        )


class LedgerEntry(BaseModel):
    """One intended generation: its estimate and, once known, what was billed."""

    intent_key: str
    run_id: str | None = None
    task_id: str | None = None
    model: str
    tier: Tier = "default"
    estimated_tokens: int
    estimated_cost: Decimal
    price_per_million: Decimal
    currency: str
    billed_tokens: int | None = None
    """`usage.completion_tokens` of the finished task; null until known."""
    billed_cost: Decimal | None = None
    status: EntryStatus
    reserved_at: float
    settled_at: float | None = None
    updated_at: float
    note: str | None = None

    @property
    def committed(self) -> Decimal:
        """What this entry counts against a budget."""
        if self.status is EntryStatus.RESERVED:
            return self.estimated_cost
        if self.status is EntryStatus.SUCCEEDED:
            return self.billed_cost if self.billed_cost is not None else self.estimated_cost
        return Decimal(0)

    @property
    def tokens_over_estimate(self) -> int | None:
        """Billed minus estimated tokens of a succeeded task (positive: the bill passed the estimate).

        None while nothing is billed: the task has not succeeded, or it reported no token count.
        """
        if self.status is not EntryStatus.SUCCEEDED or self.billed_tokens is None:
            return None
        return self.billed_tokens - self.estimated_tokens

    @property
    def bill_over_estimate(self) -> bool | None:
        """Whether the bill passed the estimate; None while nothing is billed."""
        over = self.tokens_over_estimate
        return None if over is None else over > 0

    def overrun(self) -> str | None:
        """A sentence with both figures, tokens and cost, when the bill passed the estimate; None otherwise.

        Example:
            "billed above the estimate by 900 tokens: 108,900 tokens (5.0094 CNY) billed, 108,000 (4.9680 CNY) estimated"
        """
        over = self.tokens_over_estimate
        if over is None or over <= 0:
            return None
        billed = f"{self.billed_tokens:,} tokens ({_money(self.committed)} {self.currency})"
        estimated = f"{self.estimated_tokens:,} ({_money(self.estimated_cost)} {self.currency})"
        return f"billed above the estimate by {over:,} tokens: {billed} billed, {estimated} estimated"


class CurrencySummary(BaseModel):
    currency: str
    spent: Decimal
    """Succeeded items: billed cost, or the estimate where the bill is unknown."""
    reserved: Decimal
    """Estimates of items not settled yet."""
    succeeded: int
    unpaid: int
    """Items that ended failed, cancelled, expired or released: not billed."""
    pending: int
    estimated_tokens: int
    """Estimated tokens of the succeeded items whose bill is known..."""
    billed_tokens: int
    """...and their billed tokens, to see how far estimates are off."""


class LedgerSummary(BaseModel):
    location: str
    """Where the ledger lives: a file, or a database URL with its password masked."""
    entries: int
    currencies: list[CurrencySummary]
    unreadable_lines: int = 0


@dataclass
class LedgerChange:
    """One change: the current entries, read under the ledger-wide lock, and the entry it appends.

    The backend appends `appended`, when set, before it lets go of the lock; a change that raises
    appends nothing.
    """

    entries: dict[str, LedgerEntry]
    appended: LedgerEntry | None = None


class Ledger(ABC):
    """The spending ledger: budgets, reservations and bills over a log that a backend keeps.

    Open the configured one with `seedance.state.spending_ledger()`.

    Example:
        >>> ledger = spending_ledger(settings)
        >>> ledger.reserve(key, estimate, Budget.parse("20 CNY"), run_id=flow_run_id)   # before the create
        >>> ledger.settle(key, task.usage.completion_tokens, task.status, task_id=task.id)
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    # -- the backend ---------------------------------------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the log lives, safe to print: a file, or a database URL with its password masked."""

    @abstractmethod
    def _read(self) -> tuple[dict[str, LedgerEntry], int]:
        """`latest_entries` of the whole log, read at one moment (never halfway through a change)."""

    @abstractmethod
    def _change(self) -> AbstractContextManager[LedgerChange]:
        """Hold the ledger-wide lock from reading the entries to appending the change's entry."""

    # -- reading -------------------------------------------------------------------------------

    def entries(self) -> dict[str, LedgerEntry]:
        """The current entry of every intent key, in the order they were first reserved."""
        return self._read()[0]

    def get(self, intent_key: str) -> LedgerEntry | None:
        return self.entries().get(intent_key)

    def committed(self, budget: Budget) -> Decimal:
        """What already counts against `budget`: billed successes plus unsettled estimates in its scope."""
        return sum((entry.committed for entry in self.entries().values() if budget.covers(entry)), Decimal(0))

    def spent(self, since: float | None = None) -> dict[str, Decimal]:
        """Money spent per currency on succeeded items settled at or after `since` (all time when None)."""
        totals: dict[str, Decimal] = {}
        for entry in self.entries().values():
            if entry.status is EntryStatus.SUCCEEDED and (since is None or (entry.settled_at or 0) >= since):
                totals[entry.currency] = totals.get(entry.currency, Decimal(0)) + entry.committed
        return totals

    def summary(self) -> LedgerSummary:
        """Per currency: spent, reserved, counts by outcome, and estimated vs billed tokens."""
        entries, unreadable = self._read()
        by_currency: dict[str, CurrencySummary] = {}
        for entry in entries.values():
            row = by_currency.setdefault(
                entry.currency,
                CurrencySummary(
                    currency=entry.currency,
                    spent=Decimal(0),
                    reserved=Decimal(0),
                    succeeded=0,
                    unpaid=0,
                    pending=0,
                    estimated_tokens=0,
                    billed_tokens=0,
                ),
            )
            if entry.status is EntryStatus.RESERVED:
                row.reserved += entry.estimated_cost
                row.pending += 1
            elif entry.status is EntryStatus.SUCCEEDED:
                row.spent += entry.committed
                row.succeeded += 1
                if entry.billed_tokens is not None:
                    row.estimated_tokens += entry.estimated_tokens
                    row.billed_tokens += entry.billed_tokens
            else:
                row.unpaid += 1
        return LedgerSummary(
            location=self.location, entries=len(entries), currencies=list(by_currency.values()), unreadable_lines=unreadable
        )

    # -- changing ------------------------------------------------------------------------------

    def reserve(
        self,
        intent_key: str,
        estimate: Estimate,
        budget: Budget | None = None,
        *,
        run_id: str | None = None,
        task_id: str | None = None,
    ) -> LedgerEntry:
        """Commit an item's estimate before it is submitted, or refuse it.

        Reserving a key that is already reserved or succeeded returns that entry and counts
        nothing again (a retried task, a re-run flow). A key whose last attempt ended unpaid
        (failed, cancelled, expired, released) is a new attempt and is checked like a new item.

        Raises:
            BudgetExceededError: committed + this estimate > `budget`; names all three numbers.
            SpecError: the budget and the estimate are in different currencies.
        """
        if budget is not None and budget.currency != estimate.currency:
            raise SpecError(
                [
                    Problem(
                        field=BUDGET,
                        message=f"is in {budget.currency} but {estimate.model} is priced in {estimate.currency}; "
                        f"a budget caps one currency: give a {estimate.currency} budget for this model",
                    )
                ],
                BUDGET,
            )
        with self._change() as change:
            existing = change.entries.get(intent_key)
            if existing is not None and existing.status in (EntryStatus.RESERVED, EntryStatus.SUCCEEDED):
                return existing
            if budget is not None:
                self._check(budget, change.entries, intent_key, estimate)
            now = self._clock()
            entry = LedgerEntry(
                intent_key=intent_key,
                run_id=run_id,
                task_id=task_id,
                model=estimate.model,
                tier=estimate.tier,
                estimated_tokens=estimate.tokens,
                estimated_cost=estimate.cost,
                price_per_million=estimate.price_per_million,
                currency=estimate.currency,
                status=EntryStatus.RESERVED,
                reserved_at=now,
                updated_at=now,
            )
            change.appended = entry
        return entry

    def settle(
        self,
        intent_key: str,
        billed_tokens: int | None,
        status: str,
        *,
        task_id: str | None = None,
    ) -> LedgerEntry:
        """Record how a reserved item ended, with `usage.completion_tokens` beside the estimate.

        Only succeeded videos are billed (ark-api.md §6.3): failed, cancelled and expired cost 0
        whatever tokens are given. A success without a token count keeps its estimate as the cost.

        Raises:
            LookupError: nothing was reserved under `intent_key`.
            ValueError: `status` is not a terminal task status.
        """
        try:
            final = EntryStatus(str(status))
        except ValueError:
            final = None
        if final not in SETTLE_STATUSES:
            raise ValueError(f"cannot settle with status {status!r}; allowed: {', '.join(SETTLE_STATUSES)}")
        with self._change() as change:
            entry = change.entries.get(intent_key)
            if entry is None:
                raise LookupError(f"the ledger {self.location} has no reservation for intent {intent_key}")
            billed_cost: Decimal | None = Decimal(0)
            if final is EntryStatus.SUCCEEDED:
                billed_cost = None if billed_tokens is None else Decimal(billed_tokens) * entry.price_per_million / _MILLION
            now = self._clock()
            entry = entry.model_copy(
                update={
                    "status": final,
                    "billed_tokens": billed_tokens,
                    "billed_cost": billed_cost,
                    "task_id": task_id or entry.task_id,
                    "settled_at": now,
                    "updated_at": now,
                }
            )
            change.appended = entry
        return entry

    def release(self, intent_key: str, note: str | None = None) -> LedgerEntry | None:
        """Free a reservation whose create was refused or never made; None when nothing is reserved."""
        with self._change() as change:
            entry = change.entries.get(intent_key)
            if entry is None or entry.status is not EntryStatus.RESERVED:
                return entry
            now = self._clock()
            entry = entry.model_copy(update={"status": EntryStatus.RELEASED, "settled_at": now, "updated_at": now, "note": note})
            change.appended = entry
        return entry

    # -- internals -----------------------------------------------------------------------------

    def _check(self, budget: Budget, entries: dict[str, LedgerEntry], intent_key: str, estimate: Estimate) -> None:
        covered = [entry for entry in entries.values() if budget.covers(entry)]
        billed = sum((e.committed for e in covered if e.status is EntryStatus.SUCCEEDED), Decimal(0))
        reserved = sum((e.committed for e in covered if e.status is EntryStatus.RESERVED), Decimal(0))
        committed = billed + reserved
        if committed + estimate.cost <= budget.amount:
            return
        succeeded = sum(1 for e in covered if e.status is EntryStatus.SUCCEEDED)
        pending = sum(1 for e in covered if e.status is EntryStatus.RESERVED)
        cur = budget.currency
        raise BudgetExceededError(
            f"budget {budget} would be exceeded: {_money(committed)} {cur} already committed "
            f"({_money(billed)} {cur} for {succeeded} succeeded, {_money(reserved)} {cur} reserved for {pending} unsettled) "
            f"+ {_money(estimate.cost)} {cur} estimated for this item ({estimate.model} {estimate.width}×{estimate.height} "
            f"{estimate.seconds:g} s, {estimate.tokens:,} tokens; intent {intent_key}) = {_money(committed + estimate.cost)} {cur}; "
            f"{_money(max(budget.amount - committed, Decimal(0)))} {cur} left. Not submitted."
        )


def latest_entries(records: Iterable[bytes | str]) -> tuple[dict[str, LedgerEntry], int]:
    """The last entry of each key in a log (oldest record first), and how many records could not be read.

    A record that does not parse stands for a change whose caller never saw it succeed (a line
    torn by a crash): it is skipped and counted.
    """
    entries: dict[str, LedgerEntry] = {}
    unreadable = 0
    for record in records:
        if not record.strip():
            continue
        try:
            entry = LedgerEntry.model_validate_json(record)
        except ValidationError:
            unreadable += 1
            continue
        entries[entry.intent_key] = entry
    return entries, unreadable


def _money(amount: Decimal) -> str:
    return f"{amount:,.4f}"
