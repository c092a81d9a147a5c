"""What a generation will cost, worked out before anything is sent (ark-api.md §6.3-6.4).

    tokens = width × height × 24 × seconds / 1024        (integer floor; §6.3)
    cost   = tokens × price per million / 1 000 000      (price from the price file, per currency)

The pixel size comes from the model catalog (§3.3), so the published 1.0 figures come out exactly:
864×480 for 5 s is 48 600 tokens, 1248×704 is 102 960 and 1920×1088 is 244 800. Where the request
leaves the size or length to the model (`ratio: adaptive`, `duration: -1`) the estimate takes the
largest the model could choose, and says so in `Estimate.notes`.

Prices live in an editable data file (`prices.yaml`, shipped with the package; a user copy is named
by `SEEDANCE_PRICES_FILE`), one currency per table: CNY for Volcengine ids, USD for BytePlus ids.

No network and no Prefect here: `seedance estimate` runs offline.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from rich.table import Table

from seedance.ark.types import CreateTaskRequest, DraftTaskContent, VideoContent
from seedance.catalog import ADAPTIVE, FPS, RATIOS, Family, ImageMode, ModelSpec, find_model
from seedance.errors import SpecError
from seedance.manifest import load_manifest
from seedance.media import MediaError, probe
from seedance.settings import get_settings
from seedance.spec import GenerationSpec, is_local, read_mapping
from seedance.validation import Problem, image_mode, media_url

"""Environment variable naming a user price file that replaces the bundled one."""

DEFAULT_DURATION: Final = 5
"""Seconds rendered when a request sets neither `duration` nor `frames` (ark-api.md §2.1)."""

MAX_REFERENCE_VIDEO_SECONDS: Final = 15.0
"""All reference videos of a request together last at most this long (ark-api.md §3.4)."""

_MILLION: Final = Decimal(1_000_000)

Tier = Literal["default", "flex"]
Confidence = Literal["seen", "inferred"]


# ------------------------------------------------------------------------------------------------
# The price file


class PriceEntry(BaseModel):
    """Price per million tokens for some model ids, optionally narrowed by resolution, video input and audio."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    models: tuple[str, ...] = Field(min_length=1)
    resolutions: tuple[str, ...] | None = None
    video_input: bool | None = None
    generate_audio: bool | None = None
    per_million: dict[Tier, Decimal]
    draft_token_factor: Decimal | None = Field(default=None, gt=0, le=1)
    confidence: Confidence
    source: str = Field(min_length=1)

    @field_validator("per_million")
    @classmethod
    def _default_price_and_non_negative(cls, value: dict[Tier, Decimal]) -> dict[Tier, Decimal]:
        if "default" not in value:
            raise ValueError("needs a `default` (online) price")
        negative = [tier for tier, price in value.items() if price < 0]
        if negative:
            raise ValueError(f"prices must not be negative ({', '.join(negative)})")
        return value

    def matches(self, model: str, resolution: str, has_video_input: bool, generate_audio: bool) -> bool:
        return (
            model in self.models
            and (self.resolutions is None or resolution in self.resolutions)
            and (self.video_input is None or self.video_input == has_video_input)
            and (self.generate_audio is None or self.generate_audio == generate_audio)
        )

    def overlaps(self, other: PriceEntry) -> bool:
        """Whether some request would match both entries."""

        def meet(a: tuple[Any, ...] | bool | None, b: tuple[Any, ...] | bool | None) -> bool:
            if a is None or b is None:
                return True
            if isinstance(a, tuple) and isinstance(b, tuple):
                return bool(set(a) & set(b))
            return a == b

        return (
            bool(set(self.models) & set(other.models))
            and meet(self.resolutions, other.resolutions)
            and meet(self.video_input, other.video_input)
            and meet(self.generate_audio, other.generate_audio)
        )


class PriceSheet(BaseModel):
    """The prices of one account kind (Volcengine, BytePlus), all in one currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CNY or USD.")
    source: str = ""
    entries: list[PriceEntry]


class PriceQuote(BaseModel):
    """The price that applies to one request, and where it comes from."""

    model_config = ConfigDict(frozen=True)

    per_million: Decimal
    currency: str
    tier: Tier
    entry: str
    sheet: str
    confidence: Confidence
    source: str
    draft_token_factor: Decimal | None = None
    """Set when the request is a draft: its tokens are multiplied by this."""


class PriceTable(BaseModel):
    """Every price the estimator knows, loaded from the price file.

    Example:
        >>> prices = PriceTable.load()
        >>> prices.price_for("doubao-seedance-1-0-pro-250528", "1080p", "flex", False, False, False)
        (Decimal('7.5'), 'CNY')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    tables: list[PriceSheet]
    _origin: str = PrivateAttr(default="prices")

    @model_validator(mode="after")
    def _unambiguous(self) -> PriceTable:
        currency_of: dict[str, tuple[str, str]] = {}
        for sheet in self.tables:
            for i, entry in enumerate(sheet.entries):
                for model in entry.models:
                    first = currency_of.setdefault(model, (sheet.name, sheet.currency))
                    if first[0] != sheet.name:
                        raise ValueError(f"model {model!r} is priced in two tables ({first[0]!r} and {sheet.name!r})")
                for other in sheet.entries[:i]:
                    if entry.overlaps(other):
                        raise ValueError(
                            f"entries {other.name!r} and {entry.name!r} of table {sheet.name!r} both match some "
                            "requests; narrow one by resolutions, video_input or generate_audio"
                        )
        return self

    @property
    def origin(self) -> str:
        """The file the prices came from."""
        return self._origin

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """Read and check a price file: `path`, else `$SEEDANCE_PRICES_FILE`, else the bundled `prices.yaml`.

        Raises:
            SpecError: the file cannot be read or parsed, or an entry is malformed; the problem
                names the table and entry (e.g. `volcengine / "1.0-pro" (tables[0].entries[1]).per_million`).
        """
        path = path or get_settings().prices_file
        if path is None:
            bundled = resources.files("seedance").joinpath("prices.yaml")
            return cls.from_data(yaml.safe_load(bundled.read_text(encoding="utf-8")), origin="seedance/prices.yaml (bundled)")
        return cls.from_data(read_mapping(path, "a price table with `tables:`"), origin=str(path))

    @classmethod
    def from_data(cls, data: Any, origin: str = "prices") -> PriceTable:
        """Check parsed price-file data; see `load`."""
        if not isinstance(data, dict):
            raise SpecError([Problem(field="file", message="must hold a mapping with `tables:`")], origin)
        try:
            table = cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError([_price_problem(error, data) for error in exc.errors()], origin) from None
        table._origin = origin
        return table

    def quote(
        self,
        model: str,
        *,
        resolution: str,
        tier: Tier = "default",
        has_video_input: bool = False,
        generate_audio: bool = False,
        draft: bool = False,
    ) -> PriceQuote:
        """The one entry that prices this request.

        Raises:
            SpecError: no entry matches, or the entry has no price for the tier or for draft mode;
                the message names the price file.
        """
        for sheet in self.tables:
            for entry in sheet.entries:
                if not entry.matches(model, resolution, has_video_input, generate_audio):
                    continue
                if tier not in entry.per_million:
                    raise SpecError([Problem(
                        field="service_tier",
                        message=f"{tier!r} has no price for {model} (entry {entry.name!r} of {self._origin}); "
                        f"priced tiers: {', '.join(entry.per_million)}",
                    )])
                if draft and entry.draft_token_factor is None:
                    raise SpecError([Problem(
                        field="draft",
                        message=f"draft mode has no price for {model} (entry {entry.name!r} of {self._origin} "
                        "sets no draft_token_factor)",
                    )])
                return PriceQuote(
                    per_million=entry.per_million[tier],
                    currency=sheet.currency,
                    tier=tier,
                    entry=entry.name,
                    sheet=sheet.name,
                    confidence=entry.confidence,
                    source=entry.source,
                    draft_token_factor=entry.draft_token_factor if draft else None,
                )
        where = f"{resolution}, {'with' if has_video_input else 'without'} video input, audio {'on' if generate_audio else 'off'}"
        raise SpecError([Problem(field="model", message=f"no price for {model} ({where}); add an entry to {self._origin}")])

    def price_for(
        self,
        model: str,
        resolution: str,
        tier: Tier,
        has_video_input: bool,
        generate_audio: bool,
        draft: bool,
    ) -> tuple[Decimal, str]:
        """Price per million tokens and its currency. Draft mode lowers the tokens, not this price (§6.3)."""
        quote = self.quote(
            model, resolution=resolution, tier=tier, has_video_input=has_video_input, generate_audio=generate_audio, draft=draft
        )
        return quote.per_million, quote.currency


def _price_problem(error: Any, data: Any) -> Problem:
    """A pydantic error on the price file, named by table and entry names as well as position."""
    loc = list(error["loc"])
    label, rest = "", loc
    if loc[:1] == ["tables"] and len(loc) >= 2 and isinstance(loc[1], int):
        sheet = _at(data, "tables", loc[1])
        label, rest = f"{_name(sheet) or '?'} (tables[{loc[1]}])", loc[2:]
        if rest[:1] == ["entries"] and len(rest) >= 2 and isinstance(rest[1], int):
            entry = _at(sheet, "entries", rest[1])
            label = f"{_name(sheet) or '?'} / {_name(entry) or '?'!r} (tables[{loc[1]}].entries[{rest[1]}])"
            rest = rest[2:]
    field = ".".join(str(part) for part in rest)
    field = f"{label}.{field}" if label and field else label or field or "tables"
    if error["type"] == "extra_forbidden":
        return Problem(field=field, message="is not a price-file field")
    if error["type"] == "missing":
        return Problem(field=field, message="is required", code="MissingParameter")
    if error["type"] == "value_error":
        return Problem(field=field, message=str(error["ctx"]["error"]))
    return Problem(field=field, message=f"{error['input']!r} is not valid: {error['msg']}")


def _at(data: Any, key: str, index: int) -> Any:
    items = data.get(key) if isinstance(data, dict) else None
    return items[index] if isinstance(items, list) and index < len(items) else None


def _name(node: Any) -> str | None:
    return str(node["name"]) if isinstance(node, dict) and "name" in node else None


# ------------------------------------------------------------------------------------------------
# Estimates


class Estimate(BaseModel):
    """Tokens and cost of one request, with every assumption the estimate had to make in `notes`."""

    model_config = ConfigDict(frozen=True)

    model: str
    resolution: str
    ratio: str
    """The ratio the size was taken at; `adaptive` requests show the one assumed, e.g. `adaptive→4:3`."""
    width: int
    height: int
    seconds: float
    """Seconds of output video."""
    reference_video_seconds: float = 0.0
    """Seconds of input video counted in the tokens (2.0 family)."""
    fps: int = FPS
    tokens: int
    price_per_million: Decimal
    currency: str
    cost: Decimal
    tier: Tier
    draft: bool = False
    price_entry: str
    confidence: Confidence
    """`inferred` when the price is not from an official price page."""
    notes: list[str] = Field(default_factory=list)


def video_tokens(width: int, height: int, frames: int, input_seconds: float = 0.0) -> int:
    """Billable tokens of `frames` output frames plus `input_seconds` of input video (ark-api.md §6.3).

    Integer arithmetic when there is no input video, so `frames / 24` never rounds a token away.
    """
    if not input_seconds:
        return width * height * frames // 1024
    return int(width * height * (frames + FPS * input_seconds) // 1024)


def estimate_request(
    request: CreateTaskRequest,
    *,
    prices: PriceTable,
    reference_video_seconds: float | None = None,
) -> Estimate:
    """Tokens and cost of one create request, before it is sent.

    Args:
        request: the Ark request (its `model` must be a catalog model id, not an `ep-` endpoint).
        prices: the price table, e.g. `PriceTable.load()`.
        reference_video_seconds: total length of the request's reference videos (2.0 family). None
            with videos present assumes the 15 s limit, an upper bound, and says so in the notes.

    Raises:
        SpecError: the model is unknown or an endpoint id, the resolution is not the model's, or
            the price file has no price for the request.

    Example:
        >>> request = CreateTaskRequest(model="doubao-seedance-1-0-pro-250528",
        ...     content=[TextContent(text="a boat")], resolution="480p", ratio="16:9", duration=5)
        >>> estimate_request(request, prices=PriceTable.load()).tokens
        48600
    """
    spec = _model_spec(request.model)
    notes: list[str] = []
    draft = bool(request.draft)
    if any(isinstance(item, DraftTaskContent) for item in request.content):
        notes.append("draft_task: the final render inherits the draft's settings, which are not known here; "
                     "estimated from this request's fields and the model's defaults")

    resolution = request.resolution or ("480p" if draft else spec.default_resolution)
    if resolution not in spec.sizes:
        raise SpecError([Problem(field="resolution", message=f"{resolution!r} is not offered by {spec.id}; "
                                 f"allowed: {', '.join(spec.resolutions)}")])
    mode = image_mode(request) or ImageMode.TEXT
    ratio = request.ratio or spec.default_ratio(mode)
    if ratio == ADAPTIVE:
        sizes = spec.sizes[resolution]
        width, height = max(sizes, key=lambda wh: wh[0] * wh[1])
        assumed = RATIOS[sizes.index((width, height))]
        notes.append(f"ratio adaptive: the model picks the ratio; estimated at {assumed} ({width}×{height}), "
                     f"the largest {resolution} size, as an upper bound")
        ratio_label = f"{ADAPTIVE}→{assumed}"
    elif ratio in RATIOS:
        width, height = spec.output_size(resolution, ratio)
        ratio_label = ratio
    else:
        raise SpecError([Problem(field="ratio", message=f"{ratio!r} is not a ratio; allowed: {', '.join(RATIOS)}, adaptive")])

    if request.frames is not None:
        frames = request.frames
    elif request.duration == -1:
        frames = spec.max_duration * FPS
        notes.append(f"duration -1: the model picks the length; estimated at the model maximum, {spec.max_duration} s")
    else:
        frames = (request.duration if request.duration is not None else DEFAULT_DURATION) * FPS

    videos = [item for item in request.content if isinstance(item, VideoContent)]
    input_seconds = 0.0
    if videos and spec.family is Family.V2_0:
        if reference_video_seconds is None:
            input_seconds = MAX_REFERENCE_VIDEO_SECONDS
            notes.append(f"reference video length unknown: estimated at the {MAX_REFERENCE_VIDEO_SECONDS:g} s limit "
                         "for all reference videos together")
        else:
            input_seconds = min(float(reference_video_seconds), MAX_REFERENCE_VIDEO_SECONDS)
        notes.append("2.0 with video input: tokens include input video seconds; Ark applies a minimum token usage "
                     "that is not published (ark-api.md §6.3)")
    if spec.family is Family.V2_0:
        notes.append("2.0 family: one observed task was billed for 24×seconds+1 frames, about 1% above this estimate")

    generate_audio = request.generate_audio if request.generate_audio is not None else spec.generate_audio
    tier: Tier = request.service_tier or "default"
    quote = prices.quote(
        request.model,
        resolution=resolution,
        tier=tier,
        has_video_input=bool(videos),
        generate_audio=bool(generate_audio and spec.generate_audio),
        draft=draft,
    )
    tokens = video_tokens(width, height, frames, input_seconds)
    if quote.draft_token_factor is not None:
        tokens = int(tokens * quote.draft_token_factor)
        notes.append(f"draft: tokens × {quote.draft_token_factor} ({'with' if generate_audio else 'without'} audio), "
                     "inferred (ark-api.md §6.3)")
    if tier == "flex":
        notes.append("flex tier: 50% of the online price; the task may queue for longer (ark-api.md §2.1)")
    if quote.confidence == "inferred":
        notes.append(f"price inferred, not seen on an official price page (entry {quote.sheet} / {quote.entry!r})")
    return Estimate(
        model=request.model,
        resolution=resolution,
        ratio=ratio_label,
        width=width,
        height=height,
        seconds=frames / FPS,
        reference_video_seconds=input_seconds,
        tokens=tokens,
        price_per_million=quote.per_million,
        currency=quote.currency,
        cost=Decimal(tokens) * quote.per_million / _MILLION,
        tier=tier,
        draft=draft,
        price_entry=f"{quote.sheet} / {quote.entry}",
        confidence=quote.confidence,
        notes=notes,
    )


def estimate_spec(
    spec: GenerationSpec,
    default_model: str,
    prices: PriceTable,
    *,
    reference_video_seconds: float | None = None,
) -> Estimate:
    """Tokens and cost of a spec, after the same pre-flight checks `generate` runs (no network).

    Local reference videos are measured with `seedance.media.probe`; a remote one counts at the
    15 s limit unless `reference_video_seconds` gives the total.

    Raises:
        SpecError: the spec fails pre-flight (every problem listed), or it cannot be priced.
    """
    spec.preflight(default_model)
    return estimate_checked_spec(spec, default_model, prices, reference_video_seconds=reference_video_seconds)


def estimate_checked_spec(
    spec: GenerationSpec,
    default_model: str,
    prices: PriceTable,
    *,
    reference_video_seconds: float | None = None,
) -> Estimate:
    """`estimate_spec` for a spec that already passed `GenerationSpec.preflight` (the flow's case)."""
    request = spec.to_request(default_model, lambda path: path.resolve().as_uri())
    notes: list[str] = []
    if reference_video_seconds is None and any(isinstance(item, VideoContent) for item in request.content):
        reference_video_seconds = _reference_video_seconds(spec, notes)
    estimate = estimate_request(request, prices=prices, reference_video_seconds=reference_video_seconds)
    return estimate.model_copy(update={"notes": notes + estimate.notes}) if notes else estimate


def _reference_video_seconds(spec: GenerationSpec, notes: list[str]) -> float | None:
    """Total seconds of the spec's reference videos, or None when any cannot be measured."""
    total = 0.0
    for origin, item in spec.items():
        if not isinstance(item, VideoContent):
            continue
        url = media_url(item)
        seconds = _probe_seconds(Path(url)) if is_local(url) else None
        if seconds is None:
            notes.append(f"{origin}: length of {Path(url).name if is_local(url) else 'remote video'} not measured")
            return None
        total += seconds
    return total


def _probe_seconds(path: Path) -> float | None:
    try:
        return probe(path).duration
    except (MediaError, OSError):
        return None


def _model_spec(model: str) -> ModelSpec:
    spec = find_model(model)
    if spec is not None:
        return spec
    if model.startswith("ep-"):
        message = (f"{model!r} is an endpoint id: its model, pixel size and price are known only to the server; "
                   "name the model (e.g. model: doubao-seedance-2-0-260128) to estimate")
    else:
        message = f"{model!r} is not a Seedance model in the catalog; see `seedance models` for the known ids"
    raise SpecError([Problem(field="model", message=message, code="InvalidEndpointOrModel.NotFound")])


# ------------------------------------------------------------------------------------------------
# Spec files and manifests


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
    """Estimate a spec file, or a manifest of specs, without the network.

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
        table.add_row(f"total ({count} item{'s' if count != 1 else ''})", "", "", "", f"{tokens:,}", "", f"{total:,.4f} {currency}")
    lines = [f"[{i}] {note}" for i, note in enumerate(footnotes, start=1)]
    table.caption = "\n".join([*lines, f"prices: {report.prices}"])
    table.caption_justify = "left"
    return table
