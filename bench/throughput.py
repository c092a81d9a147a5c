"""P5: transfer throughput of the pipeline's own code paths against the raw libraries, on loopback.

    python -m bench.throughput [--size-mb 100] [--repeats 3]

Upload: a file of random bytes to moto's S3 server (a `DevStack`, its request recorder switched
off) with the core's `seedance.storage.upload_if_absent` (HEAD, then boto3 `upload_file` with the
pipeline's TransferConfig) against boto3's `upload_file` with its defaults. Download: the same
file from Python's `http.server` (a process of its own) with the core's `seedance.download.download`
(streamed to a .part file, size-checked, hashed, renamed) against a plain httpx streamed GET
written to a file. Both sides run in this process, one after the other, alternating, `repeats`
times, after one untimed 1 MB transfer each; the table shows the best of each (the least
disturbed by the rest of the machine) and lists every run in the notes. Objects are deleted after
each upload (moto keeps them in memory).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

from bench.harness import API_KEY, MB, Row, file_server, log, met, random_file, scratch, stop_servers, times
from local_gateway.devstack import DevStack
from seedance.download import download
from seedance.storage import upload_if_absent


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def raw_httpx_download(url: str, dest: Path) -> None:
    with httpx.stream("GET", url, timeout=60) as response, dest.open("wb") as handle:
        response.raise_for_status()
        for chunk in response.iter_raw():
            handle.write(chunk)


def row(what: str, size: int, ours: list[float], raw: list[float], raw_name: str) -> Row:
    def rate(duration: float) -> float:
        return size / MB / duration

    best_ours, best_raw = rate(min(ours)), rate(min(raw))
    ratio = best_ours / best_raw
    runs = "; ".join(
        f"{name}: " + ", ".join(f"{rate(d):.0f}" for d in durations) + " MB/s"
        for name, durations in (("pipeline", ours), (raw_name, raw))
    )
    return Row(
        "P5",
        f"{what}, {size // MB} MB, loopback",
        f"{best_ours:.0f} MB/s",
        f"{raw_name}: {best_raw:.0f} MB/s",
        times(ratio),
        "≥ 0.8× raw",
        met(ratio >= 0.8),
        f"best of {len(ours)}; every run: {runs}",
    )


def main(size_mb: int = 100, repeats: int = 3) -> list[Row]:
    # Both arms get the CPU to themselves: a Prefect server an earlier benchmark left running can be
    # busy for a while (after P4's 1,000 tasks): the hashing download then measured 0.67× raw, 0.85-0.93× alone.
    stop_servers()
    size = size_mb * MB
    with scratch("throughput") as root:
        source = random_file(root / "files" / "payload.bin", size)
        random_file(root / "files" / "small.bin", MB)
        with DevStack(api_key=API_KEY, latency=0.0, log_dir=root / "logs") as stack:
            httpx.post(f"{stack.s3_endpoint}/moto-api/recorder/stop-recording", timeout=10).raise_for_status()
            s3 = stack.s3_client()
            # untimed: the client's first call sets up its connections and endpoints
            upload_if_absent(s3, stack.bucket, "bench/warm-up", source.with_name("small.bin"), "application/octet-stream")
            s3.upload_file(str(source.with_name("small.bin")), stack.bucket, "bench/warm-up-raw")
            ours_up: list[float] = []
            raw_up: list[float] = []
            for i in range(repeats):
                log(f"P5 upload {i + 1}/{repeats}: {size_mb} MB to moto S3")
                key = f"bench/pipeline-{i}"
                ours_up.append(timed(partial(upload_if_absent, s3, stack.bucket, key, source, "application/octet-stream")))
                s3.delete_object(Bucket=stack.bucket, Key=key)
                key = f"bench/raw-{i}"
                raw_up.append(timed(partial(s3.upload_file, str(source), stack.bucket, key)))
                s3.delete_object(Bucket=stack.bucket, Key=key)
        ours_down: list[float] = []
        raw_down: list[float] = []
        with file_server(source.parent) as origin:
            url = f"{origin}/{source.name}"
            download(f"{origin}/small.bin", root / "warm-up.bin")  # untimed, like the uploads' first call
            raw_httpx_download(f"{origin}/small.bin", root / "warm-up-raw.bin")
            for i in range(repeats):
                log(f"P5 download {i + 1}/{repeats}: {size_mb} MB from http.server")
                ours_down.append(timed(lambda: download(url, root / "pipeline.bin")))
                (root / "pipeline.bin").unlink()
                raw_down.append(timed(lambda: raw_httpx_download(url, root / "raw.bin")))
                (root / "raw.bin").unlink()
    return [
        row("upload to S3: seedance.storage.upload_if_absent", size, ours_up, raw_up, "boto3 upload_file (defaults)"),
        row("download over HTTP: seedance.download.download", size, ours_down, raw_down, "httpx stream to file"),
    ]


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from bench.run import print_table

    print_table(main(args.size_mb, args.repeats))


if __name__ == "__main__":
    _cli()
