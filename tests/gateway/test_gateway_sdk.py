"""The official Volcengine SDK works against the gateway unchanged (it sends nulls for every unset field)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime._exceptions import ArkBadRequestError, ArkNotFoundError

from tests.conftest import GatewayProcess, MediaServer
from tests.gateway.support import FAST


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[Ark]:
    ark = Ark(base_url=gateway.base_url, api_key=gateway.api_key, max_retries=0)
    yield ark
    ark.close()


def test_create_get_list_delete_with_the_official_sdk(client: Ark, media_server: MediaServer) -> None:
    created = client.content_generation.tasks.create(
        model=FAST,
        content=[
            {"type": "text", "text": "a paper boat on a puddle"},
            {"type": "image_url", "image_url": {"url": media_server.url("frame_640x360.jpg")}, "role": "first_frame"},
        ],
        resolution="480p",
        duration=4,
        return_last_frame=True,
    )
    deadline = time.monotonic() + 30
    while (task := client.content_generation.tasks.get(task_id=created.id)).status not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    assert task.status == "succeeded"
    assert task.content.video_url.startswith("http://127.0.0.1:")
    assert "/last_frame.png?" in task.content.last_frame_url
    assert (task.resolution, task.ratio, task.duration, task.framespersecond) == ("480p", "16:9", 4, 24)
    assert task.usage.completion_tokens == task.usage.total_tokens > 0

    listed = client.content_generation.tasks.list(page_num=1, page_size=10, status="succeeded", task_ids=[created.id])
    assert listed.total == 1 and listed.items[0].id == created.id
    by_model = client.content_generation.tasks.list(page_num=1, page_size=10, status="succeeded", model=FAST)
    assert created.id in {item.id for item in by_model.items}

    client.content_generation.tasks.delete(task_id=created.id)
    with pytest.raises(ArkNotFoundError):
        client.content_generation.tasks.get(task_id=created.id)


def test_sdk_sees_refusals_as_typed_errors(client: Ark) -> None:
    with pytest.raises(ArkBadRequestError) as refused:
        client.content_generation.tasks.create(model=FAST, content=[{"type": "text", "text": "x"}], ratio="5:4")

    assert refused.value.code == "InvalidParameter"
    assert refused.value.param == "ratio"
