"""What the command line prints when it fails: one line per problem, then a hint, never a traceback."""

from __future__ import annotations

import pytest
import typer

from cli.errors import UsageError, fail
from seedance.ark.types import ContentGenerationTask, TaskError, TaskStatus
from seedance.errors import AuthenticationError, GenerationFailedError, Problem, SpecError


def failed_task(code: str, message: str, status: TaskStatus = TaskStatus.FAILED) -> ContentGenerationTask:
    return ContentGenerationTask(
        id="cgt-20261121120000-abcde",
        model="doubao-seedance-2-0-260128",
        status=status,
        error=TaskError(code=code, message=message),
        created_at=1779336000,
        updated_at=1779336100,
    )


def printed(exc: BaseException, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    with pytest.raises(typer.Exit) as exited:
        fail(exc)
    return exited.value.exit_code, capsys.readouterr().err.splitlines()


def test_refused_audio_fails_with_one_line_naming_the_gateway_and_ending_with_the_re_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    task = failed_task(
        "OutputAudioSensitiveContentDetected.PolicyViolation", "The generated audio may violate platform rules.\nRequest id: 42"
    )
    code, lines = printed(GenerationFailedError.for_task(task, gateway="local"), capsys)
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith("error: [local] task cgt-20261121120000-abcde ended failed: OutputAudioSensitiveContentDetected")
    assert lines[0].endswith("(`seedance generate SPEC --out DIR --again`, or a new `salt` for the generate-video flow)")


def test_a_failed_task_ends_with_a_hint_to_look_at_it_and_how_to_pay_for_a_new_one(capsys: pytest.CaptureFixture[str]) -> None:
    task = failed_task("OutputVideoSensitiveContentDetected", "The generated video may contain sensitive content")
    code, lines = printed(GenerationFailedError.for_task(task, gateway="local"), capsys)
    assert code == 1
    assert lines[0] == (
        "error: [local] task cgt-20261121120000-abcde ended failed: OutputVideoSensitiveContentDetected: "
        "The generated video may contain sensitive content"
    )
    assert lines[1].startswith("hint: `seedance status cgt-20261121120000-abcde` shows the task") and "--again" in lines[1]
    assert len(lines) == 2


def test_a_spec_error_is_one_line_per_problem_then_one_hint(capsys: pytest.CaptureFixture[str]) -> None:
    problems = [Problem(field="ratio", message="'5:4' is not allowed"), Problem(field="durration", message="is not a parameter")]
    code, lines = printed(SpecError(problems, "spec.yaml"), capsys)
    assert code == 2
    assert lines[:2] == ["error: spec.yaml: ratio: '5:4' is not allowed", "error: spec.yaml: durration: is not a parameter"]
    assert lines[2].startswith("hint: nothing was sent") and len(lines) == 3


def test_a_refused_key_hints_at_where_keys_are_saved(capsys: pytest.CaptureFixture[str]) -> None:
    refused = AuthenticationError(gateway="local", status_code=401, code="AuthenticationError", message="The API key is invalid")
    code, lines = printed(refused, capsys)
    assert code == 1
    assert lines == [
        "error: [local] HTTP 401 AuthenticationError: The API key is invalid",
        "hint: the gateway refused the API key: save the right one with `seedance blocks save-gateway NAME`, or set ARK_API_KEY",
    ]


def test_a_usage_error_carries_its_own_hint_and_its_markup_is_printed_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = printed(UsageError("no gateway block named '[bold]x'", "save it"), capsys)
    assert (code, lines) == (2, ["error: no gateway block named '[bold]x'", "hint: save it"])


def test_a_failed_task_is_resumed_by_a_re_run_and_a_cancelled_one_is_made_anew_only_with_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, failed = printed(GenerationFailedError.for_task(failed_task("InternalServiceError", "boom"), gateway="gw"), capsys)
    assert failed[-1].startswith(
        "hint: `seedance status cgt-20261121120000-abcde` shows the task; running the same spec again resumes"
    )
    cancelled = failed_task("Cancelled", "cancelled by the user", TaskStatus.CANCELLED)
    code, lines = printed(GenerationFailedError.for_task(cancelled, gateway="gw"), capsys)
    assert code == 1
    assert lines[0].startswith("error: [gw] task cgt-20261121120000-abcde ended cancelled")
    assert lines[-1] == (
        "hint: `seedance status cgt-20261121120000-abcde` shows the task; a cancelled task is not billed. "
        "For the video after all, run the same command with --again: a new (paid) generation"
    )
