"""What the command line prints when it fails."""

from __future__ import annotations

import pytest
import typer

from cli.main import _fail
from seedance.ark.types import ContentGenerationTask, TaskError, TaskStatus
from seedance.errors import GenerationFailedError


def test_refused_audio_fails_with_one_line_naming_the_gateway_and_ending_with_the_re_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    task = ContentGenerationTask(
        id="cgt-20261121120000-abcde",
        model="doubao-seedance-2-0-260128",
        status=TaskStatus.FAILED,
        error=TaskError(
            code="OutputAudioSensitiveContentDetected.PolicyViolation",
            message="The generated audio may violate platform rules.\nRequest id: 42",
        ),
        created_at=1779336000,
        updated_at=1779336100,
    )
    with pytest.raises(typer.Exit) as exited:
        _fail(GenerationFailedError.for_task(task, gateway="local"))
    assert exited.value.exit_code == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: [local] task cgt-20261121120000-abcde ended failed: OutputAudioSensitiveContentDetected")
    assert lines[0].endswith("(`seedance generate SPEC --out DIR --again`, or a new `salt` for the generate-video flow)")
