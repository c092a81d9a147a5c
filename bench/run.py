"""`make bench`: run every benchmark and print one Markdown table, each figure beside its baseline.

    python -m bench.run            # the full set, 15-20 min on 2 cores
    python -m bench.run --quick    # small N everywhere, to try the harness (~4 min)
    python -m bench.run --only P3 --only P5

Progress goes to stderr, the table to stdout. Nothing fails on a figure: "NOT met" is printed, and
the exit status is non-zero only when a benchmark could not run at all.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: `bench` is the repo's folder

from bench.harness import REPO, Row, log

BENCHMARKS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # id: (module, full-run arguments, --quick arguments)
    "P1": ("bench.makespan", {}, {"n": 10, "sdk_n_slow": 2, "latencies": (0.0, 3.0), "pairs": 1}),
    "P3": ("bench.rerun", {}, {"n": 3}),
    "P4": ("bench.memory", {}, {"in_flight": 50, "sizes_mb": (10, 50)}),
    "P5": ("bench.throughput", {}, {"size_mb": 20, "repeats": 1}),
}
"""P2 is measured by bench.makespan from the P1 runs."""


def print_table(rows: list[Row]) -> None:
    header = ("bench", "measure", "pipeline", "baseline (same run)", "ratio", "target", "result", "notes")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        cells = (row.bench, row.measure, row.figure, row.baseline, row.ratio, row.target, row.result, row.note)
        print("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    sys.stdout.flush()


class LoadWatch:
    """The machine's 1-minute load average every 10 s while the benchmarks run (others may be busy too)."""

    def __init__(self) -> None:
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(10):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        median = sorted(self.samples)[len(self.samples) // 2]
        return f"1-min load average {self.samples[0]:.1f} at the start, median {median:.1f}, max {max(self.samples):.1f}"


def context_row(started: float, load: str) -> Row:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=False).stdout
    except OSError:
        commit, dirty = "?", ""
    return Row(
        "run",
        "context",
        f"{(time.monotonic() - started) / 60:.1f} min",
        note=f"commit {commit or '?'}{' + local changes' if dirty.strip() else ''}; {os.cpu_count()} cores; "
        f"{load}; one run of each arm unless stated",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N everywhere (trying the harness)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these (repeatable)")
    args = parser.parse_args()

    started, load = time.monotonic(), LoadWatch()
    rows: list[Row] = []
    broken = False
    for name, (module_name, full, quick) in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        log(f"{name}: {module_name}")
        try:
            bench_main: Callable[..., list[Row]] = importlib.import_module(module_name).main
            rows += bench_main(**(quick if args.quick else full))
        except Exception as exc:
            broken = True
            traceback.print_exc(file=sys.stderr)
            rows.append(Row(name, f"{module_name} could not run", f"{type(exc).__name__}: {exc}", result="ERROR"))
    rows.append(context_row(started, load.stop()))
    print_table(rows)
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
