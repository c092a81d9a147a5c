"""Fault soak at scale: N generations through the pipeline core against a gateway injecting faults.

    .venv/bin/python bench/soak.py            # N=500, 8 at a time, 20% faults
    .venv/bin/python bench/soak.py --n 100 --faults 0.3

Starts `seedance gateway serve --faults …` as a process (bench/harness.py's `Gateway`), runs bench/pipeline.py's generations on
threads, and prints what happened: outcomes, permanent errors by class and code, duplicate creates,
requests per endpoint, faults per kind, wall time and time-to-video percentiles. It asserts
nothing; the same scenario at N=50 is tests/e2e/test_fault_soak.py.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: `bench` is the repo's folder

from bench.harness import Gateway
from bench.pipeline import Outcome, PipelineConfig, generate_many, soak_request
from seedance.errors import ArkAPIError, GenerationFailedError, SeedanceError
from seedance.media import MediaError, probe
from seedance.waiting import PollSchedule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="generations (default 500)")
    parser.add_argument("--concurrency", type=int, default=8, help="generations at a time (default 8)")
    parser.add_argument("--faults", type=float, default=0.2, help="the gateway's --faults (default 0.2)")
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="the gateway's --slow-seconds (default 2)")
    parser.add_argument("--read-timeout", type=float, default=1.0, help="the client's read timeout (default 1 s)")
    parser.add_argument("--latency", type=float, default=0.3, help="the gateway's --latency (default 0.3 s)")
    parser.add_argument("--render-workers", type=int, default=2, help="the gateway's --render-workers (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="the gateway's --fault-seed (default 1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the client's retry warnings would bury the figures

    api_key = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="seedance-soak-") as tmp:
        root = Path(tmp)
        options = ("--faults", str(args.faults), "--slow-seconds", str(args.slow_seconds), "--fault-seed", str(args.seed))
        with Gateway(
            root / "gateway", latency=args.latency, render_workers=args.render_workers, api_key=api_key, options=options
        ) as gateway:
            config = PipelineConfig(
                base_url=gateway.base_url,
                api_key=api_key,
                workdir=root / "client",
                timeout=httpx.Timeout(connect=2.0, read=args.read_timeout, write=2.0, pool=10.0),
                settle_seconds=args.slow_seconds + 0.5,
                schedule=PollSchedule(initial=0.1, maximum=0.5),
                deadline_seconds=600,
                retry_delay_seconds=0.2,
            )
            started = time.monotonic()
            outcomes = generate_many(config, [(i, soak_request(i)) for i in range(args.n)], concurrency=args.concurrency)
            wall = time.monotonic() - started
            stats = gateway.stats()
        report(outcomes, stats, wall, root / "client", args)


def report(outcomes: list[Outcome], stats: dict[str, Any], wall: float, workdir: Path, args: argparse.Namespace) -> None:
    succeeded = [o for o in outcomes if o.error is None]
    errors = Counter(_classify(o.error) for o in outcomes if o.error is not None)
    times = sorted(o.seconds for o in succeeded)
    unreadable = sum(1 for path in workdir.rglob("*.mp4") if not _probes(path))
    leftovers = [p for p in workdir.rglob("*") if p.name.endswith((".part", ".tmp"))]
    print(
        f"soak: {args.n} generations, {args.concurrency} at a time, faults {args.faults:.0%}, read timeout {args.read_timeout:g} s, slow {args.slow_seconds:g} s"
    )
    print(f"  succeeded            {len(succeeded)}")
    print(f"  permanent errors     {sum(errors.values())}")
    for what, count in errors.most_common():
        print(f"    {count:4d}  {what}")
    print(f"  tasks created        {stats['tasks_created']}  (duplicate creates: {stats['duplicate_creates']})")
    print("  requests             " + ", ".join(f"{name} {count}" for name, count in stats["requests"].items()))
    print("  faults injected      " + ", ".join(f"{kind} {count}" for kind, count in stats["faults"].items()))
    print(f"  files                {len(succeeded)} videos, {unreadable} unreadable, {len(leftovers)} .part/.tmp left")
    print(f"  wall time            {wall:.1f} s  ({len(outcomes) / wall:.2f} generations/s)")
    if times:
        print(
            f"  time to video        p50 {statistics.median(times):.2f} s, p95 {_percentile(times, 0.95):.2f} s, max {times[-1]:.2f} s"
        )


def _classify(error: SeedanceError) -> str:
    if isinstance(error, GenerationFailedError):
        return f"{type(error).__name__} {error.task.error.code if error.task.error else error.task.status.value}"
    if isinstance(error, ArkAPIError):
        return f"{type(error).__name__} {error.code}"
    return f"{type(error).__name__}: {error}"


def _probes(path: Path) -> bool:
    try:
        return probe(path).kind == "video"
    except MediaError:
        return False


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))]


if __name__ == "__main__":
    main()
