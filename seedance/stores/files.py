"""The embedded backend: intent records and the ledger as files in a state folder, locked with `flock`.

    <state dir>/intents/<key>.json   one intent record, written to a temporary file and renamed
    <state dir>/intents/<key>.lock   its lock
    <state dir>/ledger.jsonl         the ledger log, one JSON entry a line, appended and fsynced
    <state dir>/ledger.lock          the ledger-wide lock

`flock` is held for the whole block and released by the kernel if the holder dies, so no lease can
expire mid-call and no service has to run. Every worker must see the same folder: one host, or a
shared file system whose `flock` works across hosts.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from seedance.files import atomic_write_text
from seedance.intents import Intent
from seedance.ledger import Ledger, LedgerChange, LedgerEntry, latest_entries
from seedance.locking import file_lock

LEDGER_FILE: Final = "ledger.jsonl"
LEDGER_LOCK_FILE: Final = "ledger.lock"


class FileIntentStore:
    """Intent records under `root`, one JSON file per key (an `IntentStore`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"FileIntentStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the exclusive `flock` of one intent key (blocks until other holders release it)."""
        with file_lock(self.root / f"{key}.lock"):
            yield

    def get(self, key: str) -> Intent | None:
        try:
            return Intent.model_validate_json(self._path(key).read_bytes())
        except FileNotFoundError:
            return None

    def put(self, intent: Intent) -> Intent:
        """Write a record atomically (temporary file, fsync, rename)."""
        intent = intent.model_copy(update={"updated_at": time.time()})
        atomic_write_text(self._path(intent.key), intent.model_dump_json(indent=2))
        return intent

    def all(self) -> list[Intent]:
        return [Intent.model_validate_json(path.read_bytes()) for path in self.root.glob("*.json")]

    def claimed_task_ids(self) -> set[str]:
        return {intent.task_id for intent in self.all() if intent.task_id}

    def owned_by(self, owner: str) -> list[Intent]:
        return [intent for intent in self.all() if intent.owner == owner and intent.task_id]

    def discard(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def record_of(self, key: str) -> str:
        return f"the file {self._path(key)}"


class FileLedger(Ledger):
    """The ledger log `ledger.jsonl` in `state_dir` (created if missing).

    A line torn by a crash is skipped when read and closed off by the next append.
    """

    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock=clock)
        self.root = state_dir
        self.path = state_dir / LEDGER_FILE
        self._lock_path = state_dir / LEDGER_LOCK_FILE
        state_dir.mkdir(parents=True, exist_ok=True)

    @property
    def location(self) -> str:
        return str(self.path)

    def _read(self) -> tuple[dict[str, LedgerEntry], int]:
        with file_lock(self._lock_path, shared=True):
            return self._read_unlocked()

    @contextmanager
    def _change(self) -> Iterator[LedgerChange]:
        with file_lock(self._lock_path):
            change = LedgerChange(entries=self._read_unlocked()[0])
            yield change
            if change.appended is not None:
                self._append(change.appended)

    def _read_unlocked(self) -> tuple[dict[str, LedgerEntry], int]:
        """The log's latest entries, parsing only the lines appended since this process last read it.

        The log only grows, so what was parsed stays true; a file replaced (another inode) or cut
        short is read again from the start. A last line without its newline (torn by a crash, closed
        off by the next append) is read each time and never kept.
        """
        try:
            with self.path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                with _parsed_lock:
                    known = _parsed.get(self.path)
                    if known is None or known.identity != (stat.st_dev, stat.st_ino) or known.offset > stat.st_size:
                        known = _parsed[self.path] = _ParsedLog(identity=(stat.st_dev, stat.st_ino))
                    handle.seek(known.offset)
                    *complete, partial = handle.read().split(b"\n")
                    entries, unreadable = latest_entries(complete)
                    known.entries.update(entries)
                    known.unreadable += unreadable
                    known.offset += sum(len(line) + 1 for line in complete)
                    current, unreadable = dict(known.entries), known.unreadable
        except FileNotFoundError:
            return {}, 0
        last, torn = latest_entries([partial])
        return current | last, unreadable + torn

    def _append(self, entry: LedgerEntry) -> None:
        """Append one line and fsync it; a line torn by an earlier crash is closed off first."""
        line = json.dumps(entry.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        created = not self.path.exists()
        with self.path.open("a+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    line = b"\n" + line
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            _fsync_dir(self.root)


@dataclass
class _ParsedLog:
    """What this process has parsed of one ledger log: its complete lines up to `offset`."""

    identity: tuple[int, int]
    """The file's device and inode."""
    offset: int = 0
    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    unreadable: int = 0


_parsed: dict[Path, _ParsedLog] = {}
_parsed_lock = threading.Lock()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
