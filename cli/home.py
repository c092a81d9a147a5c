"""Where the command line keeps what its commands share: Prefect's home folder. Standard library
only, so that `cli.launch` can find the command runner before anything heavy is imported."""

from __future__ import annotations

import os
from pathlib import Path


def prefect_home() -> Path:
    """Prefect's home folder, as Prefect itself finds it (`PREFECT_HOME`, default `~/.prefect`)."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
