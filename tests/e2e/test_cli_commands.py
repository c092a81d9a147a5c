"""Every `seedance` command, run as a subprocess against the local stack and the session's Prefect API."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from local_gateway.devstack import DevStack
from seedance.media import probe
from tests.e2e.conftest import API_KEY
from tests.e2e.support import ROOT, gateway_stats, prefect_env, s3_object_count, seedance, stack_env

pytestmark = [pytest.mark.e2e, pytest.mark.long]

EXAMPLES = ROOT / "examples"
BLOCKS = ("--gateway", "local", "--bucket", "local-assets")


@pytest.fixture
def env(local_blocks: DevStack, prefect_api_url: str, tmp_path: Path) -> dict[str, str]:
    """Blocks saved on the session's Prefect API (`local`, `local-assets`), fast polling, no `ARK_*`."""
    return prefect_env(tmp_path, prefect_api_url) | {"SEEDANCE_POLL_INITIAL_SECONDS": "0.1", "SEEDANCE_POLL_MAX_SECONDS": "0.5"}


def spec_with_a_local_frame(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "lantern.jpg", tmp_path / "lantern.jpg")
    (tmp_path / "spec.yaml").write_text(
        "model: doubao-seedance-2-0-fast-260128\nprompt: the lantern drifts away\n"
        "references: [{url: lantern.jpg, role: first_frame}]\nresolution: 480p\nratio: '16:9'\nduration: 4\n"
    )
    return tmp_path / "spec.yaml"


def test_a_dry_run_prints_the_requests_starts_no_server_and_sends_nothing_then_a_run_sends_them(
    stack: DevStack, prefect_api_url: str, tmp_path: Path
) -> None:
    spec = spec_with_a_local_frame(tmp_path)
    creates, objects = gateway_stats(stack)["requests"]["create"], s3_object_count(stack)
    no_api = prefect_env(tmp_path) | stack_env(stack)  # no PREFECT_API_URL: a run would start the shared server
    text = seedance("generate", str(spec), "--out", str(tmp_path / "out"), "--dry-run", env=no_api)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1].startswith("PUT s3://seedance-assets/inputs/sha256/") and "lantern.jpg, 13,759 bytes, image/jpeg;" in lines[1]
    assert lines[2] == f"POST {stack.gateway_url}/contents/generations/tasks"
    assert "Authorization: Bearer ****2c9a" in lines and API_KEY not in text.stdout + text.stderr
    assert text.stderr.strip() == "dry run: nothing was uploaded, created or started (s3:// URLs are sent as presigned GET URLs)"

    [planned] = json.loads(
        seedance("generate", str(spec), "--out", str(tmp_path / "out"), "--dry-run", "--json", env=no_api).stdout
    )
    body = planned["create"]["json_body"]
    assert body["content"][1]["image_url"]["url"] == planned["uploads"][0]["s3_url"]
    assert (body["model"], body["resolution"], body["duration"]) == ("doubao-seedance-2-0-fast-260128", "480p", 4)
    assert gateway_stats(stack)["requests"]["create"] == creates and s3_object_count(stack) == objects
    assert not (tmp_path / "prefect-home" / "seedance-server.json").exists()

    run = seedance(
        "generate", str(spec), "--out", str(tmp_path / "out"), "--json", env=no_api | {"PREFECT_API_URL": prefect_api_url}
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["intent_key"] == planned["intent_key"] and result["seed"] == body["seed"]
    again = seedance("generate", str(spec), "--out", str(tmp_path / "out"), "--dry-run", env=no_api)
    assert f"# resumes task {result['task_id']}, created by an earlier run: no upload, no create" in again.stdout


def test_a_batch_dry_run_reads_blocks_from_the_running_api(env: dict[str, str], stack: DevStack, tmp_path: Path) -> None:
    done = seedance(
        "batch", str(EXAMPLES / "batch.yaml"), "--out", str(tmp_path / "out"), *BLOCKS, "--dry-run", "--json", env=env
    )
    assert done.returncode == 0, done.stderr
    planned = json.loads(done.stdout)
    assert [item["name"] for item in planned] == ["lantern-rises", "harbour-dusk", "first-frame"]
    assert planned[0]["uploads"][0]["s3_url"].startswith("s3://seedance-assets/seedance/inputs/sha256/")  # the block's folder
    assert {item["create"]["url"] for item in planned} == {f"{stack.gateway_url}/contents/generations/tasks"}

    tight = seedance("batch", str(EXAMPLES / "batch.yaml"), "--out", "unused", *BLOCKS, "--dry-run", "--budget", "4 CNY", env=env)
    assert tight.returncode == 0
    assert tight.stderr.splitlines()[0] == "warning: budget 4 CNY: first-frame would pass it and will not be submitted"
    none_fit = seedance("batch", str(EXAMPLES / "batch.yaml"), "--out", "unused", *BLOCKS, "--budget", "1 CNY", env=env)
    assert none_fit.returncode == 2 and none_fit.stderr.startswith("error: budget 1 CNY would be exceeded: 1.5020 CNY")
    unwritten = seedance("batch", str(EXAMPLES / "batch.yaml"), "--out", "unused", *BLOCKS, "--budget", "1.5", env=env)
    assert unwritten.returncode == 2
    assert unwritten.stderr.splitlines() == [
        "error: budget: '1.5' is not a budget; write an amount and a currency, e.g. '20 CNY' or '5 USD'",
        "hint: nothing was sent; a budget (--budget or SEEDANCE_BUDGET) is an amount in the prices' currency, "
        "e.g. '20 CNY', and checks only models the price file prices",
    ]


def test_the_example_manifest_runs_then_status_and_list_show_its_generations(env: dict[str, str], tmp_path: Path) -> None:
    done = seedance("batch", str(EXAMPLES / "batch.yaml"), "--out", str(tmp_path / "out"), *BLOCKS, "--json", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    items = json.loads(done.stdout)["items"]
    assert [(item["name"], item["result"]["status"]) for item in items] == [
        ("lantern-rises", "succeeded"),
        ("harbour-dusk", "succeeded"),
        ("first-frame", "succeeded"),
    ]
    assert probe(Path(items[2]["result"]["files"]["video"])).has_audio

    task_id, key = items[0]["result"]["task_id"], items[0]["result"]["intent_key"]
    by_task = seedance("status", task_id, "--gateway", "local", "--json", env=env)
    assert by_task.returncode == 0, by_task.stderr
    assert (json.loads(by_task.stdout)["id"], json.loads(by_task.stdout)["status"]) == (task_id, "succeeded")
    by_intent = seedance("status", key[:10], env=env)  # a prefix of the key; the intent names its gateway block
    assert by_intent.returncode == 0, by_intent.stderr
    assert by_intent.stdout.splitlines()[:2] == [f"task     {task_id}", "status   succeeded"]

    listed = seedance("list", "--json", env=env)
    assert {(intent["key"], intent["task_id"], intent["gateway"]) for intent in json.loads(listed.stdout)} == {
        (item["result"]["intent_key"], item["result"]["task_id"], "local") for item in items
    }
    assert {
        (intent["ledger"]["status"], intent["ledger"]["billed_cost"] is not None) for intent in json.loads(listed.stdout)
    } == {("succeeded", True)}
    # run again under a budget none of them would fit: all three resume, nothing new is paid, nothing is refused
    again = seedance("batch", str(EXAMPLES / "batch.yaml"), "--out", str(tmp_path / "out"), *BLOCKS, "--budget", "1 CNY", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "warning" not in again.stderr and again.stderr.count("(resumed) succeeded") == 3, again.stderr
    table = seedance("list", "--limit", "1", env=env)
    assert table.returncode == 0
    [row] = [line for line in table.stdout.splitlines() if " cgt-" in line]  # piped: whole, one line per generation
    intent = next(intent for intent in json.loads(listed.stdout) if intent["task_id"] in row)
    assert row.split()[:4] == [intent["key"][:12], "succeeded", intent["ledger"]["billed_cost"], "CNY"]
    assert row.split()[-1] == intent["model"]  # one gateway: no gateway column


def test_the_example_storyboard_runs(env: dict[str, str], tmp_path: Path) -> None:
    done = seedance("storyboard", str(EXAMPLES / "storyboard.yaml"), "--out", str(tmp_path / "out"), *BLOCKS, "--json", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert len(result["shots"]) == 3 and probe(Path(result["video"])).width == 864


def test_the_examples_pass_estimate(tmp_path: Path) -> None:
    env = prefect_env(tmp_path)
    for example, items in (("batch.yaml", 3), ("storyboard.yaml", 3), ("first-frame.yaml", 1)):
        done = seedance("estimate", str(EXAMPLES / example), "--json", env=env)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert len(report["items"]) == items and float(report["totals"]["CNY"]) > 0
    table = seedance("estimate", str(EXAMPLES / "storyboard.yaml"), env=env)
    assert "shot-03" in table.stdout and "total (3 items)" in table.stdout
    narrow = seedance("estimate", str(EXAMPLES / "batch.yaml"), env=env | {"FORCE_COLOR": "1", "COLUMNS": "80"})
    assert narrow.returncode == 0 and "…" not in narrow.stdout  # folded, not cut short


def test_models_lists_the_catalog_with_every_id_whole_on_a_terminal_100_columns_wide(tmp_path: Path) -> None:
    done = seedance("models", "--json", env=prefect_env(tmp_path))
    assert done.returncode == 0
    known = json.loads(done.stdout)
    assert "doubao-seedance-2-0-260128" in {model["id"] for model in known}
    terminal = prefect_env(tmp_path) | {"FORCE_COLOR": "1", "COLUMNS": "100"}  # rich then draws for a terminal
    table = re.sub(r"\x1b\[[0-9;]*m", "", seedance("models", env=terminal).stdout)
    assert max(len(line) for line in table.splitlines()) <= 100
    cells = {cell.strip() for line in table.splitlines() for cell in line.split("│")}
    assert {id_ for model in known for id_ in (model["id"], model["byteplus_id"])} <= cells


def test_blocks_saved_from_the_shell_are_the_ones_a_run_uses(stack: DevStack, prefect_api_url: str, tmp_path: Path) -> None:
    env = prefect_env(tmp_path, prefect_api_url) | stack_env(stack)
    saved = seedance("blocks", "save-gateway", "shell-gw", "--base-url", stack.gateway_url, env=env)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip() == f"saved gateway block 'shell-gw': {stack.gateway_url} (ark)"
    bucket = seedance(
        "blocks", "save-bucket", "shell-assets", "--bucket", stack.bucket, "--endpoint-url", stack.s3_endpoint, env=env
    )
    assert bucket.returncode == 0, bucket.stderr
    spec = spec_with_a_local_frame(tmp_path)
    no_ark = {key: value for key, value in env.items() if not key.startswith("ARK_")}
    done = seedance(
        "generate", str(spec), "--out", "unused", "--gateway", "shell-gw", "--bucket", "shell-assets", "--dry-run", env=no_ark
    )
    assert done.returncode == 0, done.stderr
    assert f"POST {stack.gateway_url}/contents/generations/tasks" in done.stdout
    assert "PUT s3://seedance-assets/seedance/inputs/sha256/" in done.stdout


def test_demo_makes_a_video_on_this_machine_and_keeps_its_stack_up_until_ctrl_c(tmp_path: Path) -> None:
    # On a Prefect server of its own, as on a fresh machine: the demo saves blocks named `local` and
    # `local-assets`, which would repoint the session's blocks of the same names at its own stack.
    env = prefect_env(tmp_path)
    with subprocess.Popen(
        [sys.executable, "-m", "cli", "demo", "--out", str(tmp_path / "demo"), "--keep"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as demo:
        try:
            assert demo.stdout is not None and demo.stderr is not None
            video = Path(demo.stdout.readline().strip())  # blocks until the video is made
            assert video.is_file() and probe(video).has_audio, demo.stderr.read() if demo.poll() is not None else video
            lines: list[str] = []
            while not lines or lines[-1] != "Ctrl-C stops it":
                line = demo.stderr.readline()
                assert line, f"the demo ended (exit {demo.wait()}) without keeping its stack up: {lines[-5:]}"
                lines.append(line.strip())
            [stack] = [line for line in lines if line.startswith("the local stack stays up: gateway ")]
            gateway = stack.split("gateway ")[1].split(",")[0]
            assert "seedance batch examples/batch.yaml --out out/batch --gateway local --bucket local-assets" in lines
            # the stack and its blocks answer another command while the demo waits
            status = seedance("status", video.parent.name, "--gateway", "local", "--json", env=env)
            assert status.returncode == 0 and json.loads(status.stdout)["status"] == "succeeded", status.stderr
            demo.send_signal(signal.SIGINT)
            assert demo.wait(timeout=60) == 0
            with pytest.raises(httpx.TransportError):
                httpx.get(gateway, timeout=2)  # stopped with the demo
        finally:
            if demo.poll() is None:
                demo.kill()
            seedance("server", "stop", env=env)
