"""Gateway dialects: requests shaped per gateway, answers read back into Ark's shapes."""

from __future__ import annotations

import httpx
import pytest

from seedance.ark.client import ArkClient
from seedance.ark.dialects import DIALECTS, DialectName, get_dialect
from seedance.ark.types import CreateTaskRequest, ImageContent, MediaURL, TextContent
from seedance.errors import SpecError
from seedance.spec import GenerationSpec, Reference

V2 = "doubao-seedance-2-0-260128"
V2_5 = "doubao-seedance-2-5-260628"
REQUEST = CreateTaskRequest(
    model=V2,
    content=[TextContent(text="a lantern"), ImageContent(image_url=MediaURL(url="https://x/a.png"), role="first_frame")],
    ratio="16:9",
    duration=5,
)


def test_every_dialect_name_the_issue_lists_exists() -> None:
    assert [d.value for d in DialectName] == ["ark", "byteplus", "kkiai", "aiid", "maxtoken", "aimanyi", "quickrouter"]
    assert set(DIALECTS) == set(DialectName)
    with pytest.raises(ValueError, match="allowed: ark, byteplus, kkiai, aiid, maxtoken, aimanyi, quickrouter"):
        get_dialect("openai")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ark", {}),
        ("byteplus", {"model": "dreamina-seedance-2-0-260128"}),
        ("aiid", {"prompt": "a lantern"}),
        ("maxtoken", {"watermark": False, "camera_fixed": False}),
        ("quickrouter", {}),
    ],
)
def test_requests_are_shaped_per_dialect(name: str, expected: dict) -> None:
    body = get_dialect(name).shape(REQUEST)
    assert body == REQUEST.to_body() | expected


@pytest.mark.parametrize(
    ("name", "changes", "field"),
    [
        ("kkiai", {"resolution": "720p"}, "resolution"),
        ("aimanyi", {"seed": 7}, "seed"),
        ("quickrouter", {"duration": 15}, "duration"),
        ("quickrouter", {"ratio": "adaptive"}, "ratio"),
        ("aiid", {"content": [ImageContent(image_url=MediaURL(url="https://x/a.png"))]}, "prompt"),
    ],
)
def test_what_a_gateway_does_not_document_is_refused(name: str, changes: dict, field: str) -> None:
    problems = get_dialect(name).problems(REQUEST.model_copy(update=changes))
    assert [p.field for p in problems] == [field]
    assert name in problems[0].message


def test_a_reseller_refuses_the_task_type_and_output_format_before_anything_is_sent() -> None:
    spec = GenerationSpec(
        prompt="a lantern",
        references=[Reference(url="https://x/a.png", role="reference_image")],
        omni_reference_task_type="reference",
        output_format="mp4",
    )
    with pytest.raises(SpecError) as refused:  # 2.5 takes both fields; the kkiai gateway documents neither
        spec.preflight(V2_5, get_dialect("kkiai"))
    problems = refused.value.problems
    assert [p.field for p in problems] == ["omni_reference_task_type", "output_format"]
    assert all("not documented by the kkiai gateway" in p.message for p in problems)
    auto = spec.model_copy(update={"omni_reference_task_type": "auto", "output_format": None})
    kkiai = get_dialect("kkiai")
    assert "omni_reference_task_type" not in kkiai.shape(auto.preflight(V2_5, kkiai))  # never sent: nothing to refuse


def test_aiid_answers_are_read_back_into_ark_shapes() -> None:
    answers = {
        "POST": {"id": "task_abc", "created_at": "1779336000", "items": ""},
        "GET": {"id": "task_abc", "model": V2, "status": "processing", "created_at": "1779336000", "updated_at": "1779336005"},
    }
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=answers[r.method]))
    with ArkClient("http://gw/api/v3", "k", dialect=get_dialect("aiid"), transport=transport) as client:
        assert client.create_task(REQUEST).id == "task_abc"
        task = client.get_task("task_abc")
    assert (task.created_at, task.updated_at, task.status.value) == (1779336000, 1779336005, "running")
