"""`seedance generate` as a user runs it, and how it fails: one line per problem and a hint, last."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.sorting import FlowRunSort
from pydantic import SecretStr

from blocks.gateway import SeedanceGateway
from local_gateway.devstack import DevStack
from seedance.media import probe
from tests.e2e.support import gateway_stats, prefect_env, s3_object_count, seedance, stack_env

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "seedance" / "samples"
FAST_SPEC = """
model: doubao-seedance-1-0-lite-t2v-250428
prompt: a lighthouse in fog
resolution: 480p
duration: 2
"""
PREFECT_FAILURE_NOISE = ("Traceback", "Finished in state", "Encountered exception", "Crash detected")
"""What Prefect's own console logging printed before the command's line."""


@pytest.fixture
def cli_env(stack: DevStack, prefect_api_url: str, tmp_path: Path) -> dict[str, str]:
    """A one-off run's environment (no blocks) on the session's Prefect API, with fast polling."""
    return (
        prefect_env(tmp_path, prefect_api_url)
        | stack_env(stack)
        | {"SEEDANCE_POLL_INITIAL_SECONDS": "0.1", "SEEDANCE_POLL_MAX_SECONDS": "0.5"}
    )


def write_spec(tmp_path: Path, text: str) -> Path:
    shutil.copy(SAMPLES / "lantern.jpg", tmp_path / "lantern.jpg")
    (tmp_path / "spec.yaml").write_text(text)
    return tmp_path / "spec.yaml"


def generate(spec: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    return seedance("generate", str(spec), "--out", str(spec.parent / "out"), *options, env=env)


def latest_run_id(out_dir: Path) -> UUID:
    """The latest generate-video run whose outputs went to `out_dir`."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=20)
    [run] = [run for run in runs if run.parameters.get("out_dir") == str(out_dir)][:1]
    return run.id


def run_log_lines(out_dir: Path) -> list[str]:
    """The log messages of the latest generate-video run whose outputs went to `out_dir`."""
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[latest_run_id(out_dir)])))
    return [log.message for log in logs]


def run_event_names(api_url: str, out_dir: Path) -> list[str]:
    """The names of the events about that run, read once the server has stored its Completed event
    (the server stores events in the background, in the order they came)."""
    query = {"filter": {"any_resource": {"id": [f"prefect.flow-run.{latest_run_id(out_dir)}"]}}, "limit": 50}
    deadline = time.monotonic() + 30
    while True:
        names = [event["event"] for event in httpx.post(f"{api_url}/events/filter", json=query, timeout=10).json()["events"]]
        if "prefect.flow-run.Completed" in names or time.monotonic() > deadline:
            return names
        time.sleep(0.2)


def last_lines_are_the_error(done: subprocess.CompletedProcess[str], count: int) -> list[str]:
    """The stderr lines of a failure, checked to end with `count` error lines and one hint, and nothing from Prefect."""
    lines = done.stderr.strip().splitlines()
    assert not any(noise in done.stderr for noise in PREFECT_FAILURE_NOISE), done.stderr
    assert [line.split(":")[0] for line in lines[-count - 1 :]] == ["error"] * count + ["hint"], done.stderr
    assert done.stdout == ""
    return lines[-count - 1 :]


def test_generate_with_only_environment_variables(cli_env: dict[str, str], stack: DevStack, tmp_path: Path) -> None:
    spec = write_spec(
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
    done = generate(spec, cli_env)
    assert done.returncode == 0, done.stderr[-2000:]
    video = Path(done.stdout.strip().splitlines()[-1])
    assert video.is_absolute() and video.name == "spec.mp4"
    assert video.parent.parent == (tmp_path / "out" / "spec").resolve()  # <out>/<name>/<task id>/
    assert (video.parent / "result.json").is_file()
    info = probe(video)
    assert (info.width, info.height, info.has_audio) == (864, 496, True)
    assert abs((info.duration or 0) - 4.0) <= 0.1
    # piped, progress is one line per status change, then the summary
    statuses = [line.split(": ")[2].split(" · ")[0] for line in done.stderr.splitlines() if " · " in line]
    assert statuses[-1] == "succeeded" and set(statuses) <= {"queued", "running", "succeeded"}
    assert "(created) succeeded" in done.stderr.splitlines()[-1]
    # the live view listens to the core's status records; the run's logs still say each change once
    task_id = video.parent.name
    changes = [line for line in run_log_lines(tmp_path / "out") if line.startswith(f"task {task_id}")]
    statuses = [line.rsplit(" ", 1)[-1] for line in changes]
    assert len(statuses) == len(set(statuses)) and statuses[-1] == "succeeded", changes
    assert stack.api_key not in done.stdout + done.stderr
    assert stack.s3_secret_key not in done.stdout + done.stderr


def test_generate_to_s3_prints_the_videos_s3_uri_last(cli_env: dict[str, str], stack: DevStack, tmp_path: Path) -> None:
    out = f"s3://{stack.bucket}/{tmp_path.name}"
    spec = write_spec(tmp_path, "{model: doubao-seedance-1-0-lite-t2v-250428, prompt: a kite, resolution: 480p, duration: 2}")
    done = seedance("generate", str(spec), "--out", out, env=cli_env)
    assert done.returncode == 0, done.stderr[-2000:]
    uri = done.stdout.strip().splitlines()[-1]
    folder, _, name = uri.rpartition("/")
    assert folder.rpartition("/")[0] == f"{out}/spec" and name == "spec.mp4"
    key = uri.removeprefix(f"s3://{stack.bucket}/")
    result_key = f"{key.rpartition('/')[0]}/result.json"
    kept = json.loads(stack.s3_client().get_object(Bucket=stack.bucket, Key=result_key)["Body"].read())
    assert kept["locations"]["video"] == uri
    assert stack.s3_client().head_object(Bucket=stack.bucket, Key=key)["ContentLength"] == kept["video"]["size_bytes"]


@pytest.mark.parametrize("asked", [False, True], ids=["by-default", "asked-for"])
def test_a_cli_run_sends_flow_run_heartbeats_only_when_asked(
    cli_env: dict[str, str], prefect_api_url: str, tmp_path: Path, asked: bool
) -> None:
    """Prefect's heartbeat thread made every command end up to 1 s late (cli.run.heartbeats_only_if_asked)."""
    env = cli_env | ({"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"} if asked else {})
    done = generate(write_spec(tmp_path, FAST_SPEC), env)
    assert done.returncode == 0, done.stderr[-2000:]
    names = run_event_names(prefect_api_url, tmp_path / "out")
    assert "prefect.flow-run.Completed" in names
    assert ("prefect.flow-run.heartbeat" in names) is asked, names


def test_json_prints_the_result_and_nothing_else(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = generate(write_spec(tmp_path, FAST_SPEC), cli_env, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded" and Path(result["files"]["video"]).is_file()
    assert done.stderr == ""


def test_every_problem_of_a_spec_is_a_line_unknown_fields_with_a_guess_before_anything_is_sent(
    cli_env: dict[str, str], stack: DevStack, tmp_path: Path
) -> None:
    creates, objects = gateway_stats(stack)["requests"]["create"], s3_object_count(stack)
    spec = write_spec(
        tmp_path,
        """
model: doubao-seedance-2-0-260128
prompt: a lantern
references: [{url: lantern.jpg, role: first_frame}]
ratio: "5:4"
durration: 5
""",
    )
    done = generate(spec, cli_env)
    assert done.returncode == 2
    errors = last_lines_are_the_error(done, 2)
    assert errors[0] == f"error: {spec}: durration: is not a parameter of this API; did you mean 'duration'?"
    assert errors[1].startswith(f"error: {spec}: ratio: '5:4' is not allowed")
    assert errors[1].endswith("allowed: 16:9, 4:3, 1:1, 3:4, 9:16, 21:9, adaptive")
    assert len(done.stderr.strip().splitlines()) == 3
    assert gateway_stats(stack)["requests"]["create"] == creates
    assert s3_object_count(stack) == objects


def test_a_yaml_error_names_its_line_and_column(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = generate(write_spec(tmp_path, "model: doubao-seedance-2-0-260128\nprompt: [unclosed\nratio: 1\n"), cli_env)
    assert done.returncode == 2
    [error, _] = last_lines_are_the_error(done, 1)
    assert "not valid YAML/JSON: line 3, column 6:" in error


def test_a_missing_block_is_one_line_and_a_hint(cli_env: dict[str, str], prefect_api_url: str, tmp_path: Path) -> None:
    done = generate(write_spec(tmp_path, FAST_SPEC), cli_env, "--gateway", "nosuch")
    assert done.returncode == 2
    [error, hint] = last_lines_are_the_error(done, 1)
    assert error.startswith(f"error: no gateway block named 'nosuch' on the Prefect API at {prefect_api_url}")
    assert (
        hint
        == "hint: save it with `seedance blocks save-gateway nosuch`, or leave --gateway out to use ARK_API_KEY and ARK_BASE_URL"
    )
    assert len(done.stderr.strip().splitlines()) == 2
    unused = generate(write_spec(tmp_path, FAST_SPEC), cli_env, "--bucket", "nosuch")  # text only: no upload
    assert unused.returncode == 2
    assert last_lines_are_the_error(unused, 1)[0].startswith(
        f"error: no bucket block named 'nosuch' on the Prefect API at {prefect_api_url}"
    )
    block = SeedanceGateway(base_url="http://127.0.0.1:9/api/v3", api_key=SecretStr("k"))
    block_id = block.save("lighthouse-gateway", overwrite=True)
    assert isinstance(block_id, UUID)  # `save` is typed for sync and async callers alike
    try:
        misspelt = generate(write_spec(tmp_path, FAST_SPEC), cli_env, "--gateway", "lighthouse-gatway")
    finally:
        with get_client(sync_client=True) as client:
            client.delete_block_document(block_id)
    assert misspelt.returncode == 2
    assert last_lines_are_the_error(misspelt, 1)[0].endswith("(did you mean 'lighthouse-gateway'?)")


def test_a_wrong_api_key_is_one_line_and_a_hint(cli_env: dict[str, str], stack: DevStack, tmp_path: Path) -> None:
    done = generate(write_spec(tmp_path, FAST_SPEC), cli_env | {"ARK_API_KEY": "not-the-key"})
    assert done.returncode == 1
    error, hint = last_lines_are_the_error(done, 1)
    assert error.startswith(f"error: [{stack.gateway_url.split('/')[2]}] HTTP 401 AuthenticationError")
    assert "seedance blocks save-gateway" in hint
    assert len(done.stderr.strip().splitlines()) == 2


def test_a_batch_refused_for_its_key_stops_submitting_and_says_so_once(
    cli_env: dict[str, str], stack: DevStack, tmp_path: Path
) -> None:
    items = "".join(f'  - {{name: item-{i:02d}, prompt: "lanterns on a river, take {i}"}}\n' for i in range(12))
    manifest = tmp_path / "batch.yaml"
    manifest.write_text(
        f"defaults: {{model: doubao-seedance-1-0-lite-t2v-250428, resolution: 480p, duration: 2}}\nitems:\n{items}"
    )
    creates = gateway_stats(stack)["requests"]["create"]
    env = cli_env | {"ARK_API_KEY": "not-the-key", "SEEDANCE_BATCH_THREADS": "2"}
    done = seedance("batch", str(manifest), "--out", str(tmp_path / "out"), env=env)

    assert done.returncode == 1 and done.stdout == ""
    assert gateway_stats(stack)["requests"]["create"] - creates == 2  # the two submitting threads' items, no more
    assert not any(noise in done.stderr for noise in PREFECT_FAILURE_NOISE), done.stderr
    stopped, refused, hint = done.stderr.strip().splitlines()
    assert stopped.startswith("failed: 10 items (item-02, item-03, item-04, …): not submitted: the gateway refused item item-0")
    assert refused.startswith("failed: 2 items (item-00, item-01): [") and "HTTP 401 AuthenticationError" in refused
    assert hint.startswith("hint: the gateway refused the API key")


def test_a_budget_too_small_is_refused_before_any_prefect_api_is_used(cli_env: dict[str, str], tmp_path: Path) -> None:
    unreachable = cli_env | {"PREFECT_API_URL": "http://127.0.0.1:9/api"}  # nothing listens there
    done = generate(write_spec(tmp_path, FAST_SPEC), unreachable, "--budget", "0.01 CNY")
    assert done.returncode == 2  # nothing was sent
    error, hint = last_lines_are_the_error(done, 1)
    assert error.startswith("error: budget 0.01 CNY would be exceeded: 0.1944 CNY estimated for spec")
    assert "raise --budget" in hint


NO_BUCKET = "no-such-bucket-here"
LANTERN_SPEC = """
model: doubao-seedance-1-0-lite-i2v-250428
prompt: the lantern drifts away
references: [{url: lantern.jpg, role: first_frame}]
resolution: 480p
duration: 2
"""


def test_a_bucket_that_is_not_there_is_one_line_and_a_hint_before_anything_is_created(
    cli_env: dict[str, str], stack: DevStack, tmp_path: Path
) -> None:
    creates = gateway_stats(stack)["requests"]["create"]
    done = generate(write_spec(tmp_path, LANTERN_SPEC), cli_env | {"SEEDANCE_BUCKET": NO_BUCKET})
    assert done.returncode == 1
    error, hint = last_lines_are_the_error(done, 1)
    assert error.startswith(f"error: S3 upload to s3://{NO_BUCKET}/inputs/sha256/") and error.endswith(
        "failed: NoSuchBucket: The specified bucket does not exist"
    ), error
    assert hint.startswith("hint: check the bucket's name, endpoint and credentials")
    assert gateway_stats(stack)["requests"]["create"] == creates


def test_a_batch_item_whose_upload_fails_does_not_stop_the_others(
    cli_env: dict[str, str], stack: DevStack, tmp_path: Path
) -> None:
    write_spec(tmp_path, LANTERN_SPEC)
    manifest = tmp_path / "batch.yaml"
    manifest.write_text(
        "defaults: {model: doubao-seedance-1-0-lite-t2v-250428, resolution: 480p, duration: 2}\n"
        "items:\n"
        "  - {name: gull, prompt: a gull over the harbour}\n"
        "  - spec.yaml\n"
        "  - {name: wave, prompt: a wave breaking on rocks}\n"
    )
    creates = gateway_stats(stack)["requests"]["create"]
    done = seedance("batch", str(manifest), "--out", str(tmp_path / "out"), env=cli_env | {"SEEDANCE_BUCKET": NO_BUCKET})

    assert done.returncode == 1
    assert sorted(Path(line).name for line in done.stdout.splitlines()) == ["gull.mp4", "wave.mp4"]
    assert gateway_stats(stack)["requests"]["create"] - creates == 2
    assert not any(noise in done.stderr for noise in PREFECT_FAILURE_NOISE), done.stderr
    failed, hint = done.stderr.strip().splitlines()[-2:]  # the videos' summary lines come before
    assert failed.startswith(f"failed: spec: S3 upload to s3://{NO_BUCKET}/") and "NoSuchBucket" in failed, done.stderr
    assert hint.startswith("hint: check the bucket's name, endpoint and credentials")


@pytest.fixture
def failing_tasks(stack: DevStack) -> Iterator[None]:
    """Every task the gateway runs fails upstream, with a content-moderation code."""
    faults = f"{stack.gateway_url.removesuffix('/api/v3')}/_local/faults"
    plan = {"rates": {"task-failure": 1.0}, "task_failure_code": "OutputVideoSensitiveContentDetected"}
    httpx.post(faults, json=plan, timeout=5).raise_for_status()
    try:
        yield
    finally:
        httpx.post(faults, json={}, timeout=5).raise_for_status()


@pytest.mark.usefixtures("failing_tasks")
def test_a_task_that_failed_upstream_is_the_last_line_with_no_prefect_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = generate(write_spec(tmp_path, FAST_SPEC), cli_env)
    assert done.returncode == 1
    error, hint = last_lines_are_the_error(done, 1)
    assert "ended failed: OutputVideoSensitiveContentDetected" in error
    task_id = error.split(" task ")[1].split()[0]
    assert hint.startswith(f"hint: `seedance status {task_id}` shows the task") and "--again" in hint


def test_an_unreachable_prefect_api_is_one_line_and_a_hint(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = generate(write_spec(tmp_path, FAST_SPEC), cli_env | {"PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert done.returncode == 2
    assert last_lines_are_the_error(done, 1) == [
        "error: nothing answers at PREFECT_API_URL http://127.0.0.1:9/api",
        "hint: start that Prefect server, or unset PREFECT_API_URL to use the local one the commands share",
    ]
