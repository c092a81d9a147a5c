"""Token and cost estimates: the published figures, the price file, and manifests of specs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

import seedance
from seedance.ark.types import CreateTaskRequest, MediaURL, TextContent, VideoContent
from seedance.catalog import ModelSpec, find_model
from seedance.cost.estimate import estimate_request
from seedance.cost.prices import PriceTable
from seedance.cost.report import estimate_file, render_report
from seedance.cost.tokens import billed_seconds, billed_tokens, minimum_billed_seconds, video_tokens
from seedance.errors import SpecError

V1_PRO = "doubao-seedance-1-0-pro-250528"
V1_5 = "doubao-seedance-1-5-pro-251215"
V2 = "doubao-seedance-2-0-260128"
V2_BYTEPLUS = "dreamina-seedance-2-0-260128"
V2_FAST = "doubao-seedance-2-0-fast-260128"


def spec_of(model_id: str) -> ModelSpec:
    spec = find_model(model_id)
    assert spec is not None, model_id
    return spec


@pytest.fixture(autouse=True)
def bundled_prices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SEEDANCE_PRICES_FILE", raising=False)
    yield


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load()


def request(model: str, **fields: Any) -> CreateTaskRequest:
    return CreateTaskRequest(model=model, content=[TextContent(text="a paper boat in the rain")], **fields)


@pytest.mark.parametrize(
    ("resolution", "size", "tokens"),
    [("480p", (864, 480), 48_600), ("720p", (1248, 704), 102_960), ("1080p", (1920, 1088), 244_800)],
)
def test_the_published_1_0_token_figures_come_out_exactly(
    prices: PriceTable, resolution: str, size: tuple[int, int], tokens: int
) -> None:
    estimate = estimate_request(request(V1_PRO, resolution=resolution, ratio="16:9", duration=5), prices=prices)
    assert (estimate.width, estimate.height) == size
    assert estimate.tokens == tokens
    assert (estimate.price_per_million, estimate.currency) == (Decimal("15"), "CNY")
    assert estimate.cost == Decimal(tokens) * 15 / 1_000_000
    assert estimate.confidence == "seen" and estimate.notes == []


def test_2_0_720p_tokens_and_cost(prices: PriceTable) -> None:
    estimate = estimate_request(request(V2, resolution="720p", ratio="16:9", duration=5), prices=prices)
    assert estimate.tokens == 1280 * 720 * (24 * 5 + 1) // 1024 == 108_900  # the observed 2.0 bill
    assert (estimate.seconds, estimate.fps) == (5.0, 24)
    assert estimate.cost == Decimal("5.0094")
    assert estimate.currency == "CNY" and estimate.tier == "default" and estimate.confidence == "inferred"
    assert "one extra frame billed, as observed on 2.0 bills: 24 × 5 s + 1 = 121 frames" in estimate.notes


def test_a_model_whose_billing_is_inferred_is_estimated_at_the_higher_reading_and_says_so(prices: PriceTable) -> None:
    estimate = estimate_request(
        request("dreamina-seedance-2-0-mini-260615", resolution="720p", ratio="16:9", duration=5), prices=prices
    )
    assert estimate.tokens == 108_900 and estimate.currency == "USD"
    assert (
        "doubao-seedance-2-0-mini-260615's billing is inferred (billed_extra_frame, billed_input_video, video_input_minimum): "
        "counted at the higher reading"
    ) in estimate.notes


@pytest.mark.parametrize(
    ("duration", "reference_video_seconds", "tokens"),
    [(5, None, 108_900), (4, None, 87_300), (4, 4.0, 173_700)],
)
def test_the_observed_2_0_bills_come_out_exactly(
    prices: PriceTable, duration: int, reference_video_seconds: float | None, tokens: int
) -> None:
    content: list[TextContent | VideoContent] = [TextContent(text="a paper boat in the rain")]
    if reference_video_seconds is not None:
        content.append(VideoContent(video_url=MediaURL(url="https://x/v.mp4"), role="reference_video"))
    body = CreateTaskRequest(model=V2, content=content, resolution="720p", ratio="16:9", duration=duration)
    estimate = estimate_request(body, prices=prices, reference_video_seconds=reference_video_seconds)
    assert estimate.tokens == tokens
    assert billed_tokens(1280, 720, duration * 24, reference_video_seconds or 0.0, spec_of(V2)) == tokens


@pytest.mark.parametrize(("output_seconds", "billed"), [(4, 7), (5, 9), (6, 10), (7, 12), (8, 14), (9, 15)])
@pytest.mark.parametrize("model", [V2, V2_FAST])
def test_with_video_input_2_0_bills_at_least_five_thirds_of_the_output(model: str, output_seconds: int, billed: int) -> None:
    assert minimum_billed_seconds(output_seconds) == billed
    assert billed_seconds(output_seconds, 2.0, spec_of(model)) == billed  # the shortest reference video: below the minimum
    assert billed_seconds(output_seconds, 0.0, spec_of(model)) == output_seconds  # no video input, no minimum


def test_models_without_the_2_0_billing_rules_bill_output_frames_only() -> None:
    pro = spec_of(V1_PRO)
    assert billed_tokens(864, 480, 120, 0.0, pro) == video_tokens(864, 480, 120) == 48_600
    assert billed_seconds(4, 3.0, pro) == 4


def test_frames_count_exactly_without_float_rounding(prices: PriceTable) -> None:
    estimate = estimate_request(request(V1_PRO, resolution="480p", ratio="16:9", frames=29), prices=prices)
    assert estimate.tokens == 864 * 480 * 29 // 1024
    assert estimate.seconds == pytest.approx(29 / 24)
    assert video_tokens(864, 480, 120) == 48_600


def test_flex_halves_the_price(prices: PriceTable) -> None:
    online = estimate_request(request(V1_PRO, resolution="720p", ratio="16:9", duration=5), prices=prices)
    flex = estimate_request(request(V1_PRO, resolution="720p", ratio="16:9", duration=5, service_tier="flex"), prices=prices)
    assert flex.tokens == online.tokens
    assert flex.cost * 2 == online.cost
    assert flex.tier == "flex"
    assert prices.price_for(V1_PRO, "720p", "flex", False, False, False) == (Decimal("7.5"), "CNY")


def test_flex_is_not_priced_for_the_2_0_family(prices: PriceTable) -> None:
    with pytest.raises(SpecError, match="'flex' has no price"):
        prices.price_for(V2, "720p", "flex", False, True, False)


def test_a_byteplus_id_is_priced_in_usd(prices: PriceTable) -> None:
    estimate = estimate_request(request(V2_BYTEPLUS, resolution="720p", ratio="16:9", duration=5), prices=prices)
    assert (estimate.currency, estimate.price_per_million) == ("USD", Decimal("7"))
    assert estimate.cost == Decimal("0.7623")
    assert prices.price_for("seedance-1-0-pro-250528", "1080p", "default", False, False, False)[1] == "USD"


def test_adaptive_ratio_and_auto_duration_are_upper_bounds_and_say_so(prices: PriceTable) -> None:
    estimate = estimate_request(request(V2, resolution="720p", duration=-1), prices=prices)  # ratio defaults to adaptive
    assert (estimate.width, estimate.height, estimate.ratio) == (1112, 834, "adaptive→4:3")  # the most pixels at 720p
    assert estimate.seconds == 15.0
    assert estimate.tokens == 1112 * 834 * (24 * 15 + 1) // 1024
    assert any(note.startswith("ratio adaptive") and "upper bound" in note for note in estimate.notes)
    assert any(note.startswith("duration -1") and "model maximum" in note for note in estimate.notes)


def test_video_input_adds_its_seconds_and_uses_the_video_input_price(prices: PriceTable) -> None:
    content = [TextContent(text="extend this"), VideoContent(video_url=MediaURL(url="https://x/v.mp4"), role="reference_video")]
    body = CreateTaskRequest(model=V2, content=content, resolution="720p", ratio="16:9", duration=5)
    measured = estimate_request(body, prices=prices, reference_video_seconds=3)
    assert measured.tokens == 1280 * 720 * (24 * 9 + 1) // 1024  # 5 + 3 = 8 s, raised to the ⌈5·5/3⌉ = 9 s minimum
    assert measured.price_per_million == Decimal("28")
    assert "input video billed as output: 5 s + 3 s of reference video" in measured.notes
    assert "video-input minimum of ⌈5·5/3⌉ = 9 s: applied" in measured.notes
    unknown = estimate_request(body, prices=prices)
    assert unknown.reference_video_seconds == 15.0
    assert unknown.tokens == 1280 * 720 * (24 * 20 + 1) // 1024
    assert any("length unknown" in note and "higher reading" in note for note in unknown.notes)
    assert "video-input minimum of ⌈5·5/3⌉ = 9 s: exceeded, 20 s billed" in unknown.notes


def test_draft_tokens_are_reduced_at_480p(prices: PriceTable) -> None:
    with_audio = estimate_request(request(V1_5, draft=True, ratio="16:9", duration=5), prices=prices)
    silent = estimate_request(request(V1_5, draft=True, ratio="16:9", duration=5, generate_audio=False), prices=prices)
    full = 864 * 496 * 24 * 5 // 1024
    assert (with_audio.resolution, with_audio.tokens, with_audio.price_per_million) == ("480p", int(full * 0.6), Decimal("16"))
    assert (silent.tokens, silent.price_per_million) == (int(full * 0.7), Decimal("8"))
    assert any("draft" in note and "inferred" in note for note in with_audio.notes)


def test_an_endpoint_id_cannot_be_estimated(prices: PriceTable) -> None:
    with pytest.raises(SpecError, match="endpoint id"):
        estimate_request(request("ep-20260101-abcde"), prices=prices)


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_a_manifest_merges_defaults_into_each_item_and_totals_per_currency(
    tmp_path: Path, prices: PriceTable, media_dir: Path
) -> None:
    shutil.copy(media_dir / "frame_640x360.jpg", tmp_path / "boat.png")
    write(tmp_path / "shots" / "harbour.yaml", {"prompt": "a harbour at dawn", "duration": 10})
    manifest = write(
        tmp_path / "batch.yaml",
        {
            "defaults": {
                "model": V2,
                "resolution": "720p",
                "ratio": "16:9",
                "duration": 5,
                "references": [{"url": "boat.png", "role": "first_frame"}],
            },
            "items": [
                {"name": "boat", "prompt": "a paper boat drifts"},
                "shots/harbour.yaml",
                {"prompt": "night market", "resolution": "480p", "references": []},
            ],
        },
    )
    report = estimate_file(manifest, default_model="unused", prices=prices)
    assert [item.name for item in report.items] == ["boat", "harbour", "item 3"]
    assert [item.estimate.tokens for item in report.items] == [108_900, 216_900, 864 * 496 * (24 * 5 + 1) // 1024]
    assert report.totals == {"CNY": sum((item.estimate.cost for item in report.items), Decimal(0))}
    assert report.totals["CNY"] == Decimal("5.0094") + Decimal("9.9774") + Decimal("2.329348")
    assert report.total_tokens == 108_900 + 216_900 + 50_638

    table = render_report(report)
    console = Console(record=True, width=240)
    console.print(table)
    text = console.export_text()
    for header in ("item", "model", "size", "seconds", "tokens", "price/M", "cost"):
        assert header in text
    assert "17.3161 CNY" in text and "1280×720" in text and "price inferred" in text


def test_manifest_items_in_two_currencies_total_separately(tmp_path: Path, prices: PriceTable) -> None:
    manifest = write(
        tmp_path / "m.json",
        {
            "defaults": {"resolution": "720p", "ratio": "16:9", "duration": 5, "prompt": "p"},
            "items": [{"model": V2}, {"model": V2_BYTEPLUS}],
        },
    )
    report = estimate_file(manifest, default_model=V2, prices=prices)
    assert report.totals == {"CNY": Decimal("5.0094"), "USD": Decimal("0.7623")}


def test_a_single_spec_file_and_a_bad_manifest_item_named_in_the_error(tmp_path: Path, prices: PriceTable) -> None:
    spec = write(tmp_path / "one.yaml", {"prompt": "p", "resolution": "480p", "ratio": "16:9", "duration": 5})
    report = estimate_file(spec, default_model=V1_PRO, prices=prices)
    assert [(item.name, item.estimate.tokens) for item in report.items] == [("one", 48_600)]

    manifest = write(
        tmp_path / "m.yaml", {"defaults": {"model": V2}, "items": [{"prompt": "ok"}, {"prompt": "p", "duration": 99}]}
    )
    with pytest.raises(SpecError, match=r"items\[1\]: duration: 99 is not allowed"):
        estimate_file(manifest, default_model=V2, prices=prices)


def test_a_local_reference_video_is_measured(tmp_path: Path, prices: PriceTable, media_dir: Path) -> None:
    shutil.copy(media_dir / "reference_864x496.mp4", tmp_path / "clip.mp4")
    spec = write(
        tmp_path / "s.yaml",
        {
            "model": V2,
            "prompt": "extend",
            "resolution": "480p",
            "ratio": "16:9",
            "duration": 5,
            "references": [{"url": "clip.mp4", "role": "reference_video"}],
        },
    )
    estimate = estimate_file(spec, default_model=V2, prices=prices).items[0].estimate
    assert estimate.reference_video_seconds == pytest.approx(3.0, abs=0.05)
    assert estimate.tokens == 864 * 496 * (24 * 9 + 1) // 1024  # 5 s + 3 s, raised to the 9 s minimum


def bundled_data() -> dict[str, Any]:
    return yaml.safe_load((Path(seedance.__file__).parent / "prices.yaml").read_text(encoding="utf-8"))


def test_a_malformed_price_file_names_the_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bundled_data()
    data["tables"][0]["entries"][1]["per_million"]["default"] = "fifteen"
    del data["tables"][1]["entries"][2]["confidence"]
    path = write(tmp_path / "my-prices.yaml", data)
    monkeypatch.setenv("SEEDANCE_PRICES_FILE", str(path))
    with pytest.raises(SpecError) as caught:
        PriceTable.load()
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "volcengine / '1.0-pro' (tables[0].entries[1]).per_million.default: 'fifteen' is not valid" in message
    assert "byteplus / '1.0-pro-fast' (tables[1].entries[2]).confidence: is required" in message


def test_overlapping_entries_and_a_missing_currency_are_refused(tmp_path: Path) -> None:
    data = bundled_data()
    data["tables"][0]["entries"][5]["resolutions"] = ["720p", "1080p"]  # "2.0 480p-720p" now overlaps "2.0 1080p"
    with pytest.raises(SpecError, match="entries '2.0 480p-720p' and '2.0 1080p' of table 'volcengine' both match"):
        PriceTable.from_data(data)
    data = bundled_data()
    data["tables"][1]["currency"] = "dollars"
    with pytest.raises(SpecError, match=r"byteplus \(tables\[1\]\)\.currency"):
        PriceTable.from_data(data)


def test_a_user_price_file_replaces_the_bundled_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = {
        "tables": [
            {
                "name": "mine",
                "currency": "EUR",
                "entries": [
                    {
                        "name": "pro",
                        "models": [V1_PRO],
                        "per_million": {"default": 2},
                        "confidence": "inferred",
                        "source": "my contract",
                    }
                ],
            }
        ]
    }
    path = tmp_path / "p.json"
    path.write_text(__import__("json").dumps(data))
    monkeypatch.setenv("SEEDANCE_PRICES_FILE", str(path))
    table = PriceTable.load()
    assert table.origin == str(path)
    estimate = estimate_request(request(V1_PRO, resolution="480p", ratio="16:9", duration=5), prices=table)
    assert (estimate.currency, estimate.cost) == ("EUR", Decimal("0.0972"))
    with pytest.raises(SpecError, match=r"no price for doubao-seedance-2-0-260128 .*p\.json") as caught:
        estimate_request(request(V2), prices=table)
    assert f"to table `mine` (EUR) of {path}" in str(caught.value)
    assert "SEEDANCE_PRICES_FILE" not in str(caught.value)  # it already names this file


@pytest.mark.parametrize(
    ("model", "table"),
    [("doubao-seedance-2-5-260628", "`volcengine` (CNY)"), ("dreamina-seedance-2-5-260628", "`byteplus` (USD)")],
)
def test_a_model_without_a_price_is_refused_with_the_entry_to_add(prices: PriceTable, model: str, table: str) -> None:
    with pytest.raises(SpecError) as caught:
        prices.quote(model, resolution="720p", generate_audio=True)
    assert str(caught.value) == (
        f"spec: model: no price for {model} (720p, without video input, audio on): "
        f"add an entry with `models: [{model}]` to table {table} of seedance/prices.yaml (bundled), "
        "or set SEEDANCE_PRICES_FILE to your own copy"
    )


def test_a_storyboard_is_estimated_shot_by_shot_from_a_relative_path(
    tmp_path: Path, prices: PriceTable, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "board").mkdir()
    shutil.copy(media_dir / "frame_640x360.jpg", tmp_path / "board" / "open.jpg")
    write(
        tmp_path / "board" / "story.yaml",
        {
            "defaults": {"model": V2, "resolution": "480p", "ratio": "16:9", "duration": 5},
            "first_frame": "open.jpg",
            "shots": [{"prompt": "one"}, {"prompt": "two", "duration": 4}],
        },
    )
    monkeypatch.chdir(tmp_path)
    report = estimate_file(Path("board/story.yaml"), default_model=V2, prices=prices)
    assert [(item.name, item.estimate.seconds) for item in report.items] == [("shot-01", 5), ("shot-02", 4)]
    assert report.items[1].source == "board/story.yaml shots[1]"
