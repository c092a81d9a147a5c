"""P3: what an identical re-run of a finished batch sends: task creations and bytes uploaded.

    python -m bench.rerun [--n 10]

One `DevStack` (moto's S3 server recording its requests, the local gateway at latency 0). A
manifest of N 1.0-lite i2v generations, each with its own local first-frame image (~0.5 MB of
noise, so it must go to S3), runs twice with `seedance batch`, same state folder and output
folder, configured only by `ARK_*`, `AWS_*` and `SEEDANCE_BUCKET`. Between the runs the gateway's
counters and the S3 recording are zeroed. Creates come from `/_local/stats`; uploads are the PUT
and POST requests in the S3 server's recording (`DevStack.s3_requests()`), their bytes from each
request's decoded content length. The first run is the baseline.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench.harness import (
    API_KEY,
    LITE_I2V,
    Measured,
    Row,
    count_videos,
    log,
    met,
    pipeline_command,
    pipeline_env,
    run_measured,
    scratch,
    seconds,
    warm_up,
    warm_up_row,
)
from local_gateway.devstack import DevStack


def write_images(folder: Path, n: int) -> list[Path]:
    """N distinct 1280×720 JPEGs of noise (each ~0.5 MB: too big to mistake for nothing sent)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    paths = []
    for i in range(n):
        path = folder / f"frame-{i:03d}.jpg"
        Image.fromarray(rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)).save(path, quality=70)
        paths.append(path)
    return paths


def write_i2v_manifest(path: Path, images: list[Path]) -> Path:
    lines = [f"defaults: {{model: {LITE_I2V}, resolution: 480p, ratio: '16:9', duration: 2}}", "items:"]
    lines += [
        f"  - {{name: rerun-{i:03d}, prompt: 'rerun #{i}: the picture comes alive', "
        f"references: [{{url: {image.name}, role: first_frame}}]}}"
        for i, image in enumerate(images)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def uploads(stack: DevStack) -> tuple[int, int, Counter[str]]:
    """(upload requests, bytes they carried, every request by method) since the recording was zeroed."""
    recording = stack.s3_recording()
    methods = Counter(entry["method"] for entry in recording)
    count = sent = 0
    for entry in recording:
        if entry["method"] not in ("PUT", "POST"):
            continue
        headers = {name.lower(): value for name, value in entry["headers"].items()}
        size = int(headers.get("x-amz-decoded-content-length") or headers.get("content-length") or 0)
        if size:
            count += 1
            sent += size
    return count, sent, methods


def zero(stack: DevStack) -> None:
    httpx.post(f"{stack.gateway_url.removesuffix('/api/v3')}/_local/reset", timeout=30).raise_for_status()
    httpx.post(f"{stack.s3_endpoint}/moto-api/recorder/reset-recording", timeout=30).raise_for_status()


def creates(stack: DevStack) -> int:
    stats = httpx.get(f"{stack.gateway_url.removesuffix('/api/v3')}/_local/stats", timeout=30).json()
    return int(stats["tasks_created"])


def main(n: int = 10) -> list[Row]:
    with scratch("rerun") as root:
        rows = warm_up_row(warm_up(root))
        with DevStack(api_key=API_KEY, latency=0.0, gateway_args=("--render-workers", "2"), log_dir=root / "logs") as stack:
            manifest = write_i2v_manifest(root / "batch.yaml", write_images(root, n))
            env = pipeline_env(stack.gateway_url, root / "state", stack.aws_env())
            runs: list[tuple[Measured, int, int, int, Counter[str]]] = []
            for attempt in ("first run", "identical re-run"):
                zero(stack)
                log(f"P3 {attempt}: {n} image-to-video generations")
                measured = run_measured(
                    pipeline_command(manifest, root / "out"), env, root / f"{attempt}.log", timeout=900, pipeline_servers=True
                )
                runs.append((measured, creates(stack), *uploads(stack)))
                log(f"P3 {attempt}: {seconds(measured.seconds)}, exit {measured.returncode}")
            videos = count_videos(root / "out")
    (first, first_creates, first_puts, first_bytes, _), (again, again_creates, again_puts, again_bytes, methods) = runs
    ran = first.returncode == 0 and again.returncode == 0
    exits = "" if ran else f"; exits {first.returncode} / {again.returncode}: {(again if again.returncode else first).failure()}"
    return [
        *rows,
        Row(
            "P3",
            f"tasks created by an identical re-run of a finished {n}-item batch",
            f"{again_creates} creates",
            f"first run: {first_creates} creates",
            "",
            "0",
            met(again_creates == 0 and ran),
            f"re-run took {seconds(again.seconds)}, first run {seconds(first.seconds)}; {videos}/{n} videos{exits}",
        ),
        Row(
            "P3",
            f"bytes uploaded to S3 by the same re-run ({n} local first-frame images)",
            f"{again_bytes} B in {again_puts} uploads",
            f"first run: {first_bytes / 2**20:.1f} MB in {first_puts} uploads",
            "",
            "0 B",
            met(again_bytes == 0 and ran),
            "re-run's S3 requests: " + (", ".join(f"{m} {c}" for m, c in sorted(methods.items())) or "none"),
        ),
    ]


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    from bench.run import print_table

    print_table(main(args.n))


if __name__ == "__main__":
    _cli()
