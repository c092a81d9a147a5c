"""What people see in the Prefect UI: a report per generation, its poster shown in it, and a batch's
report, one row per item."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from prefect.artifacts import create_markdown_artifact

from seedance.results import GenerationResult
from seedance.waiting import StatusChange

THUMBNAIL_MIN_WIDTH = 400
"""A JPEG poster is decoded for the report at the smallest of JPEG's own scales (1/2, 1/4, 1/8) that
is still this wide: a 480p poster (864 px) at 432 px, a 1080p one at 480 px, with no resize."""
THUMBNAIL_MAX_WIDTH = 640
"""Wider than this (a PNG poster, which has no such scales), the thumbnail is resized down to it."""
ROW_THUMBNAIL_MIN_WIDTH = 100
"""A batch report's thumbnails, one per row, at the smallest JPEG scale this wide: a 480p poster at
108 px (1/8, about 2 KB), so that the row's figures fit beside it."""
ROW_THUMBNAIL_MAX_WIDTH = 160
"""Wider than this (a 1080p poster at JPEG's smallest scale, 1/8), a row's thumbnail is resized down to it."""


def artifact_key(name: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "generation"


def _when(unix: float) -> str:
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_report(result: GenerationResult, timeline: list[StatusChange], poster_url: str | None = None) -> str:
    """The markdown report of one finished generation, headed by its poster when `poster_url` is given
    (the UI shows a `data:` URL in place)."""
    rows = [
        ("task id", f"`{result.task_id}`"),
        ("gateway", result.gateway),
        ("model", result.model),
        ("status", result.status + (" (resumed from an earlier run)" if result.resumed else "")),
        (
            "output",
            f"{result.video.width}×{result.video.height}, {result.video.duration_seconds:.2f} s, "
            f"{result.video.fps:g} fps, {result.video.video_codec}"
            + (f" + {result.video.audio_codec}" if result.video.has_audio else ""),
        ),
        ("tokens billed", _tokens(result.completion_tokens)),
        ("tokens estimated", _tokens(result.estimated_tokens)),
        ("bill vs estimate", _bill_vs_estimate(result)),
        (
            "cost",
            f"{result.billed_cost:.4f} {result.currency} (estimated {result.estimated_cost:.4f})"
            if result.billed_cost is not None and result.estimated_cost is not None
            else "—",
        ),
        ("seed", str(result.seed) if result.seed is not None else "—"),
        ("intent", f"`{result.intent_key}`"),
    ]
    lines = [f"![poster of {result.task_id}]({poster_url})", ""] if poster_url else []
    lines += ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]
    lines += ["", "**Status timeline**", "", "| when | status |", "|---|---|"]
    lines += [f"| {_when(change.at)} | {change.status.value} |" for change in timeline]
    lines += ["", "**Files**", "", "| file | kept at |", "|---|---|"]
    lines += [f"| {role} | `{location}` |" for role, location in result.locations.items()]
    lines += ["", "**Timings (s)**: " + ", ".join(f"{step} {seconds:.1f}" for step, seconds in result.timings.items())]
    return "\n".join(lines)


def _tokens(count: int | None) -> str:
    """A token count with thousands separators; "—" when it is not known."""
    return f"{count:,}" if count is not None else "—"


def _bill_vs_estimate(result: GenerationResult) -> str:
    """E.g. "billed above the estimate by 900 tokens", or "within the estimate"; "—" without both figures."""
    if result.tokens_over_estimate is None:
        return "—"
    if result.bill_over_estimate:
        return f"**billed above the estimate by {result.tokens_over_estimate:,} tokens**"
    return "within the estimate"


def thumbnail_data_url(image: Path, min_width: int = THUMBNAIL_MIN_WIDTH, max_width: int = THUMBNAIL_MAX_WIDTH) -> str:
    """A small JPEG of `image` as a data: URL, so the UI shows it without any file server.

    Every generation of a batch makes one: decoding a 480p poster whole and resizing it took 9.7 ms
    of CPU, decoding it at half scale 2.7 ms, thumbnail included (see THUMBNAIL_MIN_WIDTH), and at a
    eighth 0.5 ms (ROW_THUMBNAIL_MIN_WIDTH).
    """
    with Image.open(image) as original:
        original.draft("RGB", (min_width, 1))
        picture = original.convert("RGB")
        picture.thumbnail((max_width, max_width * 4))
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def publish_report(result: GenerationResult, timeline: list[StatusChange], name: str) -> None:
    """A markdown artifact with the generation's poster and facts, keyed by the generation's name.

    The poster needs to be on this machine: a result found kept in S3 by an earlier run has none here.
    One artifact, not a report and an image artifact beside it: each artifact is a call to the
    Prefect API and two events on its server. A batch reports its items together instead
    (`publish_batch_report`). A plain function: the artifact itself is what the UI shows, and belongs to the flow run
    without a task run around it (see tasks/cost.py on what a task run costs).
    """
    create_markdown_artifact(
        markdown=render_report(result, timeline, poster_thumbnail(result)),
        key=artifact_key(name),
        description=f"Seedance generation {result.task_id}",
    )


def poster_thumbnail(
    result: GenerationResult, min_width: int = THUMBNAIL_MIN_WIDTH, max_width: int = THUMBNAIL_MAX_WIDTH
) -> str | None:
    """The thumbnail of the result's poster as a data: URL; None when the poster is not on this machine."""
    poster = result.files.poster
    return thumbnail_data_url(poster, min_width, max_width) if poster is not None and poster.is_file() else None


@dataclass(frozen=True)
class ReportRow:
    """One item of a batch report: its result, or what went wrong."""

    name: str
    result: GenerationResult | None
    problem: str | None
    """For an item without a result: its error, one line."""
    thumbnail: str | None = None
    """Its poster as a data: URL (`poster_thumbnail` at ROW_THUMBNAIL_MIN_WIDTH)."""


def render_batch_report(rows: Sequence[ReportRow]) -> str:
    """The markdown report of a batch: a row per item (poster, status, output, tokens, cost, where its
    video is kept). How many videos it made is the artifact's description."""
    lines = [
        "| poster | item | status | output | tokens billed (estimated) | cost | video |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        result = row.result
        if result is None:
            lines.append(f"| | {_cell(row.name)} | {_cell(row.problem or '—')} | | | | |")
            continue
        poster = f"![poster of {result.task_id}]({row.thumbnail})" if row.thumbnail else ""
        output = f"{result.video.width}×{result.video.height}, {result.video.duration_seconds:.2f} s"
        billed = _tokens(result.completion_tokens)
        estimated = f" ({result.estimated_tokens:,})" if result.estimated_tokens is not None else ""
        cost = f"{result.billed_cost:.4f} {result.currency}" if result.billed_cost is not None else "—"
        status = result.status + (" (resumed)" if result.resumed else "")
        cells = [poster, _cell(row.name), status, output, billed + estimated, cost, f"`{_cell(result.locations['video'])}`"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def publish_batch_report(rows: Sequence[ReportRow]) -> None:
    """The `batch-report` markdown artifact (`render_batch_report`).

    A batch reports its items in one artifact rather than one each: an artifact costs the Prefect
    server 8-15 ms of CPU and the flow a call, for every item. Measured on 2 cores, 100 items at
    latency 10 s, in alternating pairs: the batch ended 0.73 s sooner (median of 4) without its
    per-item reports.
    """
    made = sum(row.result is not None for row in rows)
    create_markdown_artifact(markdown=render_batch_report(rows), key="batch-report", description=f"{made} of {len(rows)} videos")


def _cell(text: str) -> str:
    """`text` as one markdown table cell: on one line, its pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")
