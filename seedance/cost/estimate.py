"""What one generation will cost, worked out before anything is sent (ark-api.md §6.3-6.4).

The pixel size comes from the model catalog (§3.3), so the published 1.0 figures come out exactly:
864×480 for 5 s is 48 600 tokens, 1248×704 is 102 960 and 1920×1088 is 244 800. Where the request
leaves the size or length to the model (`ratio: adaptive`, `duration: -1`) the estimate takes the
largest the model could choose, and says so in `Estimate.notes`. Where the bill itself is uncertain
(a reference video of unknown length, billing rules reconstructed from observed bills) it takes the
higher reading, and says so too: an estimate is never meant to be below the bill.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from seedance.ark.types import CreateTaskRequest, DraftTaskContent, VideoContent
from seedance.catalog import ADAPTIVE, FPS, RATIOS, ImageMode, ModelSpec, find_model
from seedance.cost.prices import Confidence, PriceTable, Tier
from seedance.cost.tokens import billed_seconds, billed_tokens, minimum_billed_seconds
from seedance.errors import Problem, SpecError
from seedance.media import MediaError, probe
from seedance.spec import GenerationSpec, is_local
from seedance.validation import image_mode, media_url

DEFAULT_DURATION: Final = 5
"""Seconds rendered when a request sets neither `duration` nor `frames` (ark-api.md §2.1)."""

_MILLION: Final = Decimal(1_000_000)


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
    """Seconds of input video counted in the tokens (models with `billed_input_video`)."""
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
        notes.append(
            "draft_task: the final render inherits the draft's settings, which are not known here; "
            "estimated from this request's fields and the model's defaults"
        )

    resolution = request.resolution or ("480p" if draft else spec.default_resolution)
    if resolution not in spec.sizes:
        raise SpecError(
            [
                Problem(
                    field="resolution",
                    message=f"{resolution!r} is not offered by {spec.id}; allowed: {', '.join(spec.resolutions)}",
                )
            ]
        )
    mode = image_mode(request) or ImageMode.TEXT
    ratio = request.ratio or spec.default_ratio(mode)
    if ratio == ADAPTIVE:
        sizes = spec.sizes[resolution]
        width, height = max(sizes, key=lambda wh: wh[0] * wh[1])
        assumed = RATIOS[sizes.index((width, height))]
        notes.append(
            f"ratio adaptive: the model picks the ratio; estimated at {assumed} ({width}×{height}), "
            f"the largest {resolution} size, as an upper bound"
        )
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
    if videos:
        if reference_video_seconds is None:
            input_seconds = spec.reference_total_seconds
            if spec.billed_input_video:
                notes.append(
                    f"reference video length unknown: counted at the {spec.reference_total_seconds:g} s limit "
                    "for all reference videos together, the higher reading"
                )
        else:
            input_seconds = min(float(reference_video_seconds), spec.reference_total_seconds)
    notes += _billing_notes(spec, frames, input_seconds)

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
    tokens = billed_tokens(width, height, frames, input_seconds, spec)
    if quote.draft_token_factor is not None:
        tokens = int(tokens * quote.draft_token_factor)
        notes.append(
            f"draft: tokens × {quote.draft_token_factor} ({'with' if generate_audio else 'without'} audio), "
            "inferred (ark-api.md §6.3)"
        )
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
        reference_video_seconds=input_seconds if spec.billed_input_video else 0.0,
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


BILLING_RULES: Final = ("billed_extra_frame", "billed_input_video", "video_input_minimum")
"""The catalog's billing fields; each only raises the count."""


def _billing_notes(spec: ModelSpec, frames: int, input_seconds: float) -> list[str]:
    """One note per billing rule of the model (`seedance.cost.tokens`) that the tokens include.

    The rules are reconstructed from observed bills, not published; each only raises the count, so
    applying them is the higher reading.
    """
    output = Fraction(frames, FPS)
    seconds = billed_seconds(output, input_seconds, spec)
    notes: list[str] = []
    if spec.billed_input_video and input_seconds:
        notes.append(f"input video billed as output: {float(output):g} s + {input_seconds:g} s of reference video")
    if spec.video_input_minimum and input_seconds:
        minimum = minimum_billed_seconds(output)
        outcome = "applied" if seconds == minimum else f"exceeded, {float(seconds):g} s billed"
        notes.append(f"video-input minimum of ⌈5·{float(output):g}/3⌉ = {minimum} s: {outcome}")
    if spec.billed_extra_frame:
        notes.append(
            f"one extra frame billed, as observed on 2.0 bills: 24 × {float(seconds):g} s + 1 = {float(FPS * seconds + 1):g} frames"
        )
    uncertain = sorted(rule for rule in BILLING_RULES if getattr(spec, rule) and spec.confidence(rule) == "inferred")
    if uncertain:
        notes.append(f"{spec.id}'s billing is inferred ({', '.join(uncertain)}): counted at the higher reading")
    return notes


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
        message = (
            f"{model!r} is an endpoint id: its model, pixel size and price are known only to the server; "
            "name the model (e.g. model: doubao-seedance-2-0-260128) to estimate"
        )
    else:
        message = f"{model!r} is not a Seedance model in the catalog; see `seedance models` for the known ids"
    raise SpecError([Problem(field="model", message=message, code="InvalidEndpointOrModel.NotFound")])
