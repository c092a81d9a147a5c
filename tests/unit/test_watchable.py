"""What a person sees of a run: its name, the progress of its wait, core log lines routed to the run,
and an expired, never-collected result explained with what to do."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pydantic import SecretStr

from blocks.gateway import SeedanceGateway
from flows.naming import model_label, spec_name
from seedance.ark.types import ContentGenerationTask, TaskContent
from seedance.download import RESULT_URL_LIFETIME_SECONDS, result_url_lifetime_over
from seedance.errors import ResultGoneError, ResultURLExpiredError
from seedance.spec import GenerationSpec
from tasks.logs import InsideARun
from tasks.progress import describe, duration
from tasks.results import download_video
from tests.conftest import http_served

NOW = 1_800_000_000


def task(status: str, *, at: float, url: str | None = None) -> ContentGenerationTask:
    """A task created, and last changed, at unix time `at`."""
    return ContentGenerationTask.model_validate(
        {
            "id": "cgt-1",
            "model": "doubao-seedance-2-0-260128",
            "status": status,
            "created_at": int(at),
            "updated_at": int(at),
            "content": TaskContent(video_url=url).model_dump() if url else None,
        }
    )


@pytest.mark.parametrize(
    ("model", "label"),
    [
        ("doubao-seedance-2-0-260128", "2.0"),
        ("dreamina-seedance-2-0-fast-260128", "2.0 fast"),
        ("doubao-seedance-1-0-lite-t2v-250428", "1.0 lite t2v"),
        ("ep-20260101-abcde", "ep-20260101-abcde"),
    ],
)
def test_a_model_is_named_by_its_version(model: str, label: str) -> None:
    assert model_label(model) == label


def test_a_run_is_named_after_what_it_makes() -> None:
    assert spec_name("harbour-lantern", GenerationSpec(model="doubao-seedance-2-0-260128", resolution="720p")) == (
        "harbour-lantern · 2.0 · 720p"
    )
    assert spec_name("rain", GenerationSpec(model="doubao-seedance-1-0-lite-t2v-250428")) == "rain · 1.0 lite t2v · 720p"
    assert spec_name("fog", GenerationSpec(prompt="fog")) == "fog"


@pytest.mark.parametrize(
    ("status", "age", "share", "words"),
    [
        ("queued", 12, 0.0, "task cgt-1 queued: 12 s of about 4 min 48 s expected"),
        ("running", 144, 50.0, "task cgt-1 running: 2 min 24 s of about 4 min 48 s expected"),
        ("running", 600, 95.0, "task cgt-1 running: 10 min of about 4 min 48 s expected"),
        ("succeeded", 290, 100.0, "task cgt-1 succeeded after 4 min 50 s"),
    ],
)
def test_the_progress_of_a_wait_moves_with_time_and_never_claims_completion_early(
    status: str, age: float, share: float, words: str
) -> None:
    assert describe(task(status, at=NOW - age), 288.0, NOW) == (share, words)


def test_durations_read_as_a_person_says_them() -> None:
    assert [duration(s) for s in (4.4, 60, 125, 3600, 3720)] == ["4 s", "1 min", "2 min 5 s", "1 h", "1 h 2 min"]


def test_core_records_go_to_prefect_only_inside_a_run() -> None:
    record = logging.LogRecord("seedance.submit", logging.WARNING, __file__, 1, "outcome unknown", None, None)
    assert InsideARun().filter(record) is False


class _Expired(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def expired_url() -> Iterator[str]:
    with http_served(_Expired) as origin:
        yield f"{origin}/video.mp4?signature=s"


def test_a_result_past_its_lifetime_is_gone_and_the_error_says_what_to_do(expired_url: str, tmp_path: Path) -> None:
    gateway = SeedanceGateway(base_url="http://127.0.0.1:9/api/v3", api_key=SecretStr("k"))
    old = task("succeeded", at=time.time() - RESULT_URL_LIFETIME_SECONDS - 60, url=expired_url)
    with pytest.raises(ResultGoneError) as caught:
        download_video.fn(old, gateway, tmp_path / "v.mp4")
    message = str(caught.value)
    assert "task cgt-1" in message and "24 h" in message and "--again" in message and "salt" in message
    assert not caught.value.retryable

    recent = task("succeeded", at=time.time() - 60, url=expired_url)
    with pytest.raises(ResultURLExpiredError) as transient:  # a retry GETs the task for a fresh URL
        download_video.fn(recent, gateway, tmp_path / "v.mp4")
    assert transient.value.retryable and not isinstance(transient.value, ResultGoneError)


def test_the_lifetime_of_a_result_url_is_a_day() -> None:
    assert not result_url_lifetime_over(NOW - RESULT_URL_LIFETIME_SECONDS + 1, now=NOW)
    assert result_url_lifetime_over(NOW - RESULT_URL_LIFETIME_SECONDS, now=NOW)
