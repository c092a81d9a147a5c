"""The one file lock: `flock`, held for a block and released by the kernel if the holder dies."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive (or `shared`) `flock` on `path`, created if missing; blocks until granted.

    Example:
        >>> with file_lock(state_dir / "ledger.lock"):
        ...     ...  # read, change, append: no other process holds the lock meanwhile
    """
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
