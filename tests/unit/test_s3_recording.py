"""moto's request record as DevStack reads it: moto appends each entry and its line break in two
writes, so the entries of concurrent requests can share a line."""

from __future__ import annotations

import json
from pathlib import Path

from local_gateway.devstack import DevStack


def test_entries_that_share_a_line_are_all_read(tmp_path: Path) -> None:
    def entry(method: str, path: str) -> str:
        return json.dumps({"method": method, "url": f"http://127.0.0.1:9000{path}", "body": "x" * 50_000})

    recording = tmp_path / "requests.jsonl"
    recording.write_text(
        entry("PUT", "/assets/a.jpg") + entry("PUT", "/assets/b.jpg") + "\n\n" + entry("HEAD", "/assets/c") + "\n"
    )
    stack = DevStack(api_key="k")
    stack._recording = recording
    assert stack.s3_requests() == [("PUT", "/assets/a.jpg"), ("PUT", "/assets/b.jpg"), ("HEAD", "/assets/c")]


def test_nothing_recorded_yet_is_no_requests(tmp_path: Path) -> None:
    stack = DevStack(api_key="k")
    stack._recording = tmp_path / "requests.jsonl"
    assert stack.s3_requests() == []
