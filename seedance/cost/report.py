"""Estimates of a spec file, a manifest or a storyboard, per item and in total, and the table `seedance estimate` prints."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from rich.table import Table

from seedance.cost.estimate import Estimate, estimate_spec
from seedance.cost.prices import PriceTable
from seedance.errors import SpecError
from seedance.files import read_mapping
from seedance.manifest import MANIFEST, load_manifest
from seedance.spec import GenerationSpec
from seedance.storyboard import load_storyboard


class ReportItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    source: str
    """The file and, for a manifest item, its position: `batch.yaml items[2]`."""
    estimate: Estimate


class EstimateReport(BaseModel):
    """Per-item estimates of a spec file or manifest, and totals per currency."""

    model_config = ConfigDict(frozen=True)

    source: str
    items: list[ReportItem]
    totals: dict[str, Decimal]
    """Cost per currency; a manifest mixing Volcengine and BytePlus ids has two."""
    total_tokens: int
    prices: str
    """The price file used."""


def estimate_file(path: Path, default_model: str, prices: PriceTable | None = None) -> EstimateReport:
    """Estimate a spec file, a manifest of specs or a storyboard (a file with `shots:`), without the network.

    A manifest is a YAML/JSON mapping with `items:` (spec mappings, or paths of spec files relative
    to the manifest) and optional `defaults:` (spec fields every item starts from; the item's own
    fields win, lists such as `references` are replaced, not joined):

        defaults: {model: doubao-seedance-2-0-260128, resolution: 720p, ratio: "16:9"}
        items:
          - {name: boat, prompt: A paper boat in the rain, duration: 5}
          - shots/harbour.yaml

    Args:
        path: the spec or manifest file.
        default_model: the model of specs that name none (the gateway's default model).
        prices: the price table; default `PriceTable.load()`.

    Raises:
        SpecError: a file cannot be read, an item fails pre-flight, or an item cannot be priced;
            the error names the file and the item.
    """
    prices = prices or PriceTable.load()
    if "shots" in read_mapping(path, MANIFEST):
        board = load_storyboard(path)
        items = [
            ReportItem(name=f"shot-{index + 1:02d}", source=source, estimate=_estimate_item(spec, default_model, prices, source))
            for index in range(len(board.shots))
            for spec, source in [(board.shot_to_check(index), f"{path} shots[{index}]")]
        ]
    else:
        items = [
            ReportItem(name=item.name, source=item.source, estimate=_estimate_item(item.spec, default_model, prices, item.source))
            for item in load_manifest(path)
        ]
    return _report(str(path), items, prices)


def _estimate_item(spec: GenerationSpec, default_model: str, prices: PriceTable, source: str) -> Estimate:
    try:
        return estimate_spec(spec, default_model, prices)
    except SpecError as exc:
        if exc.source == "spec":  # name the file and item, not just "spec"
            raise SpecError(exc.problems, source) from None
        raise


def _report(source: str, items: list[ReportItem], prices: PriceTable) -> EstimateReport:
    totals: dict[str, Decimal] = {}
    for item in items:
        totals[item.estimate.currency] = totals.get(item.estimate.currency, Decimal(0)) + item.estimate.cost
    return EstimateReport(
        source=source,
        items=items,
        totals=totals,
        total_tokens=sum(item.estimate.tokens for item in items),
        prices=prices.origin,
    )


def render_report(report: EstimateReport) -> Table:
    """The report as a rich table: one row per item, a total row per currency, notes as numbered footnotes."""
    table = Table("item", "model", "size", "seconds", "tokens", "price/M", "cost", title=f"Estimate: {report.source}")
    for column in table.columns:
        column.overflow = "fold"  # a narrow terminal folds names and ids, never cuts them short with "…"
    for column in table.columns[3:]:
        column.justify = "right"
    footnotes: list[str] = []
    for item in report.items:
        estimate = item.estimate
        marks = []
        for note in estimate.notes:
            if note not in footnotes:
                footnotes.append(note)
            marks.append(str(footnotes.index(note) + 1))
        seconds = f"{estimate.seconds:g}"
        if estimate.reference_video_seconds:
            seconds += f" + {estimate.reference_video_seconds:g} in"
        table.add_row(
            item.name + (f" [{','.join(marks)}]" if marks else ""),
            estimate.model,
            f"{estimate.width}×{estimate.height} {estimate.resolution} {estimate.ratio}" + (" draft" if estimate.draft else ""),
            seconds,
            f"{estimate.tokens:,}",
            f"{estimate.price_per_million.normalize():f} {estimate.currency}" + (" flex" if estimate.tier == "flex" else ""),
            f"{estimate.cost:,.4f} {estimate.currency}",
        )
    table.add_section()
    for currency, total in report.totals.items():
        tokens = sum(item.estimate.tokens for item in report.items if item.estimate.currency == currency)
        count = sum(1 for item in report.items if item.estimate.currency == currency)
        table.add_row(
            f"total ({count} item{'s' if count != 1 else ''})", "", "", "", f"{tokens:,}", "", f"{total:,.4f} {currency}"
        )
    lines = [f"[{i}] {note}" for i, note in enumerate(footnotes, start=1)]
    table.caption = "\n".join([*lines, f"prices: {report.prices}"])
    table.caption_justify = "left"
    return table
