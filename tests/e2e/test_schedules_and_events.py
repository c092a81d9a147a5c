"""Pipelines that run themselves, on a real `prefect server start` (PostgreSQL) with one process worker:
the in-process test server never evaluates triggers, and its scheduler is not the production one.

The project's own prefect.yaml is deployed, its crons turned to every minute and its runs working in
the worker's folder: the blocks are saved under the names it ships with, and the schedules and the
trigger are switched on the way the README says. The schedules start ticking as the module starts, so the
tests that wait for ticks come last and the others run meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from local_gateway.devstack import DevStack
from local_gateway.postgres import LocalPostgres
from seedance.media import probe
from tests.conftest import GatewayFactory, GatewayProcess
from tests.e2e.production import BIN, ROOT, PrefectServer, Worker, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.long]

API_KEY = "events-gateway-key-3c9e"
BUCKET = "seedance-assets"  # the bucket prefect.yaml's daily-batch manifest names
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
LITE = {"model": "doubao-seedance-1-0-lite-t2v-250428", "resolution": "480p", "duration": 2}
FAULT_SEED = "4"  # its first draw makes the create land late: the run reconciles, then more faults follow


class Deployed:
    """The running parts and the verbs the tests use on them."""

    def __init__(self, server: PrefectServer, stack: DevStack, faulty: GatewayProcess, root: Path, media: Path) -> None:
        self.server, self.stack, self.faulty, self.root, self.media = server, stack, faulty, root, media
        self.home = root / "operator"
        self.api = httpx.Client(base_url=server.api_url, timeout=30)
        self.worker: Worker | None = None
        self.switched_on = 0.0

    def cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [str(BIN / "seedance"), *args],
            cwd=self.root,
            env={**self.server.env(self.home), **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def deployment(self, flow: str, name: str) -> dict[str, Any]:
        return self.api.get(f"/deployments/name/{flow}/{name}").json()

    def runs(self, deployment: dict[str, Any], states: set[str] | None = None) -> list[dict[str, Any]]:
        """The deployment's flow runs, oldest expected start first (`states`: only those)."""
        body: dict[str, Any] = {"flow_runs": {"deployment_id": {"any_": [deployment["id"]]}}, "sort": "EXPECTED_START_TIME_ASC"}
        if states:
            body["flow_runs"]["state"] = {"type": {"any_": sorted(states)}}
        return self.api.post("/flow_runs/filter", json=body).json()

    def run(self, run_id: str) -> dict[str, Any]:
        return self.api.get(f"/flow_runs/{run_id}").json()

    def wait_terminal(self, run_id: str, timeout: float) -> dict[str, Any]:
        wait_until(lambda: self.run(run_id)["state_type"] in TERMINAL, timeout, f"flow run {run_id} to finish")
        return self.run(run_id)

    def logs(self, run_id: str) -> list[str]:
        """Every log line of a flow run (its tasks' too), read back through the Prefect API."""
        lines: list[str] = []
        while True:
            page = self.api.post(
                "/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200, "offset": len(lines)}
            ).json()
            lines += [entry["message"] for entry in page]
            if len(page) < 200:
                return lines

    def events(self, prefix: str, related_run: str | None = None) -> list[dict[str, Any]]:
        """Events named `prefix…` from the last hour (about flow run `related_run`, if given)."""
        query: dict[str, Any] = {
            "event": {"prefix": [prefix]},
            "occurred": {"since": datetime.fromtimestamp(time.time() - 3600, tz=UTC).isoformat()},
        }
        if related_run:
            query["related"] = {"id": [f"prefect.flow-run.{related_run}"]}
        return self.api.post("/events/filter", json={"filter": query, "limit": 50}).json()["events"]

    def put(self, key: str, body: bytes) -> None:
        self.stack.s3_client().put_object(Bucket=BUCKET, Key=key, Body=body)

    def s3_video(self, prefix: str) -> Path:
        """The video a run kept under `s3://<bucket>/<prefix>/<task id>/` (prefect.yaml's out_dirs are
        on S3), fetched to a local file to probe."""
        s3 = self.stack.s3_client()
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/").get("Contents", [])]
        videos = [key for key in keys if key.endswith(".mp4")]
        assert videos, f"no video under s3://{BUCKET}/{prefix}/: {keys}"
        local = self.root / "fetched" / videos[0]
        local.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(BUCKET, videos[0], str(local))
        return local


def as_deployed_here(prefect_yaml: str) -> str:
    """The project's prefect.yaml with each cron made to tick every minute."""
    config = yaml.safe_load(prefect_yaml)
    for deployment in config["deployments"]:
        for schedule in deployment.get("schedules", []):
            schedule["cron"] = "* * * * *"
    return yaml.safe_dump(config, sort_keys=False)


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, postgres: LocalPostgres, gateway_factory: GatewayFactory, media_dir: Path
) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("self-running")
    faulty = gateway_factory("--faults", "0.3", "--slow-seconds", "2", "--fault-seed", FAULT_SEED, latency=1.5)
    with (
        # the scheduler looks for due schedules every 5 s instead of 60
        PrefectServer(
            root / "server",
            postgres.create_database("self_running"),
            extra_env={"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5"},
        ) as server,
        DevStack(api_key=API_KEY, latency=0.5, bucket=BUCKET, log_dir=root / "stack-logs") as stack,
    ):
        running = Deployed(server, stack, faulty, root, media_dir)
        running.cli("blocks", "save-gateway", "volcengine", "--base-url", stack.gateway_url, env={"ARK_API_KEY": API_KEY})
        running.cli("blocks", "save-gateway", "faulty", "--base-url", faulty.base_url, env={"ARK_API_KEY": faulty.api_key})
        running.cli(
            "blocks",
            "save-bucket",
            BUCKET,
            "--bucket",
            BUCKET,
            "--endpoint-url",
            stack.s3_endpoint,
            "--region",
            "us-east-1",
            env={"AWS_ACCESS_KEY_ID": stack.s3_access_key, "AWS_SECRET_ACCESS_KEY": stack.s3_secret_key},
        )
        running.put("manifests/daily.yaml", yaml.safe_dump(DAILY_MANIFEST).encode())
        running.put("manifests/lantern.jpg", (media_dir / "frame_640x360.jpg").read_bytes())
        worker_env = {
            **server.env(running.home),
            "SEEDANCE_POLL_INITIAL_SECONDS": "0.3",
            "SEEDANCE_POLL_MAX_SECONDS": "1",
            "SEEDANCE_TASK_RETRY_BASE_SECONDS": "0.2",
        }
        running.worker = Worker("machine", root / "worker-home", root / "worker-folder", worker_env).start()
        wait_until(lambda: running.api.get("/work_pools/seedance").status_code == 200, 60, "the worker to create the pool")
        project = root / "project"
        project.mkdir()
        (project / "prefect.yaml").write_text(as_deployed_here((ROOT / "prefect.yaml").read_text()))
        server.prefect(running.home, "deploy", "--all", cwd=project)
        for deployment in ("generate-video/scheduled-video", "generate-batch/daily-batch"):  # the README's two commands
            schedules = json.loads(server.prefect(running.home, "deployment", "schedule", "ls", deployment, "-o", "json"))
            server.prefect(running.home, "deployment", "schedule", "resume", deployment, schedules[0]["id"])
        server.prefect(running.home, "automation", "resume", "seedance-asset-created")
        running.switched_on = time.time()
        try:
            yield running
        finally:
            running.worker.stop()
            running.api.close()


# -- event-triggered generation --------------------------------------------------------------------


class Watcher:
    """`seedance watch s3://…/incoming/` as a process of its own, with its own state folder."""

    def __init__(self, deployed: Deployed) -> None:
        self.deployed = deployed
        self.log = deployed.root / "watcher.log"
        self.log.touch()
        self.process: subprocess.Popen[str] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [str(BIN / "seedance"), "watch", f"s3://{BUCKET}/incoming/", "--bucket", BUCKET, "--interval", "0.5"],
                cwd=self.deployed.root,
                env={**self.deployed.server.env(self.deployed.home), "SEEDANCE_STATE_DIR": str(self.deployed.root / "watcher")},
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        wait_until(lambda: self.output().count("watching s3://") > self.starts, 60, "the watcher to start")
        self.starts += 1

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)


def test_a_new_s3_object_becomes_one_video_even_when_the_watcher_restarts(deployed: Deployed) -> None:
    assets = deployed.deployment("generate-from-asset", "generate-from-asset")
    watcher = Watcher(deployed)
    watcher.start()
    wait_until(lambda: "already there" in watcher.output(), 60, "the watcher's first look")
    frame = (deployed.media / "frame_640x360.jpg").read_bytes()
    deployed.put("incoming/lantern.jpg", frame)
    wait_until(lambda: len(deployed.runs(assets)) == 1, 60, "the triggered run")
    watcher.stop()
    deployed.put("incoming/harbour-boat.jpg", frame)  # arrives while nobody watches
    watcher.start()
    wait_until(lambda: len(deployed.runs(assets)) == 2, 60, "the run for what arrived while the watcher was down")
    time.sleep(3)  # six more looks: nothing may be reported again

    runs = deployed.runs(assets)
    assert len(runs) == 2
    finished = [deployed.wait_terminal(run["id"], 120) for run in runs]
    assert [run["state_type"] for run in finished] == ["COMPLETED", "COMPLETED"], [run["state"] for run in finished]
    assert sorted(run["name"] for run in finished) == ["harbour-boat · 2.0 · 720p", "lantern · 2.0 · 720p"]
    assert watcher.output().count("reported seedance.asset.s3://") == 2
    watcher.stop()
    for stem in ("lantern", "harbour-boat"):
        video = probe(deployed.s3_video(f"assets/{stem}"))
        assert (video.kind, video.width, video.height) == ("video", 1280, 720)  # the 640x360 first frame's 16:9

    # used in place: no reference was uploaded, the objects were fetched where they lie
    requests = deployed.stack.s3_requests()
    assert not [path for method, path in requests if method == "PUT" and "/inputs/" in path]
    assert ("GET", f"/{BUCKET}/incoming/lantern.jpg") in requests

    # the pipeline spoke: one submitted and one succeeded event per generation, about its upstream task
    run = finished[0]["id"]
    wait_until(lambda: len(deployed.events("seedance.generation.succeeded", run)) == 1, 30, "the succeeded event")
    submitted, succeeded = (
        deployed.events("seedance.generation.submitted", run),
        deployed.events("seedance.generation.succeeded", run),
    )
    assert (
        len(submitted) == 1 and submitted[0]["resource"]["prefect.resource.id"] == succeeded[0]["resource"]["prefect.resource.id"]
    )
    assert succeeded[0]["resource"]["prefect.resource.id"].startswith("seedance.task.cgt-")
    roles = {related["prefect.resource.role"]: related["prefect.resource.id"] for related in succeeded[0]["related"]}
    assert roles["flow-run"] == f"prefect.flow-run.{run}"
    assert (roles["gateway"], roles["model"]) == ("seedance.gateway.volcengine", "seedance.model.doubao-seedance-2-0-260128")
    payload = succeeded[0]["payload"]
    assert payload["cost"]["currency"] == "CNY" and float(payload["cost"]["billed"]) > 0
    assert payload["outputs"]["video"].endswith(".mp4")


def test_a_malformed_asset_event_fails_a_run_that_says_why(deployed: Deployed) -> None:
    assets = deployed.deployment("generate-from-asset", "generate-from-asset")
    deployed.server.prefect(
        deployed.home, "event", "emit", "seedance.asset.created", "--resource-id", "seedance.asset.photo-of-the-day"
    )
    wait_until(
        lambda: any(run["parameters"].get("asset") == "seedance.asset.photo-of-the-day" for run in deployed.runs(assets)),
        60,
        "a run for the malformed event",
    )
    run = next(run for run in deployed.runs(assets) if run["parameters"]["asset"] == "seedance.asset.photo-of-the-day")
    finished = deployed.wait_terminal(run["id"], 120)
    assert finished["state_type"] == "FAILED"
    assert "'seedance.asset.photo-of-the-day' names no object" in finished["state"]["message"]
    assert "expected seedance.asset.s3://bucket/key" in finished["state"]["message"]


# -- watchable: every fault in the run's logs ------------------------------------------------------

EVIDENCE = {
    "refused": r"RateLimitError|QuotaExceededError",
    "server error": r"ServerError",
    "outcome unknown": r"outcome unknown",
    "timed out": r"ArkTimeoutError",
    "task failed": r"ended failed",
    "download cut": r"download of \S+ (interrupted|stopped at)",
    "url expired": r"ResultURLExpiredError",
}
"""What the run's logs say for each sort of fault (see `evidence_of`)."""


def evidence_of(kind: str, method: str) -> str:
    """The sort of log line a fault of `kind` on a `method` request leaves: a create that may or may
    not have landed is reconciled, whatever cut it short; a read is retried, naming its error."""
    if kind == "rate-limit":
        return "refused"
    if method == "POST" and kind in ("server-error", "drop-before-create", "drop-after-create", "slow", "late-create"):
        return "outcome unknown"
    return {
        "server-error": "server error",
        "completion-500": "server error",
        "slow": "timed out",
        "task-failure": "task failed",
        "truncated-download": "download cut",
        "expired-url": "url expired",
    }[kind]


def test_every_injected_fault_that_touched_a_run_is_a_line_in_its_logs(deployed: Deployed) -> None:
    deployment = deployed.deployment("generate-video", "generate-video")
    created = deployed.api.post(
        f"/deployments/{deployment['id']}/create_flow_run",
        json={
            "parameters": {"spec": {**LITE, "prompt": "rain on a window, under faults"}, "gateway": "faulty", "name": "faulty"},
            # shorter than the gateway's slow answers (2 s), so those are seen; reconciling waits past them
            "job_variables": {"env": {"SEEDANCE_API_READ_TIMEOUT_SECONDS": "1", "SEEDANCE_RECONCILE_SETTLE_SECONDS": "3"}},
        },
    )
    created.raise_for_status()
    run = deployed.wait_terminal(created.json()["id"], 180)
    assert run["state_type"] in ("COMPLETED", "FAILED"), run["state"]

    faults = re.findall(r"fault (\S+) on (\S+) (\S+)", deployed.faulty.log_path.read_text())
    assert len(faults) == sum(deployed.faulty.stats()["faults"].values()) >= 2
    expected: dict[str, int] = {}
    for kind, method, _ in faults:
        sort = evidence_of(kind, method)
        expected[sort] = expected.get(sort, 0) + 1

    def found() -> dict[str, int]:
        logs = deployed.logs(run["id"])
        return {sort: sum(bool(re.search(EVIDENCE[sort], line)) for line in logs) for sort in expected}

    # the run's last lines reach the API as its process exits, a moment after its final state
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: all(found()[sort] >= count for sort, count in expected.items()), 30, "a log line per fault")
    assert all(found()[sort] >= count for sort, count in expected.items()), "\n".join(
        [f"faults: {faults}", f"expected: {expected}", f"found: {found()}", *deployed.logs(run["id"])]
    )


# -- schedules -------------------------------------------------------------------------------------

DAILY_MANIFEST = {
    "defaults": {"resolution": "480p"},
    "items": [
        {"name": "rain", "prompt": "rain on a window", **LITE},
        {
            "name": "lantern",
            "model": "doubao-seedance-2-0-260128",
            "prompt": "the lantern drifts away",
            "references": [{"url": "lantern.jpg", "role": "first_frame"}],  # beside the manifest: used in place
            "ratio": "adaptive",
            "duration": 4,
        },
    ],
}


def test_a_scheduled_batch_reads_its_manifest_from_s3_as_it_is_on_the_day(deployed: Deployed) -> None:
    daily = deployed.deployment("generate-batch", "daily-batch")
    wait_until(lambda: len(deployed.runs(daily, {"COMPLETED", "FAILED", "CRASHED"})) >= 1, 150, "the daily batch's first tick")
    first = deployed.runs(daily, {"COMPLETED", "FAILED", "CRASHED"})[0]
    assert first["state_type"] == "COMPLETED", first["state"]
    assert first["name"] == "batch · daily"
    assert probe(deployed.s3_video("daily/lantern")).kind == "video"

    edited = {**DAILY_MANIFEST, "items": [*DAILY_MANIFEST["items"], {"name": "snow", "prompt": "snow on a roof", **LITE}]}
    deployed.put("manifests/daily.yaml", yaml.safe_dump(edited).encode())
    # a run may start up to half a second before its scheduled time (Prefect rounds the wait to whole
    # seconds): only a tick scheduled a second after the edit is sure to read the edited manifest
    edited_at = datetime.now(UTC) + timedelta(seconds=1)

    def ticks_since_the_edit() -> list[dict[str, Any]]:
        done = deployed.runs(daily, {"COMPLETED", "FAILED", "CRASHED"})
        return [run for run in done if datetime.fromisoformat(run["expected_start_time"]) > edited_at]

    wait_until(lambda: len(ticks_since_the_edit()) >= 1, 150, "a tick after the edit")
    second = ticks_since_the_edit()[0]
    assert second["state_type"] == "COMPLETED", second["state"]

    def read_the_edit() -> bool:
        return any("3 item(s): rain, lantern, snow" in line for line in deployed.logs(second["id"]))

    # the run's lines reach the API in batches, the last as its process exits, after its final state
    with contextlib.suppress(TimeoutError):
        wait_until(read_the_edit, 30, f"the edited manifest's line in the logs of run {second['id']}")
    assert read_the_edit(), "\n".join(deployed.logs(second["id"]))
    assert probe(deployed.s3_video("daily/snow")).kind == "video"
    # only snow is a new generation: rain and lantern resume the first tick's tasks, whose events were sent then.
    # A run's last log lines and events reach the API a moment after its final state: both are waited for.

    def both_resumed() -> bool:
        return sum("resuming task" in line for line in deployed.logs(second["id"])) >= 2

    def submitted() -> list[bool]:
        runs = ticks_since_the_edit()
        return [
            event["payload"]["resumed"] for run in runs for event in deployed.events("seedance.generation.submitted", run["id"])
        ]

    wait_until(both_resumed, 30, f"two 'resuming task' lines in the logs of run {second['id']}")
    wait_until(lambda: len(submitted()) >= 1, 30, "the submitted event of the tick after the edit")
    assert submitted() == [False]


def test_each_cron_tick_is_a_new_video_and_a_retry_of_a_tick_resumes_it(deployed: Deployed) -> None:
    scheduled = deployed.deployment("generate-video", "scheduled-video")
    assert scheduled["parameters"]["spec"]["prompt"].startswith("The harbour wakes up")  # kept when switched on

    def ticks() -> list[dict[str, Any]]:
        return deployed.runs(scheduled, {"COMPLETED", "FAILED", "CRASHED"})

    def task_of(run_id: str) -> dict[str, Any]:
        wait_until(lambda: len(deployed.events("seedance.generation.succeeded", run_id)) >= 1, 30, "the succeeded event")
        return deployed.events("seedance.generation.succeeded", run_id)[0]

    wait_until(lambda: len(ticks()) >= 1, 150, "the first tick")
    first = ticks()[0]
    assert (first["state_type"], first["name"]) == ("COMPLETED", "morning-harbour · 2.0 · 720p"), first["state"]
    first_task = task_of(first["id"])

    # a retry of the same tick (the UI's retry) resumes its task: no new generation, no second event
    deployed.api.post(
        f"/flow_runs/{first['id']}/set_state",
        json={"state": {"type": "SCHEDULED", "name": "AwaitingRetry"}, "force": True},
    ).raise_for_status()
    wait_until(lambda: deployed.run(first["id"])["run_count"] >= 2, 60, "the retried tick to start")
    retried = deployed.wait_terminal(first["id"], 120)
    assert retried["state_type"] == "COMPLETED", retried["state"]
    task_id = first_task["resource"]["prefect.resource.id"].removeprefix("seedance.task.")
    # the run's last lines reach the API as its process exits, a moment after its final state
    wait_until(lambda: sum("video ready" in line for line in deployed.logs(first["id"])) == 2, 30, "the retry's logs")
    assert any(f"resuming task {task_id} created by an earlier run" in line for line in deployed.logs(first["id"]))
    time.sleep(2)  # the retry's own succeeded event, sent before its last log line, has had time to be stored
    assert len(deployed.events("seedance.generation.succeeded", first["id"])) == 1

    wait_until(lambda: len(ticks()) >= 2, 150, "the second tick")
    second = ticks()[1]
    assert second["state_type"] == "COMPLETED", second["state"]
    second_task = task_of(second["id"])
    assert second_task["resource"]["prefect.resource.id"] != first_task["resource"]["prefect.resource.id"]
    assert second_task["payload"]["video"]["sha256"] != first_task["payload"]["video"]["sha256"]
    progress = deployed.api.post(
        "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [second["id"]]}, "type": {"any_": ["progress"]}}}
    ).json()
    assert [(artifact["key"], artifact["data"]) for artifact in progress] == [("morning-harbour-progress", 100.0)]
    assert progress[0]["description"].startswith("task cgt-") and "succeeded after" in progress[0]["description"]
