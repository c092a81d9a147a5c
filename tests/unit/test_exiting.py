"""A command that hangs after its last line still ends (`cli.exiting`), with the status it was
exiting with, and the stacks of what held it up in Prefect's home folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STUCK_AT_EXIT = """
import threading
import cli.exiting, cli.launch

cli.exiting.EXIT_GRACE_SECONDS = 1.0

def command():
    # a non-daemon thread that never ends: Python waits for it at exit, for ever
    threading.Thread(target=threading.Event().wait, name="never-ends").start()
    print("interrupted: the last line")
    raise SystemExit(130)

cli.launch.in_process = command
cli.launch.main()
"""


def test_a_command_stuck_after_its_last_line_exits_with_its_status(tmp_path: Path) -> None:
    env = os.environ | {"PREFECT_HOME": str(tmp_path), "SEEDANCE_CLI_RUNNER": "off"}
    done = subprocess.run([sys.executable, "-c", STUCK_AT_EXIT], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (130, "interrupted: the last line\n", "")
    stalls = (tmp_path / "seedance-exit-stalls.log").read_text()
    assert "still exiting 1 s after the command returned; its threads:" in stalls
    assert "in wait" in stalls  # the stuck thread's stack
