"""The generate-video flow succeeds end to end against the local gateway in each of the seven dialects.

For each dialect: a dev stack whose gateway runs `seedance gateway serve --dialect NAME`, gateway and
bucket blocks of its own (saved under `dialect-NAME…`, so the session's blocks stay as they are),
and a real `generate_video` run with a spec every dialect accepts. What differs on the wire (BytePlus
model ids, kkiai's empty create answer found again through the list, aiid's `task_` ids and string
times, maxtoken's defaults, quickrouter's `submitted`) is the gateway's and the client's business:
the flow's result is the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.demo import save_local_blocks
from flows.generate import generate_video
from local_gateway.devstack import DevStack
from seedance.ark.dialects import DialectName, get_dialect
from seedance.media import probe
from seedance.results import GenerationResult
from seedance.spec import GenerationSpec
from tests.e2e.support import gateway_stats

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "seedance" / "samples"
LATENCY = 0.2


def dialect_spec(prompt: str = "lanterns over the harbour at dusk") -> GenerationSpec:
    """A spec every dialect accepts: no resolution (kkiai and aimanyi do not document it; 720p is
    the model's default) and 5 s (within quickrouter's 12)."""
    return GenerationSpec(
        model="doubao-seedance-2-0-260128",  # byteplus sends dreamina-seedance-2-0-260128
        prompt=prompt,
        references=[{"url": str(SAMPLES / "harbour.jpg"), "role": "first_frame"}],
        ratio="16:9",
        duration=5,
        generate_audio=True,
        watermark=False,
    )


@dataclass(frozen=True)
class DialectStack:
    """A running dev stack in one dialect and the names of the blocks saved for it."""

    name: DialectName
    stack: DevStack
    gateway_block: str
    bucket_block: str


@contextmanager
def dialect_stack(name: DialectName, *, api_key: str, log_dir: Path) -> Iterator[DialectStack]:
    """Start a dev stack serving `name` and save its blocks (needs a Prefect API); stop it on exit."""
    gateway_block, bucket_block = f"dialect-{name}", f"dialect-{name}-assets"
    with DevStack(api_key=api_key, latency=LATENCY, gateway_args=("--dialect", name.value), log_dir=log_dir) as stack:
        save_local_blocks(stack, gateway_block=gateway_block, bucket_block=bucket_block, dialect=name)
        yield DialectStack(name=name, stack=stack, gateway_block=gateway_block, bucket_block=bucket_block)


@pytest.fixture(scope="module", params=list(DialectName), ids=str)
def served(request: pytest.FixtureRequest, prefect_api: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DialectStack]:
    """One dev stack per dialect, alive while that dialect's tests run."""
    name: DialectName = request.param
    with dialect_stack(name, api_key=f"dialect-key-{name}-7d1e", log_dir=tmp_path_factory.mktemp(f"stack-{name}")) as running:
        yield running


def test_generate_video_succeeds_in_the_dialect(served: DialectStack, tmp_path: Path) -> None:
    result = generate_video(
        spec=dialect_spec(), out_dir=str(tmp_path), gateway=served.gateway_block, bucket=served.bucket_block, name="harbour"
    )

    assert isinstance(result, GenerationResult)
    info = probe(result.files.video)
    assert (info.kind, info.width, info.height, info.video_codec) == ("video", 1280, 720, "h264")
    assert info.duration == pytest.approx(5, abs=0.1) and info.fps == pytest.approx(24)
    assert info.has_audio and info.audio_channels == 1

    kept = (tmp_path / "harbour" / result.task_id / "result.json").resolve()  # <out>/<name>/<task id>/
    assert result.locations["result"] == str(kept)
    saved = json.loads(kept.read_text())
    assert saved["task_id"] == result.task_id
    assert saved["task_id"].startswith(get_dialect(served.name).task_id_prefix)  # task_… for aiid, cgt-… elsewhere
    assert (saved["status"], saved["model"], saved["resolution"], saved["ratio"], saved["duration"]) == (
        "succeeded",
        "doubao-seedance-2-0-260128",
        "720p",
        "16:9",
        5,
    )
    assert isinstance(saved["created_at"], int) and saved["finished_at"] >= saved["created_at"]
    # priced as the gateway bills it: BytePlus ids in USD, Volcengine ids in CNY
    assert saved["currency"] == ("USD" if served.name is DialectName.BYTEPLUS else "CNY")

    stats = gateway_stats(served.stack)
    assert stats["tasks_created"] == 1 and stats["duplicate_creates"] == 0
    if served.name is DialectName.KKIAI:  # its create answer is `{}`: the task was found through the list
        assert stats["requests"]["list"] >= 1


@pytest.mark.parametrize("served", [DialectName.AIID], indirect=True, ids=str)
def test_a_one_off_run_without_blocks_takes_the_dialect_from_the_environment(
    served: DialectStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiid refuses a body without its top-level prompt: only the aiid dialect gets through
    env = {"ARK_BASE_URL": served.stack.gateway_url, "ARK_API_KEY": served.stack.api_key, "SEEDANCE_DIALECT": "aiid"}
    for variable, value in (env | served.stack.aws_env()).items():
        monkeypatch.setenv(variable, value)

    result = generate_video(spec=dialect_spec("one-off"), out_dir=str(tmp_path))

    assert result.task_id.startswith("task_") and probe(result.files.video).width == 1280
