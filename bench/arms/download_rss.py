"""One download in a process of its own; prints the process's peak RSS in bytes (VmHWM).

    python -m bench.arms.download_rss pipeline|httpx|import URL DEST

`pipeline` is the core's `seedance.download.download` (streamed to a .part file, size-checked,
hashed, renamed); `httpx` a plain streamed GET written to DEST; `import` only imports what
`pipeline` needs, the floor both stand on. VmHWM, not `ru_maxrss`: the latter keeps the peak of
the process image before `exec`, a copy of whatever process started this one.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    mode, url, dest = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if mode == "pipeline":
        from seedance.download import download

        download(url, dest)
    elif mode == "httpx":
        import httpx

        with httpx.stream("GET", url, timeout=60) as response, dest.open("wb") as handle:
            response.raise_for_status()
            for chunk in response.iter_raw():
                handle.write(chunk)
    elif mode == "import":
        import seedance.download  # noqa: F401
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    status = Path("/proc/self/status").read_text()
    print(next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")))


if __name__ == "__main__":
    main()
