"""P4: memory. The pipeline's process tree with 1,000 tasks in flight; one download's RSS by file size.

    python -m bench.memory [--in-flight 1000] [--size-mb 10 --size-mb 200]

In flight: a gateway whose tasks stay queued for an hour (`--latency 3600 --queue-seconds 3600`,
so nothing renders). `seedance batch` runs on a manifest of N generations while the resident
memory of its whole process tree (the CLI, the Prefect server it starts, anything they start) is
summed from /proc every 0.25 s; the Prefect home and its server are new (warmed up with one
generation), so the figure does not depend on which benchmarks ran before. Once the gateway has
counted N creates and one more round of status requests covering all N, the command gets a Ctrl-C;
the peak is the highest sum before that. The baseline is `bench/arms/asyncio_httpx.py` with the
same N in flight, stopped the same way. Where the pipeline cannot get N tasks in flight within the
time allowed, the table says how many it had; where it fails by itself before (an error, not the
clock), the table says why and the same measurement runs again with a smaller N (`--fallback`, 500).

Downloads: Python's `http.server` (a process of its own) serves files of random bytes; each
download runs in a fresh process (`bench/arms/download_rss.py`) that prints its own peak RSS:
the core's `seedance.download.download` against a plain streamed httpx GET, and a process that
only imports the core's download module, the floor both stand on. Flat means the peak does not
grow with the file: at most 5 MB more for the largest file than for the smallest.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.harness import (
    API_KEY,
    MB,
    Gateway,
    Measured,
    Row,
    clean_env,
    file_server,
    log,
    megabytes,
    met,
    new_prefect_home,
    pipeline_command,
    pipeline_env,
    prefect_home,
    random_file,
    run_measured,
    scratch,
    seconds,
    times,
    warm_up,
    warm_up_row,
    write_manifest,
)

HOUR = 3600.0
FLAT_MB = 5
"""How much more peak RSS the largest download may take than the smallest and still count as flat."""


class InFlight:
    """`stop_when` for run_measured: true once the gateway has all N tasks and has seen them polled."""

    def __init__(self, gateway: Gateway, n: int) -> None:
        self.gateway = gateway
        self.n = n
        self.creates = 0
        self.started = time.monotonic()
        self.reached_after: float | None = None
        """Seconds from the command's start until the gateway had all N tasks."""
        self._status_at_n: int | None = None
        self._checked = 0.0

    def __call__(self) -> bool:
        if time.monotonic() - self._checked < 1.0:
            return False
        self._checked = time.monotonic()
        stats = self.gateway.stats()
        self.creates = int(stats["tasks_created"])
        status = int(stats["requests"]["list"]) + int(stats["requests"]["get"])
        if self.creates < self.n:
            return False
        if self._status_at_n is None or self.reached_after is None:
            self._status_at_n, self.reached_after = status, time.monotonic() - self.started
            return False
        # one more round of polling over every task (a list request covers up to 100), or a minute
        waited = time.monotonic() - self.started - self.reached_after
        return status - self._status_at_n >= math.ceil(self.n / 100) or waited > 60

    def final_count(self) -> None:
        self.creates = int(self.gateway.stats()["tasks_created"])


def hold_in_flight(
    name: str, root: Path, n: int, command: Callable[[Gateway, Path], tuple[list[str], dict[str, str]]], timeout: float
) -> tuple[Measured, InFlight]:
    work = root / name
    with Gateway(work / "gateway", latency=HOUR, queue_seconds=HOUR) as gateway:
        argv, env = command(gateway, work)
        log(f"P4 {name}: {n} tasks in flight (at most {timeout:.0f} s to get there)")
        watch = InFlight(gateway, n)
        measured = run_measured(
            argv, env, work / f"{name}.log", timeout=timeout, stop_when=watch, pipeline_servers=name == "pipeline"
        )
        watch.final_count()
    reached = (
        f"{n} in flight after {seconds(watch.reached_after)}" if watch.reached_after is not None else f"only {watch.creates}"
    )
    log(f"P4 {name}: peak {megabytes(measured.peak_memory)}, {reached}")
    return measured, watch


def in_flight_row(root: Path, n: int, timeout: float) -> tuple[Row, bool]:
    """The P4 row for N in flight, and whether the pipeline failed by itself before it got there."""

    def pipeline(gateway: Gateway, work: Path) -> tuple[list[str], dict[str, str]]:
        manifest = write_manifest(work / "batch.yaml", n, label="in-flight")
        return pipeline_command(manifest, work / "out"), pipeline_env(gateway.base_url, work / "state")

    def plain(gateway: Gateway, work: Path) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, "-m", "bench.arms.asyncio_httpx", gateway.base_url, API_KEY, str(n), str(work / "out")]
        return argv, clean_env(prefect_home())

    measured, watch = hold_in_flight("pipeline", root / f"n{n}", n, pipeline, timeout)
    baseline, baseline_watch = hold_in_flight("asyncio", root / f"n{n}", n, plain, 300)
    all_there = watch.creates >= n
    failed = not measured.stopped_early and not all_there
    parts = ", ".join(f"{name} {megabytes(size)}" for name, size in sorted(measured.peak_parts.items(), key=lambda p: -p[1]))
    if failed:
        figure = f"no figure: {watch.creates} of {n} in flight"
        what = (
            f"the command ended by itself after {seconds(measured.seconds)} (exit {measured.returncode}) "
            f"with {watch.creates} tasks created: {measured.failure()}; peak before that {megabytes(measured.peak_memory)}"
        )
    elif not all_there:
        figure = f"{megabytes(measured.peak_memory)} with {watch.creates} in flight"
        what = f"only {watch.creates} of {n} tasks were in flight when {seconds(timeout)} ran out"
    else:
        figure = megabytes(measured.peak_memory)
        what = f"all {n} in flight {seconds(watch.reached_after or 0)} after the command started, then one more poll round"
    row = Row(
        "P4",
        f"peak memory (Pss) of the pipeline's process tree, {n} tasks in flight",
        figure,
        f"asyncio + httpx, {baseline_watch.creates} in flight: {megabytes(baseline.peak_memory)}",
        "" if failed else times(measured.peak_memory / max(baseline.peak_memory, 1)),
        "≤ 500 MB",
        met(measured.peak_memory <= 500 * MB and all_there),
        f"{what}; at the peak: {parts}",
    )
    return row, failed


def in_flight_rows(root: Path, n: int, timeout: float, fallback: int) -> list[Row]:
    """N in flight; when the pipeline fails by itself on N, also the smaller `fallback`. The
    pipeline gets a Prefect home of its own, whichever benchmarks ran before."""
    new_prefect_home()
    setup = warm_up_row(warm_up(root))
    row, failed = in_flight_row(root, n, timeout)
    rows = [*setup, row]
    if failed and fallback < n:
        log(f"P4: the pipeline failed with {n} in flight; trying {fallback}")
        smaller, _ = in_flight_row(root, fallback, timeout)
        rows.append(replace(smaller, note=f"tried because {n} failed (row above); {smaller.note}"))
    return rows


def download_rows(root: Path, sizes_mb: tuple[int, ...]) -> list[Row]:
    files = root / "files"
    for size in sizes_mb:
        random_file(files / f"{size}mb.bin", size * MB)
    env = clean_env(prefect_home())

    def peak(mode: str, url: str, dest: Path) -> int:
        done = subprocess.run(
            [sys.executable, "-m", "bench.arms.download_rss", mode, url, str(dest)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=True,
        )
        dest.unlink(missing_ok=True)
        return int(done.stdout.strip().splitlines()[-1])

    with file_server(files) as origin:
        floor = peak("import", origin, root / "none")
        figures = {}
        for size in sizes_mb:
            url = f"{origin}/{size}mb.bin"
            log(f"P4 download of {size} MB")
            figures[size] = (peak("pipeline", url, root / "pipeline.bin"), peak("httpx", url, root / "httpx.bin"))
    smallest, largest = min(sizes_mb), max(sizes_mb)
    growth = figures[largest][0] - figures[smallest][0]
    rows = []
    for size in sizes_mb:
        ours, raw = figures[size]
        is_largest = size == largest and largest != smallest
        rows.append(
            Row(
                "P4",
                f"peak RSS of one download process, {size} MB file (seedance.download)",
                megabytes(ours),
                f"raw httpx stream: {megabytes(raw)}",
                times(ours / raw),
                "flat in file size" if is_largest else "",
                met(growth <= FLAT_MB * MB) if is_largest else "",
                f"{round(growth / MB, 1) + 0.0:+.1f} MB from {smallest} MB to {largest} MB; importing the module alone: {megabytes(floor)}"
                if is_largest
                else f"importing the module alone: {megabytes(floor)}",
            )
        )
    return rows


def main(in_flight: int = 1000, sizes_mb: tuple[int, ...] = (10, 200), timeout: float = 480, fallback: int = 500) -> list[Row]:
    with scratch("memory") as root:
        return in_flight_rows(root, in_flight, timeout, fallback) + download_rows(root, sizes_mb)


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--size-mb", type=int, action="append")
    parser.add_argument("--timeout", type=float, default=480)
    parser.add_argument("--fallback", type=int, default=500)
    args = parser.parse_args()
    from bench.run import print_table

    print_table(main(args.in_flight, tuple(args.size_mb or (10, 200)), args.timeout, args.fallback))


if __name__ == "__main__":
    _cli()
