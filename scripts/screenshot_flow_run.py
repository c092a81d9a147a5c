"""Open a finished generate-video flow run in the real Prefect UI and save screenshots.

    .venv/bin/python scripts/screenshot_flow_run.py --out out/ui

Starts a Prefect server (UI included) on a free port with its own PREFECT_HOME, runs the demo
against it (local S3 + local gateway), then points headless Chromium at the flow run's page
(`flow-run.png`: the run graph with its artifacts) and at the run's report artifact
(`report.png`: the poster, task id, gateway, model, status timeline, tokens, cost, files).
Needs Debian's Chromium: `apt-get install chromium`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from local_gateway.devstack import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def start_server(home: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise SystemExit(f"the Prefect server did not start; see {home / 'server.log'}")


def latest_flow_run(api: str) -> str:
    response = httpx.post(f"{api}/flow_runs/filter", json={"sort": "START_TIME_DESC", "limit": 1}, timeout=10)
    response.raise_for_status()
    return str(response.json()[0]["id"])


def artifacts_of(api: str, flow_run: str) -> dict[str, str]:
    """Artifact id by type (markdown, image) for one flow run."""
    body = {"artifacts": {"flow_run_id": {"any_": [flow_run]}}}
    response = httpx.post(f"{api}/artifacts/filter", json=body, timeout=10)
    response.raise_for_status()
    return {artifact["type"]: str(artifact["id"]) for artifact in response.json()}


def screenshot(url: str, out: Path, chromium: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--window-size=1440,1900",
                "--virtual-time-budget=20000",
                f"--screenshot={out}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "ui", help="folder for the PNGs")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is needed: apt-get install chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="seedance-ui-"))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_API_URL": api,
    }
    server = start_server(home, port, env)
    try:
        demo = subprocess.run([str(BIN / "seedance"), "demo", "--out", str(home / "demo")], env=env, cwd=ROOT, check=False)
        if demo.returncode != 0:
            raise SystemExit("the demo run failed")
        flow_run = latest_flow_run(api)
        ui = f"http://127.0.0.1:{port}"
        pages = {"flow-run.png": f"{ui}/runs/flow-run/{flow_run}"}
        for kind, artifact in artifacts_of(api, flow_run).items():
            pages["report.png" if kind == "markdown" else f"{kind}.png"] = f"{ui}/artifacts/artifact/{artifact}"
        for name, url in pages.items():
            screenshot(url, args.out / name, chromium)
            print(args.out.resolve() / name)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
