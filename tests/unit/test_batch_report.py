"""A batch's report: one markdown table, a row per item, each on one line whatever its error says."""

from __future__ import annotations

from pathlib import Path

from seedance.stores.files import FileLedger
from tasks.report import ReportRow, render_batch_report
from tests.unit.test_ledger import estimate, result


def test_a_batch_report_has_a_row_per_item_with_its_poster_or_its_problem(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    ledger.reserve("a", estimate())
    made = result(tmp_path, 108_900, ledger.settle("a", 108_900, "succeeded"))
    made = made.model_copy(update={"locations": {"video": "s3://videos/harbour/cgt-1/harbour.mp4"}})
    rows = [
        ReportRow("harbour", made, None, "data:image/jpeg;base64,AAAA"),
        ReportRow("kite", None, "OutputVideoSensitiveContentDetected: the output was refused |\nby review"),
    ]
    lines = render_batch_report(rows).splitlines()
    assert lines[0:2] == [
        "| poster | item | status | output | tokens billed (estimated) | cost | video |",
        "|---|---|---|---|---|---|---|",
    ]
    assert lines[2] == (
        "| ![poster of cgt-1](data:image/jpeg;base64,AAAA) | harbour | succeeded | 1280×720, 5.00 s | 108,900 (108,000) "
        "| 5.0094 CNY | `s3://videos/harbour/cgt-1/harbour.mp4` |"
    )
    assert lines[3] == "| | kite | OutputVideoSensitiveContentDetected: the output was refused \\| by review | | | | |"
    assert len(lines) == 4
