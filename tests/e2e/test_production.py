"""Many workers, one truth: the pipeline deployed on a Prefect server (PostgreSQL) with two workers
that share nothing but the server, the state database and S3 (two machines in all but hardware).

One scenario, in phases that share the servers (starting them costs most of the time):
1. 12 deployment runs with distinct specs plus one spec started twice at once, under a gateway limit
   of 3 tasks in flight: every video lands once in S3, no create is duplicated, the gateway never
   holds more than 3.
2. A worker and its flow-run processes are SIGKILLed while their generations wait; the same
   generations run again on the other worker resume their upstream tasks: 0 new creates.
3. A budget shared by both workers is never exceeded: runs past it are refused before any create.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_gateway.devstack import DevStack
from local_gateway.postgres import LocalPostgres
from tests.e2e.production import BIN, ROOT, PrefectServer, Worker, wait_until
from tests.e2e.support import gateway_stats

pytestmark = [pytest.mark.e2e, pytest.mark.long]

API_KEY = "production-gateway-key-8e1d"
LIMIT = 3
LATENCY = 5.0
PRICE = Decimal("0.1944")  # 1.0-lite, 480p, 2 s: 19,440 tokens at 10 CNY per million
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def spec(n: int) -> dict[str, Any]:
    return {
        "model": "doubao-seedance-1-0-lite-t2v-250428",
        "prompt": f"harbour scene number {n}",
        "resolution": "480p",
        "duration": 2,
    }


class Production:
    """The running parts of the scenario and the verbs the test uses on them."""

    def __init__(self, server: PrefectServer, stack: DevStack, state_url: str, root: Path) -> None:
        self.server, self.stack, self.state_url, self.root = server, stack, state_url, root
        self.home = root / "operator"
        self.api = httpx.Client(base_url=server.api_url, timeout=30)
        self.workers: dict[str, Worker] = {}

    def worker_env(self, budget: str) -> dict[str, str]:
        return {
            **self.server.env(self.home),
            "SEEDANCE_STATE_URL": self.state_url,
            "SEEDANCE_BUDGET": budget,
            "SEEDANCE_POLL_INITIAL_SECONDS": "0.5",
            "SEEDANCE_POLL_MAX_SECONDS": "1",
            "SEEDANCE_SLOT_LEASE_SECONDS": "15",
        }

    def start_worker(self, name: str, budget: str) -> Worker:
        if name in self.workers:
            self.workers[name].stop()
        worker = Worker(name, self.root / f"{name}-home", self.root / f"{name}-folder", self.worker_env(budget)).start()
        self.workers[name] = worker
        return worker

    def cli(self, *args: str, env: dict[str, str]) -> str:
        done = subprocess.run(
            [str(BIN / "seedance"), *args],
            cwd=self.root,
            env={**self.server.env(self.home), **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def run_deployment(self, parameters: dict[str, Any]) -> str:
        deployment = self.api.get("/deployments/name/generate-video/generate-video").json()
        created = self.api.post(f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": parameters})
        created.raise_for_status()
        return str(created.json()["id"])

    def parameters(self, n: int) -> dict[str, Any]:
        return {
            "spec": spec(n),
            "gateway": "local",
            "bucket": "assets",
            "out_dir": "s3://seedance-assets/outputs",
            "name": f"scene-{n}",
        }

    def states(self, run_ids: list[str]) -> dict[str, str]:
        runs = self.api.post("/flow_runs/filter", json={"flow_runs": {"id": {"any_": run_ids}}}).json()
        return {run["id"]: run["state_type"] for run in runs}

    def wait_terminal(self, run_ids: list[str], timeout: float) -> dict[str, str]:
        wait_until(lambda: set(self.states(run_ids).values()) <= TERMINAL, timeout, f"{len(run_ids)} flow runs to finish")
        return self.states(run_ids)

    def videos_in_s3(self) -> list[str]:
        keys = self.stack.s3_client().list_objects_v2(Bucket=self.stack.bucket, Prefix="outputs/").get("Contents", [])
        return sorted(item["Key"] for item in keys if item["Key"].endswith(".mp4"))


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory, postgres: LocalPostgres) -> Iterator[Production]:
    root = tmp_path_factory.mktemp("production")
    with (
        PrefectServer(root / "server", postgres.create_database("prefect")) as server,
        DevStack(api_key=API_KEY, latency=LATENCY, log_dir=root / "stack-logs") as stack,
    ):
        running = Production(server, stack, postgres.create_database("seedance"), root)
        running.cli(
            "blocks",
            "save-gateway",
            "local",
            "--base-url",
            stack.gateway_url,
            "--max-concurrent-tasks",
            str(LIMIT),
            env={"ARK_API_KEY": API_KEY},
        )
        running.cli(
            "blocks",
            "save-bucket",
            "assets",
            "--bucket",
            stack.bucket,
            "--endpoint-url",
            stack.s3_endpoint,
            "--region",
            "us-east-1",
            env={"AWS_ACCESS_KEY_ID": stack.s3_access_key, "AWS_SECRET_ACCESS_KEY": stack.s3_secret_key},
        )
        budget = f"{PRICE * 18} CNY"  # room for phases 1 and 2 and two runs of phase 3
        running.start_worker("machine-a", budget)
        wait_until(lambda: running.api.get("/work_pools/seedance").status_code == 200, 60, "the first worker to create the pool")
        server.prefect(running.home, "deploy", "--all", cwd=ROOT)
        server.prefect(running.home, "automation", "create", "--from-file", "automations.yaml", cwd=ROOT)  # as the README says
        running.start_worker("machine-b", budget)
        try:
            yield running
        finally:
            for worker in running.workers.values():
                worker.stop()
            running.api.close()


def test_two_workers_share_submit_once_limits_and_budget(production: Production) -> None:
    # 1. 12 distinct specs and one spec twice at once, limit 3
    runs = [production.run_deployment(production.parameters(n)) for n in range(12)]
    runs += [production.run_deployment(production.parameters(100)) for _ in range(2)]
    states = production.wait_terminal(runs, timeout=360)
    assert set(states.values()) == {"COMPLETED"}, states
    stats = gateway_stats(production.stack)
    assert stats["tasks_created"] == 13
    assert stats["duplicate_creates"] == 0
    assert stats["peak_in_flight"] <= LIMIT
    assert len(production.videos_in_s3()) == 13

    # 2. SIGKILL a machine while its generations wait; the other resumes them
    production.workers["machine-b"].stop()
    victims = [production.run_deployment(production.parameters(n)) for n in range(200, 203)]
    wait_until(lambda: gateway_stats(production.stack)["tasks_created"] == 16, 120, "three new tasks upstream")
    production.workers["machine-a"].kill()
    production.start_worker("machine-b", f"{PRICE * 18} CNY")
    again = [production.run_deployment(production.parameters(n)) for n in range(200, 203)]
    states = production.wait_terminal(again, timeout=240)
    assert set(states.values()) == {"COMPLETED"}, states
    assert gateway_stats(production.stack)["tasks_created"] == 16, "a resumed generation was created again"
    assert gateway_stats(production.stack)["duplicate_creates"] == 0
    assert set(production.states(victims).values()) <= {"RUNNING", "PENDING"}, "the killed runs never finished"

    # 3. The shared budget has room for two more: five at once, three refused before any create
    production.start_worker("machine-a", f"{PRICE * 18} CNY")
    last = [production.run_deployment(production.parameters(n)) for n in range(300, 305)]
    states = production.wait_terminal(last, timeout=240)
    assert sorted(states.values()) == ["COMPLETED"] * 2 + ["FAILED"] * 3, states
    assert gateway_stats(production.stack)["tasks_created"] == 18
    logs = json.dumps(production.api.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": last}}}).json())
    assert logs.count("BudgetExceededError") >= 3
