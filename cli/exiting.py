"""A command's end: once it has said how it ends, its process is gone within `EXIT_GRACE_SECONDS`.

After a command's last line Python waits for its non-daemon threads, Prefect's services send
their last run logs and events, then the atexit handlers run. After a Ctrl-C that took 0.04-0.07 s
(measured on 2 cores), and 0.1-3.6 s with the Prefect server frozen for up to 4 s; none of it has
a limit. Once, in CI, a `seedance generate` printed that it had cancelled its task upstream, then
did not exit within 60 s (where it waited was not recorded); a command that acted on a Ctrl-C
ignores the next one, so nothing but `kill -9` would have ended it.

Past the grace the process exits with the status it was exiting with, without the rest of that
flush; the stacks of its threads go to `seedance-exit-stalls.log` in Prefect's home folder, and
nothing to the terminal (the command's last line stays its last).

Standard library only (see `cli.launch`).
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import threading
import time
from typing import Final

from cli.home import prefect_home

EXIT_GRACE_SECONDS: Final = 15.0


def exit_within_grace(status: int) -> None:
    """Flush the standard streams, and end the process with `status` `EXIT_GRACE_SECONDS` from
    now unless it has ended by then. Call it as the command returns, before the process exits."""
    flush_standard_streams()
    threading.Thread(target=_end_when_overdue, args=(status,), name="exit-grace", daemon=True).start()


def flush_standard_streams() -> None:
    """Flush stdout and stderr, whatever state they are in."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, or started without one
            stream.flush()


def exit_status(exc: SystemExit) -> int:
    """The status Python exits with for `exc`."""
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


def _end_when_overdue(status: int) -> None:
    time.sleep(EXIT_GRACE_SECONDS)
    with contextlib.suppress(OSError), (prefect_home() / "seedance-exit-stalls.log").open("a") as log:
        command = " ".join(sys.argv[1:2])
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()} (seedance {command}): ")
        log.write(f"still exiting {EXIT_GRACE_SECONDS:.0f} s after the command returned; its threads:\n")
        log.flush()
        faulthandler.dump_traceback(log, all_threads=True)
    os._exit(status & 0xFF)
