"""Create, get, list and delete against the gateway process, with Ark's shapes and Ark's errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from seedance.catalog import FPS, ModelSpec, find_model
from seedance.cost.tokens import billed_tokens, video_tokens
from tests.conftest import GatewayProcess
from tests.gateway.support import (
    FAST,
    LITE_T2V,
    PRO_1_5,
    PRO_FAST_1_0,
    TASKS,
    create,
    error_of,
    generate,
    text_body,
    wait_for,
)


def spec_of(model_id: str) -> ModelSpec:
    spec = find_model(model_id)
    assert spec is not None, model_id
    return spec


def test_create_answers_an_ark_task_id_stamped_in_beijing_time(api: httpx.Client) -> None:
    response = api.post(TASKS, json=text_body())

    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"
    assert set(response.json()) == {"id"}
    task = wait_for(api, response.json()["id"])
    stamp = datetime.strptime(task["id"][4:18], "%Y%m%d%H%M%S").replace(tzinfo=timezone(timedelta(hours=8)))
    assert abs(stamp.timestamp() - task["created_at"]) <= 1


def test_a_finished_task_has_every_field_of_the_ark_task_object(api: httpx.Client) -> None:
    task = generate(api, text_body(FAST, duration=4))

    assert set(task) == {
        "id",
        "model",
        "status",
        "content",
        "usage",
        "created_at",
        "updated_at",
        "seed",
        "resolution",
        "ratio",
        "duration",
        "framespersecond",
        "service_tier",
        "execution_expires_after",
        "generate_audio",
        "draft",
        "priority",
    }
    assert task["model"] == FAST
    assert set(task["content"]) == {"video_url"}
    billed = billed_tokens(864, 496, 4 * FPS, 0.0, spec_of(FAST))  # the estimate's formula: 24·4 + 1 frames on 2.0 Fast
    assert task["usage"] == {"completion_tokens": billed, "total_tokens": billed}
    assert isinstance(task["created_at"], int) and isinstance(task["updated_at"], int)
    assert task["created_at"] <= task["updated_at"]
    assert isinstance(task["seed"], int) and task["seed"] >= 0
    assert (task["resolution"], task["ratio"], task["duration"], task["framespersecond"]) == ("480p", "16:9", 4, 24)
    assert (task["service_tier"], task["execution_expires_after"], task["generate_audio"]) == ("default", 172800, True)


def test_output_format_is_echoed_when_the_request_sets_it(api: httpx.Client) -> None:
    task = generate(api, text_body(FAST, output_format="mp4", resolution="480p", duration=4))

    assert task["output_format"] == "mp4"


def test_output_format_is_refused_where_the_model_offers_none(api: httpx.Client) -> None:
    response = api.post(TASKS, json=text_body(LITE_T2V, output_format="mp4"))

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "output_format"


def test_frames_are_reported_instead_of_duration_when_requested(api: httpx.Client) -> None:
    task = generate(api, text_body(PRO_FAST_1_0, frames=29, ratio="21:9"))

    assert task["frames"] == 29 and "duration" not in task
    assert "generate_audio" not in task  # the 1.0 series has no audio
    assert task["usage"]["completion_tokens"] == video_tokens(960, 416, 29)


def test_an_explicit_seed_is_kept_and_minus_one_draws_one(api: httpx.Client) -> None:
    kept = generate(api, text_body(LITE_T2V, seed=4242))
    drawn = generate(api, text_body(LITE_T2V, seed=-1))

    assert kept["seed"] == 4242
    assert drawn["seed"] >= 0


def test_json_null_anywhere_means_absent(api: httpx.Client) -> None:
    body = {
        "model": FAST,
        "content": [{"type": "text", "text": "rain on a window", "role": None}],
        "resolution": "480p",
        "ratio": None,
        "duration": 4,
        "seed": None,
        "watermark": None,
        "callback_url": None,
        "service_tier": None,
        "tools": None,
        "output_format": None,
    }
    task = generate(api, body)

    assert task["ratio"] == "16:9"  # adaptive, the 2.0 default, resolved for text
    assert task["service_tier"] == "default"
    assert "output_format" not in task


def test_statuses_move_from_queued_to_running_to_succeeded(running_api: httpx.Client, queued_api: httpx.Client) -> None:
    queued = create(queued_api, text_body())
    running = create(running_api, text_body())

    assert queued_api.get(f"{TASKS}/{queued}").json()["status"] == "queued"
    task = wait_for(running_api, running, until={"running"})
    assert "content" not in task and "usage" not in task


@pytest.mark.parametrize(
    ("change", "param", "allowed"),
    [
        ({"ratio": "5:4"}, "ratio", "16:9, 4:3, 1:1, 3:4, 9:16, 21:9, adaptive"),
        ({"resolution": "1080p"}, "resolution", "480p, 720p"),
        ({"duration": 30}, "duration", "integers 4-15 or -1"),
        ({"frames": 57}, "frames", "use duration"),
        ({"service_tier": "flex"}, "service_tier", "allowed: default"),
        ({"seed": -5}, "seed", "-1 (random)"),
        ({"surprise": True}, "surprise", "is not a parameter"),
    ],
)
def test_invalid_values_are_refused_naming_the_param_and_what_is_allowed(
    api: httpx.Client, change: dict[str, object], param: str, allowed: str
) -> None:
    error = error_of(api.post(TASKS, json=text_body(FAST) | change), 400)

    assert error["param"] == param
    assert error["type"] == "BadRequest"
    assert error["code"] == "InvalidParameter"
    assert allowed in error["message"]


def test_a_missing_field_is_a_missing_parameter(api: httpx.Client) -> None:
    error = error_of(api.post(TASKS, json={"model": FAST}), 400)

    assert (error["code"], error["param"]) == ("MissingParameter", "content")


def test_an_unknown_model_is_not_found(api: httpx.Client) -> None:
    error = error_of(api.post(TASKS, json=text_body("doubao-seedance-9-9-999999")), 404)

    assert (error["code"], error["type"], error["param"]) == ("InvalidEndpointOrModel.NotFound", "NotFound", "model")


def test_an_endpoint_id_is_not_found_in_the_local_gateway(api: httpx.Client) -> None:
    error = error_of(api.post(TASKS, json=text_body("ep-20250101000000-abcde")), 404)

    assert error["code"] == "InvalidEndpointOrModel.NotFound"
    assert "endpoint" in error["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "doubao-seedance-2-0-fast-260128", "content": [{"type": "text", "text": "x"},],}',
        b'{"model": ',
        b"",
        b'{"model": "m", "seed": NaN}',
    ],
)
def test_a_body_that_is_not_json_is_an_invalid_parameter(api: httpx.Client, raw: bytes) -> None:
    error = error_of(api.post(TASKS, content=raw, headers={"Content-Type": "application/json"}), 400)

    assert (error["code"], error["param"], error["type"]) == ("InvalidParameter", "body", "BadRequest")
    assert "not valid JSON" in error["message"]


def test_a_json_body_that_is_not_an_object_is_refused(api: httpx.Client) -> None:
    error = error_of(api.post(TASKS, json=[1, 2]), 400)

    assert error["param"] == "body"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", TASKS),
        ("GET", TASKS),
        ("GET", f"{TASKS}/cgt-20260101000000-abcde"),
        ("DELETE", f"{TASKS}/cgt-20260101000000-abcde"),
        ("GET", "/models"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "test-key", "Basic dGVzdC1rZXk="])
def test_every_api_route_wants_the_bearer_key(gateway: GatewayProcess, method: str, path: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = httpx.request(method, gateway.base_url + path, headers=headers, json=text_body() if method == "POST" else None)

    error = error_of(response, 401)
    assert (error["code"], error["param"], error["type"]) == ("AuthenticationError", "", "Unauthorized")


def test_unknown_paths_are_not_found_in_the_envelope(api: httpx.Client, gateway: GatewayProcess) -> None:
    assert error_of(api.get("/contents/generations/videos"), 404)["type"] == "NotFound"
    assert error_of(httpx.get(f"{gateway.origin}/nowhere"), 404)["code"] == "NotFound"
    assert error_of(api.put(TASKS), 405)["code"] == "MethodNotAllowed"


def test_an_unknown_task_is_not_found(api: httpx.Client) -> None:
    error = error_of(api.get(f"{TASKS}/cgt-20200101000000-zzzzz"), 404)

    assert (error["type"], error["param"]) == ("NotFound", "task_id")


def test_list_filters_by_repeated_task_ids_newest_first(api: httpx.Client) -> None:
    first, second, third = (create(api, text_body(LITE_T2V, prompt=f"shot {n}")) for n in range(3))

    response = api.get(TASKS, params=[("filter.task_ids", first), ("filter.task_ids", third)])

    listed = response.json()
    assert listed["total"] == 2
    assert [item["id"] for item in listed["items"]] == [third, first]
    assert second not in {item["id"] for item in listed["items"]}
    for task_id in (first, second, third):
        wait_for(api, task_id)


def test_list_pages_and_filters_by_status_model_and_tier(api: httpx.Client) -> None:
    flex = generate(api, text_body(PRO_FAST_1_0, service_tier="flex"))
    mine = [generate(api, text_body(PRO_1_5, seed=n))["id"] for n in range(3)]

    by_model = api.get(TASKS, params={"filter.model": PRO_1_5, "filter.status": "succeeded", "page_size": 2}).json()
    page_two = api.get(TASKS, params={"filter.model": PRO_1_5, "page_size": 2, "page_num": 2}).json()
    flex_only = api.get(TASKS, params={"filter.service_tier": "flex"}).json()
    default_tier = api.get(TASKS, params={"page_size": 500}).json()

    assert by_model["total"] >= 3 and len(by_model["items"]) == 2
    assert [item["id"] for item in by_model["items"]] == mine[::-1][:2]
    assert page_two["items"][0]["id"] == mine[0]
    assert flex["id"] in {item["id"] for item in flex_only["items"]}
    assert all(item["service_tier"] == "flex" for item in flex_only["items"])
    assert flex["id"] not in {item["id"] for item in default_tier["items"]}


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 501}, "page_size"),
        ({"page_num": "first"}, "page_num"),
        ({"filter.status": "done"}, "filter.status"),
        ({"filter.service_tier": "gold"}, "filter.service_tier"),
    ],
)
def test_list_refuses_out_of_range_parameters(api: httpx.Client, params: dict[str, str | int], param: str) -> None:
    assert error_of(api.get(TASKS, params=params), 400)["param"] == param


def test_delete_removes_a_finished_task(api: httpx.Client) -> None:
    task = generate(api, text_body(LITE_T2V))

    assert api.delete(f"{TASKS}/{task['id']}").status_code == 200
    assert error_of(api.get(f"{TASKS}/{task['id']}"), 404)["type"] == "NotFound"
    assert error_of(api.delete(f"{TASKS}/{task['id']}"), 404)["type"] == "NotFound"
    assert api.get(TASKS, params={"filter.task_ids": task["id"]}).json() == {"items": [], "total": 0}


def test_delete_cancels_a_queued_task_and_then_refuses(queued_api: httpx.Client) -> None:
    task_id = create(queued_api, text_body())

    assert queued_api.delete(f"{TASKS}/{task_id}").status_code == 200
    assert queued_api.get(f"{TASKS}/{task_id}").json()["status"] == "cancelled"
    assert queued_api.get(TASKS, params={"filter.status": "cancelled"}).json()["total"] >= 1
    error = error_of(queued_api.delete(f"{TASKS}/{task_id}"), 400)
    assert (error["code"], error["param"]) == ("InvalidParameter", "task_id")
    assert "cancelled" in error["message"]


def test_delete_refuses_a_running_task(running_api: httpx.Client) -> None:
    task_id = create(running_api, text_body())
    wait_for(running_api, task_id, until={"running"})

    error = error_of(running_api.delete(f"{TASKS}/{task_id}"), 400)

    assert "running" in error["message"]
    assert running_api.get(f"{TASKS}/{task_id}").json()["status"] == "running"


def test_stats_count_requests_and_creates_per_body(api: httpx.Client, gateway: GatewayProcess) -> None:
    gateway.reset_stats()
    body = text_body(LITE_T2V, prompt="counted twice")

    first = create(api, body)
    second = create(api, body)
    create(api, text_body(LITE_T2V, prompt="counted once"))
    api.post(TASKS, json=text_body("no-such-model"))
    api.get(TASKS)
    stats = gateway.stats()

    assert stats["requests"] == {"create": 4, "get": 0, "list": 1, "delete": 0, "files": 0}
    assert sorted(stats["creates"].values()) == [1, 2]
    assert (stats["tasks_created"], stats["duplicate_creates"]) == (3, 1)
    for task_id in (first, second):
        wait_for(api, task_id)


def test_a_final_render_inherits_its_draft(api: httpx.Client) -> None:
    draft = generate(api, text_body(PRO_1_5, draft=True, ratio="3:4", seed=99, generate_audio=False))
    assert (draft["draft"], draft["resolution"]) == (True, "480p")

    final = generate(api, {"model": PRO_1_5, "content": [{"type": "draft_task", "draft_task": {"id": draft["id"]}}]})

    assert (final["draft"], final["draft_task_id"]) == (False, draft["id"])
    assert (final["seed"], final["ratio"], final["duration"], final["generate_audio"]) == (99, "3:4", 4, False)
    assert final["resolution"] == "720p"


@pytest.mark.parametrize("draft_id", ["cgt-20200101000000-nodft", None])
def test_a_draft_task_must_be_a_finished_draft(api: httpx.Client, draft_id: str | None) -> None:
    if draft_id is None:
        draft_id = generate(api, text_body(PRO_1_5))["id"]  # finished, but not a draft

    response = api.post(TASKS, json={"model": PRO_1_5, "content": [{"type": "draft_task", "draft_task": {"id": draft_id}}]})

    assert error_of(response, 400)["param"] == "content[0].draft_task.id"
