"""Each gateway dialect on the wire (`seedance gateway serve --dialect NAME`), and `ArkClient` with the
matching client dialect reading every answer back into Ark's shapes.

One in-process gateway per dialect for the module (real HTTP on 127.0.0.1); the CLI test starts a
real process. The seed documents behind each difference are in /work/shared/seeds (ark-api.md §7).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image, ImageOps

from local_gateway import FaultKind, FaultPlan, GatewayConfig, LocalGateway
from local_gateway.dialects import OVERDUE_ERROR, ServedDialect
from local_gateway.lifecycle import Lifecycle
from local_gateway.plan import OutputPlan
from local_gateway.render import RenderResult
from local_gateway.store import TaskStore
from local_gateway.wire import task_object
from seedance.ark.client import ArkClient
from seedance.ark.dialects import DIALECTS, DialectName, get_dialect
from seedance.ark.types import CreateTaskRequest, TaskStatus, TextContent
from seedance.errors import CreateOutcomeUnknownError
from seedance.media import probe
from tests.conftest import GatewayFactory, MediaServer
from tests.gateway.support import FAST, SEEDANCE_2, TASKS, download, error_of, frames_of, mean_difference, wait_for
from tests.gateway.test_gateway_seeds import seed_body

KEY = "dialect-key"
BYTEPLUS_FAST = "dreamina-seedance-2-0-fast-260128"
CGT = re.compile(r"^cgt-\d{14}-[a-z0-9]{5}$")
AIID_ID = re.compile(r"^task_[a-z0-9]{24}$")


class Served:
    """An in-process gateway in one dialect, an httpx client for it and ArkClients of that dialect."""

    def __init__(self, name: DialectName, **options: Any) -> None:
        self.name = name
        self.gateway = LocalGateway(GatewayConfig(api_key=KEY, dialect=name, **({"latency": 0.2} | options))).start()
        self.api = httpx.Client(base_url=self.gateway.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        self.admin = httpx.Client(base_url=self.gateway.origin, timeout=10)

    def client(self, **options: Any) -> ArkClient:
        options = {"retry_base_seconds": 0.01, "retry_cap_seconds": 0.05, **options}
        return ArkClient(self.gateway.base_url, KEY, gateway=self.name.value, dialect=get_dialect(self.name), **options)

    def local_tasks(self) -> dict[str, dict[str, Any]]:
        return {task["id"]: task for task in self.admin.get("/_local/tasks").json()["tasks"]}

    def close(self) -> None:
        self.api.close()
        self.admin.close()
        self.gateway.stop()


@pytest.fixture(scope="module")
def served() -> Iterator[dict[DialectName, Served]]:
    gateways = {name: Served(name) for name in DialectName}
    yield gateways
    for gateway in gateways.values():
        gateway.close()


def request(prompt: str = "a lantern on a pier", **fields: Any) -> CreateTaskRequest:
    """A 2.0-fast text request every dialect takes: no field kkiai or aimanyi leave undocumented."""
    return CreateTaskRequest(model=FAST, content=[TextContent(text=prompt)], **({"ratio": "16:9", "duration": 4} | fields))


def create(client: ArkClient, req: CreateTaskRequest) -> str:
    """Create through the client; an accepted answer without an id (kkiai) is found in the list."""
    try:
        return client.create_task(req).id  # type: ignore[return-value]
    except CreateOutcomeUnknownError as exc:
        assert exc.accepted
        listed = client.list_tasks(page_size=500).items
        return max(listed, key=lambda task: task.created_at).id


def wait(client: ArkClient, task_id: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (task := client.get_task(task_id)).status.terminal:
        assert time.monotonic() < deadline, f"{task_id} still {task.status}"
        time.sleep(0.05)
    return task


# -- every dialect: the answers on the wire, and the client reading them back ------------------------

CREATE_ANSWER_KEYS = {
    DialectName.ARK: {"id"},
    DialectName.BYTEPLUS: {"id"},
    DialectName.KKIAI: set(),
    DialectName.AIID: {"id", "created_at", "items"},
    DialectName.MAXTOKEN: {"id"},
    DialectName.AIMANYI: {"id"},
    DialectName.QUICKROUTER: {"id", "status"},
}


@pytest.mark.parametrize("name", list(DialectName))
def test_each_dialect_answers_its_own_way_and_the_client_reads_ark_shapes(
    served: dict[DialectName, Served], name: DialectName
) -> None:
    gateway, dialect = served[name], get_dialect(name)
    body = dialect.shape(request(f"wire {name}"))
    answer = gateway.api.post(TASKS, json=body)

    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == CREATE_ANSWER_KEYS[name]
    if name is DialectName.KKIAI:
        task_id = gateway.api.get(TASKS, params={"page_size": 1}).json()["items"][0]["id"]
    else:
        task_id = answer.json()["id"]
    assert (AIID_ID if name is DialectName.AIID else CGT).match(task_id)
    assert task_id.startswith(dialect.task_id_prefix)
    if name is DialectName.QUICKROUTER:
        assert answer.json()["status"] == dialect.create_status == "submitted"
    if name is DialectName.AIID:
        assert isinstance(answer.json()["created_at"], str) and answer.json()["created_at"].isdigit()

    raw = wait_for(gateway.api, task_id)
    assert raw["status"] == "succeeded", raw
    times = (raw["created_at"], raw["updated_at"])
    assert all(isinstance(t, str if dialect.string_created_at else int) for t in times)
    assert raw["model"] == (BYTEPLUS_FAST if name is DialectName.BYTEPLUS else FAST)

    with gateway.client() as client:
        task = client.get_task(task_id)
        listed = client.list_tasks(task_ids=[task_id]).items
    assert task.status is TaskStatus.SUCCEEDED and task.model == FAST
    assert task.created_at == int(raw["created_at"]) and task.updated_at == int(raw["updated_at"])
    assert [t.id for t in listed] == [task_id] and listed[0].created_at == task.created_at
    stats = gateway.admin.get("/_local/stats").json()
    assert stats["requests"]["create"] >= 1 and stats["tasks_created"] >= 1


@pytest.mark.parametrize("name", list(DialectName))
def test_the_fault_layer_and_the_stats_work_in_every_dialect(name: DialectName) -> None:
    gateway = Served(name)  # its own, so that the counters are this test's alone
    try:
        with gateway.client(create_retries=2, read_retries=3) as client:
            _plan(gateway, FaultKind.RATE_LIMIT)
            task_id = create(client, request(f"faults {name}"))
            _plan(gateway, FaultKind.COMPLETION_500)
            task = wait(client, task_id)
        _plan(gateway, FaultKind.TRUNCATED_DOWNLOAD)
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(task.content.video_url, timeout=10)
        stats = gateway.admin.get("/_local/stats").json()
    finally:
        gateway.close()
    assert task.status is TaskStatus.SUCCEEDED
    assert {kind: n for kind, n in stats["faults"].items() if n} == {
        "rate-limit": 1,
        "completion-500": 1,
        "truncated-download": 1,
    }
    assert stats["tasks_created"] == 1 and stats["duplicate_creates"] == 0
    assert stats["requests"]["create"] == 2 and stats["requests"]["files"] == 1


def _plan(gateway: Served, kind: FaultKind) -> None:
    plan = FaultPlan(rates={kind: 1.0}, limit=1, retry_after_seconds=0)
    gateway.admin.post("/_local/faults", content=plan.model_dump_json()).raise_for_status()


def test_the_gateway_takes_its_facts_from_the_client_dialects() -> None:
    for name in DialectName:
        served = ServedDialect.named(name)
        assert served.dialect is DIALECTS[name]
        assert served.cancels_queued == (TaskStatus.CANCELLED in DIALECTS[name].statuses)
    with pytest.raises(ValueError, match="allowed: ark, byteplus"):
        ServedDialect.named("openai")


# -- byteplus: its model ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model", "own"),
    [
        ("byteplus", SEEDANCE_2, "dreamina-seedance-2-0-260128"),
        ("byteplus", "doubao-seedance-1-0-pro-250528", "seedance-1-0-pro-250528"),
        ("ark", "dreamina-seedance-2-0-260128", SEEDANCE_2),
        ("quickrouter", "seedance-1-5-pro-251215", "doubao-seedance-1-5-pro-251215"),
    ],
)
def test_a_model_id_of_the_other_cloud_is_not_found(served: dict[DialectName, Served], name: str, model: str, own: str) -> None:
    body = {"model": model, "content": [{"type": "text", "text": "x"}], "duration": 5}
    error = error_of(served[DialectName(name)].api.post(TASKS, json=body), 404)

    assert (error["code"], error["param"], error["type"]) == ("InvalidEndpointOrModel.NotFound", "model", "NotFound")
    assert own in error["message"]


def test_byteplus_serves_its_1_x_ids_and_lists_by_them(served: dict[DialectName, Served]) -> None:
    gateway = served[DialectName.BYTEPLUS]
    body = {
        "model": "seedance-1-0-pro-fast-251015",
        "content": [{"type": "text", "text": "a kite"}],
        "resolution": "480p",
        "duration": 2,
    }
    task_id = gateway.api.post(TASKS, json=body).json()["id"]

    task = wait_for(gateway.api, task_id)
    listed = gateway.api.get(TASKS, params={"filter.model": "seedance-1-0-pro-fast-251015", "filter.task_ids": task_id}).json()

    assert (task["status"], task["model"], task["resolution"]) == ("succeeded", "seedance-1-0-pro-fast-251015", "480p")
    assert [t["id"] for t in listed["items"]] == [task_id]


# -- kkiai and aimanyi: six documented fields, an empty create answer -------------------------------


@pytest.mark.parametrize("name", ["kkiai", "aimanyi"])
@pytest.mark.parametrize(
    "field", [{"resolution": "720p"}, {"seed": 7}, {"callback_url": "http://127.0.0.1:9/cb"}, {"return_last_frame": True}]
)
def test_kkiai_and_aimanyi_refuse_fields_they_do_not_document(
    served: dict[DialectName, Served], name: str, field: dict[str, Any]
) -> None:
    body = {"model": FAST, "content": [{"type": "text", "text": "x"}]} | field
    error = error_of(served[DialectName(name)].api.post(TASKS, json=body), 400)

    assert (error["code"], error["param"]) == ("InvalidParameter", next(iter(field)))
    assert "generate_audio, model, ratio, watermark" in error["message"]


@pytest.mark.parametrize("name", ["kkiai", "aimanyi"])
def test_kkiai_and_aimanyi_take_nulls_and_text_items_without_image_url(served: dict[DialectName, Served], name: str) -> None:
    # null is "not sent" (the official SDK sends every field); their item schema's required
    # image_url/role cannot hold for a text item and is not enforced
    body = {"model": FAST, "content": [{"type": "text", "text": "a tea stall"}], "seed": None, "resolution": None, "duration": 4}
    response = served[DialectName(name)].api.post(TASKS, json=body)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("name", "seed"),
    [
        ("kkiai", "000_kkiai.json"),
        ("maxtoken", "002_maxtoken.json"),
        ("aimanyi", "003_aimanyi.json"),
        ("quickrouter", "004_quickrouter.json"),
    ],
)
def test_each_gateway_takes_its_own_published_example(
    served: dict[DialectName, Served], media_server: MediaServer, name: str, seed: str
) -> None:
    response = served[DialectName(name)].api.post(
        TASKS, content=seed_body(seed, media_server), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    assert set(response.json()) == CREATE_ANSWER_KEYS[DialectName(name)]


def test_kkiai_empty_answer_leaves_the_client_to_the_list(served: dict[DialectName, Served]) -> None:
    with served[DialectName.KKIAI].client() as client, pytest.raises(CreateOutcomeUnknownError) as unknown:
        client.create_task(request("no id"))

    assert unknown.value.accepted
    assert "holds no task id" in str(unknown.value)


# -- aiid: a required prompt, its aliases, task_ ids, string times, four states ---------------------


@pytest.mark.parametrize("prompt", [None, "", "   "])
def test_aiid_requires_a_non_empty_top_level_prompt(served: dict[DialectName, Served], prompt: str | None) -> None:
    body: dict[str, Any] = {"model": FAST, "content": [{"type": "text", "text": "a kite"}], "duration": 4}
    if prompt is not None:
        body["prompt"] = prompt
    error = error_of(served[DialectName.AIID].api.post(TASKS, json=body), 400)

    assert (error["code"], error["param"]) == ("MissingParameter", "prompt")


def test_aiid_aliases_map_onto_ark_fields(
    served: dict[DialectName, Served], media_server: MediaServer, media_dir: Path, tmp_path: Path
) -> None:
    gateway = served[DialectName.AIID]
    body = {
        "model": SEEDANCE_2,
        "prompt": "the harbour at dawn",
        "mode": "i2v",
        "image_url": media_server.url("frame_640x360.jpg"),
        "seconds": "5",
        "aspect_ratio": "16:9",
        "size": "1280x720",
        "fps": 24,
        "quality": "720p",
    }
    answer = gateway.api.post(TASKS, json=body)
    assert answer.status_code == 200, answer.text

    task = wait_for(gateway.api, answer.json()["id"])

    assert task["status"] == "succeeded", task
    assert (task["resolution"], task["ratio"], task["duration"]) == ("720p", "16:9", 5)
    info = probe(download(task["content"]["video_url"], tmp_path / "v.mp4"))
    assert (info.width, info.height) == (1280, 720)
    (first,) = frames_of(tmp_path / "v.mp4", 0)
    expected = ImageOps.fit(Image.open(media_dir / "frame_640x360.jpg").convert("RGB"), (1280, 720), Image.Resampling.BICUBIC)
    assert mean_difference(first, np.asarray(expected)) < 3.0  # image_url became the first frame


def test_aiid_reference_aliases_and_named_items(served: dict[DialectName, Served], media_server: MediaServer) -> None:
    # the published example's shape (seed 001): `mode`, `size`, named content items, media references,
    # but on a 2.0 model: the published lite-i2v takes no video or audio references
    body = {
        "model": SEEDANCE_2,
        "mode": "reference_material",
        "prompt": "测试文字",
        "content": [
            {"type": "text", "text": "测试文字"},
            {
                "type": "image_url",
                "image_url": {"url": media_server.url("square_720x720.png")},
                "role": "reference_image",
                "name": "1",
            },
        ],
        "image_urls": [media_server.url("frame_640x360.jpg")],
        "video_urls": [media_server.url("reference_864x496.mp4")],
        "audio_urls": [media_server.url("music_3s.mp3")],
        "duration": 5,
        "size": "864x496",
    }
    answer = served[DialectName.AIID].api.post(TASKS, json=body)
    assert answer.status_code == 200, answer.text

    task = wait_for(served[DialectName.AIID].api, answer.json()["id"])
    assert (task["status"], task["resolution"], task["ratio"]) == ("succeeded", "480p", "16:9")

    published = body | {"model": "doubao-seedance-1-0-lite-i2v-250428", "size": "1248x704"}
    error = error_of(served[DialectName.AIID].api.post(TASKS, json=published), 400)
    assert "reference video and audio are not supported" in error["message"]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"seconds": 5, "duration": 6}, "seconds"),
        ({"aspect_ratio": "9:16", "ratio": "16:9"}, "aspect_ratio"),
        ({"size": "1000x1000"}, "size"),
        ({"fps": 30}, "fps"),
        ({"mode": "edit"}, "mode"),
        ({"image_urls": "http://x/a.png"}, "image_urls"),
        ({"content": [{"type": "text", "text": "a", "name": 3}]}, "content[0].name"),
        ({"image_url": "http://x/a.png", "input_reference": "http://x/b.png"}, "input_reference"),
    ],
)
def test_aiid_refuses_malformed_or_contradicting_aliases(
    served: dict[DialectName, Served], extra: dict[str, Any], param: str
) -> None:
    body = {"model": FAST, "prompt": "a kite"} | extra
    error = error_of(served[DialectName.AIID].api.post(TASKS, json=body), 400)

    assert (error["code"], error["param"]) == ("InvalidParameter", param)


def test_aiid_has_no_cancelled_state_a_queued_task_is_removed() -> None:
    gateway = Served(DialectName.AIID, latency=60, queue_seconds=30)
    try:
        body = get_dialect("aiid").shape(request("never rendered"))
        task_id = gateway.api.post(TASKS, json=body).json()["id"]
        assert gateway.api.get(f"{TASKS}/{task_id}").json()["status"] == "queued"

        assert gateway.api.delete(f"{TASKS}/{task_id}").status_code == 200
        gone = gateway.api.get(f"{TASKS}/{task_id}")
        filtered = gateway.api.get(TASKS, params={"filter.status": "cancelled"})
    finally:
        gateway.close()
    assert error_of(gone, 404)["param"] == "task_id"
    error = error_of(filtered, 400)
    assert error["param"] == "filter.status" and "allowed: queued, running, succeeded, failed" in error["message"]


def test_aiid_has_no_expired_state_an_overdue_task_fails_with_a_clear_code(tmp_path: Path) -> None:
    # execution_expires_after is at least an hour on the wire: the lifecycle is driven directly
    served = ServedDialect.named("aiid")
    store = TaskStore(time.time, id_prefix=served.dialect.task_id_prefix, cancel_queued=served.cancels_queued)
    never = lambda plan, out: RenderResult(video=out / "v.mp4")  # noqa: E731 - never called: the task stays queued
    lifecycle = Lifecycle(
        store, never, tasks_dir=tmp_path, latency=60, queue_seconds=30, render_workers=1, overdue_error=served.overdue_error
    )
    lifecycle.start()
    try:
        req = request("overdue", execution_expires_after=1)
        plan = OutputPlan(
            resolution="480p",
            ratio="16:9",
            width=864,
            height=496,
            frames=96,
            reports_frames=False,
            seed=1,
            generate_audio=True,
            draft=False,
            watermark=False,
            return_last_frame=False,
            tokens=40_594,
        )
        task_id = store.reserve_id(time.time())
        lifecycle.submit(store.create(task_id, req, plan, time.time(), time.monotonic()))
        deadline = time.monotonic() + 5
        while (record := store.get(task_id)) is not None and record.status is TaskStatus.QUEUED and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        lifecycle.close()
    assert record is not None and AIID_ID.match(record.id)
    shown = served.present(task_object(record, lambda name: name))
    assert (shown["status"], shown["error"]) == ("failed", {"code": OVERDUE_ERROR.code, "message": OVERDUE_ERROR.message})
    assert isinstance(shown["created_at"], str)
    assert served.overdue_error == OVERDUE_ERROR and ServedDialect.named("ark").overdue_error is None


# -- maxtoken: its own defaults ---------------------------------------------------------------------


def test_maxtoken_defaults_watermark_and_camera_fixed_to_true(served: dict[DialectName, Served], tmp_path: Path) -> None:
    gateway = served[DialectName.MAXTOKEN]
    omitted = {"model": FAST, "content": [{"type": "text", "text": "a quay"}], "resolution": "480p", "duration": 4, "seed": 5}
    plain = gateway.api.post(TASKS, json=omitted).json()["id"]
    with gateway.client() as client:  # our maxtoken dialect sends both as false
        explicit = client.create_task(CreateTaskRequest.model_validate(omitted)).id
        assert explicit is not None
    camera_true = gateway.api.post(TASKS, json=omitted | {"camera_fixed": True})  # on 2.0: maxtoken lists it there

    tasks = gateway.local_tasks()
    assert (tasks[plain]["watermark"], tasks[plain]["camera_fixed"]) == (True, True)
    assert (tasks[explicit]["watermark"], tasks[explicit]["camera_fixed"]) == (False, False)
    assert camera_true.status_code == 200, camera_true.text
    marked = download(wait_for(gateway.api, plain)["content"]["video_url"], tmp_path / "marked.mp4")
    clean = download(wait_for(gateway.api, explicit)["content"]["video_url"], tmp_path / "clean.mp4")
    corner = (slice(456, 480), slice(736, 840))  # inside the watermark box at 864x496
    (marked_first,), (clean_first,) = frames_of(marked, 0), frames_of(clean, 0)
    assert mean_difference(marked_first[corner], clean_first[corner]) > 20
    assert mean_difference(marked_first[:240, :400], clean_first[:240, :400]) < 1

    refused = served[DialectName.ARK].api.post(TASKS, json=omitted | {"camera_fixed": True})
    assert error_of(refused, 400)["param"] == "camera_fixed"  # Ark: not supported by the 2.0 family


# -- quickrouter: submitted, 12 s at most, no adaptive ----------------------------------------------


@pytest.mark.parametrize(
    ("extra", "param"), [({"duration": 13}, "duration"), ({"duration": 15}, "duration"), ({"ratio": "adaptive"}, "ratio")]
)
def test_quickrouter_refuses_long_durations_and_adaptive(
    served: dict[DialectName, Served], extra: dict[str, Any], param: str
) -> None:
    body = {"model": FAST, "content": [{"type": "text", "text": "x"}], "ratio": "16:9"} | extra
    error = error_of(served[DialectName.QUICKROUTER].api.post(TASKS, json=body), 400)

    assert (error["code"], error["param"]) == ("InvalidParameter", param)
    assert served[DialectName.ARK].api.post(TASKS, json=body | {"resolution": "480p"}).status_code == 200  # Ark takes both


def test_quickrouter_submitted_is_only_the_create_answer(served: dict[DialectName, Served]) -> None:
    gateway = served[DialectName.QUICKROUTER]
    answer = gateway.api.post(
        TASKS, json={"model": FAST, "content": [{"type": "text", "text": "x"}], "duration": 12, "resolution": "480p"}
    )

    assert answer.json()["status"] == "submitted"
    assert gateway.api.get(f"{TASKS}/{answer.json()['id']}").json()["status"] in ("queued", "running", "succeeded")
    with gateway.client() as client:
        assert client.create_task(request("read back")).id is not None


# -- the command line -------------------------------------------------------------------------------


def test_serve_takes_dialect_and_refuses_unknown_ones(gateway_factory: GatewayFactory) -> None:
    process = gateway_factory("--dialect", "aiid")
    with httpx.Client(base_url=process.base_url, headers={"Authorization": f"Bearer {process.api_key}"}, timeout=10) as api:
        answer = api.post(TASKS, json={"model": FAST, "prompt": "a kite", "seconds": 4})
    assert answer.status_code == 200, answer.text
    assert AIID_ID.match(answer.json()["id"])

    refused = subprocess.run(
        [sys.executable, "-m", "local_gateway", "serve", "--api-key", "k", "--port", "0", "--dialect", "openai"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "openai" in refused.stderr
