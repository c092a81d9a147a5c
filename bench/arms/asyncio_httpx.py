"""The baseline a user could write in an afternoon: plain asyncio + httpx, no pipeline.

    python -m bench.arms.asyncio_httpx BASE_URL API_KEY N OUT_DIR [--label L]

Creates N tasks, 20 at a time; one loop lists every unfinished task once a second
(`filter.task_ids`, up to 100 ids a request) and streams each video to disk as soon as its task
succeeds, 20 at a time. No budget, no intent records, no verification. A request that dies on the
wire before any answer (the local gateway resets connections when many open at once) is sent
again, up to 3 times, creates included: the gateway's duplicate-create counter shows whether that
ever paid twice. Prints `done N failed M resent R` last.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import httpx

CONCURRENCY = 20
POLL_SECONDS = 1.0
LIST_CHUNK = 100
ATTEMPTS = 4
TERMINAL = {"succeeded", "failed", "cancelled", "expired"}
MODEL = "doubao-seedance-1-0-lite-t2v-250428"

_T = TypeVar("_T")


class Run:
    def __init__(self) -> None:
        self.resent = 0

    async def resending(self, what: str, call: Callable[[], Awaitable[_T]]) -> _T:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await call()
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS:
                    raise
                self.resent += 1
                print(f"{what}: {type(exc).__name__}, sending it again", file=sys.stderr)
                await asyncio.sleep(0.1 * attempt)
        raise AssertionError("unreachable")


async def generate_all(base_url: str, api_key: str, n: int, out: Path, label: str, run: Run) -> tuple[int, int]:
    out.mkdir(parents=True, exist_ok=True)
    limits = httpx.Limits(max_connections=CONCURRENCY + 1)
    headers = {"Authorization": f"Bearer {api_key}"}
    slots = asyncio.Semaphore(CONCURRENCY)
    pending: dict[str, int] = {}
    downloads: list[asyncio.Task[None]] = []
    failed = 0
    async with (
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as api,
        httpx.AsyncClient(timeout=60, limits=limits) as files,
    ):

        async def create(index: int) -> None:
            body = {
                "model": MODEL,
                "content": [{"type": "text", "text": f"{label} #{index}: a paper boat on a pond"}],
                "resolution": "480p",
                "ratio": "16:9",
                "duration": 2,
            }
            async with slots:
                response = await run.resending(f"create #{index}", lambda: api.post("/contents/generations/tasks", json=body))
            response.raise_for_status()
            pending[response.json()["id"]] = index

        async def fetch(url: str, dest: Path) -> None:
            async def once() -> None:
                async with files.stream("GET", url) as response:
                    response.raise_for_status()
                    with dest.open("wb") as handle:
                        async for chunk in response.aiter_raw():
                            handle.write(chunk)

            async with slots:
                await run.resending(f"download {dest.name}", once)

        creating = asyncio.gather(*(create(i) for i in range(n)))
        while not creating.done() or pending:
            await asyncio.sleep(POLL_SECONDS)
            if creating.done() and creating.exception() is not None:
                break  # a create failed: `await creating` below raises it
            ids = list(pending)
            for start in range(0, len(ids), LIST_CHUNK):
                chunk = ids[start : start + LIST_CHUNK]
                params = httpx.QueryParams([("page_size", len(chunk)), *(("filter.task_ids", task_id) for task_id in chunk)])
                response = await run.resending("list", partial(api.get, "/contents/generations/tasks", params=params))
                response.raise_for_status()
                for task in response.json()["items"]:
                    if task["status"] not in TERMINAL or task["id"] not in pending:
                        continue
                    index = pending.pop(task["id"])
                    if task["status"] == "succeeded":
                        dest = out / f"{label}-{index:04d}.mp4"
                        downloads.append(asyncio.create_task(fetch(task["content"]["video_url"], dest)))
                    else:
                        failed += 1
        await creating
        await asyncio.gather(*downloads)
    return len(downloads), failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("api_key")
    parser.add_argument("n", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--label", default="asyncio")
    args = parser.parse_args()
    run = Run()
    done, failed = asyncio.run(generate_all(args.base_url, args.api_key, args.n, args.out, args.label, run))
    print(f"done {done} failed {failed} resent {run.resent}")


if __name__ == "__main__":
    main()
