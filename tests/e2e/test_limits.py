"""A gateway's limits as Prefect global concurrency limits, held by real flows against real gateways."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from pydantic import SecretStr

from blocks.gateway import SeedanceGateway
from flows.batch import generate_batch
from flows.generate import generate_video
from flows.steps import Submission, submit
from local_gateway.devstack import DevStack
from local_gateway.faults import FaultKind, FaultPlan
from seedance.ark.client import ArkClient
from seedance.errors import GenerationFailedError
from seedance.manifest import load_manifest
from seedance.media import probe
from seedance.spec import GenerationSpec
from tasks.limits import NoFreeSlot, TaskSlots, ensure_limits
from tests.conftest import GatewayFactory, GatewayProcess
from tests.e2e.support import flow_run_logs

pytestmark = pytest.mark.e2e

LITE_T2V = "doubao-seedance-1-0-lite-t2v-250428"
MANIFEST = f"""
defaults: {{model: {LITE_T2V}, resolution: 480p, duration: 2}}
items:
  - {{name: rain, prompt: rain on a window}}
  - {{name: snow, prompt: snow on a roof}}
  - {{name: fog, prompt: fog over a lake}}
  - {{name: wind, prompt: wind in the grass}}
  - {{name: hail, prompt: hail on a car}}
  - {{name: sun, prompt: sun through the leaves}}
"""


def lite(prompt: str) -> GenerationSpec:
    return GenerationSpec(model=LITE_T2V, prompt=prompt, resolution="480p", duration=2)


def save_gateway(name: str, base_url: str, api_key: str, **limits: int) -> SeedanceGateway:
    SeedanceGateway(base_url=base_url, api_key=SecretStr(api_key), **limits).save(name, overwrite=True)
    return SeedanceGateway.resolve(name)


def read_limit(name: str) -> GlobalConcurrencyLimitResponse:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name)


@flow
def submit_without_waiting_for_a_slot(spec: GenerationSpec, gateway: str) -> Submission:
    """Create (or resume) the task of `spec` and return at once; NoFreeSlot when it needs a slot and none is free."""
    block = SeedanceGateway.resolve(gateway)
    ensure_limits(block)
    with TaskSlots(block) as slots:
        return submit(spec, block, None, None, None, slots, slot_wait=0)


@pytest.fixture(scope="module")
def slow_gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    """Tasks take 2 s, longer than the flow needs to submit the next: unlimited, the batch would have
    five or six in flight at once."""
    return gateway_factory(latency=2.0)


@pytest.fixture(scope="module")
def resume_gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    """Tasks take 10 s: a later run resumes them unfinished, and they end while it waits for a slot."""
    return gateway_factory(latency=10.0)


@pytest.fixture(scope="module")
def patient_gateway(gateway_factory: GatewayFactory) -> GatewayProcess:
    """Tasks stay queued for 150 s: a test can find one unfinished, then cancel it, even when the Prefect
    server stalls for a minute in between (as the suite's SQLite server has, after a create)."""
    return gateway_factory(latency=300.0)


def test_a_batch_never_has_more_tasks_in_flight_than_the_gateway_allows(
    prefect_api: None, slow_gateway: GatewayProcess, tmp_path: Path
) -> None:
    save_gateway("two-at-a-time", slow_gateway.base_url, slow_gateway.api_key, max_concurrent_tasks=2)
    (tmp_path / "batch.yaml").write_text(MANIFEST)
    slow_gateway.reset_stats()
    result = generate_batch(items=load_manifest(tmp_path / "batch.yaml"), out_dir=str(tmp_path / "out"), gateway="two-at-a-time")

    stats = slow_gateway.stats()
    assert stats["tasks_created"] == 6
    assert stats["peak_in_flight"] <= 2
    assert result.succeeded == 6
    for item in result.items:
        assert item.result is not None
        assert (probe(item.result.files.video).width, probe(item.result.files.video).height) == (864, 480)
    limit = read_limit("seedance-tasks-two-at-a-time")
    assert (limit.limit, limit.active_slots) == (2, 0)


def test_a_failed_task_gives_its_slot_back(prefect_api: None, local_blocks: DevStack, tmp_path: Path) -> None:
    save_gateway("one-at-a-time", local_blocks.gateway_url, local_blocks.api_key, max_concurrent_tasks=1)
    faults = f"{local_blocks.gateway_url.removesuffix('/api/v3')}/_local/faults"
    plan = FaultPlan(rates={FaultKind.TASK_FAILURE: 1.0}, limit=1, task_failure_code="InternalServiceError")
    httpx.post(faults, content=plan.model_dump_json(), timeout=5).raise_for_status()
    try:
        with pytest.raises(GenerationFailedError, match="InternalServiceError"):
            generate_video(spec=lite("a failing task"), out_dir=str(tmp_path / "failed"), gateway="one-at-a-time")
    finally:
        httpx.post(faults, content=FaultPlan().model_dump_json(), timeout=5).raise_for_status()

    assert read_limit("seedance-tasks-one-at-a-time").active_slots == 0
    result = generate_video(spec=lite("the next task"), out_dir=str(tmp_path / "next"), gateway="one-at-a-time")
    assert result.files.video.exists()


def test_each_create_takes_a_slot_of_the_create_rate(prefect_api: None, local_blocks: DevStack, tmp_path: Path) -> None:
    save_gateway("one-per-minute", local_blocks.gateway_url, local_blocks.api_key, requests_per_minute=1)
    started = time.monotonic()
    generate_video(spec=lite("a paced create"), out_dir=str(tmp_path / "out"), gateway="one-per-minute")
    creates = read_limit("seedance-creates-one-per-minute")
    assert creates.limit == 1
    # The slot decays after a minute, so it can only be seen when the run took less. A CI run once took
    # 62 s: the test's SQLite Prefect server held its write lock for 60 s (its busy timeout) mid-run.
    if time.monotonic() - started < 60:
        assert creates.active_slots == 1  # the next create waits for it to decay


def test_a_resumed_task_holds_a_slot_only_while_it_is_unfinished(prefect_api: None, patient_gateway: GatewayProcess) -> None:
    gateway = save_gateway("resume-one", patient_gateway.base_url, patient_gateway.api_key, max_concurrent_tasks=1)
    spec = lite("a task resumed by a later run")
    created = submit_without_waiting_for_a_slot(spec, "resume-one")

    with TaskSlots(gateway) as another_run:
        another_run.take("another run's task")
        with pytest.raises(NoFreeSlot):
            submit_without_waiting_for_a_slot(spec, "resume-one")  # still queued upstream: it needs the slot
        httpx.delete(
            f"{patient_gateway.base_url}/contents/generations/tasks/{created.task_id}",
            headers={"Authorization": f"Bearer {patient_gateway.api_key}"},
            timeout=5,
        ).raise_for_status()
        resumed = submit_without_waiting_for_a_slot(spec, "resume-one")  # cancelled, so terminal: no slot needed

    assert (resumed.resumed, resumed.task_id) == (True, created.task_id)


def test_task_slots_are_strict_and_all_given_back_however_the_run_ends(prefect_api: None) -> None:
    gateway = SeedanceGateway(base_url="http://127.0.0.1:9/api/v3", api_key=SecretStr("k"), max_concurrent_tasks=1)
    gateway._block_document_name = "slots-probe"
    with pytest.raises(ConcurrencySlotAcquisitionError, match="seedance-tasks-slots-probe does not exist"):
        with TaskSlots(gateway) as slots:
            slots.take("a")

    ensure_limits(gateway)
    with pytest.raises(RuntimeError, match="the run failed"):
        with TaskSlots(gateway) as slots:
            slots.take("a")
            slots.take("a")  # held already: still one slot
            with TaskSlots(gateway) as others:
                started = time.monotonic()
                with pytest.raises(NoFreeSlot):
                    others.take("b", wait=0.5)
                assert time.monotonic() - started >= 0.5
            assert read_limit("seedance-tasks-slots-probe").active_slots == 1
            raise RuntimeError("the run failed")
    assert read_limit("seedance-tasks-slots-probe").active_slots == 0


def test_a_take_waiting_on_the_runs_own_slots_wakes_when_one_of_its_leases_is_found_expired(prefect_api: None) -> None:
    """A lease the server let lapse (a long outage, a restart: Prefect keeps leases in memory) frees a
    slot without any `give_back`; a take waiting on the run's own slots must ask the server again."""
    gateway = SeedanceGateway(base_url="http://127.0.0.1:9/api/v3", api_key=SecretStr("k"), max_concurrent_tasks=1)
    gateway._block_document_name = "lapse-probe"
    ensure_limits(gateway)
    with TaskSlots(gateway) as slots:
        slots.take("a")
        waiting = threading.Thread(target=slots.take, args=("b",), daemon=True)
        waiting.start()
        time.sleep(0.5)
        assert waiting.is_alive()  # it waits for the run's only slot
        lease = slots._leases["a"]
        with get_client(sync_client=True) as client:
            client.release_concurrency_slots_with_lease(lease)  # as the server's sweep does to a lapsed lease
        gone = httpx.Response(410, request=httpx.Request("POST", "http://prefect/leases"))
        slots._renewal_failed("a", httpx.HTTPStatusError("lease expired", request=gone.request, response=gone))
        waiting.join(timeout=10)
        assert not waiting.is_alive(), "the waiting take never asked the server again"
        assert set(slots._leases) == {"b"}
    assert read_limit("seedance-tasks-lapse-probe").active_slots == 0


def test_the_limits_follow_the_block(prefect_api: None) -> None:
    gateway = SeedanceGateway(api_key=SecretStr("k"), max_concurrent_tasks=2, requests_per_minute=90)
    gateway._block_document_name = "follow-probe"
    ensure_limits(gateway)
    tasks, creates = read_limit("seedance-tasks-follow-probe"), read_limit("seedance-creates-follow-probe")
    assert (tasks.limit, tasks.slot_decay_per_second) == (2, 0.0)
    assert (creates.limit, creates.slot_decay_per_second) == (90, 1.5)

    changed = gateway.model_copy(update={"max_concurrent_tasks": 5})
    changed._block_document_name = "follow-probe"
    ensure_limits(changed)
    assert read_limit("seedance-tasks-follow-probe").limit == 5


@contextmanager
def a_dead_runs_slot(gateway: SeedanceGateway) -> Iterator[threading.Event]:
    """Hold every slot of the gateway's task limit, as a run killed with its tasks in flight does
    until its leases lapse; they are given back after 60 s at the latest, the event then set."""
    assert gateway.max_concurrent_tasks is not None
    keys = [f"a dead run's task {n}" for n in range(gateway.max_concurrent_tasks)]
    given_back = threading.Event()
    ensure_limits(gateway)
    with TaskSlots(gateway) as dead:
        for key in keys:
            dead.take(key)

        def give_back() -> None:
            given_back.set()
            for key in keys:
                dead.give_back(key)

        safety = threading.Timer(60, give_back)
        safety.start()
        try:
            yield given_back
        finally:
            safety.cancel()


def test_a_resumed_task_that_ends_while_waiting_for_a_slot_stops_waiting(
    prefect_api: None, resume_gateway: GatewayProcess, tmp_path: Path
) -> None:
    gateway = save_gateway("resume-wait", resume_gateway.base_url, resume_gateway.api_key, max_concurrent_tasks=1)
    spec = lite("a task whose run died")
    before = resume_gateway.stats()["tasks_created"]
    created = submit_without_waiting_for_a_slot(spec, "resume-wait")

    with a_dead_runs_slot(gateway) as given_back:
        with ArkClient(resume_gateway.base_url, resume_gateway.api_key) as ark:
            unfinished = ark.get_task(created.task_id).status.value in ("queued", "running")
        state: Any = generate_video(spec=spec, out_dir=str(tmp_path / "out"), gateway="resume-wait", return_state=True)
        assert not given_back.is_set()  # the wait ended with the task, not with the dead run's lease

    result = state.result()
    assert (result.resumed, result.task_id) == (True, created.task_id)
    lines = flow_run_logs(state.state_details.flow_run_id, "video ready")
    waits = [line for line in lines if "waiting for a slot of seedance-tasks-resume-wait" in line]
    if unfinished:
        assert len(waits) == 1 and created.task_id in waits[0], lines
    else:  # its 10 s were over before this run began (a CI run's Prefect server once stalled for 60 s): no slot needed
        assert waits == [], lines
    assert resume_gateway.stats()["tasks_created"] == before + 1


def test_a_batch_resuming_tasks_while_their_slots_are_held_resumes_each_once(
    prefect_api: None, resume_gateway: GatewayProcess, tmp_path: Path
) -> None:
    """Items waiting for a slot are submitted once: their resume (its line, its look at the task) is not repeated."""
    save_gateway("resume-batch-first", resume_gateway.base_url, resume_gateway.api_key)
    gateway = save_gateway("resume-batch", resume_gateway.base_url, resume_gateway.api_key, max_concurrent_tasks=1)
    specs = [lite("a batch item whose run died"), lite("another batch item whose run died")]
    created = [submit_without_waiting_for_a_slot(spec, "resume-batch-first").task_id for spec in specs]
    (tmp_path / "batch.yaml").write_text(
        f"defaults: {{model: {LITE_T2V}, resolution: 480p, duration: 2}}\n"
        "items:\n"
        f"  - {{name: first, prompt: {specs[0].prompt}}}\n"
        f"  - {{name: second, prompt: {specs[1].prompt}}}\n"
    )
    before = resume_gateway.stats()["tasks_created"]

    with a_dead_runs_slot(gateway) as given_back:
        state: Any = generate_batch(
            items=load_manifest(tmp_path / "batch.yaml"), out_dir=str(tmp_path / "out"), gateway="resume-batch", return_state=True
        )
        assert not given_back.is_set()

    assert state.result().succeeded == 2
    assert resume_gateway.stats()["tasks_created"] == before
    lines = flow_run_logs(state.state_details.flow_run_id, "batch done")
    for task_id in created:
        assert len([line for line in lines if line.startswith(f"resuming task {task_id}")]) == 1, lines
