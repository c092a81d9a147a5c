"""`seedance generate` as a user runs it: a subprocess configured only by environment variables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local_gateway.devstack import DevStack
from seedance.media import probe
from tests.e2e.support import gateway_stats, prefect_env, s3_object_count

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "seedance" / "samples"
SEEDANCE = str(Path(sys.executable).with_name("seedance"))


def run_cli(stack: DevStack, tmp_path: Path, spec: str, out: str | None = None) -> subprocess.CompletedProcess[str]:
    shutil.copy(SAMPLES / "lantern.jpg", tmp_path / "lantern.jpg")
    (tmp_path / "spec.yaml").write_text(spec)
    env = (
        prefect_env(tmp_path)
        | stack.aws_env()
        | {
            "ARK_BASE_URL": stack.gateway_url,
            "ARK_API_KEY": stack.api_key,
            "SEEDANCE_STATE_DIR": str(tmp_path / "state"),
            "SEEDANCE_POLL_INITIAL_SECONDS": "0.1",
            "SEEDANCE_POLL_MAX_SECONDS": "0.5",
        }
    )
    return subprocess.run(
        [SEEDANCE, "generate", str(tmp_path / "spec.yaml"), "--out", out or str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_generate_with_only_environment_variables(stack: DevStack, tmp_path: Path) -> None:
    done = run_cli(
        stack,
        tmp_path,
        """
model: doubao-seedance-2-0-fast-260128
content:
  - {type: text, text: "the lantern drifts away"}
  - {type: image_url, image_url: {url: lantern.jpg}, role: first_frame}
resolution: 480p
ratio: "16:9"
duration: 4
""",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    video = Path(done.stdout.strip().splitlines()[-1])
    assert video.is_absolute() and video.name == "spec.mp4"
    assert video.parent.parent == (tmp_path / "out" / "spec").resolve()  # <out>/<name>/<task id>/
    assert (video.parent / "result.json").is_file()
    info = probe(video)
    assert (info.width, info.height, info.has_audio) == (864, 496, True)
    assert abs((info.duration or 0) - 4.0) <= 0.1
    assert stack.api_key not in done.stdout + done.stderr
    assert stack.s3_secret_key not in done.stdout + done.stderr


def test_generate_to_s3_prints_the_videos_s3_uri_last(stack: DevStack, tmp_path: Path) -> None:
    out = f"s3://{stack.bucket}/{tmp_path.name}"
    done = run_cli(
        stack, tmp_path, "{model: doubao-seedance-1-0-lite-t2v-250428, prompt: a kite, resolution: 480p, duration: 2}", out
    )
    assert done.returncode == 0, done.stderr[-2000:]
    uri = done.stdout.strip().splitlines()[-1]
    folder, _, name = uri.rpartition("/")
    assert folder.rpartition("/")[0] == f"{out}/spec" and name == "spec.mp4"
    key = uri.removeprefix(f"s3://{stack.bucket}/")
    result_key = f"{key.rpartition('/')[0]}/result.json"
    kept = json.loads(stack.s3_client().get_object(Bucket=stack.bucket, Key=result_key)["Body"].read())
    assert kept["locations"]["video"] == uri
    assert stack.s3_client().head_object(Bucket=stack.bucket, Key=key)["ContentLength"] == kept["video"]["size_bytes"]


def test_bad_value_exits_with_one_line_naming_the_field_before_anything_is_sent(stack: DevStack, tmp_path: Path) -> None:
    creates = gateway_stats(stack)["requests"]["create"]
    objects = s3_object_count(stack)
    done = run_cli(
        stack,
        tmp_path,
        """
model: doubao-seedance-2-0-260128
prompt: a lantern
references: [{url: lantern.jpg, role: first_frame}]
ratio: "5:4"
""",
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "ratio: '5:4' is not allowed" in lines[0] and "allowed: 16:9, 4:3, 1:1, 3:4, 9:16, 21:9, adaptive" in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert gateway_stats(stack)["requests"]["create"] == creates
    assert s3_object_count(stack) == objects
