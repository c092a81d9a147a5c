"""Other processes the command line records by pid (the shared server, the command runner, a
command's child): whether they live and what they run. Standard library only (see `cli.launch`)."""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether `pid` exists (another user's counts: it is alive, and not ours to signal)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def runs(pid: int, *words: bytes) -> bool:
    """Whether `pid`'s command line has every one of `words`: a recorded pid may have been reused
    since. True where there is no /proc to ask (macOS): the record is trusted."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc").is_dir()
    except PermissionError:
        return False
    return all(word in command for word in words)
