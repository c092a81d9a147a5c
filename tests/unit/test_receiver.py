"""The callback receiver: valid URLs answered 202 and handed on, everything else refused, no token logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from seedance.ark.types import ContentGenerationTask
from seedance.callbacks import CallbackSigner
from seedance.receiver import MAX_BODY_BYTES, CallbackReceiver

SIGNER = CallbackSigner(SecretStr("receiver-test-secret"))
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TASK = {
    "id": "cgt-20261121120000-abcde",
    "model": "doubao-seedance-2-0-260128",
    "status": "running",
    "created_at": 1,
    "updated_at": 2,
}


@pytest.fixture
def receiver() -> Iterator[tuple[CallbackReceiver, list[tuple[ContentGenerationTask, str]]]]:
    handed_on: list[tuple[ContentGenerationTask, str]] = []
    with CallbackReceiver(SIGNER, lambda task, key: handed_on.append((task, key)), port=0) as running:
        yield running, handed_on


def test_a_signed_callback_is_acknowledged_and_handed_on(receiver: tuple[CallbackReceiver, list]) -> None:
    running, handed_on = receiver
    response = httpx.post(SIGNER.url(running.url, KEY), json=TASK, timeout=5)
    assert response.status_code == 202  # answered first, handed on just after
    deadline = time.monotonic() + 5
    while not handed_on and time.monotonic() < deadline:
        time.sleep(0.01)
    [(task, key)] = handed_on
    assert (task.id, task.status.value, key) == (TASK["id"], "running", KEY)


def test_everything_else_is_refused_and_no_token_is_logged(
    receiver: tuple[CallbackReceiver, list], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    running, handed_on = receiver
    good = SIGNER.url(running.url, KEY)
    token = good.rsplit("/", 1)[1]
    other_secret = CallbackSigner(SecretStr("not-the-secret")).url(running.url, KEY)
    caplog.set_level(logging.INFO, logger="seedance.callbacks")

    assert httpx.post(other_secret, json=TASK, timeout=5).status_code == 403
    assert httpx.post(f"{running.url}/callbacks/{KEY}", json=TASK, timeout=5).status_code == 403
    assert httpx.post(f"{running.url}/elsewhere/{token}", json=TASK, timeout=5).status_code == 403
    assert httpx.post(good, content=b"{}", timeout=5).status_code == 400
    assert httpx.post(good, content=b"x" * (MAX_BODY_BYTES + 1), timeout=5).status_code == 413
    assert httpx.post(good, content=iter([b"{}"]), timeout=5).status_code == 400  # chunked: no length declared
    assert httpx.get(good, timeout=5).status_code == 501
    assert handed_on == []

    logged = caplog.text + "".join(capfd.readouterr())
    assert f"no valid token for intent {KEY}" in logged and "not a callback URL" in logged
    assert token not in logged and other_secret.rsplit("/", 1)[1] not in logged
