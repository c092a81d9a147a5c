"""The price file: prices per million tokens, per model, resolution, video input, audio and tier.

Prices live in an editable data file (`prices.yaml`, shipped with the package; a user copy is named
by `SEEDANCE_PRICES_FILE`), one currency per table: CNY for Volcengine ids, USD for BytePlus ids.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from seedance.errors import Problem, SpecError
from seedance.files import load_yaml, read_mapping
from seedance.settings import get_settings

Tier = Literal["default", "flex"]
Confidence = Literal["seen", "inferred"]

BUNDLED_ORIGIN: Final = "seedance/prices.yaml (bundled)"
"""How the price file shipped with the package is named in messages."""


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

    @property
    def models(self) -> set[str]:
        """Every model id some entry prices."""
        return {model for entry in self.entries for model in entry.models}


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
            return _bundled_table()
        try:
            stat = path.stat()
        except OSError:
            stat = None  # read_mapping says what is wrong with it
        return _table_at(path, stat.st_mtime_ns if stat else None, stat.st_size if stat else None)

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
                    raise SpecError(
                        [
                            Problem(
                                field="service_tier",
                                message=f"{tier!r} has no price for {model} (entry {entry.name!r} of {self._origin}); "
                                f"priced tiers: {', '.join(entry.per_million)}",
                            )
                        ]
                    )
                if draft and entry.draft_token_factor is None:
                    raise SpecError(
                        [
                            Problem(
                                field="draft",
                                message=f"draft mode has no price for {model} (entry {entry.name!r} of {self._origin} "
                                "sets no draft_token_factor)",
                            )
                        ]
                    )
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
        raise SpecError([Problem(field="model", message=f"no price for {model} ({where}): {self._missing_price_hint(model)}")])

    def _missing_price_hint(self, model: str) -> str:
        """Where the price of `model` goes: the table that prices its id already or, for a new id, ids of
        the same vendor prefix (`doubao-` on Volcengine, `dreamina-`/`seedance-` on BytePlus), in this file."""
        sheet = next((sheet for sheet in self.tables if model in sheet.models), None)
        if sheet is None:
            vendor = model.split("-", 1)[0] + "-"
            sheet = next((sheet for sheet in self.tables if any(m.startswith(vendor) for m in sheet.models)), None)
        table = f"table `{sheet.name}` ({sheet.currency})" if sheet is not None else "the table of its account's currency"
        hint = f"add an entry with `models: [{model}]` to {table} of {self._origin}"
        if self._origin == BUNDLED_ORIGIN:
            hint += ", or set SEEDANCE_PRICES_FILE to your own copy"
        return hint

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


@functools.cache
def _bundled_table() -> PriceTable:
    """The bundled price table, parsed once per process (a batch estimates every item)."""
    bundled = resources.files("seedance").joinpath("prices.yaml")
    return PriceTable.from_data(load_yaml(bundled.read_text(encoding="utf-8")), origin=BUNDLED_ORIGIN)


@functools.lru_cache(maxsize=8)
def _table_at(path: Path, mtime_ns: int | None, size: int | None) -> PriceTable:
    """A user's price file, parsed again only when it changed (its modification time and size are the key)."""
    return PriceTable.from_data(read_mapping(path, "a price table with `tables:`"), origin=str(path))
