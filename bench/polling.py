"""Polling cost and promptness: 100 tasks in flight, watched with seedance.waiting.watch.

    .venv/bin/python bench/polling.py                 # 100 tasks (every fifth flex), latency 2 s
    .venv/bin/python bench/polling.py --tasks 300 --latency 5

An in-process gateway whose renders cost nothing (every task gets a copy of one real render), so
each task succeeds `latency` seconds after its creation; creations are spread over one latency, so
completions fall anywhere between two polls. With the pipeline's poll schedule (the settings and
the model's prior; options change it) it prints the status requests per completed task (goal
<= 0.3) and the delay between a task's completion (the gateway's own timestamp, `GET /_local/tasks`)
and `watch` yielding it (goal <= 2 s). It asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: `bench` is the repo's folder

from bench.pipeline import LITE_T2V
from local_gateway import GatewayConfig, LocalGateway
from local_gateway.plan import OutputPlan
from local_gateway.render import Renderer, RenderResult
from seedance.ark.client import ArkClient
from seedance.ark.types import CreateTaskRequest, TextContent
from seedance.settings import get_settings
from seedance.waiting import PollSchedule, expected_seconds, watch

API_KEY = "bench-key"


class CopyRenderer:
    """Renders the first plan for real, then hands every task a copy of that video."""

    def __init__(self) -> None:
        self._renderer = Renderer()
        self._lock = threading.Lock()
        self._sample: Path | None = None

    def __call__(self, plan: OutputPlan, out_dir: Path) -> RenderResult:
        with self._lock:
            if self._sample is None:
                self._sample = self._renderer.render(plan, out_dir).video
                return RenderResult(video=self._sample)
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sample, out_dir / "video.mp4")
        return RenderResult(video=out_dir / "video.mp4")

    def close(self) -> None:
        self._renderer.close()


def run(gateway: LocalGateway, tasks: int, flex_every: int, schedule: PollSchedule) -> tuple[dict[str, int], list[float], float]:
    """Create `tasks` tasks, watch them to the end; (status requests by endpoint, detection delays, seconds watched)."""
    admin = httpx.Client(base_url=gateway.origin, timeout=30)
    with ArkClient(gateway.base_url, API_KEY, gateway="bench") as client:
        requests = [
            CreateTaskRequest(
                model=LITE_T2V,
                content=[TextContent(text=f"polling #{i}")],
                resolution="480p",
                ratio="16:9",
                duration=2,
                service_tier="flex" if flex_every and i % flex_every == flex_every - 1 else None,
            )
            for i in range(tasks)
        ]
        # Creations spread over one latency: completions then fall anywhere between two polls.
        start = time.monotonic()
        spacing = gateway.config.latency / tasks
        ids: list[str] = []
        for index, request in enumerate(requests):
            time.sleep(max(0.0, start + index * spacing - time.monotonic()))
            task_id = client.create_task(request).id
            assert task_id is not None  # the local gateway always answers a create with an id
            ids.append(task_id)
        admin.post("/_local/reset").raise_for_status()
        started = time.monotonic()
        seen = {task.id: time.time() for task in watch(client, ids, schedule=schedule, deadline_seconds=600)}
        watched = time.monotonic() - started
    counted = admin.get("/_local/stats").json()["requests"]
    finished = {t["id"]: t["updated_at"] for t in admin.get("/_local/tasks").json()["tasks"] if t["id"] in seen}
    admin.close()
    return {"list": counted["list"], "get": counted["get"]}, [seen[i] - finished[i] for i in seen], watched


def main() -> None:
    settings = get_settings()
    prior = expected_seconds(LITE_T2V, "480p", "16:9", 2)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100, help="tasks in flight (default 100)")
    parser.add_argument("--latency", type=float, default=2.0, help="the gateway's latency, creation to success (default 2 s)")
    parser.add_argument("--flex-every", type=int, default=5, help="every n-th task on the flex tier; 0: none (default 5)")
    parser.add_argument(
        "--initial", type=float, default=settings.poll_initial_seconds, help="first pause (default: the settings')"
    )
    parser.add_argument("--maximum", type=float, default=settings.poll_max_seconds, help="longest pause (default: the settings')")
    parser.add_argument(
        "--growth", type=float, default=settings.poll_growth, help="pause growth per round (default: the settings')"
    )
    parser.add_argument(
        "--expected", type=float, default=prior, help="the schedule's prior (default: the model's, from its tokens)"
    )
    args = parser.parse_args()

    schedule = PollSchedule(initial=args.initial, maximum=args.maximum, growth=args.growth, expected=args.expected)
    renderer = CopyRenderer()
    config = GatewayConfig(api_key=API_KEY, latency=args.latency, queue_seconds=0, render_workers=8)
    try:
        with LocalGateway(config, render=renderer) as gateway:
            requests, delays, watched = run(gateway, args.tasks, args.flex_every, schedule)
    finally:
        renderer.close()
    delays.sort()
    print(f"polling: {args.tasks} tasks in flight (every {args.flex_every or '-'}th flex), gateway latency {args.latency:g} s")
    print(
        f"  schedule             initial {args.initial:g} s, growth {args.growth:g}, max {args.maximum:g} s, prior {args.expected:.0f} s"
    )
    print(
        f"  status requests      {requests['list']} list + {requests['get']} get = {(requests['list'] + requests['get']) / args.tasks:.2f} per task (goal <= 0.3)"
    )
    print(
        f"  detection delay      p50 {statistics.median(delays):.2f} s, p95 {delays[round(0.95 * (len(delays) - 1))]:.2f} s, "
        f"max {delays[-1]:.2f} s (goal <= 2 s)"
    )
    print(f"  watched              {watched:.1f} s")


if __name__ == "__main__":
    main()
