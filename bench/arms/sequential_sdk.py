"""The baseline users write today: the official Ark SDK, one generation after another.

    python -m bench.arms.sequential_sdk BASE_URL API_KEY N OUT_DIR [--label L]

For each of N generations: create with `volcenginesdkarkruntime.Ark`, GET it every second until
it ends, download the video (httpx, streamed). Prints `done N failed M` last.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx
from volcenginesdkarkruntime import Ark

MODEL = "doubao-seedance-1-0-lite-t2v-250428"
TERMINAL = {"succeeded", "failed", "cancelled", "expired"}


def generate_all(base_url: str, api_key: str, n: int, out: Path, label: str) -> tuple[int, int]:
    out.mkdir(parents=True, exist_ok=True)
    done = failed = 0
    client = Ark(base_url=base_url, api_key=api_key)
    try:
        for index in range(n):
            created = client.content_generation.tasks.create(
                model=MODEL,
                content=[{"type": "text", "text": f"{label} #{index}: a paper boat on a pond"}],
                resolution="480p",
                ratio="16:9",
                duration=2,
            )
            while True:
                time.sleep(1)
                task = client.content_generation.tasks.get(task_id=created.id)
                if task.status in TERMINAL:
                    break
            if task.status != "succeeded":
                failed += 1
                continue
            with httpx.stream("GET", task.content.video_url, timeout=60) as response:
                response.raise_for_status()
                with (out / f"{label}-{index:04d}.mp4").open("wb") as handle:
                    for chunk in response.iter_raw():
                        handle.write(chunk)
            done += 1
    finally:
        client.close()
    return done, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("api_key")
    parser.add_argument("n", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--label", default="sdk")
    args = parser.parse_args()
    print("done {} failed {}".format(*generate_all(args.base_url, args.api_key, args.n, args.out, args.label)))


if __name__ == "__main__":
    main()
