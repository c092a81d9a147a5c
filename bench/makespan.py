"""P1 makespan of a batch, pipeline against two baselines; P2 status requests per completed task.

    python -m bench.makespan [--n 100] [--sdk-n-slow 10] [--latency 0 --latency 10] [--pairs 3]

For each gateway latency, three arms, each against a fresh local gateway with the same settings
(`--render-workers 2`, queue time latency / 2), each a subprocess timed from start to exit. The
pipeline and the asyncio arm run in `pairs` pairs, one after the other, and the pair with the median
ratio is shown (every pair in the notes): on this 2-core machine one arm's makespan moves by a second
or more from run to run, and a pair run back to back shares the machine's state of the moment.

- the pipeline: `seedance batch` on a manifest of N 1.0-lite t2v 480p 2 s generations, configured
  by `ARK_*` variables only, default poll settings, the bench's shared Prefect home (warm);
- `bench/arms/asyncio_httpx.py`: plain asyncio + httpx (create 20 at a time, list every second,
  stream each video as its task succeeds);
- `bench/arms/sequential_sdk.py`: the official SDK, one generation after another (GET every second).
  Where N of them would take far too long (latency 10 s: ~1,000 s for 100), it runs a smaller N
  and its makespan is extrapolated linearly (the arm is strictly sequential).

P2 comes from the same pipeline runs: list + get requests the gateway counted, per video.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    API_KEY,
    Gateway,
    Measured,
    Row,
    count_videos,
    log,
    megabytes,
    met,
    pipeline_command,
    pipeline_env,
    run_measured,
    scratch,
    seconds,
    times,
    warm_up,
    warm_up_row,
    write_manifest,
)


@dataclass
class Arm:
    """One arm's run at one latency."""

    name: str
    n: int
    measured: Measured
    videos: int
    creates: int
    status_requests: int
    duplicate_creates: int
    first_create: float | None
    """Seconds from the command's start to the gateway's first task creation."""
    last_create: float | None

    @property
    def ok(self) -> bool:
        return self.measured.returncode == 0 and self.videos == self.n

    def outcome(self) -> str:
        text = f"{self.videos}/{self.n} videos"
        if self.duplicate_creates:
            text += f", {self.duplicate_creates} duplicate creates"
        resent = re.search(r"resent (\d+)", self.measured.stdout)
        if resent and int(resent.group(1)):
            text += f", {resent.group(1)} requests sent again after connection resets"
        if self.measured.kept:
            text += f", left running: {', '.join(self.measured.kept)}"
        if self.measured.timed_out:
            text += f", stopped after {seconds(self.measured.seconds)}"
        if self.measured.returncode != 0:
            text += f", exit {self.measured.returncode}: {self.measured.failure()}"
        return text


def run_arm(name: str, latency: float, n: int, root: Path, attempt: int = 0) -> Arm:
    """Start a gateway, run one arm on it (its `attempt`th run at this latency), read what the gateway saw."""
    work = root / f"{name}-latency-{latency:g}-{attempt}"
    out = work / "out"
    with Gateway(work / "gateway", latency=latency) as gateway:
        label = f"{name}-l{latency:g}-{attempt}"
        if name == "pipeline":
            manifest = write_manifest(work / "batch.yaml", n, label=label)
            command, env = pipeline_command(manifest, out), pipeline_env(gateway.base_url, work / "state")
        else:
            module = {"asyncio": "bench.arms.asyncio_httpx", "sdk": "bench.arms.sequential_sdk"}[name]
            command = [sys.executable, "-m", module, gateway.base_url, API_KEY, str(n), str(out), "--label", label]
            env = pipeline_env(gateway.base_url, work / "state")
        log(f"P1 {name}: {n} generations at latency {latency:g} s")
        measured = run_measured(command, env, work / f"{name}.log", timeout=1500, pipeline_servers=name == "pipeline")
        stats, tasks = gateway.stats(), gateway.tasks()
    created = sorted(task["created_at"] - measured.started_at for task in tasks)
    arm = Arm(
        name=name,
        n=n,
        measured=measured,
        videos=count_videos(out),
        creates=stats["tasks_created"],
        status_requests=stats["requests"]["list"] + stats["requests"]["get"],
        duplicate_creates=stats["duplicate_creates"],
        first_create=created[0] if created else None,
        last_create=created[-1] if created else None,
    )
    log(f"P1 {name}: {seconds(measured.seconds)}, {arm.outcome()}")
    return arm


Pair = tuple[Arm, Arm]
"""A pipeline run and the asyncio run right after it, at the same latency."""


def main(n: int = 100, sdk_n_slow: int = 10, latencies: tuple[float, ...] = (0.0, 10.0), pairs: int = 3) -> list[Row]:
    rows: list[Row] = []
    p2: list[Row] = []
    with scratch("makespan") as root:
        rows += warm_up_row(warm_up(root))
        for latency in latencies:
            runs = [(run_arm("pipeline", latency, n, root, k), run_arm("asyncio", latency, n, root, k)) for k in range(pairs)]
            sdk_n = n if latency <= 0 else min(n, sdk_n_slow)
            sdk = run_arm("sdk", latency, sdk_n, root)
            rows += makespan_rows(latency, n, runs, sdk)
            p2.append(polling_row(latency, *median_pair(runs), sdk))
    return rows + p2


def ratio_of(pair: Pair) -> float:
    pipeline, asyncio_arm = pair
    return pipeline.measured.seconds / asyncio_arm.measured.seconds


def median_pair(runs: list[Pair]) -> Pair:
    """The pair whose ratio is the median (of an even number, the higher of the middle two)."""
    return sorted(runs, key=ratio_of)[len(runs) // 2]


def makespan_rows(latency: float, n: int, runs: list[Pair], sdk: Arm) -> list[Row]:
    what = f"makespan, {n} × 1.0-lite t2v 480p 2 s, gateway latency {latency:g} s"
    median = median_pair(runs)
    pipeline, asyncio_arm = median
    pipe = pipeline.measured.seconds
    ratio = ratio_of(median)
    every = ", ".join(
        f"{seconds(p.measured.seconds)} / {seconds(a.measured.seconds)} ({times(ratio_of((p, a)))})" for p, a in runs
    )
    all_ok = all(p.ok and a.ok for p, a in runs)
    starts = (
        f"first create at +{pipeline.first_create:.1f} s, last at +{pipeline.last_create:.1f} s; "
        if pipeline.first_create is not None and pipeline.last_create is not None
        else ""
    )
    pipeline_note = f"pipeline: {pipeline.outcome()}, {starts}tree peak memory (Pss) {megabytes(pipeline.measured.peak_memory)}"
    rows = [
        Row(
            "P1",
            what,
            seconds(pipe),
            f"asyncio + httpx: {seconds(asyncio_arm.measured.seconds)}",
            times(ratio),
            "≤ 2× asyncio" if latency <= 0 else "≤ 1.2× asyncio",
            met(ratio <= (2.0 if latency <= 0 else 1.2) and all_ok),
            f"the median of {len(runs)} pairs run back to back (pipeline / asyncio: {every}); "
            f"{pipeline_note}; asyncio: {asyncio_arm.outcome()}, peak Pss {megabytes(asyncio_arm.measured.peak_memory)}",
        )
    ]
    sdk_total = sdk.measured.seconds * n / sdk.n
    extrapolated = sdk.n != n
    sdk_text = (
        f"sequential SDK: {seconds(sdk_total)} (N={sdk.n} took {seconds(sdk.measured.seconds)}, × {n}/{sdk.n}, extrapolated)"
        if extrapolated
        else f"sequential SDK: {seconds(sdk_total)}"
    )
    faster = sdk_total / pipe
    rows.append(
        Row(
            "P1",
            what,
            seconds(pipe),
            sdk_text,
            f"{faster:.1f}× faster" if faster >= 1 else f"{1 / faster:.1f}× slower",
            "≥ 10× faster than SDK" if latency > 0 else "",
            met(faster >= 10 and pipeline.ok and sdk.ok) if latency > 0 else "",
            f"SDK: {sdk.outcome()}, peak Pss {megabytes(sdk.measured.peak_memory)}",
        )
    )
    return rows


def polling_row(latency: float, pipeline: Arm, asyncio_arm: Arm, sdk: Arm) -> Row:
    def per_task(arm: Arm) -> str:
        return f"{arm.status_requests / max(arm.videos, 1):.2f} ({arm.status_requests} / {arm.videos})"

    value = pipeline.status_requests / max(pipeline.videos, 1)
    return Row(
        "P2",
        f"status requests (list + get) per completed task, {pipeline.n} tasks, gateway latency {latency:g} s",
        per_task(pipeline),
        f"asyncio + httpx: {per_task(asyncio_arm)}",
        "",
        "≤ 0.3",
        met(value <= 0.3 and pipeline.videos > 0),
        f"from the P1 runs' gateway counters; sequential SDK: {per_task(sdk)}; pipeline creates {pipeline.creates}",
    )


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--sdk-n-slow", type=int, default=10)
    parser.add_argument("--latency", type=float, action="append")
    parser.add_argument("--pairs", type=int, default=3, help="pipeline + asyncio runs per latency; the median pair is shown")
    args = parser.parse_args()
    from bench.run import print_table

    print_table(main(args.n, args.sdk_n_slow, tuple(args.latency or (0.0, 10.0)), args.pairs))


if __name__ == "__main__":
    _cli()
